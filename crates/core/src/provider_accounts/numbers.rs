//! `POST /numbers`: one number of a Twilio or Telnyx account (or, outbound
//! only, an Exotel account) set up end to end in one call.
//! For `outbound`, a trunk automated at the provider; for `inbound`, an inbound trunk
//! automated at the provider and a dispatch rule sending the number's calls to the
//! assistant's agent; for `both`, the outbound trunk is asked to serve the inbound calls too:
//! Twilio's does (one trunk carries the origination URL, a Twilio number being on one trunk
//! at most) and LiveKit gets a plain inbound trunk; Telnyx's cannot (`telnyx_trunks`), so
//! the inbound trunk is automated too.
//!
//! The setup is recorded (`NB_…`) before anything is made, with the ids of each part as it
//! is made, so a failure undoes exactly the parts made, in reverse, and a delete removes
//! exactly those. The same body again answers the same setup.

use super::sides::ProviderSide;
use crate::timefmt::iso8601;
use crate::{ServiceError, ServiceResult, Services};
use serde::Serialize;
use serde_json::Value;
use trunkline_domain::assistant::AssistantConfig;
use trunkline_domain::dispatch::{AgentDispatch, DispatchRuleConfig, RoomRule};
use trunkline_domain::inbound::InboundTrunkConfig;
use trunkline_domain::{ids::random_hex, MediaEncryption, TrunkId, ValidationErrors, E164};
use trunkline_store::{now_micros, NumberRow};

pub const NOT_FOUND: &str = "Number not found: check the full id (it starts with NB_) and that it belongs to this API key's account";

const DIRECTIONS: [&str; 3] = ["inbound", "outbound", "both"];

/// A number's setup as shown: what was asked and the ids of what was made on each side.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberSetup {
    /// `NB_…`.
    pub number_id: String,
    pub provider_account_id: String,
    /// E.164.
    pub number: String,
    pub assistant_id: String,
    /// `inbound`, `outbound` or `both`.
    pub direction: String,
    /// `active` once every part is made.
    pub status: String,
    /// The outbound trunk (`ST_…`), for `outbound` and `both`.
    pub outbound_trunk_id: Option<String>,
    /// The inbound trunk (`ST_…`), for `inbound` and `both`.
    pub inbound_trunk_id: Option<String>,
    /// The dispatch rule to the assistant's agent (`SDR_…`), for `inbound` and `both`.
    pub dispatch_rule_id: Option<String>,
    /// The provider side (Twilio: trunk sid, domain, origination URL; Telnyx: connection,
    /// profile; Exotel: trunk sid, whitelisted IP); null while none is recorded.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub provider: Option<ProviderSide>,
    /// The inbound trunk's own provider side, where it has one apart from the outbound
    /// trunk's (Telnyx, `both`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub inbound_provider: Option<ProviderSide>,
    pub created_at: String,
}

/// A validated `POST /numbers` body.
struct Request {
    account_id: String,
    number: E164,
    assistant_id: String,
    direction: String,
}

