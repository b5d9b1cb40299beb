//! The account's assistants: what each call is dialed with (the agent, its ringing timeout and
//! longest call, and where the end-of-call webhook goes). The list, the create and edit form,
//! and delete, all through the service layer's assistant operations.

use super::assistant_form::{by_field, render, AssistantForm, Mode};
use super::layout::{self, csrf_field, notice, Nav};
use super::problem::{form_errors, status_of, PageError};
use super::session::{Posted, Session};
use super::trunk_form::FieldErrors;
use super::trunks::{htmx_ok, redirect};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use trunkline_core::ServiceError;
use trunkline_domain::assistant::AssistantConfig;
use trunkline_domain::AssistantId;
use trunkline_store::AssistantRow;

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn config_of(a: &AssistantRow) -> Option<AssistantConfig> {
    serde_json::from_str(&a.config).ok()
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<Done>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let rows = state.store.list_assistants(&session.tenant_id).await?;
    let flash = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("deleted") => Some("Assistant deleted. Calls already queued with it keep it."),
        _ => None,
    };
    let body = html! {
        h1 { "Assistants" }
        @if let Some(f) = flash { (notice("ok", f)) }
        p { "An assistant is what a call is dialed with: the LiveKit agent that joins the call, and where trunkline reports how each call ended." }
        div.actions { a.button href="/ui/assistants/new" { "Create assistant" } }
        @if rows.is_empty() {
            p { "No assistants yet." }
        } @else {
            div.table-wrap { table.responsive {
                caption { (rows.len()) " assistants" }
                thead { tr {
                    th scope="col" { "Assistant name" } th scope="col" { "Agent name" } th scope="col" { "Agent name in LiveKit" }
                    th scope="col" { "Ringing timeout" } th scope="col" { "Longest call" } th scope="col" { "End-of-call webhook" }
                } }
                tbody { @for a in &rows {
                    @let c = config_of(a);
                    tr {
                        td data-label="Assistant name" { a href={ "/ui/assistants/" (a.id) } { (a.name) } }
                        td data-label="Agent name" { (c.as_ref().map(|c| c.agent_name.as_str()).unwrap_or("—")) }
                        td data-label="Agent name in LiveKit" { code { (c.as_ref().map(|c| trunkline_core::rooms::livekit_agent(&a.tenant_id, &c.agent_name)).unwrap_or_default()) } }
                        td data-label="Ringing timeout" { (c.as_ref().and_then(|c| c.ringing_timeout).map(|s| format!("{s} s")).unwrap_or_else(|| "default".into())) }
                        td data-label="Longest call" { (c.as_ref().and_then(|c| c.max_call_duration).map(|s| format!("{s} s")).unwrap_or_else(|| "no limit".into())) }
                        td data-label="End-of-call webhook" { (c.as_ref().and_then(|c| c.end_call_webhook_url.clone()).unwrap_or_else(|| "none".into())) }
                    }
                } }
            } }
        }
        p { a href="/ui/calls/new" { "Place a call with an assistant" } }
    };
    Ok(layout::ok(layout::page(
        "Assistants",
        Some(&session),
        Nav::Assistants,
        body,
    )))
}

/// A tenant's assistant, or the 404 page (another tenant's reads the same).
async fn owned(state: &AppState, session: &Session, id: &str) -> Result<AssistantRow, PageError> {
    if AssistantId::parse(id).is_none() {
        return Err(PageError::NotFound);
    }
    state
        .store
        .get_assistant(&session.tenant_id, id)
        .await?
        .ok_or(PageError::NotFound)
}

fn form_page(session: &Session, title: &str, content: Markup) -> Markup {
    let body = html! { h1 { (title) } (content) };
    layout::page(title, Some(session), Nav::Assistants, body)
}

/// The form again with what was typed and why it was not saved.
fn refused(
    session: &Session,
    mode: &Mode,
    title: &str,
    form: &AssistantForm,
    e: ServiceError,
) -> Response {
    let (errors, problem) = form_errors(&e, by_field);
    let markup = form_page(
        session,
        title,
        render(session, mode, form, &errors, problem.as_deref()),
    );
    layout::respond(status_of(&e), markup)
}

