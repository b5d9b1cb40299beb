//! The overview: trunks by provisioning and health state (failing ones first), today's calls
//! by outcome as a bar chart (with the figures as text), and the calls in progress.

use super::layout::{self, status_badge, Nav};
use super::problem::PageError;
use super::session::Session;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use maud::html;
use std::collections::HashMap;
use trunkline_core::calls::render::public_status;
use trunkline_domain::call::CallStatus;
use trunkline_store::{now_micros, Status, OUTCOME_HOUR_MICROS};

/// The overview shows this many trunks, the most urgent first; the trunk list has them all.
const TRUNKS_SHOWN: usize = 20;

/// Lower sorts first: what needs attention on top.
fn urgency(status: Status, health: Option<&str>) -> u8 {
    match (status, health) {
        (Status::Error, _) => 0,
        (_, Some("down")) => 1,
        (Status::Provisioned, Some("up")) => 5,
        (Status::Provisioned, _) => 4,
        _ => 2,
    }
}

/// The tenant's calls created in the last 24 hours by outcome (public status), from the hour
/// 23 hours before this one: ended calls from the hourly counters, calls in flight from their
/// own index. "Today" is a rolling day because the viewer's midnight is not known here.
async fn outcomes_today(
    state: &AppState,
    tenant: &str,
) -> Result<(i64, Vec<(String, i64)>), PageError> {
    let now = now_micros();
    let since = now - now.rem_euclid(OUTCOME_HOUR_MICROS) - 23 * OUTCOME_HOUR_MICROS;
    let mut counts = state.store.call_outcomes_since(tenant, since).await?;
    counts.extend(state.store.calls_in_flight_since(tenant, since).await?);
    let mut outcomes: Vec<(String, i64)> = vec![];
    for (status, n) in counts {
        let public = CallStatus::parse(&status)
            .map_or("failed", |s| s.public())
            .to_owned();
        match outcomes.iter_mut().find(|(s, _)| *s == public) {
            Some((_, m)) => *m += n,
            None => outcomes.push((public, n)),
        }
    }
    Ok((since, outcomes))
}

pub async fn page(State(state): State<AppState>, session: Session) -> Result<Response, PageError> {
    let tenant = &session.tenant_id;
    let mut trunks = state.store.outbound_trunks().list(tenant).await?;
    let health: HashMap<String, String> = state
        .store
        .trunk_health_states(tenant)
        .await?
        .into_iter()
        .collect();
    trunks.sort_by_key(|t| {
        (
            urgency(t.status, health.get(&t.id).map(String::as_str)),
            t.created_at,
        )
    });
    let (since, outcomes) = outcomes_today(&state, tenant).await?;
    let trunk_count = trunks.len();
    trunks.truncate(TRUNKS_SHOWN);
    let total: i64 = outcomes.iter().map(|(_, n)| n).sum();
    let max = outcomes.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let live = state.store.calls_in_progress(tenant, 50).await?;
    let body = html! {
        h1 { "Overview" }
        div.cards {
            section.card aria-labelledby="trunks-heading" {
                h2 #trunks-heading { "Outbound trunks" }
                @if trunks.is_empty() {
                    p { "No trunks yet. " a href="/ui/trunks/new" { "Create trunk" } }
                } @else {
                    div.table-wrap { table {
                        caption { "Failing trunks first" @if trunk_count > TRUNKS_SHOWN { " (" (TRUNKS_SHOWN) " of " (trunk_count) ")" } }
                        thead { tr { th scope="col" { "Trunk" } th scope="col" { "Provisioning" } th scope="col" { "Health" } } }
                        tbody { @for t in &trunks { tr {
                            td { a href={ "/ui/trunks/" (t.id) } { (t.name) } }
                            td { (status_badge(t.status.as_str())) }
                            td { @match health.get(&t.id) { Some(h) => (status_badge(h)), None => span.muted { "not checked" } } }
                        } } }
                    } }
                    @if trunk_count > TRUNKS_SHOWN { p { a href="/ui/trunks" { "All " (trunk_count) " outbound trunks" } } }
                }
            }
            section.card aria-labelledby="today-heading" {
                h2 #today-heading { "Calls in the last 24 hours" }
                p.muted { "Created since " (layout::time(since)) " (whole hours)" }
                @if total == 0 {
                    p { "No calls in the last 24 hours." }
                } @else {
                    table {
                        caption { (total) " calls by outcome" }
                        thead { tr { th scope="col" { "Outcome" } th.num scope="col" { "Calls" } th scope="col" { "Share" } } }
                        tbody { @for (status, n) in &outcomes { tr {
                            td { (status_badge(status)) }
                            td.num { (n) }
                            td { meter min="0" max=(max) value=(n) aria-label={ (status.replace('_', " ")) ": " (n) " calls" } { (n) } }
                        } } }
                    }
                }
            }
        }
        section aria-labelledby="live-heading" {
            h2 #live-heading { "Calls in progress" }
            div #live-calls hx-get="/" hx-trigger="every 3s" hx-select="#live-calls" hx-swap="outerHTML" {
                @if live.is_empty() {
                    p { "No call is in progress." }
                } @else {
                    div.table-wrap { table.responsive {
                        thead { tr { th scope="col" { "Call" } th scope="col" { "Status" } th scope="col" { "To" } th scope="col" { "Since" } } }
                        tbody { @for c in &live { tr {
                            td data-label="Call" { a href={ "/ui/calls/" (c.id) } { code { (c.id) } } }
                            td data-label="Status" { (status_badge(public_status(c))) }
                            td data-label="To" { (c.to_number) }
                            td data-label="Since" { (layout::time(c.created_at)) }
                        } } }
                    } }
                }
            }
        }
    };
    Ok(layout::ok(layout::page(
        "Overview",
        Some(&session),
        Nav::Overview,
        body,
    )))
}
