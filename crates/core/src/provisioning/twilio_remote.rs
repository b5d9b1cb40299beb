//! One Twilio account as a remote side of the converge engine: its Elastic SIP trunks, each
//! seen together with what trunkline puts on it (a credential list holding the generated
//! credential, associated for termination, and the numbers). Only trunks whose friendly name
//! carries a trunkline marker (`trunkline PT_…`) are looked into; the engine leaves every
//! other trunk alone.
//!
//! A trunk's domain is derived from its sid ([`domain_for`]): Twilio keeps a deleted trunk's
//! domain reserved for up to 30 days (PROVIDERS.md §1.7), so a trunk recreated after an
//! out-of-band delete needs a new one, and a sid is never reused.

use super::provider_remote::{failure, gone_ok, SideError};
use super::remote::{Failure, Remote};
use std::collections::BTreeSet;
use trunkline_providers::twilio::{
    OriginationUrlParams, OriginationUrlUpdate, TrunkParams, TwilioClient,
};
use trunkline_providers::{ErrorKind, ProviderError, Secret};

/// The friendly-name prefix that marks a Twilio object as trunkline's.
const MARK: &str = "trunkline ";

/// The friendly name of the Twilio objects made for provider trunk `id`.
pub(super) fn marker(id: &str) -> String {
    format!("{MARK}{id}")
}

/// The provider-trunk id a friendly name marks, if it is one of ours.
pub(super) fn marked(friendly_name: Option<&str>) -> Option<String> {
    friendly_name
        .and_then(|n| n.strip_prefix(MARK))
        .filter(|id| id.starts_with("PT_"))
        .map(str::to_owned)
}

/// The termination domain of Twilio trunk `sid` (`tl-<its 32 hex digits>.pstn.twilio.com`).
pub fn domain_for(sid: &str) -> String {
    format!(
        "tl-{}.pstn.twilio.com",
        sid.get(2..).unwrap_or_default().to_ascii_lowercase()
    )
}

/// A Twilio trunk with what trunkline puts on it. As wanted, `sid` is the recorded one (empty
/// before the first create) and `credential` carries the password to set.
#[derive(Clone, Debug)]
pub struct TwilioTrunk {
    pub sid: String,
    pub friendly_name: Option<String>,
    pub domain_name: Option<String>,
    /// Marked credential lists on the trunk, with the usernames each holds.
    pub credential_lists: Vec<(String, Vec<String>)>,
    pub numbers: BTreeSet<String>,
    /// Marked origination URLs on the trunk (sid, SIP URL, enabled); wanted: the one URL
    /// inbound calls must go to (LiveKit's SIP endpoint), if the trunk takes inbound calls.
    pub origination_urls: Vec<(String, String, bool)>,
    pub origination: Option<String>,
    /// The credential LiveKit presents: username (empty for a trunk that only takes inbound
    /// calls), and (wanted only) the password.
    pub username: String,
    pub password: Option<Secret>,
}

impl TwilioTrunk {
    /// Whether the trunk differs from `wanted` in what trunkline owns. A password cannot be
    /// compared: Twilio never returns one.
    pub(super) fn drifted(&self, wanted: &TwilioTrunk) -> bool {
        self.friendly_name != wanted.friendly_name
            || self.domain_name.as_deref() != Some(domain_for(&self.sid).as_str())
            || self.numbers != wanted.numbers
            || (!wanted.username.is_empty()
                && !self
                    .credential_lists
                    .iter()
                    .any(|(_, users)| users.contains(&wanted.username)))
            || wanted.origination.as_ref().is_some_and(|u| {
                !self
                    .origination_urls
                    .iter()
                    .any(|(_, url, enabled)| url == u && *enabled)
            })
    }

    /// An object listed with only what the trunk itself says.
    fn bare(t: trunkline_providers::twilio::Trunk) -> Self {
        TwilioTrunk {
            sid: t.sid,
            friendly_name: t.friendly_name,
            domain_name: t.domain_name,
            credential_lists: vec![],
            numbers: BTreeSet::new(),
            origination_urls: vec![],
            origination: None,
            username: String::new(),
            password: None,
        }
    }
}

/// How a call to the account failed (shared with every provider's remote side).
pub type TwilioSideError = SideError;

/// One account's API.
pub struct TwilioAccount<'a> {
    pub client: &'a TwilioClient,
}

