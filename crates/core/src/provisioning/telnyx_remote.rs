//! One Telnyx account as a remote side of the converge engine (PROVIDERS.md §4). A provider
//! trunk is one Telnyx connection (`telnyx_object.rs`), named with the trunkline marker (`trunkline PT_…`):
//!
//! - outbound (a credential in the row): a credential connection with the generated
//!   `user_name` and password, linked (`outbound.outbound_voice_profile_id`) to an outbound
//!   voice profile of the same name; LiveKit dials [`TELNYX_SIP_ADDRESS`] with that credential;
//! - inbound only: an FQDN connection whose FQDN record is LiveKit's SIP endpoint, with the
//!   inbound formats LiveKit's Telnyx guide sets (`+E.164` caller, `+e164` called number).
//!
//! The numbers are routed to the connection (`PATCH /phone_numbers/{id}` `{connection_id}`).
//! Only connections and profiles carrying the marker are looked into or changed.

use super::kinds::marked;
use super::provider_side::SideRemote;
use super::remote::{Failure, Remote};
use super::side_error::{failure, gone_ok, SideError};
use super::telnyx_object::{inbound, ConnectionType, TelnyxConnection};
use super::{Counts, Provisioner};
use std::collections::{BTreeSet, HashMap};
use trunkline_providers::telnyx::{
    CredentialConnectionParams, FqdnConnectionParams, FqdnParams, Outbound,
    OutboundVoiceProfileParams, TelnyxClient,
};
use trunkline_providers::{ErrorKind, ProviderError};
use trunkline_store::ProviderTrunkRow;

/// One account's API.
pub struct TelnyxAccount<'a> {
    pub client: &'a TelnyxClient,
}

