//! `trunkline call …`: outbound calls through the API (`POST /call/outbound`, `GET /calls`,
//! `GET /call/{id}`, `POST /call/{id}/cancel`, `POST /call/{id}/transfer`).

use super::api::Api;
use super::input::read_object;
use super::output::{at, print, Column, View};
use crate::failure::Failure;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum CallCommand {
    /// Queue an outbound call. The body comes from the flags, a JSON file of the API's request
    /// (`-` for stdin), or both: a flag replaces the file's field.
    Create {
        /// JSON file with `assistant_id`, `trunk_id`, `to_number`, `from_number`, `metadata`.
        file: Option<String>,
        /// The assistant (AS_…) that takes the call.
        #[arg(long, visible_alias = "assistant-id")]
        assistant: Option<String>,
        /// The outbound trunk (ST_…) to call through.
        #[arg(long, visible_alias = "trunk-id")]
        trunk: Option<String>,
        /// The number to call (E.164).
        #[arg(long, visible_alias = "to-number")]
        to: Option<String>,
        /// One of the trunk's numbers (default: its first).
        #[arg(long, visible_alias = "from-number")]
        from: Option<String>,
        /// JSON for the agent and the SIP participant, e.g. '{"customer": "Asha"}'.
        #[arg(long)]
        metadata: Option<String>,
        /// Sent as the Idempotency-Key header: the same key again returns the same call,
        /// dialed once (safe to retry after a timeout).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// List calls, newest first, one page (`--all` for every page).
    List {
        /// Only these statuses (comma-separated), e.g. answered,completed.
        #[arg(long)]
        status: Option<String>,
        /// Only calls through this trunk (ST_…).
        #[arg(long, visible_alias = "trunk-id")]
        trunk: Option<String>,
        /// Only calls of this assistant (AS_…).
        #[arg(long, visible_alias = "assistant-id")]
        assistant: Option<String>,
        /// Calls per page, 1–200 (the server's default is 50).
        #[arg(long, value_parser = super::pages::page_limit)]
        limit: Option<u32>,
        /// The page after the one that printed this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// Follow the cursors to the last page.
        #[arg(long, conflicts_with = "cursor")]
        all: bool,
    },
    /// Show a call: status, timestamps, SIP status, attempts, last error.
    Get { id: String },
    /// Cancel a call: a queued one is never dialed, a ringing one is hung up, an answered
    /// one is ended.
    Cancel { id: String },
    /// Cold-transfer an answered call (SIP REFER).
    Transfer {
        id: String,
        /// An E.164 number, or a sip:, sips: or tel: URI.
        #[arg(long)]
        to: String,
    },
}

const COLUMNS: &[Column] = &[
    Column {
        header: "CALL ID",
        cell: |v| at(v, "/call_id"),
    },
    Column {
        header: "STATUS",
        cell: |v| at(v, "/status"),
    },
    Column {
        header: "TO",
        cell: |v| at(v, "/to_number"),
    },
    Column {
        header: "FROM",
        cell: |v| at(v, "/from_number"),
    },
    Column {
        header: "TRUNK ID",
        cell: |v| at(v, "/trunk_id"),
    },
    Column {
        header: "SIP",
        cell: |v| at(v, "/sip_status_code"),
    },
    Column {
        header: "SECONDS",
        cell: |v| at(v, "/duration_seconds"),
    },
    Column {
        header: "CREATED (UTC)",
        cell: |v| at(v, "/created_at"),
    },
];

pub async fn run(api: &Api, json: bool, command: CallCommand) -> Result<(), Failure> {
    match command {
        CallCommand::Create {
            file,
            assistant,
            trunk,
            to,
            from,
            metadata,
            idempotency_key,
        } => {
            let mut body = match &file {
                Some(f) => read_object(f)?,
                None => json!({}),
            };
            let metadata = metadata
                .map(|m| {
                    serde_json::from_str::<Value>(&m).map_err(|e| {
                        Failure::Usage(format!(
                            "--metadata must be JSON, e.g. '{{\"customer\": \"Asha\"}}' (a string is '\"text\"'): {e}"
                        ))
                    })
                })
                .transpose()?;
            let fields = [
                ("assistant_id", assistant.map(Value::String)),
                ("trunk_id", trunk.map(Value::String)),
                ("to_number", to.map(Value::String)),
                ("from_number", from.map(Value::String)),
                ("metadata", metadata),
            ];
            let map = body.as_object_mut().expect("read_object answers objects");
            for (k, v) in fields {
                if let Some(v) = v {
                    map.insert(k.to_owned(), v);
                }
            }
            let url = api.url("/call/outbound", None);
            let answer = api
                .send(Method::POST, url, Some(&body), idempotency_key.as_deref())
                .await?;
            print(&answer, json, View::Details);
        }
        CallCommand::List {
            status,
            trunk,
            assistant,
            limit,
            cursor,
            all,
        } => {
            let filters = [
                ("status", status),
                ("trunk_id", trunk),
                ("assistant_id", assistant),
                ("limit", limit.or(all.then_some(200)).map(|l| l.to_string())),
            ];
            let filters: Vec<(&str, String)> = filters
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            let list = super::pages::Paged {
                path: "/calls",
                items: "calls",
                columns: COLUMNS,
                noun: "calls",
            };
            list.print(api, api.url("/calls", None), json, &filters, cursor, all)
                .await?;
        }
        CallCommand::Get { id } => {
            let answer = api.get(api.url("/call", Some(&id))).await?;
            print(&answer, json, View::Details);
        }
        CallCommand::Cancel { id } => {
            let url = action(api, &id, "cancel");
            let answer = api.send(Method::POST, url, None, None).await?;
            print(&answer, json, View::Details);
        }
        CallCommand::Transfer { id, to } => {
            let url = action(api, &id, "transfer");
            let answer = api.post(url, &json!({ "to": to })).await?;
            print(&answer, json, View::Details);
        }
    }
    Ok(())
}

/// `/call/{id}/{verb}`.
fn action(api: &Api, id: &str, verb: &str) -> reqwest::Url {
    let mut url = api.url("/call", Some(id));
    url.path_segments_mut()
        .expect("an http(s) URL has a path")
        .push(verb);
    url
}