impl TwilioAccount<'_> {
    /// What is on trunk `sid` (friendly name and domain as `trunk` shows them), given the
    /// account's marked credential lists.
    async fn inspect(
        &self,
        trunk: trunkline_providers::twilio::Trunk,
        marked_lists: &[(String, String)],
    ) -> Result<TwilioTrunk, ProviderError> {
        let tw = self.client;
        let mark = trunk.friendly_name.clone().unwrap_or_default();
        let on_trunk: Vec<String> = tw
            .list_trunk_credential_lists(&trunk.sid)
            .await?
            .into_iter()
            .map(|a| a.sid)
            .collect();
        let mut credential_lists = Vec::new();
        for (cl, _) in marked_lists
            .iter()
            .filter(|(cl, name)| *name == mark && on_trunk.contains(cl))
        {
            let users = tw
                .list_credentials(cl)
                .await?
                .into_iter()
                .map(|c| c.username)
                .collect();
            credential_lists.push((cl.clone(), users));
        }
        let numbers = tw
            .list_trunk_phone_numbers(&trunk.sid)
            .await?
            .into_iter()
            .map(|n| n.phone_number)
            .collect();
        let origination_urls = tw
            .list_origination_urls(&trunk.sid)
            .await?
            .into_iter()
            .filter(|o| o.friendly_name.as_deref() == Some(mark.as_str()))
            .map(|o| (o.sid, o.sip_url, o.enabled))
            .collect();
        Ok(TwilioTrunk {
            credential_lists,
            numbers,
            origination_urls,
            ..TwilioTrunk::bare(trunk)
        })
    }

    /// The account's credential lists that carry a trunkline marker: (sid, friendly name).
    pub(super) async fn marked_lists(&self) -> Result<Vec<(String, String)>, ProviderError> {
        Ok(self
            .client
            .list_credential_lists()
            .await?
            .into_iter()
            .filter(|l| marked(Some(&l.friendly_name)).is_some())
            .map(|l| (l.sid, l.friendly_name))
            .collect())
    }

    /// Makes trunk `sid` hold `wanted`: its name and domain, a marked credential list holding
    /// the credential (one already made for it is reused), associated, and exactly the wanted
    /// numbers. Returns the credential list's sid.
    async fn converge_trunk(
        &self,
        sid: &str,
        current: &TwilioTrunk,
        wanted: &TwilioTrunk,
    ) -> Result<TwilioTrunk, TwilioSideError> {
        let tw = self.client;
        let domain = domain_for(sid);
        if current.friendly_name != wanted.friendly_name
            || current.domain_name.as_deref() != Some(domain.as_str())
        {
            tw.update_trunk(
                sid,
                &TrunkParams {
                    friendly_name: wanted.friendly_name.clone(),
                    domain_name: Some(domain.clone()),
                    ..Default::default()
                },
            )
            .await?;
        }
        let credential_lists = if wanted.username.is_empty() {
            vec![]
        } else {
            let cl = self.credential_list(sid, current, wanted).await?;
            vec![(cl, vec![wanted.username.clone()])]
        };
        let origination_urls = match &wanted.origination {
            Some(url) => vec![self.origination(sid, current, wanted, url).await?],
            None => vec![],
        };
        self.numbers(sid, &current.numbers, &wanted.numbers).await?;
        Ok(TwilioTrunk {
            sid: sid.to_owned(),
            domain_name: Some(domain),
            credential_lists,
            origination_urls,
            password: None,
            ..wanted.clone()
        })
    }

    /// The trunk's marked origination URL pointed at `url` and enabled (made if missing).
    async fn origination(
        &self,
        sid: &str,
        current: &TwilioTrunk,
        wanted: &TwilioTrunk,
        url: &str,
    ) -> Result<(String, String, bool), TwilioSideError> {
        let tw = self.client;
        let name = wanted.friendly_name.clone().unwrap_or_default();
        let made = match current.origination_urls.first() {
            Some((ou, u, enabled)) if u == url && *enabled => {
                return Ok((ou.clone(), u.clone(), true))
            }
            Some((ou, _, _)) => {
                tw.update_origination_url(
                    sid,
                    ou,
                    &OriginationUrlUpdate {
                        enabled: Some(true),
                        sip_url: Some(url.to_owned()),
                        friendly_name: Some(name),
                        ..Default::default()
                    },
                )
                .await?
            }
            // Weight and priority as Twilio's own examples: one URL, so they do not matter.
            None => {
                tw.create_origination_url(
                    sid,
                    &OriginationUrlParams {
                        weight: 1,
                        priority: 1,
                        enabled: true,
                        friendly_name: name,
                        sip_url: url.to_owned(),
                    },
                )
                .await?
            }
        };
        Ok((made.sid, made.sip_url, made.enabled))
    }

    async fn credential_list(
        &self,
        sid: &str,
        current: &TwilioTrunk,
        wanted: &TwilioTrunk,
    ) -> Result<String, TwilioSideError> {
        let tw = self.client;
        if let Some((cl, _)) = current
            .credential_lists
            .iter()
            .find(|(_, users)| users.contains(&wanted.username))
        {
            return Ok(cl.clone());
        }
        let name = wanted.friendly_name.clone().unwrap_or_default();
        let existing = self
            .marked_lists()
            .await?
            .into_iter()
            .find(|(_, n)| *n == name)
            .map(|(cl, _)| cl);
        let cl = match existing {
            Some(cl) => cl,
            None => tw.create_credential_list(&name).await?.sid,
        };
        let has_user = tw
            .list_credentials(&cl)
            .await?
            .iter()
            .any(|c| c.username == wanted.username);
        if !has_user {
            let Some(password) = &wanted.password else {
                return Err(SideError::Refused(
                    "the trunk's credential is not readable; delete the trunk and create it again"
                        .into(),
                ));
            };
            tw.create_credential(&cl, &wanted.username, password)
                .await?;
        }
        let associated = tw.list_trunk_credential_lists(sid).await?;
        if !associated.iter().any(|a| a.sid == cl) {
            tw.associate_credential_list(sid, &cl).await?;
        }
        Ok(cl)
    }

    /// Puts the wanted numbers on the trunk and takes the others off. A number trunkline
    /// would have to take from another trunk, or one not in the account, is refused.
    async fn numbers(
        &self,
        sid: &str,
        on: &BTreeSet<String>,
        wanted: &BTreeSet<String>,
    ) -> Result<(), TwilioSideError> {
        let tw = self.client;
        for n in wanted.difference(on) {
            match tw.find_incoming_number(n).await? {
                None => {
                    return Err(SideError::Refused(format!(
                        "{n} is not a number of this Twilio account"
                    )))
                }
                Some(p) => match p.trunk_sid.as_deref() {
                    Some(other) if other != sid => {
                        return Err(SideError::Refused(format!(
                            "{n} is on Twilio trunk {other}, which trunkline does not manage: take it off that trunk first"
                        )))
                    }
                    Some(_) => {}
                    None => {
                        tw.associate_phone_number(sid, &p.sid).await?;
                    }
                },
            }
        }
        for n in on.difference(wanted) {
            if let Some(p) = tw.find_incoming_number(n).await? {
                gone_ok(tw.dissociate_phone_number(sid, &p.sid).await)?;
            }
        }
        Ok(())
    }

    /// Deletes a trunk and the marked credential lists on it (best effort for the lists: a
    /// list left behind is removed by the next pass, by its marker).
    async fn remove(&self, sid: &str) -> Result<(), ProviderError> {
        let tw = self.client;
        let lists = match tw.list_trunk_credential_lists(sid).await {
            Ok(l) => l,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        gone_ok(tw.delete_trunk(sid).await)?;
        for l in lists
            .iter()
            .filter(|l| marked(l.friendly_name.as_deref()).is_some())
        {
            gone_ok(tw.delete_credential_list(&l.sid).await)?;
        }
        Ok(())
    }
}

