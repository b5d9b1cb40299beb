//! `trunkline numbers …`: a provider account's number set up end to end (`POST /numbers`:
//! trunks at the provider and in LiveKit, a dispatch rule to an assistant's agent), listed,
//! shown and removed.

use super::api::Api;
use super::input::read_object;
use super::output::{at, Column};
use super::resources::{self, CrudCommand, Resource};
use crate::failure::Failure;
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum NumbersCommand {
    /// Set a number up. The body comes from the flags, a JSON file of `POST /numbers`'s body
    /// (`-` for stdin), or both: a flag replaces the file's field.
    Create {
        /// JSON file with `provider_account_id`, `number`, `assistant_id`, `direction`.
        file: Option<String>,
        /// The provider account (PA_…) that holds the number.
        #[arg(long, visible_alias = "provider-account-id")]
        provider_account: Option<String>,
        /// The number (E.164), one of the account's.
        #[arg(long)]
        number: Option<String>,
        /// The assistant (AS_…) whose agent answers the number's calls.
        #[arg(long, visible_alias = "assistant-id")]
        assistant: Option<String>,
        /// inbound, outbound or both.
        #[arg(long)]
        direction: Option<String>,
    },
    /// List the account's number setups.
    List,
    /// Show one (NB_…).
    Get { id: String },
    /// Remove exactly what the setup made (its rule, its trunks and their provider side).
    Delete { id: String },
}

pub async fn run(api: &Api, json: bool, command: NumbersCommand) -> Result<(), Failure> {
    let crud = match command {
        NumbersCommand::Create {
            file,
            provider_account,
            number,
            assistant,
            direction,
        } => {
            let mut body = match &file {
                Some(f) => read_object(f)?,
                None => json!({}),
            };
            let flags = [
                ("provider_account_id", provider_account),
                ("number", number),
                ("assistant_id", assistant),
                ("direction", direction),
            ];
            let map = body.as_object_mut().expect("read_object answers objects");
            for (k, v) in flags {
                if let Some(v) = v {
                    map.insert(k.to_owned(), Value::String(v));
                }
            }
            return resources::create(api, json, &NUMBERS, &body).await;
        }
        NumbersCommand::List => CrudCommand::List,
        NumbersCommand::Get { id } => CrudCommand::Get { id },
        NumbersCommand::Delete { id } => CrudCommand::Delete { id },
    };
    resources::run(api, json, &NUMBERS, crud).await
}

pub const NUMBERS: Resource = Resource {
    noun: "number setup",
    create: "/numbers",
    list: "/numbers",
    paged_items: None,
    item: "/numbers",
    id_field: "number_id",
    columns: &[
        Column {
            header: "NUMBER ID",
            cell: |v| at(v, "/number_id"),
        },
        Column {
            header: "NUMBER",
            cell: |v| at(v, "/number"),
        },
        Column {
            header: "DIRECTION",
            cell: |v| at(v, "/direction"),
        },
        Column {
            header: "STATUS",
            cell: |v| at(v, "/status"),
        },
        Column {
            header: "ASSISTANT",
            cell: |v| at(v, "/assistant_id"),
        },
        Column {
            header: "OUTBOUND TRUNK",
            cell: |v| at(v, "/outbound_trunk_id"),
        },
        Column {
            header: "INBOUND TRUNK",
            cell: |v| at(v, "/inbound_trunk_id"),
        },
        Column {
            header: "RULE",
            cell: |v| at(v, "/dispatch_rule_id"),
        },
    ],
    create_body: super::lk_files::as_is,
    update_body: super::lk_files::as_is,
};
