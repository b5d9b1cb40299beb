//! Provider accounts (Twilio, Exotel, Telnyx) and their numbers: the list, adding an account
//! (its credentials are checked with the provider before anything is stored, and are
//! write-only: a typed secret is never sent back to the browser), the account's numbers with
//! the trunk that uses each, and delete. All through the service layer's provider operations.

use super::layout::{self, csrf_field, notice, Field, InputExtra, Nav};
use super::problem::{form_errors, sentence, status_of, PageError};
use super::session::{FormData, Posted, Session};
use super::trunk_form::FieldErrors;
use super::trunks::{htmx_ok, redirect};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use trunkline_core::provider_accounts::AccountView;
use trunkline_core::ServiceError;
use trunkline_domain::{ProviderAccountId, ValidationErrors};
use trunkline_providers::exotel::SUBDOMAINS;

/// A credential field: its name in the API, its label, whether it is a secret (write-only),
/// and its hint.
struct Credential {
    name: &'static str,
    label: &'static str,
    secret: bool,
    hint: &'static str,
}

const fn field(
    name: &'static str,
    label: &'static str,
    secret: bool,
    hint: &'static str,
) -> Credential {
    Credential {
        name,
        label,
        secret,
        hint,
    }
}

/// The providers, their names as shown, and the fields each takes.
const PROVIDERS: &[(&str, &str, &[Credential])] = &[
    (
        "twilio",
        "Twilio",
        &[
            field(
                "account_sid",
                "Account SID",
                false,
                "AC followed by 32 hex characters (Twilio Console, Account Info).",
            ),
            field(
                "auth_token",
                "Auth Token",
                true,
                "Or leave it empty and give an API key below. Needed for Twilio's webhooks.",
            ),
            field(
                "api_key_sid",
                "API key SID",
                false,
                "Optional: SK… (with its secret), instead of the Auth Token.",
            ),
            field(
                "api_key_secret",
                "API key secret",
                true,
                "Optional: the API key's secret.",
            ),
        ],
    ),
    (
        "exotel",
        "Exotel",
        &[
            field(
                "account_sid",
                "Account SID",
                false,
                "Your Exotel account SID (API settings).",
            ),
            field("api_key", "API key", true, "From Exotel's API settings."),
            field(
                "api_token",
                "API token",
                true,
                "From Exotel's API settings.",
            ),
        ],
    ),
    (
        "telnyx",
        "Telnyx",
        &[field(
            "api_key",
            "API key",
            true,
            "A Telnyx API v2 key (KEY…).",
        )],
    ),
];

fn provider(p: &str) -> Option<&'static (&'static str, &'static str, &'static [Credential])> {
    PROVIDERS.iter().find(|(name, _, _)| *name == p)
}

fn provider_name(p: &str) -> &str {
    provider(p).map_or(p, |(_, shown, _)| shown)
}

/// What was typed; secrets are kept only to be sent to the service, never rendered.
struct AccountForm {
    provider: &'static str,
    values: Vec<(&'static str, String)>,
}

impl AccountForm {
    fn blank(provider: &'static str) -> Self {
        Self {
            provider,
            values: vec![("subdomain", SUBDOMAINS[0].to_owned())],
        }
    }

    fn from_post(post: &FormData, provider: &'static str, fields: &[Credential]) -> Self {
        let mut values = vec![("name", post.get("name").to_owned())];
        for f in fields {
            let v = if f.secret {
                post.raw(f.name)
            } else {
                post.get(f.name)
            };
            values.push((f.name, v.to_owned()));
        }
        if provider == "exotel" {
            values.push(("subdomain", post.get("subdomain").to_owned()));
        }
        Self { provider, values }
    }

    fn value(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v)
    }

    /// The body `POST /provider-accounts` would get: empty fields are absent.
    fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("provider".into(), Value::String(self.provider.into()));
        for (k, v) in &self.values {
            if !v.is_empty() {
                m.insert((*k).into(), Value::String(v.clone()));
            }
        }
        Value::Object(m)
    }
}

