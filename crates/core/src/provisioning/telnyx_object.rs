//! A Telnyx connection as the converge engine sees it (the object of a Telnyx provider
//! trunk, `telnyx_remote.rs`): what a row wants, how it names its row, how to tell drift.

use super::kinds::{marked, marker, ProviderSideConfig, SideObject};
use std::collections::BTreeSet;
use trunkline_providers::telnyx::{CredentialConnection, FqdnConnection, Inbound};
use trunkline_providers::Secret;
use trunkline_store::ProviderTrunkRow;

/// Where LiveKit's outbound trunk sends a Telnyx trunk's calls: Telnyx's SIP proxy, which
/// authenticates them with the credential connection's user name and password (LiveKit's
/// Telnyx guide, https://docs.livekit.io/telephony/start/providers/telnyx).
pub const TELNYX_SIP_ADDRESS: &str = "sip.telnyx.com";

/// The inbound number formats LiveKit's Telnyx guide sets on the connection: E.164 with the
/// `+`, so LiveKit matches the called number against the trunk's numbers.
const ANI_FORMAT: &str = "+E.164";
const DNIS_FORMAT: &str = "+e164";

/// The port of an FQDN record when `LIVEKIT_SIP_URI` names none (SIP's default).
const SIP_PORT: u16 = 5060;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionType {
    /// Outbound: LiveKit authenticates with the connection's credential.
    Credential,
    /// Inbound: Telnyx sends the numbers' calls to the connection's FQDN.
    Fqdn,
}

/// A Telnyx connection with what trunkline puts on it. As wanted, `id` is the recorded one
/// (empty before the first create).
#[derive(Clone, Debug)]
pub struct TelnyxConnection {
    pub id: String,
    pub connection: ConnectionType,
    pub connection_name: String,
    /// Numbers routed to the connection; wanted: those to route here.
    pub numbers: BTreeSet<String>,
    /// Credential connection: its user name and password (Telnyx echoes it back; wanted:
    /// the sealed one).
    pub user_name: String,
    pub password: Option<Secret>,
    /// The outbound voice profile the connection is linked to, when it is the marked one
    /// made for the same row (as seen only).
    pub profile: Option<String>,
    /// FQDN connection: its FQDN records (id, host, port); wanted: LiveKit's SIP endpoint.
    pub fqdns: Vec<(String, String, Option<u16>)>,
    pub target: Option<(String, u16)>,
    /// Inbound (caller, called) number formats.
    pub formats: (Option<String>, Option<String>),
}

/// The host and port of a SIP URI (`sip:xxxx.sip.livekit.cloud`, `sip:host:5061;transport=tcp`).
pub(super) fn sip_target(uri: &str) -> (String, u16) {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(uri);
    let hostport = rest.split(';').next().unwrap_or_default();
    let hostport = hostport.rsplit('@').next().unwrap_or_default();
    match hostport.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => {
            (host.to_owned(), port.parse().unwrap_or(SIP_PORT))
        }
        _ => (hostport.to_owned(), SIP_PORT),
    }
}

fn wanted_formats() -> (Option<String>, Option<String>) {
    (Some(ANI_FORMAT.to_owned()), Some(DNIS_FORMAT.to_owned()))
}

fn formats_of(i: Option<&Inbound>) -> (Option<String>, Option<String>) {
    (
        i.and_then(|i| i.ani_number_format.clone()),
        i.and_then(|i| i.dnis_number_format.clone()),
    )
}

impl TelnyxConnection {
    pub(super) fn bare(id: String, connection: ConnectionType, name: String) -> Self {
        TelnyxConnection {
            id,
            connection,
            connection_name: name,
            numbers: BTreeSet::new(),
            user_name: String::new(),
            password: None,
            profile: None,
            fqdns: vec![],
            target: None,
            formats: (None, None),
        }
    }

    pub(super) fn of_credential(c: CredentialConnection) -> Self {
        TelnyxConnection {
            user_name: c.user_name.unwrap_or_default(),
            password: c.password,
            profile: c.outbound.and_then(|o| o.outbound_voice_profile_id),
            formats: formats_of(c.inbound.as_ref()),
            ..Self::bare(c.id, ConnectionType::Credential, c.connection_name)
        }
    }

    pub(super) fn of_fqdn(c: FqdnConnection) -> Self {
        TelnyxConnection {
            formats: formats_of(c.inbound.as_ref()),
            ..Self::bare(c.id, ConnectionType::Fqdn, c.connection_name)
        }
    }
}

impl SideObject for TelnyxConnection {
    fn remote_id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> Option<String> {
        marked(Some(&self.connection_name))
    }
    fn wanted(
        row: &ProviderTrunkRow,
        config: &ProviderSideConfig,
        username: String,
        password: Option<Secret>,
    ) -> Self {
        let connection = if username.is_empty() {
            ConnectionType::Fqdn
        } else {
            ConnectionType::Credential
        };
        TelnyxConnection {
            id: row.provider_trunk_sid.clone().unwrap_or_default(),
            connection,
            connection_name: marker(&row.id),
            numbers: if config.caller_ids_only {
                BTreeSet::new()
            } else {
                config.numbers.iter().cloned().collect()
            },
            user_name: username,
            password,
            profile: None,
            fqdns: vec![],
            target: match connection {
                ConnectionType::Fqdn => config.origination.as_deref().map(sip_target),
                ConnectionType::Credential => None,
            },
            formats: match connection {
                ConnectionType::Fqdn => wanted_formats(),
                ConnectionType::Credential => (None, None),
            },
        }
    }
    fn drifted(&self, wanted: &Self) -> bool {
        if self.connection != wanted.connection
            || self.connection_name != wanted.connection_name
            || self.numbers != wanted.numbers
        {
            return true;
        }
        match wanted.connection {
            ConnectionType::Credential => {
                self.user_name != wanted.user_name
                    || self.profile.is_none()
                    || matches!((&self.password, &wanted.password),
                        (Some(a), Some(w)) if a.expose() != w.expose())
            }
            ConnectionType::Fqdn => {
                self.formats != wanted.formats
                    || wanted.target.as_ref().is_some_and(|(host, port)| {
                        !self
                            .fqdns
                            .iter()
                            .any(|(_, h, p)| h == host && *p == Some(*port))
                    })
            }
        }
    }
    fn livekit_address(_: &str) -> String {
        TELNYX_SIP_ADDRESS.to_owned()
    }
}

/// The inbound settings trunkline puts on an FQDN connection.
pub(super) fn inbound() -> Inbound {
    Inbound {
        ani_number_format: Some(ANI_FORMAT.into()),
        dnis_number_format: Some(DNIS_FORMAT.into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_targets() {
        assert_eq!(
            sip_target("sip:tl.sip.livekit.cloud"),
            ("tl.sip.livekit.cloud".into(), 5060)
        );
        assert_eq!(
            sip_target("sip:tl.sip.livekit.cloud:5061;transport=tls"),
            ("tl.sip.livekit.cloud".into(), 5061)
        );
        assert_eq!(sip_target("10.0.0.1"), ("10.0.0.1".into(), 5060));
    }
}
