//! Numbers set up end to end (`POST /numbers`): the list, the form that sets one up (a
//! Twilio account's number, the assistant whose agent answers, the direction), and delete,
//! which removes exactly what the setup made. All through the service layer's number
//! operations.

use super::layout::{self, csrf_field, notice, Field, InputExtra, Nav};
use super::problem::{form_errors, sentence, status_of, PageError};
use super::session::{FormData, Posted, Session};
use super::trunk_form::FieldErrors;
use super::trunks::{htmx_ok, redirect};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;
use trunkline_core::ServiceError;
use trunkline_domain::ValidationErrors;

/// The form's fields: the API's name and the label shown.
const FIELDS: [(&str, &str); 4] = [
    ("provider_account_id", "Provider account"),
    ("number", "Number"),
    ("assistant_id", "Assistant"),
    ("direction", "Direction"),
];

const DIRECTIONS: [(&str, &str); 3] = [
    ("both", "Both: calls in and out"),
    ("inbound", "Inbound: calls to the number reach the agent"),
    ("outbound", "Outbound: the agent calls from the number"),
];

/// What was typed.
#[derive(Default)]
struct NumberForm {
    values: Vec<(&'static str, String)>,
}

impl NumberForm {
    fn from_post(post: &FormData) -> Self {
        Self {
            values: FIELDS
                .iter()
                .map(|(name, _)| (*name, post.get(name).to_owned()))
                .collect(),
        }
    }

    fn value(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v)
    }
}

/// The service's errors by form field, each led by the field's label.
fn by_field(errors: &ValidationErrors) -> FieldErrors {
    let mut out = FieldErrors::new();
    for e in &errors.0 {
        let (key, label) = FIELDS
            .iter()
            .find(|(name, _)| *name == e.field)
            .map_or(("form", "The number"), |(n, l)| (*n, *l));
        let message = format!("{label} {}", e.message);
        super::trunk_form::note(&mut out, key, message);
    }
    out
}

/// Options of a `select`, from (value, text) pairs.
fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

type DoneQuery = Result<Query<Done>, axum::extract::rejection::QueryRejection>;