impl Remote<TwilioTrunk> for TwilioAccount<'_> {
    type Error = TwilioSideError;
    const NAME: &'static str = "Twilio";

    async fn list(&self) -> Result<Vec<TwilioTrunk>, TwilioSideError> {
        let trunks = self.client.list_trunks().await?;
        let lists = self.marked_lists().await?;
        let mut out = Vec::with_capacity(trunks.len());
        for t in trunks {
            if marked(t.friendly_name.as_deref()).is_some() {
                out.push(self.inspect(t, &lists).await?);
            } else {
                // Not ours: listed so that its sid is known, never looked into.
                out.push(TwilioTrunk::bare(t));
            }
        }
        Ok(out)
    }

    /// Makes the trunk, then its domain (from its sid), credential and numbers. Anything
    /// failing on the way removes what this call made before the error is returned, so no
    /// half-made trunk is left behind.
    async fn create(&self, wanted: TwilioTrunk) -> Result<TwilioTrunk, TwilioSideError> {
        let made = self
            .client
            .create_trunk(&TrunkParams {
                friendly_name: wanted.friendly_name.clone(),
                ..Default::default()
            })
            .await?;
        let sid = made.sid.clone();
        let fresh = TwilioTrunk::bare(made);
        match self.converge_trunk(&sid, &fresh, &wanted).await {
            Ok(t) => Ok(t),
            Err(e) => {
                if let Err(undo) = self.remove(&sid).await {
                    // The trunk carries our marker: the next pass removes it.
                    tracing::warn!(trunk_sid = %sid, error = %undo, "could not undo a failed Twilio trunk create");
                }
                Err(e)
            }
        }
    }

    async fn replace(&self, id: &str, wanted: TwilioTrunk) -> Result<TwilioTrunk, TwilioSideError> {
        let trunk = self.client.fetch_trunk(id).await?;
        let lists = self.marked_lists().await?;
        let current = self.inspect(trunk, &lists).await?;
        self.converge_trunk(id, &current, &wanted).await
    }

    async fn delete(&self, id: &str) -> Result<(), TwilioSideError> {
        Ok(self.remove(id).await?)
    }

    fn failure(e: &TwilioSideError) -> Failure {
        failure(e)
    }
}
