//! The client commands: `trunkline sip …`, `call …`, `numbers …` and `provider-accounts …`
//! act for one account through
//! a running trunkline's HTTP API (`TRUNKLINE_URL`, `TRUNKLINE_API_KEY`), like `lk sip` does
//! through LiveKit's. They never open the database.
//!
//! - `api`: the request, the envelope, and the exit status of each failure;
//! - `resources`: create/list/get/update/delete of every configuration object, from a
//!   `Resource` describing its paths, list columns and file translation;
//! - `lk_files`: `lk`'s JSON files where the API does not read them itself;
//! - `calls`: outbound calls;
//! - `numbers`, `provider_accounts`: number setups and provider accounts (a `Resource` each,
//!   with creates that take flags as well as a file);
//! - `pages`: lists answered a page at a time;
//! - `output`: tables, details and `--json`.
//!
//! An object the API gains is a `Resource` constant and a variant here (of `SipCommand`, or
//! a new top-level command dispatching to `resources::run`).

mod api;
mod calls;
mod input;
mod lk_files;
mod numbers;
mod output;
mod pages;
mod provider_accounts;
mod resources;

pub use api::DEFAULT_URL;
pub use calls::CallCommand;
use clap::{Args, Subcommand};
pub use numbers::NumbersCommand;
pub use output::write_stdout;
pub use provider_accounts::ProviderAccountsCommand;
use resources::CrudCommand;

use crate::failure::Failure;

/// Global: accepted before or after any subcommand, like the database settings.
#[derive(Args, Clone)]
#[command(next_help_heading = "API (client commands: sip, call, numbers, provider-accounts)")]
pub struct ApiArgs {
    /// The address of trunkline's API.
    #[arg(long, env = "TRUNKLINE_URL", default_value = DEFAULT_URL, global = true)]
    pub url: String,
    /// The account's API key (from `trunkline keys create`). Prefer the
    /// variable: a flag is visible to other users in the process list.
    #[arg(long, env = "TRUNKLINE_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
}

#[derive(Args, Clone, Copy)]
pub struct OutputArgs {
    /// Print the API's `data` as JSON, exactly as the server sent it (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum SipCommand {
    /// Outbound trunks. `create` takes `lk sip outbound create`'s `{"trunk": …}` file (made a
    /// `sip` trunk) or the body of `POST /sip/create-outbound-trunk`.
    #[command(alias = "out", alias = "outbound-trunk")]
    Outbound {
        #[command(subcommand)]
        command: CrudCommand,
    },
    /// Inbound trunks. `create` takes `lk sip inbound create`'s `{"trunk": …}` file or the
    /// body of `POST /sip/inbound-trunks`.
    #[command(alias = "in", alias = "inbound-trunk")]
    Inbound {
        #[command(subcommand)]
        command: CrudCommand,
    },
    /// Dispatch rules. `create` takes `lk sip dispatch create`'s `{"dispatch_rule": …}` file
    /// or the body of `POST /sip/dispatch-rules`.
    #[command(alias = "dispatch-rule")]
    Dispatch {
        #[command(subcommand)]
        command: CrudCommand,
    },
}

pub async fn sip(api: &ApiArgs, out: OutputArgs, command: SipCommand) -> Result<(), Failure> {
    let client = api::Api::new(&api.url, api.api_key.as_deref())?;
    let (resource, command) = match command {
        SipCommand::Outbound { command } => (&resources::OUTBOUND, command),
        SipCommand::Inbound { command } => (&resources::INBOUND, command),
        SipCommand::Dispatch { command } => (&resources::DISPATCH, command),
    };
    resources::run(&client, out.json, resource, command).await
}

pub async fn call(api: &ApiArgs, out: OutputArgs, command: CallCommand) -> Result<(), Failure> {
    let client = api::Api::new(&api.url, api.api_key.as_deref())?;
    calls::run(&client, out.json, command).await
}

pub async fn numbers(
    api: &ApiArgs,
    out: OutputArgs,
    command: NumbersCommand,
) -> Result<(), Failure> {
    let client = api::Api::new(&api.url, api.api_key.as_deref())?;
    numbers::run(&client, out.json, command).await
}

pub async fn provider_accounts(
    api: &ApiArgs,
    out: OutputArgs,
    command: ProviderAccountsCommand,
) -> Result<(), Failure> {
    let client = api::Api::new(&api.url, api.api_key.as_deref())?;
    provider_accounts::run(&client, out.json, command).await
}
