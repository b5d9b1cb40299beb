//! Call pages: the list (filtered by status, trunk and assistant; it refreshes itself every
//! two seconds through htmx, and is a plain page without JavaScript), the form that places a
//! call, the call page with its timeline and SIP status, and "Cancel call".

use super::layout::{self, csrf_field, notice, status_badge, Field, InputExtra, Nav};
use super::problem::{sentence, PageError};
use super::session::{posted, Posted, Session};
use crate::routes::calls::decode_cursor;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use trunkline_core::calls::outcome::sip_meaning;
use trunkline_core::calls::place::{place_call, CallRequest, Placed};
use trunkline_core::calls::render::public_status;
use trunkline_core::quotas::Quota;
use trunkline_core::ServiceError;
use trunkline_domain::call::CallStatus;
use trunkline_domain::CallId;
use trunkline_store::{CallFilter, CallRow};

const STATUSES: &[&str] = &[
    "queued",
    "dialing",
    "ringing",
    "answered",
    "completed",
    "busy",
    "no_answer",
    "rejected",
    "failed",
    "cancelled",
];
const PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub struct Filters {
    status: Option<String>,
    trunk_id: Option<String>,
    assistant_id: Option<String>,
    /// Where an older page starts (`next_cursor` of the API's list).
    cursor: Option<String>,
    done: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Names of the tenant's trunks and assistants, by id, for the tables and the pickers.
struct Names {
    trunks: BTreeMap<String, String>,
    assistants: BTreeMap<String, String>,
}

async fn names(state: &AppState, tenant_id: &str) -> Result<Names, PageError> {
    let trunks = state.store.outbound_trunks().list(tenant_id).await?;
    let assistants = state.store.list_assistants(tenant_id).await?;
    Ok(Names {
        trunks: trunks.into_iter().map(|t| (t.id, t.name)).collect(),
        assistants: assistants.into_iter().map(|a| (a.id, a.name)).collect(),
    })
}

fn name_or_id<'a>(map: &'a BTreeMap<String, String>, id: &'a str) -> &'a str {
    map.get(id).map(String::as_str).unwrap_or(id)
}

fn rows_table(calls: &[CallRow], names: &Names, live: Option<&str>) -> Markup {
    html! {
        div.table-wrap #call-rows hx-get=[live] hx-trigger=[live.map(|_| "every 2s")]
            hx-select="#call-rows" hx-swap="outerHTML" {
            @if calls.is_empty() {
                p { "No calls match." }
            } @else {
                table.responsive {
                    caption { (calls.len()) " calls, newest first" }
                    thead { tr {
                        th scope="col" { "Call" } th scope="col" { "Status" } th scope="col" { "To" }
                        th scope="col" { "Trunk" } th scope="col" { "Assistant" } th scope="col" { "Created" }
                        th scope="col" { "SIP" }
                    } }
                    tbody {
                        @for c in calls {
                            tr {
                                td data-label="Call" { a href={ "/ui/calls/" (c.id) } { code { (c.id) } } }
                                td data-label="Status" { (status_badge(public_status(c))) }
                                td data-label="To" { (c.to_number) }
                                td data-label="Trunk" { (name_or_id(&names.trunks, &c.trunk_id)) }
                                td data-label="Assistant" { (name_or_id(&names.assistants, &c.assistant_id)) }
                                td data-label="Created" { (layout::time(c.created_at)) }
                                td data-label="SIP" { (c.sip_status_code.map(|s| s.to_string()).unwrap_or_else(|| "—".into())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn options(map: &BTreeMap<String, String>, any: &'static str) -> Vec<(String, String)> {
    std::iter::once((String::new(), any.to_owned()))
        .chain(map.iter().map(|(id, name)| (id.clone(), name.clone())))
        .collect()
}

fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<Filters>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let f = query.map(|q| q.0).unwrap_or_default();
    let names = names(&state, &session.tenant_id).await?;
    let status = nonempty(&f.status).filter(|s| STATUSES.contains(&s.as_str()));
    let statuses = match status.as_deref() {
        // A claimed call is shown as queued, so asking for queued finds both.
        Some("queued") => vec!["queued".to_owned(), "claimed".to_owned()],
        Some(s) => vec![s.to_owned()],
        None => vec![],
    };
    let trunk_id = nonempty(&f.trunk_id);
    let assistant_id = nonempty(&f.assistant_id);
    // A cursor that does not parse shows the newest page rather than an error page.
    let cursor = nonempty(&f.cursor).filter(|c| decode_cursor(c).is_some());
    let page = state
        .store
        .list_calls(
            &session.tenant_id,
            &CallFilter {
                statuses,
                trunk_id: trunk_id.clone(),
                assistant_id: assistant_id.clone(),
                before: cursor.as_deref().and_then(decode_cursor),
                limit: PAGE + 1,
            },
        )
        .await?;
    let more = page.len() as i64 > PAGE;
    let calls = &page[..page.len().min(PAGE as usize)];
    // Every link keeps the filters: the live refresh, and the older and newest pages.
    let link = |cursor: Option<&str>| {
        let mut q = form_urlencoded::Serializer::new(String::from("/ui/calls?"));
        q.append_pair("status", status.as_deref().unwrap_or(""))
            .append_pair("trunk_id", trunk_id.as_deref().unwrap_or(""))
            .append_pair("assistant_id", assistant_id.as_deref().unwrap_or(""));
        if let Some(c) = cursor {
            q.append_pair("cursor", c);
        }
        q.finish()
    };
    let live = link(cursor.as_deref());
    let older = more
        .then(|| {
            calls
                .last()
                .map(|c| link(Some(&format!("{}_{}", c.created_at, c.id))))
        })
        .flatten();
    let newest = cursor.is_some().then(|| link(None));
    let status_options: Vec<(String, String)> =
        std::iter::once((String::new(), "Any status".to_owned()))
            .chain(
                STATUSES
                    .iter()
                    .map(|s| (s.to_string(), s.replace('_', " "))),
            )
            .collect();
    let trunk_options = options(&names.trunks, "Any trunk");
    let assistant_options = options(&names.assistants, "Any assistant");
    let flash = match f.done.as_deref() {
        Some("placed") => Some("Call queued."),
        _ => None,
    };
    let body = html! {
        h1 { "Calls" }
        @if let Some(m) = flash { (notice("ok", m)) }
        div.actions { a.button href="/ui/calls/new" { "Place a call" } }
        form.filters method="get" action="/ui/calls" {
            (Field { name: "status", label: "Status", hint: None, error: None }.select(&as_refs(&status_options), status.as_deref().unwrap_or("")))
            (Field { name: "trunk_id", label: "Trunk", hint: None, error: None }.select(&as_refs(&trunk_options), trunk_id.as_deref().unwrap_or("")))
            (Field { name: "assistant_id", label: "Assistant", hint: None, error: None }.select(&as_refs(&assistant_options), assistant_id.as_deref().unwrap_or("")))
            div.actions { button type="submit" { "Filter" } }
        }
        p.muted { "This list updates by itself every two seconds." }
        (rows_table(calls, &names, Some(live.as_str())))
        @if older.is_some() || newest.is_some() {
            nav.pager aria-label="Pages of calls" { ul {
                @if let Some(href) = &newest { li { a href=(href) { "Newest calls" } } }
                @if let Some(href) = &older { li { a href=(href) rel="next" { "Older calls" } } }
            } }
        }
    };
    Ok(layout::ok(layout::page(
        "Calls",
        Some(&session),
        Nav::Calls,
        body,
    )))
}

pub async fn new_form(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, PageError> {
    let names = names(&state, &session.tenant_id).await?;
    let body = html! {
        h1 { "Place a call" }
        (place_form(&session, &names, &PlaceForm::default(), &HashMap::new(), None))
    };
    Ok(layout::ok(layout::page(
        "Place a call",
        Some(&session),
        Nav::Calls,
        body,
    )))
}

#[derive(Default)]
pub struct PlaceForm {
    assistant_id: String,
    trunk_id: String,
    to_number: String,
}

fn place_form(
    session: &Session,
    names: &Names,
    form: &PlaceForm,
    errors: &HashMap<String, String>,
    problem: Option<&str>,
) -> Markup {
    let err = |n: &str| errors.get(n).map(String::as_str);
    let trunks = options(&names.trunks, "Choose a trunk");
    let assistants = options(&names.assistants, "Choose an assistant");
    html! {
        form #place-call .stack method="post" action="/ui/calls" {
            (csrf_field(session))
            @if let Some(p) = problem { div.notice.error role="alert" { (p) } }
            @if names.assistants.is_empty() {
                p.muted { "Calls are placed with an assistant (the agent that talks). Create one with POST /assistants first." }
            }
            (Field { name: "assistant_id", label: "Assistant", hint: None, error: err("assistant_id") }.select(&as_refs(&assistants), &form.assistant_id))
            (Field { name: "trunk_id", label: "Trunk", hint: None, error: err("trunk_id") }.select(&as_refs(&trunks), &form.trunk_id))
            (Field { name: "to_number", label: "Number to call", hint: Some("E.164, e.g. +14155550100."), error: err("to_number") }
                .input("tel", &form.to_number, InputExtra { required: true, autocomplete: Some("off"), ..Default::default() }))
            div.actions { button type="submit" { "Place call" } }
        }
    }
}

pub async fn place(
    State(state): State<AppState>,
    session: Session,
    Posted { form: post, .. }: Posted,
) -> Result<Response, PageError> {
    let form = posted!(
        post,
        PlaceForm {
            assistant_id,
            trunk_id,
            to_number
        }
    );
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let outcome = async {
        state
            .check_quota(&session.tenant_id, Quota::QueuedCalls)
            .await?;
        place_call(
            &state,
            &session.tenant_id,
            CallRequest {
                assistant_id: opt(&form.assistant_id),
                trunk_id: opt(&form.trunk_id),
                to_number: opt(&form.to_number),
                request_hash: String::new(),
                ..Default::default()
            },
        )
        .await
    }
    .await;
    match outcome {
        Ok(Placed::Queued(row) | Placed::Existing(row)) => Ok(layout::see_other(&format!(
            "/ui/calls/{}?done=placed",
            row.id
        ))),
        Err(e) => {
            let (errors, problem) = match &e {
                ServiceError::Invalid(v) => (
                    v.0.iter()
                        .map(|f| {
                            (
                                f.field.clone(),
                                format!("{} {}", label(&f.field), f.message),
                            )
                        })
                        .collect(),
                    None,
                ),
                other => (HashMap::new(), Some(sentence(other))),
            };
            let names = names(&state, &session.tenant_id).await?;
            let body = html! {
                h1 { "Place a call" }
                (place_form(&session, &names, &form, &errors, problem.as_deref()))
            };
            Ok(layout::respond(
                StatusCode::BAD_REQUEST,
                layout::page("Place a call", Some(&session), Nav::Calls, body),
            ))
        }
    }
}

fn label(field: &str) -> &'static str {
    match field {
        "assistant_id" => "Assistant",
        "trunk_id" => "Trunk",
        "to_number" => "Number to call",
        _ => "The call",
    }
}

async fn owned_call(state: &AppState, session: &Session, id: &str) -> Result<CallRow, PageError> {
    if CallId::parse(id).is_none() {
        return Err(PageError::NotFound);
    }
    state
        .store
        .get_call(&session.tenant_id, id)
        .await?
        .ok_or(PageError::NotFound)
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    query: Result<Query<Filters>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let call = owned_call(&state, &session, &id).await?;
    let flash = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("placed") => Some("Call queued."),
        Some("cancelled") => Some("Call cancelled."),
        Some("ended") => Some("Call ended."),
        Some("transferred") => Some("Call transferred."),
        _ => None,
    };
    let names = names(&state, &session.tenant_id).await?;
    let deliveries = state
        .store
        .deliveries_for_call(&session.tenant_id, &call.id)
        .await?;
    let body = html! {
        h1 { "Call " code { (call.id) } }
        @if let Some(m) = flash { (notice("ok", m)) }
        (call_live(&session, &call, &names))
        h2 { "End-of-call webhooks" }
        @if deliveries.is_empty() {
            p { "None yet (one is sent when the call ends, if its assistant has a webhook URL)." }
        } @else {
            div.table-wrap { table {
                thead { tr { th scope="col" { "Webhook ID" } th scope="col" { "URL" } th scope="col" { "Status" } th.num scope="col" { "Attempts" } th scope="col" { "Last answer" } } }
                tbody { @for d in &deliveries { tr {
                    td { code { (d.id) } } td { (d.url) } td { (status_badge(&d.status)) } td.num { (d.attempts) }
                    td { (d.last_status.map(|s| format!("HTTP {s}")).or_else(|| d.last_error.clone()).unwrap_or_else(|| "—".into())) }
                } } }
            } }
        }
        p { a href="/ui/calls" { "All calls" } }
    };
    Ok(layout::ok(layout::page(
        &format!("Call {}", call.id),
        Some(&session),
        Nav::Calls,
        body,
    )))
}

/// The part of the call page that changes while the call is live: it reloads itself every
/// two seconds until the call has ended.
fn call_live(session: &Session, call: &CallRow, names: &Names) -> Markup {
    let status = public_status(call);
    let is_final = CallStatus::parse(&call.status).is_some_and(|s| s.is_final());
    let href = format!("/ui/calls/{}", call.id);
    let mut steps: Vec<(&str, Option<i64>)> = vec![
        ("Queued", Some(call.created_at)),
        ("Dialing", call.dialed_at),
    ];
    if call.ringing_at.is_some() {
        steps.push(("Ringing", call.ringing_at));
    }
    steps.push(("Answered", call.answered_at));
    steps.push(("Ended", call.ended_at));
    html! {
        section #call-live aria-live="polite"
            hx-get=[(!is_final).then_some(href.as_str())] hx-trigger=[(!is_final).then_some("every 2s")]
            hx-select="#call-live" hx-swap="outerHTML" {
            dl.facts {
                dt { "Status" } dd { (status_badge(status)) }
                dt { "To" } dd { (call.to_number) }
                dt { "From" } dd { (call.from_number) }
                dt { "Trunk" } dd { a href={ "/ui/trunks/" (call.trunk_id) } { (name_or_id(&names.trunks, &call.trunk_id)) } }
                dt { "Assistant" } dd { (name_or_id(&names.assistants, &call.assistant_id)) }
                dt { "SIP status" } dd {
                    // An answered call had a 200 OK, which LiveKit does not report as a code.
                    @match call.sip_status_code.or(call.answered_at.map(|_| 200)) {
                        Some(code) => { strong { (code) } " — " (sip_meaning(u16::try_from(code).unwrap_or(0))) }
                        None => "—",
                    }
                }
                dt { "Attempts" } dd { (call.attempts) " of at most " (call.max_attempts) }
                @if let Some(e) = &call.last_error { dt { "Last error" } dd { (e) } }
                @if let Some(r) = &call.end_reason { dt { "End reason" } dd { (r.replace('_', " ")) } }
                @if let (Some(a), Some(e)) = (call.answered_at, call.ended_at) {
                    dt { "Talk time" } dd { (format!("{:.1} s", (e - a).max(0) as f64 / 1e6)) }
                }
            }
            h2 { "Timeline" }
            ol.timeline {
                @for (label, at) in steps {
                    @if let Some(t) = at {
                        li { strong { (label) } " — " (layout::time(t)) @if label == "Ended" { " (" (status.replace('_', " ")) ")" } }
                    } @else if !is_final {
                        li.pending { (label) " — not yet" }
                    }
                }
            }
            @if call.status == CallStatus::Answered.as_str() {
                form.stack method="post" action={ "/ui/calls/" (call.id) "/transfer" } {
                    (csrf_field(session))
                    (Field { name: "to", label: "Transfer to", hint: Some("An E.164 number (+15550100001) or a sip: URI. The call leaves the agent (cold transfer)."), error: None }
                        .input("text", "", InputExtra { autocomplete: Some("off"), preserve: true, ..Default::default() }))
                    div.actions { button type="submit" { "Transfer call" } }
                }
            }
            @if !is_final {
                form method="post" action={ "/ui/calls/" (call.id) "/cancel" } {
                    (csrf_field(session))
                    button.danger type="submit" { "Cancel call" }
                }
            }
        }
    }
}

pub async fn cancel(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _: Posted,
) -> Result<Response, PageError> {
    owned_call(&state, &session, &id).await?;
    let call =
        trunkline_core::calls::cancel::cancel_call(&state, &session.tenant_id, &id, "no such call")
            .await?;
    let done = if public_status(&call) == "completed" {
        "ended"
    } else {
        "cancelled"
    };
    Ok(layout::see_other(&format!("/ui/calls/{id}?done={done}")))
}

pub async fn transfer(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Posted { form: post, .. }: Posted,
) -> Result<Response, PageError> {
    let call = owned_call(&state, &session, &id).await?;
    let outcome = async {
        let to = trunkline_core::calls::transfer::transfer_target(post.get("to"))?;
        trunkline_core::calls::transfer::transfer_call(
            &state,
            &session.tenant_id,
            &call.id,
            &to,
            "no such call",
        )
        .await
    }
    .await;
    match outcome {
        Ok(_) => Ok(layout::see_other(&format!(
            "/ui/calls/{id}?done=transferred"
        ))),
        Err(ServiceError::NotFound(_)) => Err(PageError::NotFound),
        Err(e) => {
            let message = match &e {
                ServiceError::Invalid(v) => {
                    v.0.iter()
                        .map(|f| format!("Transfer to {}", f.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                }
                other => sentence(other),
            };
            let names = names(&state, &session.tenant_id).await?;
            let body = html! {
                h1 { "Call " code { (call.id) } }
                div.notice.error role="alert" { "The call was not transferred: " (message) }
                (call_live(&session, &call, &names))
            };
            Ok(layout::respond(
                StatusCode::BAD_REQUEST,
                layout::page(
                    &format!("Call {}", call.id),
                    Some(&session),
                    Nav::Calls,
                    body,
                ),
            ))
        }
    }
}
