//! Outbound trunk pages: the list, the create and edit form, the trunk page with its health,
//! call limits and the "Test trunk" button, and delete.

use super::layout::{self, csrf_field, notice, status_badge, Field, InputExtra, Nav};
use super::problem::{form_errors, sentence, status_of, PageError};
use super::session::Session;
use super::trunk_form::{by_field, render, FieldErrors, Mode, OutboundTrunkForm};
use super::trunk_settings::{health_section, limits_section, SettingErrors};
use crate::routes::trunk_test::{result, TrunkTestResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use maud::{html, Markup};
use serde::Deserialize;
use trunkline_core::provisioning::status;
use trunkline_core::quotas::Quota;
use trunkline_core::records;
use trunkline_core::ServiceError;
use trunkline_domain::trunk::PublicConfig;
use trunkline_domain::{TrunkConfig, TrunkId, ValidationErrors, E164};
use trunkline_store::{OutboundTrunkRow, Status};

fn provider_name(kind: &str) -> &str {
    match kind {
        "twilio" => "Twilio",
        "telnyx" => "Telnyx",
        "exotel" => "Exotel",
        _ => "Other SIP provider",
    }
}

/// A trunk of this tenant, or the 404 page (another tenant's trunk reads the same).
pub async fn owned(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<OutboundTrunkRow, PageError> {
    if TrunkId::parse(id).is_none() {
        return Err(PageError::NotFound);
    }
    state
        .store
        .outbound_trunks()
        .get(&session.tenant_id, id)
        .await?
        .ok_or(PageError::NotFound)
}

pub async fn list(State(state): State<AppState>, session: Session) -> Result<Response, PageError> {
    let rows = state
        .store
        .outbound_trunks()
        .list(&session.tenant_id)
        .await?;
    let body = html! {
        h1 { "Outbound trunks" }
        div.actions { a.button href="/ui/trunks/new" { "Create trunk" } }
        @if rows.is_empty() {
            p { "No outbound trunks yet. Create one with your provider's address, your numbers and credentials." }
        } @else {
            div.table-wrap {
                table.responsive {
                    caption { (rows.len()) " outbound trunks" }
                    thead { tr { th scope="col" { "Trunk name" } th scope="col" { "Provider" } th scope="col" { "Numbers" } th scope="col" { "Status" } th scope="col" { "Created" } } }
                    tbody {
                        @for t in &rows {
                            tr {
                                td data-label="Trunk name" { a href={ "/ui/trunks/" (t.id) } { (t.name) } }
                                td data-label="Provider" { (provider_name(&t.trunk_type)) }
                                td data-label="Numbers" { (numbers_of(t).join(", ")) }
                                td data-label="Status" { (status_badge(t.status.as_str())) }
                                td data-label="Created" { (layout::time(t.created_at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::ok(layout::page(
        "Outbound trunks",
        Some(&session),
        Nav::Trunks,
        body,
    )))
}

pub fn numbers_of(t: &OutboundTrunkRow) -> Vec<String> {
    match records::public_config(t) {
        Ok(PublicConfig::Sip { numbers, .. }) => numbers,
        Ok(PublicConfig::Exotel { exotel_number, .. }) => vec![exotel_number],
        Err(_) => vec![],
    }
}

fn form_page(session: &Session, title: &str, form: Markup) -> Markup {
    let body = html! { h1 { (title) } (form) };
    layout::page(title, Some(session), Nav::Trunks, body)
}

pub async fn new_form(session: Session) -> Response {
    let form = render(
        &session,
        &Mode::Create,
        &OutboundTrunkForm::blank(),
        &FieldErrors::new(),
        None,
    );
    layout::ok(form_page(&session, "Create an outbound trunk", form))
}

/// Refuses targets inside the operator's network unless the operator allows them (as the API).
fn check_target(state: &AppState, config: &TrunkConfig) -> Result<(), ValidationErrors> {
    crate::routes::trunks::check_target(state, config).map_err(|_| {
        let mut e = ValidationErrors::default();
        e.push("trunk_config.address", "must be a public address: this one is loopback, private, link-local or otherwise internal");
        e
    })
}

/// The form again, with what was typed and why it was not saved.
fn refused(
    session: &Session,
    mode: &Mode,
    title: &str,
    form: &OutboundTrunkForm,
    e: ServiceError,
) -> Response {
    let (errors, problem) = form_errors(&e, |v| by_field(v, form));
    let status = status_of(&e);
    // An htmx swap needs a 200 to be applied; the status is for browsers without it.
    let markup = form_page(
        session,
        title,
        render(session, mode, form, &errors, problem.as_deref()),
    );
    layout::respond(status, markup)
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let post = session.form(&headers, &body)?;
    let form = OutboundTrunkForm::from_post(&post);
    let title = "Create an outbound trunk";
    let outcome = async {
        state
            .check_quota(&session.tenant_id, Quota::OutboundTrunks)
            .await?;
        let (name, kind, config) = form.validate_new()?;
        let config = TrunkConfig::Sip(config);
        check_target(&state, &config)?;
        state
            .provisioner
            .create(&session.tenant_id, &name, kind, &config)
            .await
    }
    .await;
    match outcome {
        Ok(created) => {
            tracing::info!(trunk_id = %created.id, "trunk created from the dashboard");
            Ok(redirect(
                &headers,
                &format!("/ui/trunks/{}?done=created", created.id),
            ))
        }
        Err(e) => Ok(htmx_ok(
            &headers,
            refused(&session, &Mode::Create, title, &form, e),
        )),
    }
}

/// htmx swaps only 2xx answers: a refused form is sent to it as 200 (browsers without
/// JavaScript get the real status).
pub(super) fn htmx_ok(headers: &HeaderMap, mut resp: Response) -> Response {
    if headers.contains_key("hx-request") {
        *resp.status_mut() = StatusCode::OK;
    }
    resp
}

/// After a form that worked: htmx is told to load the page; a plain browser is redirected.
pub(super) fn redirect(headers: &HeaderMap, to: &str) -> Response {
    if headers.contains_key("hx-request") {
        let mut resp = layout::respond(StatusCode::OK, html! {});
        resp.headers_mut().insert(
            "hx-location",
            axum::http::HeaderValue::from_str(to).expect("ids are header-safe"),
        );
        return resp;
    }
    layout::see_other(to)
}

pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let row = owned(&state, &session, &id).await?;
    let config = records::public_config(&row)?;
    let password_set = matches!(
        config,
        PublicConfig::Sip {
            password_set: true,
            ..
        }
    );
    let Some(form) = OutboundTrunkForm::from_stored(&row.name, &row.trunk_type, &config) else {
        let body = html! {
            h1 { "Edit " (row.name) }
            p { "Exotel trunks are changed through the API (PATCH /sip/trunks/" (row.id) ")." }
            p { a href={ "/ui/trunks/" (row.id) } { "Back to the trunk" } }
        };
        return Ok(layout::ok(layout::page(
            "Edit trunk",
            Some(&session),
            Nav::Trunks,
            body,
        )));
    };
    let mode = Mode::Edit {
        trunk_id: &row.id,
        password_set,
    };
    let title = format!("Edit {}", row.name);
    Ok(layout::ok(form_page(
        &session,
        &title,
        render(&session, &mode, &form, &FieldErrors::new(), None),
    )))
}

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let post = session.form(&headers, &body)?;
    let row = owned(&state, &session, &id).await?;
    let form = OutboundTrunkForm::from_post(&post);
    let kind = records::outbound_trunk_type(&row)?;
    let current = records::open(&state.keyring, &row)?;
    let TrunkConfig::Sip(current) = current else {
        return Err(PageError::BadForm(
            "Exotel trunks are changed through the API",
        ));
    };
    let password_set = current.password.is_some();
    let outcome = async {
        let (name, config) = form.validate_edit(kind, &current)?;
        let config = TrunkConfig::Sip(config);
        check_target(&state, &config)?;
        state.provisioner.update(&row, &name, &config).await
    }
    .await;
    match outcome {
        Ok(_) => Ok(redirect(&headers, &format!("/ui/trunks/{id}?done=saved"))),
        Err(e) => {
            let mode = Mode::Edit {
                trunk_id: &row.id,
                password_set,
            };
            Ok(htmx_ok(
                &headers,
                refused(&session, &mode, &format!("Edit {}", row.name), &form, e),
            ))
        }
    }
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    session.form(&headers, &body)?;
    let row = owned(&state, &session, &id).await?;
    if !state.provisioner.delete(&row).await? {
        return Err(PageError::NotFound);
    }
    Ok(layout::see_other("/ui/trunks?done=deleted"))
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    query: Result<Query<Done>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let row = owned(&state, &session, &id).await?;
    let done = query.ok().and_then(|q| q.0.done);
    let flash = match done.as_deref() {
        Some("created") => Some("Trunk created."),
        Some("saved") => Some("Trunk saved."),
        Some("health") => Some("Health checks saved."),
        Some("limits") => Some("Call limits saved."),
        _ => None,
    };
    let page = trunk_page(
        &state,
        &session,
        &row,
        Extra {
            flash,
            ..Extra::default()
        },
    )
    .await?;
    Ok(layout::ok(page))
}

#[derive(Default)]
enum TestOutcome {
    #[default]
    None,
    Ran(TrunkTestResult),
    Refused {
        field: Option<String>,
        message: String,
    },
}

/// What the trunk page shows beyond the trunk: a notice, a test's outcome, refused settings.
#[derive(Default)]
struct Extra<'a> {
    flash: Option<&'a str>,
    test: TestOutcome,
    test_number: &'a str,
    health_errors: SettingErrors,
    limit_errors: SettingErrors,
}

async fn trunk_page(
    state: &AppState,
    session: &Session,
    row: &OutboundTrunkRow,
    extra: Extra<'_>,
) -> Result<Markup, PageError> {
    let (flash, test, test_number) = (extra.flash, &extra.test, extra.test_number);
    let config = records::public_config(row)?;
    let health = state.store.trunk_health(&row.id).await?;
    let (cps, conc) = state.store.trunk_limits(&row.id).await?;
    let cps = cps.unwrap_or(state.calls.default_cps_milli) as f64 / 1000.0;
    let conc = conc.unwrap_or(state.calls.default_trunk_concurrency);
    let in_sync = row.status == Status::Provisioned && row.synced_version == row.desired_version;
    let field_error = match test {
        TestOutcome::Refused {
            field: Some(_),
            message,
        } => Some(message.as_str()),
        _ => None,
    };
    let body = html! {
        h1 { (row.name) }
        @if let Some(f) = flash { (notice("ok", f)) }
        div.actions {
            a.button href={ "/ui/trunks/" (row.id) "/edit" } { "Edit" }
            form method="post" action={ "/ui/trunks/" (row.id) "/delete" } {
                (csrf_field(session))
                button.danger type="submit" { "Delete" }
            }
            a.button.secondary href={ "/ui/calls?trunk_id=" (row.id) } { "Calls on this trunk" }
        }
        h2 { "Configuration" }
        dl.facts {
            dt { "Trunk ID" } dd { code { (row.id) } }
            dt { "Provider" } dd { (provider_name(&row.trunk_type)) }
            @match &config {
                PublicConfig::Sip { address, numbers, username, password_set, transport, media_encryption } => {
                    dt { "Address" } dd { code { (address) } }
                    dt { "Numbers" } dd { (numbers.join(", ")) }
                    dt { "Username" } dd { (username.as_deref().unwrap_or("none")) }
                    dt { "Password" } dd { (if *password_set { "set (never shown)" } else { "not set" }) }
                    dt { "Transport" } dd { (transport.to_uppercase()) }
                    dt { "Media encryption" } dd { (media_encryption) }
                }
                PublicConfig::Exotel { exotel_number, sip_host, sip_port, .. } => {
                    dt { "Number" } dd { (exotel_number) }
                    dt { "SIP host" } dd { (sip_host.as_deref().unwrap_or("—")) (sip_port.map(|p| format!(":{p}")).unwrap_or_default()) }
                }
            }
            dt { "Provisioning" } dd { (status_badge(row.status.as_str())) " " (status::describe(row.status, state.livekit.is_some())) @if row.status == Status::Provisioned && !in_sync { " Changes are being pushed to LiveKit." } }
            dt { "LiveKit trunk ID" } dd { code { (row.livekit_trunk_id.as_deref().unwrap_or("—")) } }
            @if let Some(e) = &row.last_error { dt { "Last error" } dd { (e) } }
            dt { "Created" } dd { (layout::time(row.created_at)) }
        }
        h2 id="test-heading" { "Test trunk" }
        p { "Sends SIP OPTIONS to the trunk's address from this server, answering a digest challenge with the trunk's credentials. With a test number, an INVITE follows and is cancelled as soon as it rings (the phone may ring briefly)." }
        form.stack method="post" action={ "/ui/trunks/" (row.id) "/test" }
            hx-post={ "/ui/trunks/" (row.id) "/test" } hx-target="#test-result" hx-select="#test-result" hx-swap="outerHTML" {
            (csrf_field(session))
            (Field { name: "test_number", label: "Test number", hint: Some("Optional. E.164, e.g. +14155550100."), error: field_error }
                .input("tel", test_number, InputExtra { autocomplete: Some("off"), ..Default::default() }))
            div.actions { button type="submit" { "Test trunk" } }
        }
        (test_result(test))
        (health_section(session, &row.id, health.as_ref(), &extra.health_errors))
        (limits_section(session, &row.id, cps, conc, &extra.limit_errors))
    };
    Ok(layout::page(&row.name, Some(session), Nav::Trunks, body))
}

fn test_result(test: &TestOutcome) -> Markup {
    html! {
        section #test-result aria-live="polite" aria-labelledby="test-heading" {
            @match test {
                TestOutcome::None => {}
                TestOutcome::Refused { message, .. } => { div.notice.error role="alert" { (message) } }
                TestOutcome::Ran(r) => {
                    div class={ "notice " (if r.healthy { "ok" } else { "error" }) } role="status" {
                        p { strong { "Diagnosis: " (r.diagnosis.replace('_', " ")) } " — " (r.detail) }
                        p.muted { "Target " code { (r.target) } " over " (r.transport.to_uppercase())
                            @if let Some(a) = &r.address { " (" code { (a) } ")" }
                            ", " (format!("{:.1}", r.elapsed_ms)) " ms in all." }
                    }
                    div.table-wrap {
                        table.ladder.responsive {
                            caption { "SIP ladder" }
                            thead { tr { th scope="col" { "Step" } th scope="col" { "Request" } th scope="col" { "Response" } th.num scope="col" { "Round trip" } th scope="col" { "Credentials" } } }
                            tbody {
                                @if r.responses.is_empty() {
                                    tr { td colspan="5" { "No SIP response came back." } }
                                }
                                @for (i, s) in r.responses.iter().enumerate() {
                                    tr {
                                        td data-label="Step" { (i + 1) }
                                        td.arrow data-label="Request" { "→ " (s.method) }
                                        td.arrow data-label="Response" { "← " (s.status) " " (s.reason) }
                                        td.num data-label="Round trip" { (format!("{:.1} ms", s.rtt_ms)) }
                                        td data-label="Credentials" { (if s.authenticated { "sent" } else { "—" }) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn test(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let post = session.form(&headers, &body)?;
    let row = owned(&state, &session, &id).await?;
    let typed = post.get("test_number").to_owned();
    let outcome = if let Err(e) = state.trunk_tests.check(&session.tenant_id) {
        let message = match e {
            crate::error::ApiError::TooManyRequests { message, .. } => message,
            _ => "Too many trunk tests: wait a minute and try again".to_owned(),
        };
        TestOutcome::Refused {
            field: None,
            message,
        }
    } else {
        let number = match typed.as_str() {
            "" => Ok(None),
            n => E164::parse("test_number", n).map(|n| Some(n.as_str().to_owned())),
        };
        match number {
            Err(e) => TestOutcome::Refused {
                field: Some(e.field),
                message: format!("Test number {}", e.message),
            },
            Ok(number) => {
                match trunkline_core::trunk_probe::test_stored_outbound_trunk(
                    &state,
                    &session.tenant_id,
                    &row.id,
                    number,
                    "no such trunk",
                )
                .await
                {
                    Ok(report) => TestOutcome::Ran(result(row.id.clone(), report)),
                    Err(ServiceError::NotFound(_)) => return Err(PageError::NotFound),
                    Err(ServiceError::Invalid(v)) => TestOutcome::Refused {
                        field: None,
                        message: v
                            .0
                            .iter()
                            .map(|e| e.message.clone())
                            .collect::<Vec<_>>()
                            .join("; "),
                    },
                    Err(e) => TestOutcome::Refused {
                        field: None,
                        message: sentence(&e),
                    },
                }
            }
        }
    };
    let page = trunk_page(
        &state,
        &session,
        &row,
        Extra {
            test: outcome,
            test_number: &typed,
            ..Extra::default()
        },
    )
    .await?;
    Ok(layout::ok(page))
}

/// The trunk page again, with a settings form's errors beside its fields.
pub async fn settings_refused(
    state: &AppState,
    session: &Session,
    row: &OutboundTrunkRow,
    health_errors: SettingErrors,
    limit_errors: SettingErrors,
) -> Result<Response, PageError> {
    let page = trunk_page(
        state,
        session,
        row,
        Extra {
            health_errors,
            limit_errors,
            ..Extra::default()
        },
    )
    .await?;
    Ok(layout::respond(StatusCode::BAD_REQUEST, page))
}
