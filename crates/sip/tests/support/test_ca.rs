//! Certificates made at test time (rcgen) for SIP-over-TLS peers: a test CA the client is
//! told to trust, its server certificates, and self-signed ones nobody trusts.
#![allow(dead_code)] // each test file uses its own part

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use std::sync::Arc;
use trunkline_sip::transport::TlsSettings;

pub struct TestCa {
    pub der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "trunkline test CA");
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().clone();
        Self {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    /// A server configuration with a certificate from this CA for `names`.
    pub fn server(&self, names: &[&str]) -> ServerConfig {
        let params = leaf(names);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        server_config(cert.der().clone(), key)
    }

    pub fn settings(&self) -> TlsSettings {
        TlsSettings::public()
            .with_extra_root_der(&self.der)
            .unwrap()
    }
}

pub fn leaf(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sip test server");
    params
}

/// A self-signed certificate that no `TlsSettings` trusts.
pub fn self_signed(names: &[&str]) -> ServerConfig {
    let key = KeyPair::generate().unwrap();
    let cert = leaf(names).self_signed(&key).unwrap();
    server_config(cert.der().clone(), key)
}

pub fn server_config(cert: CertificateDer<'static>, key: KeyPair) -> ServerConfig {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap()
}
