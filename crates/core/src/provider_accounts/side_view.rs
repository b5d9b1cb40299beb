//! How `GET /sip/trunks/{id}` (and a number setup) shows a trunk's provider side: the
//! fields every provider shares, and the provider's own ids of what trunkline made there.

use crate::provisioning::provider_side::{twilio_domain, TELNYX_SIP_ADDRESS};
use crate::provisioning::{exotel_trunk_name, ExotelSideConfig, ProviderSideConfig};
use serde::Serialize;
use trunkline_store::ProviderTrunkRow;

/// The provider side of a trunk as `GET /sip/trunks/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderSide {
    pub provider: String,
    pub provider_account_id: String,
    /// trunkline's id of the provider side (`PT_…`), carried in the provider objects' names.
    pub provider_trunk_id: String,
    /// `provisioned`; `unprovisioned` while the provider cannot be reached (or before the
    /// first pass after an upgrade); `error` when the provider refused the configuration.
    pub status: String,
    /// Why the provider side is not `provisioned`.
    pub last_error: Option<String>,
    /// The provider's ids of what trunkline made there.
    #[serde(flatten)]
    pub ids: ProviderIds,
    pub numbers: Vec<String>,
    /// Where the provider sends the numbers' calls (LiveKit's SIP endpoint), for an inbound
    /// trunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origination_url: Option<String>,
}

/// The provider's ids of a provider side, as each provider names them.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ProviderIds {
    Twilio {
        twilio_trunk_sid: Option<String>,
        credential_list_sid: Option<String>,
        /// The termination domain LiveKit dials (derived from the trunk's sid).
        domain_name: Option<String>,
    },
    Telnyx {
        /// The credential connection (outbound) or FQDN connection (inbound).
        telnyx_connection_id: Option<String>,
        /// `credential` or `fqdn`.
        connection_type: &'static str,
        /// The outbound voice profile linked to a credential connection.
        #[serde(skip_serializing_if = "Option::is_none")]
        outbound_voice_profile_id: Option<String>,
        /// The FQDN record of an FQDN connection (LiveKit's SIP endpoint).
        #[serde(skip_serializing_if = "Option::is_none")]
        fqdn_id: Option<String>,
        /// Where LiveKit's outbound trunk sends calls (`sip.telnyx.com`), outbound only.
        #[serde(skip_serializing_if = "Option::is_none")]
        sip_address: Option<String>,
    },
    Exotel {
        /// The vSIP trunk's `trunk_sid`.
        exotel_trunk_sid: Option<String>,
        /// The vSIP trunk's `trunk_name`: `tl_` and the provider trunk id's 13 hex digits.
        exotel_trunk_name: String,
        /// The domain the bridge dials: `<account_sid>.pstn.exotel.com`.
        domain_name: Option<String>,
        /// The IPs whitelisted on the trunk (the bridge's public address).
        whitelisted_ips: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        destination_uris: Vec<String>,
    },
}

impl ProviderIds {
    fn of(provider: &str, row: &ProviderTrunkRow, config: &ProviderSideConfig) -> Self {
        match provider {
            "exotel" => {
                let exotel = ExotelSideConfig::of(row).unwrap_or_default();
                ProviderIds::Exotel {
                    exotel_trunk_sid: row.provider_trunk_sid.clone(),
                    exotel_trunk_name: exotel_trunk_name(&row.id),
                    domain_name: Some(exotel.domain_name).filter(|d| !d.is_empty()),
                    whitelisted_ips: exotel.whitelisted_ips,
                    destination_uris: exotel.destinations,
                }
            }
            "telnyx" => {
                let outbound = !config.username.is_empty();
                // The object hung on the connection, recorded after each sync.
                let hung = row.credential_list_sid.clone();
                ProviderIds::Telnyx {
                    telnyx_connection_id: row.provider_trunk_sid.clone(),
                    connection_type: if outbound { "credential" } else { "fqdn" },
                    outbound_voice_profile_id: if outbound { hung.clone() } else { None },
                    fqdn_id: if outbound { None } else { hung },
                    sip_address: outbound.then(|| TELNYX_SIP_ADDRESS.to_owned()),
                }
            }
            _ => ProviderIds::Twilio {
                twilio_trunk_sid: row.provider_trunk_sid.clone(),
                credential_list_sid: row.credential_list_sid.clone(),
                domain_name: row.provider_trunk_sid.as_deref().map(twilio_domain),
            },
        }
    }
}

pub(super) fn side(provider: &str, row: &ProviderTrunkRow) -> ProviderSide {
    let config = ProviderSideConfig::of(row).unwrap_or_default();
    ProviderSide {
        provider: provider.to_owned(),
        provider_account_id: row.account_id.clone(),
        provider_trunk_id: row.id.clone(),
        status: row.status.to_string(),
        last_error: row.last_error.clone(),
        ids: ProviderIds::of(provider, row, &config),
        numbers: config.numbers,
        origination_url: config.origination,
    }
}