/// The page: what is set up, then the form; `problem` above the list (a refused delete).
async fn page(
    state: &AppState,
    session: &Session,
    form: &NumberForm,
    errors: &FieldErrors,
    problem: Option<&str>,
    flash: Option<&str>,
) -> Result<Markup, PageError> {
    let tenant = session.tenant_id.as_str();
    let setups = state.numbers(tenant).await?;
    let accounts: Vec<(String, String)> = state
        .store
        .list_provider_accounts(tenant)
        .await?
        .into_iter()
        .filter(|a| a.provider == "twilio")
        .map(|a| (a.id, a.name))
        .collect();
    let assistants: Vec<(String, String)> = state
        .store
        .list_assistants(tenant)
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let assistant_name = |id: &str| {
        assistants
            .iter()
            .find(|(a, _)| a == id)
            .map_or(id.to_owned(), |(_, n)| n.clone())
    };
    let err = |name: &str| errors.get(name).map(String::as_str);
    let count = errors.len();
    let body = html! {
        h1 { "Numbers" }
        @if let Some(f) = flash { (notice("ok", f)) }
        @if let Some(p) = problem { div.notice.error role="alert" { (p) } }
        p { "A number set up here gets everything it needs at once: for calls out, a trunk at Twilio and in LiveKit; for calls in, Twilio sending the number's calls to LiveKit, an inbound trunk and a dispatch rule to the assistant's agent. Delete removes exactly what was made." }
        @if setups.is_empty() {
            p { "No numbers set up yet." }
        } @else {
            div.table-wrap { table.responsive {
                caption { (setups.len()) " numbers" }
                thead { tr {
                    th scope="col" { "Number" } th scope="col" { "Direction" } th scope="col" { "Status" }
                    th scope="col" { "Assistant" } th scope="col" { "Trunks" } th scope="col" { "Actions" }
                } }
                tbody { @for s in &setups { tr {
                    td data-label="Number" { (s.number) }
                    td data-label="Direction" { (s.direction) }
                    td data-label="Status" { (s.status) }
                    td data-label="Assistant" { a href={ "/ui/assistants/" (s.assistant_id) } { (assistant_name(&s.assistant_id)) } }
                    td data-label="Trunks" {
                        @if let Some(t) = &s.outbound_trunk_id { a href={ "/ui/trunks/" (t) } { "outbound" } " " }
                        @if s.inbound_trunk_id.is_some() { a href="/ui/inbound" { "inbound" } }
                    }
                    td data-label="Actions" {
                        form method="post" action={ "/ui/numbers/" (s.number_id) "/delete" } {
                            (csrf_field(session))
                            button.danger type="submit" aria-label={ "Delete " (s.number) } { "Delete" }
                        }
                    }
                } } }
            } }
        }
        h2 { "Set up a number" }
        @if accounts.is_empty() || assistants.is_empty() {
            p { "Setting up a number needs a Twilio account (" a href="/ui/providers" { "Provider accounts" } ") and an assistant (" a href="/ui/assistants" { "Assistants" } ")." }
        } @else {
            form #number-form .stack method="post" action="/ui/numbers" novalidate
                hx-post="/ui/numbers" hx-target="#number-form" hx-select="#number-form" hx-swap="outerHTML" {
                (csrf_field(session))
                @if count > 0 {
                    div.notice.error role="alert" {
                        p { strong { "The number was not set up: " (count) " " (if count == 1 { "field needs" } else { "fields need" }) " fixing." } }
                        ul { @for (field, message) in errors {
                            @if *field == "form" { li { (message) } } @else { li { a href={ "#" (field) } { (message) } } }
                        } }
                    }
                }
                (Field { name: "provider_account_id", label: "Provider account", hint: Some("A Twilio account whose number this is."), error: err("provider_account_id") }
                    .select(&as_refs(&accounts), form.value("provider_account_id")))
                (Field { name: "number", label: "Number", hint: Some("E.164, e.g. +15550100000: one of the account's numbers, on no Twilio trunk yet."), error: err("number") }
                    .input("tel", form.value("number"), InputExtra { required: true, autocomplete: Some("off"), ..Default::default() }))
                (Field { name: "assistant_id", label: "Assistant", hint: Some("Its agent answers the number's calls and places its calls."), error: err("assistant_id") }
                    .select(&as_refs(&assistants), form.value("assistant_id")))
                (Field { name: "direction", label: "Direction", hint: None, error: err("direction") }
                    .select(&DIRECTIONS, if form.value("direction").is_empty() { "both" } else { form.value("direction") }))
                div.actions { button type="submit" { "Set up number" } }
            }
        }
    };
    Ok(layout::page("Numbers", Some(session), Nav::Numbers, body))
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: DoneQuery,
) -> Result<Response, PageError> {
    let flash = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("created") => Some("Number set up."),
        Some("deleted") => Some("Number removed, with everything its setup made."),
        _ => None,
    };
    let form = NumberForm::default();
    Ok(layout::ok(
        page(&state, &session, &form, &FieldErrors::new(), None, flash).await?,
    ))
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Posted {
        headers,
        form: post,
    }: Posted,
) -> Result<Response, PageError> {
    let form = NumberForm::from_post(&post);
    let request = json!({
        "provider_account_id": form.value("provider_account_id"),
        "number": form.value("number").trim(),
        "assistant_id": form.value("assistant_id"),
        "direction": form.value("direction"),
    });
    match state.create_number(&session.tenant_id, request).await {
        Ok((setup, _)) => {
            tracing::info!(number_id = %setup.number_id, "number set up from the dashboard");
            Ok(redirect(&headers, "/ui/numbers?done=created"))
        }
        Err(e) => {
            let (errors, problem) = form_errors(&e, by_field);
            let page = page(&state, &session, &form, &errors, problem.as_deref(), None).await?;
            Ok(htmx_ok(&headers, layout::respond(status_of(&e), page)))
        }
    }
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _: Posted,
) -> Result<Response, PageError> {
    match state.delete_number(&session.tenant_id, &id).await {
        Ok(()) => Ok(layout::see_other("/ui/numbers?done=deleted")),
        Err(ServiceError::NotFound(_)) => Err(PageError::NotFound),
        Err(e) => {
            let problem = format!("The number was not removed: {}", sentence(&e));
            let form = NumberForm::default();
            let page = page(
                &state,
                &session,
                &form,
                &FieldErrors::new(),
                Some(&problem),
                None,
            )
            .await?;
            Ok(layout::respond(status_of(&e), page))
        }
    }
}
