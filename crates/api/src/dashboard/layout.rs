//! The page shell (head, navigation, sign-out) and the small pieces every page uses: labelled
//! fields with their error beside them, status shown as words, times in UTC.

use super::assets;
use super::session::Session;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Trunks,
    Inbound,
    Assistants,
    Calls,
    Providers,
    Numbers,
    None,
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Overview, "/", "Overview"),
    (Nav::Trunks, "/ui/trunks", "Outbound trunks"),
    (Nav::Inbound, "/ui/inbound", "Inbound"),
    (Nav::Assistants, "/ui/assistants", "Assistants"),
    (Nav::Calls, "/ui/calls", "Calls"),
    (Nav::Providers, "/ui/providers", "Provider accounts"),
    (Nav::Numbers, "/ui/numbers", "Numbers"),
];

/// htmx under the CSP: no eval, no injected `<style>`, no inline scripts in swapped content.
const HTMX_CONFIG: &str = r#"{"allowEval":false,"includeIndicatorStyles":false,"allowScriptTags":false,"historyCacheSize":0}"#;

/// A whole page. `session` is `None` on the sign-in page and on errors before sign-in.
pub fn page(title: &str, session: Option<&Session>, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=(HTMX_CONFIG);
                title { (title) " · trunkline" }
                link rel="stylesheet" href=(assets::CSS);
                script src=(assets::HTMX) defer {}
            }
            body {
                a.skip href="#content" { "Skip to content" }
                header.top {
                    a.brand href="/" { "trunkline" }
                    @if let Some(s) = session {
                        nav.main aria-label="Main" {
                            ul {
                                @for (entry, href, label) in NAV {
                                    li {
                                        @if *entry == nav {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        div.who {
                            span { "Signed in as " strong { (s.tenant_name) } }
                            form method="post" action="/ui/sign-out" {
                                (csrf_field(s))
                                button.secondary type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="content" tabindex="-1" {
                    (body)
                }
            }
        }
    }
}

/// A rendered page as a response.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

pub fn ok(markup: Markup) -> Response {
    respond(StatusCode::OK, markup)
}

/// A 303 to `to`: the answer to a form that worked (reloading does not post it again).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

pub fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// What a form field shows: its label, an optional hint, and its error (if any) right after
/// the control, tied to it with `aria-describedby`.
pub struct Field<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub hint: Option<&'a str>,
    pub error: Option<&'a str>,
}

impl Field<'_> {
    fn described_by(&self) -> Option<String> {
        let mut ids = vec![];
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.name));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.name));
        }
        (!ids.is_empty()).then(|| ids.join(" "))
    }

    fn wrap(&self, control: Markup) -> Markup {
        html! {
            div.field {
                label for=(self.name) { (self.label) }
                @if let Some(h) = self.hint { span.hint id={ (self.name) "-hint" } { (h) } }
                (control)
                @if let Some(e) = self.error { p.field-error id={ (self.name) "-error" } { (e) } }
            }
        }
    }

    /// `kind` is the input type (text, password, tel).
    pub fn input(&self, kind: &str, value: &str, extra: InputExtra) -> Markup {
        let control = html! {
            input type=(kind) id=(self.name) name=(self.name) value=(value)
                aria-invalid=[self.error.map(|_| "true")]
                aria-describedby=[self.described_by()]
                autocomplete=[extra.autocomplete]
                placeholder=[extra.placeholder]
                required[extra.required]
                hx-preserve[extra.preserve];
        };
        self.wrap(control)
    }

    pub fn textarea(&self, value: &str) -> Markup {
        let control = html! {
            textarea id=(self.name) name=(self.name)
                aria-invalid=[self.error.map(|_| "true")]
                aria-describedby=[self.described_by()] { (value) }
        };
        self.wrap(control)
    }

    pub fn select(&self, options: &[(&str, &str)], selected: &str) -> Markup {
        let control = html! {
            select id=(self.name) name=(self.name)
                aria-invalid=[self.error.map(|_| "true")]
                aria-describedby=[self.described_by()] {
                @for (value, text) in options {
                    option value=(value) selected[*value == selected] { (text) }
                }
            }
        };
        self.wrap(control)
    }
}

#[derive(Default, Clone, Copy)]
pub struct InputExtra {
    pub autocomplete: Option<&'static str>,
    pub placeholder: Option<&'static str>,
    pub required: bool,
    /// Kept by htmx across a swap of the form (the password the browser holds, which the
    /// server never sends back).
    pub preserve: bool,
}

/// A status as words, with a class for its colour: the colour is never the only signal.
pub fn status_badge(text: &str) -> Markup {
    let tone =
        match text {
            "provisioned" | "up" | "answered" | "completed" | "reachable" | "ringing"
            | "delivered" => "good",
            "error" | "down" | "failed" | "busy" | "rejected" | "no_answer" => "bad",
            "unprovisioned" | "awaiting_bridge" | "pending" | "queued" | "dialing"
            | "cancelled" => "warn",
            _ => "neutral",
        };
    html! { span class={ "status " (tone) } { (text.replace('_', " ")) } }
}

/// `2026-12-04 14:50:03 UTC` from microseconds since the epoch.
pub fn time(micros: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    format!("{} UTC", at.format(&fmt).unwrap_or_default())
}

pub fn opt_time(micros: Option<i64>) -> String {
    micros.map(time).unwrap_or_else(|| "—".to_owned())
}

/// A notice for the outcome of the last action, read out by screen readers.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { div class={ "notice " (kind) } role="status" { (text) } }
}