impl TelnyxAccount<'_> {
    /// The account's numbers by the connection each is routed to, and every number's id.
    async fn numbers(
        &self,
    ) -> Result<(HashMap<String, BTreeSet<String>>, Vec<NumberOn>), ProviderError> {
        let all = self.client.list_phone_numbers().await?;
        let mut by_connection: HashMap<String, BTreeSet<String>> = HashMap::new();
        for n in &all {
            if let Some(c) = &n.connection_id {
                by_connection
                    .entry(c.clone())
                    .or_default()
                    .insert(n.phone_number.clone());
            }
        }
        let all = all
            .into_iter()
            .map(|n| NumberOn {
                id: n.id,
                connection_id: n.connection_id,
            })
            .collect();
        Ok((by_connection, all))
    }

    /// The account's marked outbound voice profiles: id → name.
    async fn marked_profiles(&self) -> Result<HashMap<String, String>, ProviderError> {
        Ok(self
            .client
            .list_outbound_voice_profiles()
            .await?
            .into_iter()
            .filter(|p| marked(Some(&p.name)).is_some())
            .map(|p| (p.id, p.name))
            .collect())
    }

    /// What is on a marked connection: its numbers, its profile when it is the marked one of
    /// the same name, its FQDN records.
    async fn inspect(
        &self,
        mut c: TelnyxConnection,
        numbers: &HashMap<String, BTreeSet<String>>,
        profiles: &HashMap<String, String>,
    ) -> Result<TelnyxConnection, ProviderError> {
        c.numbers = numbers.get(&c.id).cloned().unwrap_or_default();
        c.profile = c
            .profile
            .filter(|p| profiles.get(p) == Some(&c.connection_name));
        if c.connection == ConnectionType::Fqdn {
            c.fqdns = self
                .client
                .list_fqdns(&c.id)
                .await?
                .into_iter()
                .map(|f| (f.id, f.fqdn, f.port))
                .collect();
        }
        Ok(c)
    }

    /// The connection `id` as it is now, fetched as the type `wanted` has.
    async fn current(
        &self,
        id: &str,
        connection: ConnectionType,
    ) -> Result<TelnyxConnection, ProviderError> {
        let c = match connection {
            ConnectionType::Credential => {
                TelnyxConnection::of_credential(self.client.fetch_credential_connection(id).await?)
            }
            ConnectionType::Fqdn => {
                TelnyxConnection::of_fqdn(self.client.fetch_fqdn_connection(id).await?)
            }
        };
        let (numbers, _) = self.numbers().await?;
        let profiles = self.marked_profiles().await?;
        self.inspect(c, &numbers, &profiles).await
    }

    /// Makes connection `id` hold `wanted`: name, credential and profile, or inbound formats
    /// and FQDN record; then exactly the wanted numbers.
    async fn converge(
        &self,
        id: &str,
        current: &TelnyxConnection,
        wanted: &TelnyxConnection,
    ) -> Result<TelnyxConnection, SideError> {
        let tx = self.client;
        let mut now = current.clone();
        match wanted.connection {
            ConnectionType::Credential => {
                let profile = match &current.profile {
                    Some(p) => p.clone(),
                    None => self.profile_for(&wanted.connection_name).await?,
                };
                let password_differs = match (&current.password, &wanted.password) {
                    (Some(a), Some(w)) => a.expose() != w.expose(),
                    (None, Some(_)) => true,
                    _ => false,
                };
                if current.connection_name != wanted.connection_name
                    || current.user_name != wanted.user_name
                    || current.profile.as_deref() != Some(profile.as_str())
                    || password_differs
                {
                    let params = CredentialConnectionParams {
                        connection_name: Some(wanted.connection_name.clone()),
                        user_name: (current.user_name != wanted.user_name)
                            .then(|| wanted.user_name.clone()),
                        password: if password_differs {
                            wanted.password.clone()
                        } else {
                            None
                        },
                        outbound: Some(Outbound {
                            outbound_voice_profile_id: Some(profile.clone()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    };
                    tx.update_credential_connection(id, &params).await?;
                }
                now.connection_name = wanted.connection_name.clone();
                now.user_name = wanted.user_name.clone();
                now.password = wanted.password.clone();
                now.profile = Some(profile);
            }
            ConnectionType::Fqdn => {
                if current.connection_name != wanted.connection_name
                    || current.formats != wanted.formats
                {
                    let params = FqdnConnectionParams {
                        connection_name: Some(wanted.connection_name.clone()),
                        inbound: Some(inbound()),
                        ..Default::default()
                    };
                    tx.update_fqdn_connection(id, &params).await?;
                }
                now.connection_name = wanted.connection_name.clone();
                now.formats = wanted.formats.clone();
                if let Some(target) = &wanted.target {
                    now.fqdns = self.fqdn(id, &current.fqdns, target).await?;
                }
            }
        }
        self.route(id, &current.numbers, &wanted.numbers).await?;
        now.numbers = wanted.numbers.clone();
        now.id = id.to_owned();
        Ok(now)
    }

    /// The marked profile named `name` (made if missing): the connection's outbound calls
    /// are billed and limited by it.
    async fn profile_for(&self, name: &str) -> Result<String, ProviderError> {
        if let Some((id, _)) = self
            .marked_profiles()
            .await?
            .into_iter()
            .find(|(_, n)| n == name)
        {
            return Ok(id);
        }
        let made = self
            .client
            .create_outbound_voice_profile(&OutboundVoiceProfileParams {
                name: name.to_owned(),
                ..Default::default()
            })
            .await?;
        Ok(made.id)
    }

    /// Exactly one FQDN record on connection `id`, pointing at `target`; others on it go.
    async fn fqdn(
        &self,
        id: &str,
        on: &[(String, String, Option<u16>)],
        (host, port): &(String, u16),
    ) -> Result<Vec<(String, String, Option<u16>)>, ProviderError> {
        let tx = self.client;
        let keep = on
            .iter()
            .find(|(_, h, p)| h == host && *p == Some(*port))
            .cloned();
        for (fid, _, _) in on.iter().filter(|f| Some(*f) != keep.as_ref()) {
            gone_ok(tx.delete_fqdn(fid).await)?;
        }
        let kept = match keep {
            Some(k) => k,
            None => {
                // `a` with a port, as LiveKit's Telnyx guide; `srv` would drop the port.
                let made = tx
                    .create_fqdn(&FqdnParams {
                        connection_id: id.to_owned(),
                        fqdn: host.clone(),
                        dns_record_type: "a".into(),
                        port: Some(*port),
                    })
                    .await?;
                (made.id, made.fqdn, made.port)
            }
        };
        Ok(vec![kept])
    }

    /// Routes the wanted numbers to connection `id` and takes the others off it. A number
    /// not in the account, or routed to a connection trunkline did not make, is refused.
    async fn route(
        &self,
        id: &str,
        on: &BTreeSet<String>,
        wanted: &BTreeSet<String>,
    ) -> Result<(), SideError> {
        if on == wanted {
            return Ok(());
        }
        let tx = self.client;
        for n in wanted.difference(on) {
            match tx.find_phone_number(n).await? {
                None => {
                    return Err(SideError::Refused(format!(
                        "{n} is not a number of this Telnyx account"
                    )))
                }
                Some(p) => match p.connection_id.as_deref() {
                    Some(other) if other != id => {
                        return Err(SideError::Refused(format!(
                            "{n} is on Telnyx connection {other}, which trunkline does not manage: take it off that connection first"
                        )))
                    }
                    Some(_) => {}
                    None => {
                        tx.set_phone_number_connection(&p.id, Some(id)).await?;
                    }
                },
            }
        }
        for n in on.difference(wanted) {
            if let Some(p) = tx.find_phone_number(n).await? {
                if p.connection_id.as_deref() == Some(id) {
                    gone_ok(tx.set_phone_number_connection(&p.id, None).await)?;
                }
            }
        }
        Ok(())
    }

    /// Deletes connection `id` (whichever type it is): its numbers are taken off it first,
    /// then its FQDN records, the connection, and the marked profile made with it.
    async fn remove(&self, id: &str) -> Result<(), ProviderError> {
        let tx = self.client;
        let (connection, profile) = match tx.fetch_credential_connection(id).await {
            Ok(c) => {
                let profile = c
                    .outbound
                    .as_ref()
                    .and_then(|o| o.outbound_voice_profile_id.clone());
                (
                    ConnectionType::Credential,
                    profile.map(|p| (p, c.connection_name)),
                )
            }
            Err(e) if e.kind() == ErrorKind::NotFound => match tx.fetch_fqdn_connection(id).await {
                Ok(_) => (ConnectionType::Fqdn, None),
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let (_, numbers) = self.numbers().await?;
        for n in numbers
            .iter()
            .filter(|n| n.connection_id.as_deref() == Some(id))
        {
            gone_ok(tx.set_phone_number_connection(&n.id, None).await)?;
        }
        match connection {
            ConnectionType::Credential => gone_ok(tx.delete_credential_connection(id).await)?,
            ConnectionType::Fqdn => {
                for f in tx.list_fqdns(id).await? {
                    gone_ok(tx.delete_fqdn(&f.id).await)?;
                }
                gone_ok(tx.delete_fqdn_connection(id).await)?;
            }
        }
        if let Some((p, name)) = profile {
            if marked(Some(&name)).is_some() && self.marked_profiles().await?.get(&p) == Some(&name)
            {
                gone_ok(tx.delete_outbound_voice_profile(&p).await)?;
            }
        }
        Ok(())
    }
}

/// A number and the connection it is routed to.
struct NumberOn {
    id: String,
    connection_id: Option<String>,
}

impl Remote<TelnyxConnection> for TelnyxAccount<'_> {
    type Error = SideError;
    const NAME: &'static str = "Telnyx";

    async fn list(&self) -> Result<Vec<TelnyxConnection>, SideError> {
        let tx = self.client;
        let (numbers, _) = self.numbers().await?;
        let profiles = self.marked_profiles().await?;
        let mut out = Vec::new();
        let credential = tx.list_credential_connections(None).await?;
        let fqdn = tx.list_fqdn_connections(None).await?;
        let all = credential
            .into_iter()
            .map(TelnyxConnection::of_credential)
            .chain(fqdn.into_iter().map(TelnyxConnection::of_fqdn));
        for c in all {
            if marked(Some(&c.connection_name)).is_some() {
                out.push(self.inspect(c, &numbers, &profiles).await?);
            } else {
                // Not ours: listed so that its id is known, never looked into.
                let (id, t, name) = (c.id, c.connection, c.connection_name);
                out.push(TelnyxConnection::bare(id, t, name));
            }
        }
        Ok(out)
    }

    /// Makes the connection (a credential one after its profile), then what goes on it.
    /// Anything failing on the way removes what this call made before the error is returned.
    async fn create(&self, wanted: TelnyxConnection) -> Result<TelnyxConnection, SideError> {
        let tx = self.client;
        let name = wanted.connection_name.clone();
        let made = match wanted.connection {
            ConnectionType::Credential => {
                let profile = self.profile_for(&name).await?;
                let params = CredentialConnectionParams {
                    connection_name: Some(name.clone()),
                    user_name: Some(wanted.user_name.clone()),
                    password: wanted.password.clone(),
                    outbound: Some(Outbound {
                        outbound_voice_profile_id: Some(profile.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                match tx.create_credential_connection(&params).await {
                    Ok(c) => TelnyxConnection {
                        profile: Some(profile),
                        ..TelnyxConnection::of_credential(c)
                    },
                    Err(e) => {
                        // Only ours, made just now: a leftover is swept by its marker.
                        let _ = tx.delete_outbound_voice_profile(&profile).await;
                        return Err(e.into());
                    }
                }
            }
            ConnectionType::Fqdn => {
                let params = FqdnConnectionParams {
                    connection_name: Some(name.clone()),
                    inbound: Some(inbound()),
                    ..Default::default()
                };
                TelnyxConnection::of_fqdn(tx.create_fqdn_connection(&params).await?)
            }
        };
        let id = made.id.clone();
        match self.converge(&id, &made, &wanted).await {
            Ok(c) => Ok(c),
            Err(e) => {
                if let Err(undo) = self.remove(&id).await {
                    // The connection carries our marker: the next pass removes it.
                    tracing::warn!(connection_id = %id, error = %undo, "could not undo a failed Telnyx connection create");
                }
                Err(e)
            }
        }
    }

    async fn replace(
        &self,
        id: &str,
        wanted: TelnyxConnection,
    ) -> Result<TelnyxConnection, SideError> {
        let current = self.current(id, wanted.connection).await?;
        self.converge(id, &current, &wanted).await
    }

    async fn delete(&self, id: &str) -> Result<(), SideError> {
        Ok(self.remove(id).await?)
    }

    fn failure(e: &SideError) -> Failure {
        failure(e)
    }
}

impl SideRemote for TelnyxAccount<'_> {
    type Object = TelnyxConnection;

    /// Records (for display) the profile or FQDN record on the row's connection.
    async fn record(&self, p: &Provisioner, row: &ProviderTrunkRow) {
        let Some(id) = &row.provider_trunk_sid else {
            return;
        };
        let hung = match self.client.fetch_credential_connection(id).await {
            Ok(c) => c.outbound.and_then(|o| o.outbound_voice_profile_id),
            Err(_) => match self.client.list_fqdns(id).await {
                Ok(f) => f.into_iter().next().map(|f| f.id),
                Err(_) => return,
            },
        };
        if hung != row.credential_list_sid {
            let _ = p
                .store
                .set_provider_credential_list(&row.id, hung.as_deref())
                .await;
        }
    }

    /// Removes marked profiles whose row is deleted or retired (a connection deleted out of
    /// band leaves its profile; a delete whose profile removal failed, too).
    async fn sweep(&self, p: &Provisioner, report: &mut Counts) {
        let Ok(profiles) = self.marked_profiles().await else {
            return;
        };
        let profiles: Vec<(String, String)> = profiles.into_iter().collect();
        let client = self.client;
        p.sweep_marked(&profiles, report, |id| async move {
            client.delete_outbound_voice_profile(&id).await.is_ok()
        })
        .await;
    }
}
