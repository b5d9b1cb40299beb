//! The account's assistants: what each call is dialed with (the agent, its ringing timeout and
//! longest call, and where the end-of-call webhook goes).

use super::layout::{self, Nav};
use super::problem::PageError;
use super::session::Session;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use maud::html;
use trunkline_domain::assistant::AssistantConfig;

pub async fn list(State(state): State<AppState>, session: Session) -> Result<Response, PageError> {
    let rows = state.store.list_assistants(&session.tenant_id).await?;
    let body = html! {
        h1 { "Assistants" }
        p { "An assistant is what a call is dialed with: the LiveKit agent that joins the call, and where trunkline reports how each call ended. Create and change them with " code { "POST /assistants" } " and " code { "PATCH /assistants/{id}" } "." }
        @if rows.is_empty() {
            p { "No assistants yet." }
        } @else {
            div.table-wrap { table.responsive {
                caption { (rows.len()) " assistants" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Agent" } th scope="col" { "Agent name in LiveKit" }
                    th scope="col" { "Ringing timeout" } th scope="col" { "Longest call" } th scope="col" { "End-of-call webhook" }
                    th scope="col" { "ID" }
                } }
                tbody { @for a in &rows {
                    @let c: Option<AssistantConfig> = serde_json::from_str(&a.config).ok();
                    tr {
                        td data-label="Name" { (a.name) }
                        td data-label="Agent" { (c.as_ref().map(|c| c.agent_name.as_str()).unwrap_or("—")) }
                        td data-label="Agent name in LiveKit" { code { (c.as_ref().map(|c| trunkline_core::rooms::livekit_agent(&a.tenant_id, &c.agent_name)).unwrap_or_default()) } }
                        td data-label="Ringing timeout" { (c.as_ref().and_then(|c| c.ringing_timeout).map(|s| format!("{s} s")).unwrap_or_else(|| "default".into())) }
                        td data-label="Longest call" { (c.as_ref().and_then(|c| c.max_call_duration).map(|s| format!("{s} s")).unwrap_or_else(|| "no limit".into())) }
                        td data-label="End-of-call webhook" { (c.as_ref().and_then(|c| c.end_call_webhook_url.clone()).unwrap_or_else(|| "none".into())) }
                        td data-label="ID" { code { (a.id) } }
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
