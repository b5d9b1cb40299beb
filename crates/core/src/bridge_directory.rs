//! The bridge's view of the database: every provisioned Exotel trunk as a `BridgeTrunk`,
//! keyed by the digest user name LiveKit authenticates with (the trunk id), and every inbound
//! trunk's numbers, for calls Exotel delivers. The bridge asks synchronously on each INVITE,
//! so the maps are kept in memory and refreshed from the store on an interval; a trunk
//! created or changed through the API is seen within that interval.

use crate::records;
use crate::sealing::Keyring;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use trunkline_domain::{ExotelConfig, Secret, TrunkConfig, TrunkType};
use trunkline_sip::bridge::{
    BridgeTrunk, ExotelTransport, InboundTrunk, NumberFormat, TrunkDirectory,
};
use trunkline_sip::Credentials;
use trunkline_store::{OutboundTrunkRow, Store, StoreError};

/// Exotel's SIP domains are `<account_sid>.pstn.exotel.com` (seed 003); the bridge writes the
/// From domain from the account sid.
const EXOTEL_DOMAIN_SUFFIX: &str = ".pstn.exotel.com";
/// Exotel's SIP over TCP (seed 003, Exotel's docs).
const EXOTEL_TCP_PORT: u16 = 5070;

/// Exotel speaks SIP over TLS on 443 (and 5061, the SIP TLS port its PBX guide names), over
/// TCP elsewhere; an Exotel trunk has no transport field of its own, so the port decides.
pub fn exotel_transport(port: u16) -> ExotelTransport {
    match port {
        443 | 5061 => ExotelTransport::Tls,
        _ => ExotelTransport::Tcp,
    }
}

#[derive(Default)]
pub struct StoreDirectory {
    trunks: RwLock<HashMap<String, BridgeTrunk>>,
    /// E.164 number → the inbound trunk holding it.
    inbound: RwLock<HashMap<String, InboundTrunk>>,
}

impl TrunkDirectory for StoreDirectory {
    fn by_username(&self, user: &str) -> Option<BridgeTrunk> {
        self.trunks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            .cloned()
    }

    fn inbound_by_number(&self, number: &str) -> Option<InboundTrunk> {
        self.inbound
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(number)
            .cloned()
    }
}

/// Why a stored Exotel trunk cannot be bridged (logged once per refresh, never with secrets).
pub fn bridge_trunk(
    row: &OutboundTrunkRow,
    config: &ExotelConfig,
    bridge_password: String,
) -> Result<BridgeTrunk, &'static str> {
    let host = config
        .sip_host
        .as_ref()
        .ok_or("no sip_host: set trunk_config.sip_host to the SIP host Exotel assigned")?;
    let domain = config
        .sip_domain
        .as_ref()
        .map(|d| d.to_string())
        .ok_or("no sip_domain: set trunk_config.sip_domain to <account_sid>.pstn.exotel.com")?;
    let account_sid = domain
        .strip_suffix(EXOTEL_DOMAIN_SUFFIX)
        .filter(|s| !s.is_empty())
        .ok_or("sip_domain is not of the form <account_sid>.pstn.exotel.com")?;
    let exotel_credentials = match (&config.auth_username, &config.auth_password) {
        (Some(u), Some(p)) => Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    };
    let port = config.sip_port.unwrap_or(EXOTEL_TCP_PORT);
    Ok(BridgeTrunk {
        trunk_id: row.id.clone(),
        digest_username: row.id.clone(),
        digest_password: Secret::new(bridge_password),
        exotel_host: host.to_string(),
        exotel_port: port,
        transport: exotel_transport(port),
        exotel_number: config.exotel_number.as_str().to_owned(),
        account_sid: account_sid.to_owned(),
        exotel_credentials,
        number_format: NumberFormat::default(),
    })
}

impl StoreDirectory {
    /// Replaces the map with the store's current Exotel trunks; returns how many are usable.
    pub async fn refresh(&self, store: &Store, keyring: &Keyring) -> Result<usize, StoreError> {
        let mut map = HashMap::new();
        for row in store.outbound_trunks().all_live().await? {
            if records::outbound_trunk_type(&row).ok() != Some(TrunkType::Exotel)
                || row.status == trunkline_store::Status::Pending
            {
                continue;
            }
            let opened = records::open(keyring, &row).and_then(|c| {
                records::open_field(keyring, &row.id, &row.secrets, records::BRIDGE_PASSWORD)
                    .map(|pw| (c, pw))
            });
            let (TrunkConfig::Exotel(config), Some(password)) = (match opened {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(trunk_id = %row.id, error = ?e, "bridge: cannot open an Exotel trunk");
                    continue;
                }
            }) else {
                continue; // no bridge password yet: not provisioned toward the bridge
            };
            match bridge_trunk(&row, &config, password) {
                Ok(t) => {
                    map.insert(t.digest_username.clone(), t);
                }
                Err(why) => {
                    tracing::warn!(trunk_id = %row.id, why, "bridge: Exotel trunk cannot be bridged")
                }
            }
        }
        let n = map.len();
        *self.trunks.write().unwrap_or_else(|p| p.into_inner()) = map;
        let inbound = inbound_numbers(store, keyring).await?;
        *self.inbound.write().unwrap_or_else(|p| p.into_inner()) = inbound;
        Ok(n)
    }

    /// How many numbers inbound calls can reach.
    pub fn inbound_count(&self) -> usize {
        self.inbound.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Refreshes every `interval` until `stop` resolves.
    pub async fn run_refresher(
        self: Arc<Self>,
        store: Store,
        keyring: Arc<Keyring>,
        interval: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(interval) => {}
            }
            if let Err(e) = self.refresh(&store, &keyring).await {
                tracing::warn!(error = %e, "bridge: could not refresh the trunk directory");
            }
        }
    }
}

/// Every live inbound trunk's numbers. Where a tenant holds one number on several trunks
/// (told apart by `allowed_numbers`), the first trunk's credentials answer LiveKit's
/// challenge: LiveKit picks the trunk by the caller, so such trunks should share credentials.
async fn inbound_numbers(
    store: &Store,
    keyring: &Keyring,
) -> Result<HashMap<String, InboundTrunk>, StoreError> {
    let mut map = HashMap::new();
    for row in store.inbound_trunks().all_live().await? {
        if row.status == trunkline_store::Status::Pending {
            continue;
        }
        let config = match crate::provisioning::inbound::open(keyring, &row) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(trunk_id = %row.id, error = ?e, "bridge: cannot open an inbound trunk");
                continue;
            }
        };
        let credentials = match (config.auth_username, config.auth_password) {
            (Some(username), Some(password)) => Some(Credentials { username, password }),
            _ => None,
        };
        let trunk = InboundTrunk {
            trunk_id: row.id.clone(),
            numbers: config
                .numbers
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
            credentials,
        };
        for number in &trunk.numbers {
            map.entry(number.clone()).or_insert_with(|| trunk.clone());
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_decides_the_transport_to_exotel() {
        for (port, want) in [
            (443, ExotelTransport::Tls),
            (5061, ExotelTransport::Tls),
            (5070, ExotelTransport::Tcp),
            (5060, ExotelTransport::Tcp),
        ] {
            assert_eq!(exotel_transport(port), want, "{port}");
        }
    }
}