/// The service's errors by form field, each led by the field's label.
fn by_field(errors: &ValidationErrors, fields: &[Credential]) -> FieldErrors {
    let mut out = FieldErrors::new();
    for e in &errors.0 {
        let (key, label) = match e.field.as_str() {
            "name" => ("name", "Account name"),
            "subdomain" => ("subdomain", "Subdomain"),
            other => fields
                .iter()
                .find(|f| f.name == other)
                .map_or(("form", "The account"), |f| (f.name, f.label)),
        };
        let message = format!("{label} {}", e.message);
        super::trunk_form::note(&mut out, key, message);
    }
    out
}

#[derive(Deserialize)]
pub struct Which {
    provider: Option<String>,
    done: Option<String>,
}

type WhichQuery = Result<Query<Which>, axum::extract::rejection::QueryRejection>;

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: WhichQuery,
) -> Result<Response, PageError> {
    let accounts = state
        .store
        .list_provider_accounts(&session.tenant_id)
        .await?;
    let flash = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("deleted") => Some("Provider account deleted. Nothing at the provider changed."),
        _ => None,
    };
    let body = html! {
        h1 { "Provider accounts" }
        @if let Some(f) = flash { (notice("ok", f)) }
        p { "Carrier accounts trunkline may act on: it lists their numbers and, for Twilio, makes trunks from them. Credentials are checked with the provider, stored encrypted and never shown again." }
        div.actions { @for (p, shown, _) in PROVIDERS {
            a.button href={ "/ui/providers/new?provider=" (p) } { "Add " (shown) " account" }
        } }
        @if accounts.is_empty() {
            p { "No provider accounts yet." }
        } @else {
            div.table-wrap { table.responsive {
                caption { (accounts.len()) " provider accounts" }
                thead { tr { th scope="col" { "Account name" } th scope="col" { "Provider" } th scope="col" { "Account" } th scope="col" { "Added" } } }
                tbody { @for a in &accounts { tr {
                    td data-label="Account name" { a href={ "/ui/providers/" (a.id) } { (a.name) } }
                    td data-label="Provider" { (provider_name(&a.provider)) }
                    td data-label="Account" { code { (a.account_hint) } }
                    td data-label="Added" { (layout::time(a.created_at)) }
                } } }
            } }
        }
    };
    Ok(layout::ok(layout::page(
        "Provider accounts",
        Some(&session),
        Nav::Providers,
        body,
    )))
}

fn render(
    session: &Session,
    form: &AccountForm,
    errors: &FieldErrors,
    problem: Option<&str>,
) -> Markup {
    let Some((p, shown, fields)) = provider(form.provider) else {
        return html! {};
    };
    let err = |name: &str| errors.get(name).map(String::as_str);
    let count = errors.len();
    html! {
        form #account-form .stack method="post" action={ "/ui/providers?provider=" (p) } novalidate
            hx-post={ "/ui/providers?provider=" (p) } hx-target="#account-form" hx-select="#account-form" hx-swap="outerHTML" {
            (csrf_field(session))
            @if count > 0 {
                div.notice.error role="alert" {
                    p { strong { "The account was not added: " (count) " " (if count == 1 { "field needs" } else { "fields need" }) " fixing." } }
                    ul { @for (field, message) in errors {
                        @if *field == "form" { li { (message) } } @else { li { a href={ "#" (field) } { (message) } } }
                    } }
                }
            }
            @if let Some(text) = problem { div.notice.error role="alert" { (text) } }
            (Field { name: "name", label: "Account name", hint: Some("For you, e.g. Twilio main."), error: err("name") }
                .input("text", form.value("name"), InputExtra { required: true, ..Default::default() }))
            @for f in *fields {
                @if f.secret {
                    (Field { name: f.name, label: f.label, hint: Some(f.hint), error: err(f.name) }
                        .input("password", "", InputExtra { autocomplete: Some("new-password"), preserve: true, ..Default::default() }))
                } @else {
                    (Field { name: f.name, label: f.label, hint: Some(f.hint), error: err(f.name) }
                        .input("text", form.value(f.name), InputExtra { autocomplete: Some("off"), ..Default::default() }))
                }
            }
            @if *p == "exotel" {
                @let options: Vec<(&str, &str)> = SUBDOMAINS.iter().map(|s| (*s, *s)).collect();
                (Field { name: "subdomain", label: "Subdomain", hint: Some("api.in.exotel.com for accounts in India (Mumbai), api.exotel.com for Singapore."), error: err("subdomain") }
                    .select(&options, form.value("subdomain")))
            }
            div.actions {
                button type="submit" { "Add account" }
                a.button.secondary href="/ui/providers" { "Back to provider accounts" }
            }
            p.muted { "Secrets typed here are checked with " (shown) ", stored encrypted, and never shown again, nor sent back to this page." }
        }
    }
}