pub async fn new_form(session: Session) -> Response {
    let form = render(
        &session,
        &Mode::Create,
        &AssistantForm::default(),
        &FieldErrors::new(),
        None,
    );
    layout::ok(form_page(&session, "Create an assistant", form))
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Posted {
        headers,
        form: post,
    }: Posted,
) -> Result<Response, PageError> {
    let form = AssistantForm::from_post(&post);
    let title = "Create an assistant";
    let outcome = async {
        let raw = form.raw()?;
        state.create_assistant(&session.tenant_id, &raw).await
    }
    .await;
    let created = match outcome {
        Ok(c) => c,
        Err(e) => {
            return Ok(htmx_ok(
                &headers,
                refused(&session, &Mode::Create, title, &form, e),
            ))
        }
    };
    tracing::info!(assistant_id = %created.row.id, "assistant created from the dashboard");
    let Some(secret) = created.webhook_secret else {
        return Ok(redirect(
            &headers,
            &format!("/ui/assistants/{}?done=created", created.row.id),
        ));
    };
    // The account's first webhook URL made its signing secret: shown on this answer only.
    let id = &created.row.id;
    let body = html! {
        h1 { "Assistant created" }
        div.notice.ok role="status" {
            p { strong { "Store this webhook signing secret now: it is not shown again." } }
            p { "It signs every end-of-call webhook of this account (the webhook-signature header). " }
            p { label for="webhook_secret" { "Webhook signing secret" } }
            input #webhook_secret type="text" readonly value=(secret) autocomplete="off";
        }
        p { a.button href={ "/ui/assistants/" (id) } { "Go to the assistant" } }
    };
    let mut resp = layout::ok(layout::page(
        "Assistant created",
        Some(&session),
        Nav::Assistants,
        body,
    ));
    if headers.contains_key("hx-request") {
        // The whole page replaces the form's page, so the secret is not lost in a swap.
        resp.headers_mut()
            .insert("hx-retarget", axum::http::HeaderValue::from_static("body"));
        resp.headers_mut()
            .insert("hx-reselect", axum::http::HeaderValue::from_static("body"));
        resp.headers_mut().insert(
            "hx-reswap",
            axum::http::HeaderValue::from_static("outerHTML"),
        );
    }
    Ok(resp)
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    query: Result<Query<Done>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let row = owned(&state, &session, &id).await?;
    let flash = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("created") => Some("Assistant created."),
        Some("saved") => Some("Assistant saved."),
        _ => None,
    };
    let form = config_of(&row)
        .map(|c| AssistantForm::from_stored(&row.name, &c))
        .unwrap_or_default();
    Ok(layout::ok(edit_page(
        &session,
        &row,
        &form,
        &FieldErrors::new(),
        None,
        flash,
    )))
}

fn edit_page(
    session: &Session,
    row: &AssistantRow,
    form: &AssistantForm,
    errors: &FieldErrors,
    problem: Option<&str>,
    flash: Option<&str>,
) -> Markup {
    let title = format!("Assistant {}", row.name);
    let body = html! {
        h1 { (title) }
        @if let Some(f) = flash { (notice("ok", f)) }
        dl.facts {
            dt { "ID" } dd { code { (row.id) } }
            @if let Some(c) = config_of(row) {
                dt { "Agent name in LiveKit" } dd { code { (trunkline_core::rooms::livekit_agent(&row.tenant_id, &c.agent_name)) } }
            }
            dt { "Created" } dd { (layout::time(row.created_at)) }
            dt { "Changed" } dd { (layout::time(row.updated_at)) }
        }
        h2 { "Change" }
        (render(session, &Mode::Edit { assistant_id: &row.id }, form, errors, problem))
        h2 { "Delete" }
        p { "Calls already queued keep this assistant; new calls cannot use it." }
        form method="post" action={ "/ui/assistants/" (row.id) "/delete" } {
            (csrf_field(session))
            button.danger type="submit" { "Delete" }
        }
    };
    layout::page(&title, Some(session), Nav::Assistants, body)
}

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Posted {
        headers,
        form: post,
    }: Posted,
) -> Result<Response, PageError> {
    let row = owned(&state, &session, &id).await?;
    let form = AssistantForm::from_post(&post);
    let outcome = async {
        let raw = form.raw()?;
        state.replace_assistant(&session.tenant_id, &id, &raw).await
    }
    .await;
    match outcome {
        Ok(_) => Ok(redirect(
            &headers,
            &format!("/ui/assistants/{id}?done=saved"),
        )),
        Err(ServiceError::NotFound(_)) => Err(PageError::NotFound),
        Err(e) => {
            let (errors, problem) = form_errors(&e, by_field);
            let page = edit_page(&session, &row, &form, &errors, problem.as_deref(), None);
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
    owned(&state, &session, &id).await?;
    state.delete_assistant(&session.tenant_id, &id).await?;
    Ok(layout::see_other("/ui/assistants?done=deleted"))
}