fn parse(body: Value) -> ServiceResult<Request> {
    let Value::Object(m) = body else {
        return Err(ServiceError::field("body", "must be a JSON object"));
    };
    let mut errors = ValidationErrors::default();
    for k in m.keys() {
        if !["provider_account_id", "number", "assistant_id", "direction"].contains(&k.as_str()) {
            errors.push(k.clone(), "is not a field of a number");
        }
    }
    let mut text = |name: &str, rule: &str| match m.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => {
            errors.push(name, rule);
            None
        }
    };
    let account_id = text(
        "provider_account_id",
        "is required: a provider account (PA_…)",
    );
    let number = text(
        "number",
        "is required: an E.164 number of the account (+15550100000)",
    );
    let assistant_id = text(
        "assistant_id",
        "is required: the assistant (AS_…) whose agent answers",
    );
    let direction = text("direction", "is required: inbound, outbound or both");
    let number = number.and_then(|n| errors.take(E164::parse("number", &n)));
    if let Some(d) = &direction {
        if !DIRECTIONS.contains(&d.as_str()) {
            errors.push(
                "direction",
                format!("must be inbound, outbound or both; got {d:?}"),
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(Request {
        account_id: account_id.unwrap_or_default(),
        number: number.expect("validated"),
        assistant_id: assistant_id.unwrap_or_default(),
        direction: direction.unwrap_or_default(),
    })
}

impl Services {
    /// Sets a number up; `true` with the view when it was made now, `false` when the same
    /// request had made it already.
    pub async fn create_number(
        &self,
        tenant_id: &str,
        body: Value,
    ) -> ServiceResult<(NumberSetup, bool)> {
        let req = parse(body)?;
        if let Some(existing) = self
            .store
            .number_setup(tenant_id, req.number.as_str())
            .await?
        {
            let same = existing.account_id == req.account_id
                && existing.assistant_id == req.assistant_id
                && existing.direction == req.direction;
            return match (same, existing.status.as_str()) {
                (true, "active") => Ok((self.number_view(&existing).await?, false)),
                (true, _) => Err(ServiceError::Conflict(format!(
                    "{} is being set up by another request ({}); fetch it shortly",
                    req.number, existing.id
                ))),
                (false, _) => Err(ServiceError::Conflict(format!(
                    "{} is already set up ({}) with another account, assistant or direction: delete it first",
                    req.number, existing.id
                ))),
            };
        }
        let assistant = self
            .store
            .get_assistant(tenant_id, &req.assistant_id)
            .await?
            .ok_or_else(|| {
                ServiceError::field(
                    "assistant_id",
                    "is not an assistant of this API key's account (GET /assistants lists them)",
                )
            })?;
        let agent: AssistantConfig = serde_json::from_str(&assistant.config)
            .map_err(|e| ServiceError::internal(format!("assistant {}: {e}", assistant.id)))?;
        let mut row = NumberRow {
            id: format!("NB_{}", random_hex()),
            tenant_id: tenant_id.to_owned(),
            account_id: req.account_id.clone(),
            number: req.number.as_str().to_owned(),
            assistant_id: req.assistant_id.clone(),
            direction: req.direction.clone(),
            status: "creating".into(),
            outbound_trunk_id: None,
            inbound_trunk_id: None,
            dispatch_rule_id: None,
            created_at: now_micros(),
        };
        // Recorded first: a concurrent request for the same number gets a 409 here.
        self.store.insert_number(&row).await.map_err(|e| match e {
            trunkline_store::StoreError::Conflict(_) => ServiceError::Conflict(format!(
                "{} is being set up by another request; fetch GET /numbers shortly",
                req.number
            )),
            other => other.into(),
        })?;
        if let Err(e) = self.make_parts(&mut row, &req, &agent).await {
            if let Err(undo) = self.remove_parts(&row).await {
                tracing::warn!(number_id = %row.id, error = %undo, "could not undo a failed number setup; delete it again");
                row.status = "failed".into();
                let _ = self.store.update_number(&row).await;
                return Err(e);
            }
            let _ = self.store.delete_number(tenant_id, &row.id).await;
            return Err(e);
        }
        row.status = "active".into();
        self.store.update_number(&row).await?;
        Ok((self.number_view(&row).await?, true))
    }

    /// Makes the parts in order, recording each id as soon as it exists.
    async fn make_parts(
        &self,
        row: &mut NumberRow,
        req: &Request,
        agent: &AssistantConfig,
    ) -> ServiceResult<()> {
        let name = format!("number {}", req.number);
        let numbers = std::slice::from_ref(&req.number);
        let outbound = req.direction != "inbound";
        let inbound = req.direction != "outbound";
        if self
            .is_exotel_account(&row.tenant_id, &req.account_id)
            .await?
        {
            if inbound {
                return Err(ServiceError::field(
                    "direction",
                    "must be \"outbound\" for an Exotel account: Exotel routes a number's calls to a trunk only through a Flow made in its dashboard (see the README's Exotel section for the console steps)",
                ));
            }
            let target = super::exotel_trunks::BridgeTarget {
                sip_host: None,
                sip_port: None,
                prefix: "",
                number_field: "number",
            };
            let (created, _) = self
                .create_exotel_outbound(&row.tenant_id, &name, &req.account_id, &req.number, target)
                .await?;
            row.outbound_trunk_id = Some(created.id);
            self.store.update_number(row).await?;
            return Ok(());
        }
        // Whether the outbound trunk's provider side also routes the number's inbound calls.
        let mut routed = false;
        if outbound {
            let origination = if inbound {
                Some(self.providers.livekit_sip_uri.clone().ok_or_else(|| {
                    ServiceError::Unavailable("LIVEKIT_SIP_URI is not set on this server, so the provider cannot be told where to send calls; nothing was created".into())
                })?)
            } else {
                None
            };
            let (account, client) = self
                .automated_account(&row.tenant_id, &req.account_id, "")
                .await?;
            let (created, side) = self
                .create_outbound_side(
                    &row.tenant_id,
                    &name,
                    &account,
                    &client,
                    numbers,
                    origination,
                    "",
                )
                .await?;
            routed = side.origination_url.is_some();
            row.outbound_trunk_id = Some(created.id);
            self.store.update_number(row).await?;
        }
        if inbound {
            let config = InboundTrunkConfig {
                numbers: numbers.to_vec(),
                allowed_addresses: vec![],
                allowed_numbers: vec![],
                auth_username: None,
                auth_password: None,
                krisp_enabled: false,
                ringing_timeout_secs: agent.ringing_timeout,
                max_call_duration_secs: agent.max_call_duration,
                media_encryption: MediaEncryption::Disabled,
            };
            let created = if routed {
                self.provisioner
                    .create_inbound(&row.tenant_id, &name, &config)
                    .await?
            } else {
                self.create_automated_inbound(&row.tenant_id, &name, &req.account_id, &config)
                    .await?
                    .0
            };
            row.inbound_trunk_id = Some(created.id.clone());
            self.store.update_number(row).await?;
            let rule = DispatchRuleConfig {
                rule: RoomRule::Individual {
                    room_prefix: "call-".into(),
                    randomize: true,
                },
                pin: None,
                trunk_ids: vec![TrunkId::from_trusted(created.id)],
                dialed_numbers: numbers.to_vec(),
                caller_numbers: vec![],
                agents: vec![AgentDispatch {
                    agent_name: agent.agent_name.clone(),
                    metadata: agent
                        .metadata
                        .as_ref()
                        .map(Value::to_string)
                        .unwrap_or_default(),
                }],
                metadata: String::new(),
            };
            let made = self
                .provisioner
                .create_rule(&row.tenant_id, &name, &rule)
                .await?;
            row.dispatch_rule_id = Some(made.id);
            self.store.update_number(row).await?;
        }
        Ok(())
    }

    /// Whether `account_id` is one of the tenant's Exotel accounts (an unknown id is left to
    /// the Twilio path, which names the field).
    async fn is_exotel_account(&self, tenant_id: &str, account_id: &str) -> ServiceResult<bool> {
        Ok(self
            .store
            .get_provider_account(tenant_id, account_id)
            .await?
            .is_some_and(|a| a.provider == "exotel"))
    }

    /// Removes the parts a setup records, in reverse order of making. Stops at the first
    /// failure (its error), leaving the rest for a later delete.
    async fn remove_parts(&self, row: &NumberRow) -> ServiceResult<()> {
        let t = &row.tenant_id;
        if let Some(id) = &row.dispatch_rule_id {
            if let Some(rule) = self.store.dispatch_rules().get(t, id).await? {
                self.provisioner.delete_rule(&rule).await?;
            }
        }
        if let Some(id) = &row.inbound_trunk_id {
            if let Some(trunk) = self.store.inbound_trunks().get(t, id).await? {
                self.delete_inbound_provider_side(&trunk).await?;
                self.provisioner.delete_inbound(&trunk).await?;
            }
        }
        if let Some(id) = &row.outbound_trunk_id {
            if let Some(trunk) = self.store.outbound_trunks().get(t, id).await? {
                self.delete_provider_side(&trunk).await?;
                self.provisioner.delete(&trunk).await?;
            }
        }
        Ok(())
    }

    /// Refuses the delete of a trunk or rule a number setup made (409): the setup would be
    /// left `active` with a part gone. `DELETE /numbers/{id}` removes it with the rest.
    pub async fn refuse_number_part(&self, tenant_id: &str, id: &str) -> ServiceResult<()> {
        match self.store.number_made(tenant_id, id).await? {
            Some(n) => Err(ServiceError::Conflict(format!(
                "{id} is part of the setup of {} ({}): delete that with DELETE /numbers/{}, which removes exactly what it made",
                n.number, n.id, n.id
            ))),
            None => Ok(()),
        }
    }

    /// Undoes the setups a crash (or an outage during a failed setup's undo) left `creating`
    /// or `failed` for longer than a create may take: the parts they recorded are removed,
    /// then the setup. One whose removal fails stays `failed`, retried next pass. Returns how
    /// many were retired and how many failed.
    pub async fn retire_unfinished_numbers(&self) -> (usize, usize) {
        let grace = self.provisioner.pending_grace().as_micros() as i64;
        let rows = match self.store.unfinished_numbers(now_micros() - grace).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "unfinished number setups could not be read");
                return (0, 1);
            }
        };
        let (mut retired, mut failed) = (0, 0);
        for mut row in rows {
            match self.remove_parts(&row).await {
                Ok(()) => {
                    if let Err(e) = self.store.delete_number(&row.tenant_id, &row.id).await {
                        tracing::warn!(number_id = %row.id, error = %e, "unfinished number setup not forgotten; retried next pass");
                        failed += 1;
                        continue;
                    }
                    tracing::info!(number_id = %row.id, number = %row.number, "retired an unfinished number setup and the parts it had made");
                    retired += 1;
                }
                Err(e) => {
                    tracing::warn!(number_id = %row.id, error = %e, "could not undo an unfinished number setup; retried next pass");
                    if row.status != "failed" {
                        row.status = "failed".into();
                        let _ = self.store.update_number(&row).await;
                    }
                    failed += 1;
                }
            }
        }
        (retired, failed)
    }

    async fn number_view(&self, row: &NumberRow) -> ServiceResult<NumberSetup> {
        let outbound = match &row.outbound_trunk_id {
            Some(id) => self.provider_side_of(id).await?,
            None => None,
        };
        let inbound = match &row.inbound_trunk_id {
            Some(id) => self.provider_side_of(id).await?,
            None => None,
        };
        let (side, inbound_side) = match outbound {
            Some(o) => (Some(o), inbound),
            None => (inbound, None),
        };
        Ok(NumberSetup {
            number_id: row.id.clone(),
            provider_account_id: row.account_id.clone(),
            number: row.number.clone(),
            assistant_id: row.assistant_id.clone(),
            direction: row.direction.clone(),
            status: row.status.clone(),
            outbound_trunk_id: row.outbound_trunk_id.clone(),
            inbound_trunk_id: row.inbound_trunk_id.clone(),
            dispatch_rule_id: row.dispatch_rule_id.clone(),
            provider: side,
            inbound_provider: inbound_side,
            created_at: iso8601(row.created_at),
        })
    }

    pub async fn number(&self, tenant_id: &str, id: &str) -> ServiceResult<NumberSetup> {
        let row = self
            .store
            .get_number(tenant_id, id)
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))?;
        self.number_view(&row).await
    }

    pub async fn numbers(&self, tenant_id: &str) -> ServiceResult<Vec<NumberSetup>> {
        let mut out = Vec::new();
        for row in self.store.list_numbers(tenant_id).await? {
            out.push(self.number_view(&row).await?);
        }
        Ok(out)
    }

    /// Removes exactly what the setup made (rule, inbound trunk, outbound trunk, each with
    /// its provider side), then the setup. An outage on the way answers its error; what was
    /// removed stays removed, and a second delete finishes.
    pub async fn delete_number(&self, tenant_id: &str, id: &str) -> ServiceResult<()> {
        let row = self
            .store
            .get_number(tenant_id, id)
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))?;
        self.remove_parts(&row).await?;
        if !self.store.delete_number(tenant_id, id).await? {
            return Err(ServiceError::NotFound(NOT_FOUND));
        }
        Ok(())
    }
}
