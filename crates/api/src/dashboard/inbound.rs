//! Inbound trunks and dispatch rules: both lists, and the "Import lk JSON" box that takes the
//! files of `lk sip inbound create` (`{"trunk": …}`) and `lk sip dispatch create`
//! (`{"dispatch_rule": …}`) as they are (seed 002), read by the same parsers as the API.

use super::layout::{self, csrf_field, notice, status_badge, Nav};
use super::problem::PageError;
use super::session::{Posted, Session};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use trunkline_core::provisioning::{dispatch, inbound};
use trunkline_core::quotas::Quota;

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

fn strings(v: Option<&Value>) -> String {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "—".to_owned())
}

fn rule_text(config: &serde_json::Map<String, Value>) -> String {
    let rule = config.get("rule").cloned().unwrap_or(Value::Null);
    let s = |k: &str| rule.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match rule.get("type").and_then(Value::as_str) {
        Some("individual") => format!("a room per call, named {}…", s("room_prefix")),
        Some("callee") => format!("a room per dialed number, named {}…", s("room_prefix")),
        Some("direct") => format!("one room: {}", s("room_name")),
        _ => "—".to_owned(),
    }
}

fn agents_text(config: &serde_json::Map<String, Value>) -> String {
    config
        .get("room_config")
        .and_then(|r| r.get("agents"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("agent_name").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "—".to_owned())
}

async fn page(
    state: &AppState,
    session: &Session,
    flash: Option<&str>,
    typed: &str,
    errors: &[String],
) -> Result<Markup, PageError> {
    let trunks = state
        .store
        .inbound_trunks()
        .list(&session.tenant_id)
        .await?;
    let rules = state
        .store
        .dispatch_rules()
        .list(&session.tenant_id)
        .await?;
    let body = html! {
        h1 { "Inbound trunks and dispatch rules" }
        @if let Some(f) = flash { (notice("ok", f)) }
        h2 #inbound-heading { "Inbound trunks" }
        @if trunks.is_empty() {
            p { "No inbound trunks yet: import one below." }
        } @else {
            div.table-wrap { table.responsive aria-labelledby="inbound-heading" {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Numbers" } th scope="col" { "Allowed addresses" } th scope="col" { "Status" } th scope="col" { "ID" } } }
                tbody { @for t in &trunks {
                    @let c = inbound::stored_public(t)?;
                    tr {
                        td data-label="Name" { (t.name) }
                        td data-label="Numbers" { (strings(c.get("numbers"))) }
                        td data-label="Allowed addresses" { (strings(c.get("allowed_addresses"))) }
                        td data-label="Status" { (status_badge(t.status.as_str())) }
                        td data-label="ID" { code { (t.id) } }
                    }
                } }
            } }
        }
        h2 #rules-heading { "Dispatch rules" }
        @if rules.is_empty() {
            p { "No dispatch rules yet: import one below." }
        } @else {
            div.table-wrap { table.responsive aria-labelledby="rules-heading" {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Rooms" } th scope="col" { "Agents" } th scope="col" { "Trunks" } th scope="col" { "Status" } } }
                tbody { @for r in &rules {
                    @let c = dispatch::stored_public(r)?;
                    tr {
                        td data-label="Name" { (r.name) }
                        td data-label="Rooms" { (rule_text(&c)) }
                        td data-label="Agents" { (agents_text(&c)) }
                        td data-label="Trunks" { @match strings(c.get("trunk_ids")).as_str() { "—" => "all of this account's inbound trunks", s => (s) } }
                        td data-label="Status" { (status_badge(r.status.as_str())) }
                    }
                } }
            } }
        }
        h2 #import-heading { "Import lk JSON" }
        form #import .stack method="post" action="/ui/inbound" {
            (csrf_field(session))
            @if !errors.is_empty() {
                div.notice.error role="alert" {
                    p { strong { "Nothing was imported:" } }
                    ul { @for e in errors { li { (e) } } }
                }
            }
            div.field {
                label for="lk_json" { "lk JSON" }
                span.hint #lk_json-hint { "The file you would give " code { "lk sip inbound create" } " (" code { "{\"trunk\": …}" } ") or " code { "lk sip dispatch create" } " (" code { "{\"dispatch_rule\": …}" } "), as it is." }
                textarea #lk_json name="lk_json" aria-describedby="lk_json-hint" aria-invalid=[(!errors.is_empty()).then_some("true")] { (typed) }
            }
            div.actions { button type="submit" { "Import" } }
        }
    };
    Ok(layout::page("Inbound", Some(session), Nav::Inbound, body))
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<Done>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let flash = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("trunk") => Some("Inbound trunk imported."),
        Some("rule") => Some("Dispatch rule imported."),
        _ => None,
    };
    Ok(layout::ok(page(&state, &session, flash, "", &[]).await?))
}

/// What a refused import says: each field and rule, or the one sentence.
fn messages(e: ApiError) -> Vec<String> {
    match e {
        ApiError::BadRequest { message, errors } if errors.is_empty() => vec![message],
        ApiError::BadRequest { errors, .. } => errors
            .into_iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect(),
        ApiError::Conflict(m) => vec![m],
        ApiError::TooManyRequests { message, .. } => vec![message],
        ApiError::Upstream { message, .. } => vec![message],
        ApiError::NotFound(m) => vec![m.to_owned()],
        ApiError::NotFoundBecause(m) => vec![m],
        other => {
            tracing::error!(error = ?other, "dashboard import failed");
            vec![
                "Something went wrong on our side; it was logged. Try again in a moment."
                    .to_owned(),
            ]
        }
    }
}

pub async fn import(
    State(state): State<AppState>,
    session: Session,
    Posted { form, .. }: Posted,
) -> Result<Response, PageError> {
    let typed = form.raw("lk_json").to_owned();
    let outcome: Result<&str, ApiError> = async {
        let value: Value = serde_json::from_str(&typed).map_err(|e| {
            ApiError::bad_request(format!("This is not valid JSON: {e}"))
        })?;
        let map = value.as_object();
        let has = |k: &str| map.is_some_and(|m| m.contains_key(k));
        if has("trunk") {
            state
                .check_quota(&session.tenant_id, Quota::InboundTrunks)
                .await
                .map_err(ApiError::from)?;
            let (name, config) = crate::routes::inbound_trunks::parse_create(value)?;
            state
                .provisioner
                .create_inbound(&session.tenant_id, &name, &config)
                .await
                .map_err(ApiError::from)?;
            Ok("trunk")
        } else if has("dispatch_rule") || has("dispatchRule") {
            state
                .check_quota(&session.tenant_id, Quota::DispatchRules)
                .await
                .map_err(ApiError::from)?;
            let (name, config) = crate::routes::dispatch_rules::parse_create(value)?;
            state
                .provisioner
                .create_rule(&session.tenant_id, &name, &config)
                .await
                .map_err(ApiError::from)?;
            Ok("rule")
        } else {
            Err(ApiError::bad_request(
                "Paste the file of lk sip inbound create ({\"trunk\": …}) or of lk sip dispatch create ({\"dispatch_rule\": …}).",
            ))
        }
    }
    .await;
    match outcome {
        Ok(kind) => Ok(layout::see_other(&format!("/ui/inbound?done={kind}"))),
        Err(e) => {
            let page = page(&state, &session, None, &typed, &messages(e)).await?;
            Ok(layout::respond(StatusCode::BAD_REQUEST, page))
        }
    }
}
