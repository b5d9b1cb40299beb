//! What the trunk probe ("Test this trunk", and the periodic health checks) sends for a
//! stored trunk: target, transport, credentials and From, derived from its configuration
//! under the same target policy as creating the trunk.

use crate::bridge_directory::exotel_transport;
use crate::{ServiceError, ServiceResult};
use trunkline_domain::{HostName, Transport, TrunkConfig};
use trunkline_sip::{Credentials, ProbeRequest, ProbeTransport};

fn credentials(
    user: &Option<String>,
    password: &Option<trunkline_domain::Secret>,
) -> Option<Credentials> {
    match (user, password) {
        (Some(u), Some(p)) => Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    }
}

/// What to probe for a stored configuration, or a 400 saying why it cannot be probed.
pub fn probe_request(
    allow_internal: bool,
    config: &TrunkConfig,
    test_number: Option<String>,
) -> ServiceResult<ProbeRequest> {
    let (field, host): (&str, &HostName) = match config {
        TrunkConfig::Sip(c) => ("trunk_config.address", &c.address.host),
        TrunkConfig::Exotel(c) => match &c.sip_host {
            Some(h) => ("trunk_config.sip_host", h),
            None => {
                return Err(ServiceError::BadRequest(
                    "This Exotel trunk has no sip_host: set trunk_config.sip_host (and sip_port) to the SIP host Exotel assigned (e.g. pstn.in2.exotel.com) to test it".into(),
                ))
            }
        },
    };
    // The same policy as creating the trunk; the probe checks the resolved address as well.
    if host.is_internal() && !allow_internal {
        return Err(ServiceError::field(
            field,
            format!("must be a public address to be tested: {host} is loopback, private, link-local or otherwise internal"),
        ));
    }
    let base = |port, transport, credentials, from_number: String, from_domain| ProbeRequest {
        host: host.to_string(),
        port,
        transport,
        credentials,
        from_number,
        from_domain,
        test_number: test_number.clone(),
        allow_internal,
    };
    Ok(match config {
        TrunkConfig::Sip(c) => {
            let (transport, default_port) = match c.transport {
                // LiveKit's "auto" starts with UDP, as does RFC 3263 for a plain sip: URI.
                Transport::Auto | Transport::Udp => (ProbeTransport::Udp, 5060),
                Transport::Tcp => (ProbeTransport::Tcp, 5060),
                Transport::Tls => (ProbeTransport::Tls, 5061),
            };
            let from = c
                .numbers
                .first()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default();
            base(
                c.address.port.unwrap_or(default_port),
                transport,
                credentials(&c.username, &c.password),
                from,
                None,
            )
        }
        // Exotel: TCP 5070 by default (seed 003 and Exotel's docs), TLS on 443; From domain
        // its sip_domain. The bridge calls it the same way.
        TrunkConfig::Exotel(c) => base(
            c.sip_port.unwrap_or(5070),
            match exotel_transport(c.sip_port.unwrap_or(5070)) {
                trunkline_sip::bridge::ExotelTransport::Tls => ProbeTransport::Tls,
                trunkline_sip::bridge::ExotelTransport::Tcp => ProbeTransport::Tcp,
            },
            credentials(&c.auth_username, &c.auth_password),
            c.exotel_number.as_str().to_owned(),
            c.sip_domain.as_ref().map(|d| d.to_string()),
        ),
    })
}

/// Probes one of a tenant's stored outbound trunks ("Test this trunk"), optionally ringing
/// `test_number`; `NotFound(not_found)` when the tenant has no such trunk.
pub async fn test_stored_outbound_trunk(
    services: &crate::Services,
    tenant_id: &str,
    trunk_id: &str,
    test_number: Option<String>,
    not_found: &'static str,
) -> ServiceResult<trunkline_sip::ProbeReport> {
    let row = services
        .store
        .outbound_trunks()
        .get(tenant_id, trunk_id)
        .await?
        .ok_or(ServiceError::NotFound(not_found))?;
    let config = crate::records::open(&services.keyring, &row)?;
    let request = probe_request(services.allow_private_targets, &config, test_number)?;
    let report = trunkline_sip::run_probe(&request, &trunkline_sip::ProbeOptions::quick()).await;
    crate::metrics::probe_ran("test", report.diagnosis.code());
    tracing::info!(trunk_id = %row.id, diagnosis = report.diagnosis.code(), reachable = report.reachable, "trunk tested");
    Ok(report)
}
