//! One Exotel account as a remote side of the converge engine: its vSIP trunks, each seen
//! with what trunkline puts on it (whitelisted IPs, mapped numbers, destination URIs).
//!
//! Exotel's API lists no trunks and updates none, and cannot remove one IP, number mapping or
//! destination (PROVIDERS.md §3.3). So:
//! - the trunks looked at are those whose sid this database recorded (a create records the
//!   sid as soon as Exotel answers, before anything else is put on the trunk, so a crash
//!   mid-way leaves a sid the next pass finds); a trunk trunkline never recorded is never
//!   seen, let alone touched;
//! - drift is what trunkline owns and is missing (an IP, a number, a number switched to
//!   `flow`, a destination): it is put back; what others added is left;
//! - a trunk deleted out of band is made again (a new `trunk_sid`) under the same name.

use super::remote::{Failure, Remote};
use super::side_error::{failure, gone_ok, SideError};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use trunkline_providers::exotel::{CreateTrunk, ExotelClient, NumberMode, Trunk};
use trunkline_providers::{ErrorKind, ProviderError};
use trunkline_store::Store;

/// The marker of trunkline's vSIP trunks. A `trunk_name` is at most 16 letters, digits and
/// `_`, so it carries the row id's random part whole: an Exotel provider trunk's id is `PT_`
/// and 13 hex digits, and its trunk is named `tl_` and the same 13 digits.
const MARK: &str = "tl_";
/// The hex digits of an Exotel provider trunk's id (`PT_` + these), all in its trunk's name.
pub(super) const ID_HEX: usize = 13;

/// The `trunk_name` of the vSIP trunk made for provider trunk `id`.
pub fn trunk_name_for(id: &str) -> String {
    format!("{MARK}{}", id.strip_prefix("PT_").unwrap_or(id))
}

/// The provider-trunk id a `trunk_name` marks, if it is one of ours.
pub(super) fn owner_of(trunk_name: &str) -> Option<String> {
    trunk_name
        .strip_prefix(MARK)
        .filter(|h| h.len() == ID_HEX && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| format!("PT_{h}"))
}

/// A vSIP trunk with what trunkline puts on it. As wanted, `sid` is the recorded one (empty
/// before the first create).
#[derive(Clone, Debug, Default)]
pub struct ExotelTrunk {
    pub sid: String,
    pub trunk_name: String,
    /// Whitelisted IPv4 addresses.
    pub ips: BTreeSet<String>,
    /// Mapped numbers: the mapping's id (empty when wanted) and whether its mode is `pstn`.
    pub numbers: BTreeMap<String, (String, bool)>,
    /// Destination URIs, as sent (`host:port;transport=…`, without `sip:`).
    pub destinations: BTreeSet<String>,
}

impl ExotelTrunk {
    /// Whether something trunkline owns is missing from the trunk.
    pub(super) fn drifted(&self, wanted: &ExotelTrunk) -> bool {
        !wanted.ips.is_subset(&self.ips)
            || wanted
                .numbers
                .keys()
                .any(|n| !matches!(self.numbers.get(n), Some((_, true))))
            || !wanted.destinations.is_subset(&self.destinations)
    }
}

/// Provider trunks deleted or retired this recently still have their trunk looked at, so
/// what a failed removal left at Exotel is removed by a later pass.
const RETIRED_WINDOW_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;

/// One account's API, seen through the trunks of it this database recorded.
pub struct ExotelAccount<'a> {
    pub client: &'a ExotelClient,
    pub store: &'a Store,
    pub account_id: &'a str,
}

/// A duplicate (Exotel's inner 409 under HTTP 200): what was asked is already there.
fn duplicate_ok<T>(r: Result<T, ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(e) if e.kind() == ErrorKind::Conflict => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

impl ExotelAccount<'_> {
    /// What is on `trunk` (as Exotel answered it).
    async fn inspect(&self, trunk: Trunk) -> Result<ExotelTrunk, ProviderError> {
        let ex = self.client;
        let sid = trunk.trunk_sid.clone();
        let sid = sid.as_str();
        let mut out = ExotelTrunk {
            sid: trunk.trunk_sid,
            trunk_name: trunk.trunk_name,
            ..Default::default()
        };
        if owner_of(&out.trunk_name).is_none() {
            // Not ours: never looked into.
            return Ok(out);
        }
        out.ips = ex
            .list_whitelisted_ips(sid)
            .await?
            .into_iter()
            .map(|i| i.ip)
            .collect();
        out.numbers = ex
            .list_numbers(sid)
            .await?
            .into_iter()
            .map(|m| {
                let pstn = m.effective_mode() == NumberMode::Pstn;
                (m.phone_number, (m.id, pstn))
            })
            .collect();
        out.destinations = ex
            .list_destinations(sid)
            .await?
            .into_iter()
            .map(|d| d.destination.trim_start_matches("sip:").to_owned())
            .collect();
        Ok(out)
    }

    /// Puts on trunk `sid` what `wanted` has and `current` lacks: IPs first (an IP
    /// destination must be whitelisted before it is added), then numbers, then destinations.
    async fn converge_trunk(
        &self,
        sid: &str,
        current: &ExotelTrunk,
        wanted: &ExotelTrunk,
    ) -> Result<ExotelTrunk, SideError> {
        let ex = self.client;
        for ip in wanted.ips.difference(&current.ips) {
            let addr: Ipv4Addr = ip.parse().map_err(|_| {
                SideError::Refused(format!("{ip} is not an IPv4 address Exotel can whitelist"))
            })?;
            duplicate_ok(ex.whitelist_ip(sid, addr, 32).await)?;
        }
        for n in wanted.numbers.keys() {
            match current.numbers.get(n) {
                Some((_, true)) => {}
                Some((id, false)) => {
                    ex.update_number_mode(sid, id, n, NumberMode::Pstn).await?;
                }
                None => duplicate_ok(ex.map_number(sid, n, Some(NumberMode::Pstn)).await)?,
            }
        }
        let missing: Vec<String> = wanted
            .destinations
            .difference(&current.destinations)
            .cloned()
            .collect();
        if !missing.is_empty() {
            for item in ex.add_destinations(sid, &missing).await? {
                duplicate_ok(item)?;
            }
        }
        let mut made = current.clone();
        made.sid = sid.to_owned();
        made.ips.extend(wanted.ips.iter().cloned());
        for n in wanted.numbers.keys() {
            let id = current.numbers.get(n).map(|(id, _)| id.clone());
            made.numbers
                .insert(n.clone(), (id.unwrap_or_default(), true));
        }
        made.destinations
            .extend(wanted.destinations.iter().cloned());
        Ok(made)
    }
}