fn form_page(session: &Session, provider: &str, form: Markup) -> Markup {
    let title = format!("Add a {} account", provider_name(provider));
    let body = html! { h1 { (title) } (form) };
    layout::page(&title, Some(session), Nav::Providers, body)
}

pub async fn new_form(session: Session, query: WhichQuery) -> Response {
    let which = query.ok().and_then(|q| q.0.provider).unwrap_or_default();
    let Some((p, _, _)) = provider(&which) else {
        return layout::see_other("/ui/providers");
    };
    let form = AccountForm::blank(p);
    layout::ok(form_page(
        &session,
        p,
        render(&session, &form, &FieldErrors::new(), None),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    query: WhichQuery,
    Posted {
        headers,
        form: post,
    }: Posted,
) -> Result<Response, PageError> {
    let which = query.ok().and_then(|q| q.0.provider).unwrap_or_default();
    let Some((p, _, fields)) = provider(&which) else {
        return Err(PageError::BadForm(
            "Choose Twilio, Exotel or Telnyx from the provider accounts page.",
        ));
    };
    let form = AccountForm::from_post(&post, p, fields);
    match state
        .create_provider_account(&session.tenant_id, form.body())
        .await
    {
        Ok(created) => {
            tracing::info!(provider_account_id = %created.provider_account_id, "provider account added from the dashboard");
            Ok(redirect(
                &headers,
                &format!("/ui/providers/{}?done=created", created.provider_account_id),
            ))
        }
        Err(e) => {
            let (errors, problem) = form_errors(&e, |v| by_field(v, fields));
            let page = form_page(
                &session,
                p,
                render(&session, &form, &errors, problem.as_deref()),
            );
            Ok(htmx_ok(&headers, layout::respond(status_of(&e), page)))
        }
    }
}

/// A tenant's account (as shown, and when it was added), or the 404 page (another tenant's
/// reads the same).
async fn owned(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<(AccountView, i64), PageError> {
    if ProviderAccountId::parse(id).is_none() {
        return Err(PageError::NotFound);
    }
    let row = state.provider_account(&session.tenant_id, id).await?;
    Ok((state.provider_account_view(&row)?, row.created_at))
}

/// The tenant's trunk names by id, outbound and inbound, to name the trunk using a number.
async fn trunk_names(
    state: &AppState,
    tenant_id: &str,
) -> Result<HashMap<String, String>, PageError> {
    let mut names = HashMap::new();
    for t in state.store.outbound_trunks().list(tenant_id).await?.iter() {
        names.insert(t.id.clone(), t.name.clone());
    }
    for t in state.store.inbound_trunks().list(tenant_id).await?.iter() {
        names.insert(t.id.clone(), t.name.clone());
    }
    Ok(names)
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    query: WhichQuery,
) -> Result<Response, PageError> {
    let account = owned(&state, &session, &id).await?;
    let flash = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("created") => Some("Account added: the provider accepted its credentials."),
        _ => None,
    };
    Ok(layout::ok(
        account_page(&state, &session, &account, flash, None).await?,
    ))
}

async fn account_page(
    state: &AppState,
    session: &Session,
    (a, added): &(AccountView, i64),
    flash: Option<&str>,
    problem: Option<Markup>,
) -> Result<Markup, PageError> {
    // The numbers come from the provider: its outage is a sentence here, not a broken page.
    let numbers = state
        .provider_numbers(&session.tenant_id, &a.provider_account_id)
        .await;
    let names = trunk_names(state, &session.tenant_id).await?;
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let title = format!("Provider account {}", a.name);
    let body = html! {
        h1 { (title) }
        @if let Some(f) = flash { (notice("ok", f)) }
        @if let Some(p) = problem { (p) }
        dl.facts {
            dt { "Provider" } dd { (provider_name(&a.provider)) }
            dt { "Account" } dd { code { (a.account) } }
            @if let Some(m) = &a.auth_method { dt { "Signs in with" } dd { (m.replace('_', " ")) } }
            dt { "ID" } dd { code { (a.provider_account_id) } }
            dt { "Added" } dd { (layout::time(*added)) }
        }
        h2 #numbers-heading { "Numbers" }
        @match &numbers {
            Err(e) => div.notice.error role="alert" { (sentence(e)) },
            Ok(list) if list.is_empty() => p { "This account has no numbers at " (provider_name(&a.provider)) "." },
            Ok(list) => div.table-wrap { table.responsive aria-labelledby="numbers-heading" {
                caption { (list.len()) " numbers at " (provider_name(&a.provider)) }
                thead { tr {
                    th scope="col" { "Number" } th scope="col" { "Name at the provider" } th scope="col" { "Outbound trunk" }
                    th scope="col" { "Inbound trunk" } th scope="col" { "Provider trunk" } th scope="col" { "Provider's id" }
                } }
                tbody { @for n in list { tr {
                    td data-label="Number" { (n.phone_number) }
                    td data-label="Name at the provider" { (n.friendly_name.as_deref().unwrap_or("—")) }
                    td data-label="Outbound trunk" { @match &n.trunk_id { Some(t) => a href={ "/ui/trunks/" (t) } { (name(t)) }, None => span.muted { "none" } } }
                    td data-label="Inbound trunk" { @match &n.inbound_trunk_id { Some(t) => a href="/ui/inbound" { (name(t)) }, None => span.muted { "none" } } }
                    td data-label="Provider trunk" { @match &n.provider_trunk_id { Some(t) => code { (t) }, None => span.muted { "none" } } }
                    td data-label="Provider's id" { code { (n.provider_number_id) } }
                } } }
            } },
        }
        h2 { "Delete" }
        p { "trunkline forgets the account; nothing at " (provider_name(&a.provider)) " changes. An account a trunk was made from cannot be deleted before that trunk." }
        form method="post" action={ "/ui/providers/" (a.provider_account_id) "/delete" } {
            (csrf_field(session))
            button.danger type="submit" { "Delete" }
        }
        p { a href="/ui/providers" { "Back to provider accounts" } }
    };
    Ok(layout::page(&title, Some(session), Nav::Providers, body))
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _: Posted,
) -> Result<Response, PageError> {
    let account = owned(&state, &session, &id).await?;
    match state.delete_provider_account(&session.tenant_id, &id).await {
        Ok(()) => Ok(layout::see_other("/ui/providers?done=deleted")),
        Err(ServiceError::Conflict(_)) => {
            // The service's sentence names the API; the page names the trunk and links to it.
            let user = state.store.provider_account_user(&id).await?;
            let trunk = user.and_then(|u| u.trunk_id);
            let names = trunk_names(&state, &session.tenant_id).await?;
            let problem = html! { div.notice.error role="alert" {
                p { strong { "This account was not deleted: a trunk was made from it." } }
                @match &trunk {
                    Some(t) => p { "Delete trunk " a href={ "/ui/trunks/" (t) } { (names.get(t).map_or(t.as_str(), String::as_str)) } " first, then this account." },
                    None => p { "A trunk is being made from it right now; try again in a moment." },
                }
            } };
            let page = account_page(&state, &session, &account, None, Some(problem)).await?;
            Ok(layout::respond(StatusCode::CONFLICT, page))
        }
        Err(e) => Err(e.into()),
    }
}