impl Remote<ExotelTrunk> for ExotelAccount<'_> {
    type Error = SideError;
    const NAME: &'static str = "Exotel";

    async fn list(&self) -> Result<Vec<ExotelTrunk>, SideError> {
        let known = self
            .store
            .provider_trunk_sids(self.account_id, RETIRED_WINDOW_MICROS)
            .await
            .map_err(|e| {
                SideError::Refused(format!("the recorded Exotel trunks could not be read: {e}"))
            })?;
        let mut out = Vec::with_capacity(known.len());
        for sid in &known {
            match self.client.fetch_trunk(sid).await {
                Ok(t) => out.push(self.inspect(t).await?),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Makes the trunk (its sid recorded on the pending row at once), then puts the IPs,
    /// numbers and destinations on it. Anything failing on the way deletes the trunk (which
    /// takes all of it along) before the error is returned.
    async fn create(&self, wanted: ExotelTrunk) -> Result<ExotelTrunk, SideError> {
        let body = CreateTrunk::new(wanted.trunk_name.clone(), self.client.account_sid());
        let made = self.client.create_trunk(&body).await?;
        let sid = made.trunk_sid.clone();
        if let Some(owner) = owner_of(&wanted.trunk_name) {
            if let Err(e) = self.store.record_pending_provider_sid(&owner, &sid).await {
                tracing::warn!(trunk_sid = %sid, error = %e, "could not record a new Exotel trunk's sid before filling it");
            }
        }
        let fresh = ExotelTrunk {
            sid: sid.clone(),
            trunk_name: made.trunk_name,
            ..Default::default()
        };
        match self.converge_trunk(&sid, &fresh, &wanted).await {
            Ok(t) => Ok(t),
            Err(e) => {
                if let Err(undo) = gone_ok(self.client.delete_trunk(&sid).await) {
                    // Its sid is recorded: the next pass removes it.
                    tracing::warn!(trunk_sid = %sid, error = %undo, "could not undo a failed Exotel trunk create");
                }
                Err(e)
            }
        }
    }

    async fn replace(&self, id: &str, wanted: ExotelTrunk) -> Result<ExotelTrunk, SideError> {
        // Gone: a NotFound, after which the engine makes the trunk anew.
        let trunk = self.client.fetch_trunk(id).await?;
        let current = self.inspect(trunk).await?;
        self.converge_trunk(id, &current, &wanted).await
    }

    /// Deletes the trunk, which takes its numbers, IPs and destinations with it.
    async fn delete(&self, id: &str) -> Result<(), SideError> {
        Ok(gone_ok(self.client.delete_trunk(id).await)?)
    }

    fn failure(e: &SideError) -> Failure {
        failure(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trunk_name_carries_the_whole_row_id_in_16_characters() {
        let id = "PT_0123456789abc";
        let name = trunk_name_for(id);
        assert_eq!(name, "tl_0123456789abc");
        assert!(trunkline_providers::exotel::valid_trunk_name(&name));
        assert_eq!(owner_of(&name).as_deref(), Some(id));
        assert_eq!(owner_of("tl_0123"), None);
        assert_eq!(owner_of("mytrunk"), None);
        assert_eq!(owner_of("tl_0123456789abz"), None);
    }

    #[test]
    fn drift_is_what_we_own_and_is_missing() {
        let wanted = ExotelTrunk {
            ips: ["203.0.113.7".to_owned()].into(),
            numbers: [("+918044319240".to_owned(), (String::new(), true))].into(),
            ..Default::default()
        };
        let mut actual = ExotelTrunk {
            ips: ["203.0.113.7".to_owned(), "198.51.100.1".to_owned()].into(),
            numbers: [("+918044319240".to_owned(), ("41".to_owned(), true))].into(),
            ..Default::default()
        };
        assert!(!actual.drifted(&wanted), "others' additions are not drift");
        actual
            .numbers
            .insert("+918044319240".into(), ("41".into(), false));
        assert!(actual.drifted(&wanted), "a number switched to flow");
        actual.numbers.clear();
        assert!(actual.drifted(&wanted));
    }
}
