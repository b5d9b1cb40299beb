//! The `trunkline` binary: `serve` runs the API; `keys …` manages API keys and the master key;
//! `trunks test` probes a trunk; `bridge` runs the Exotel SIP bridge. Those are the operator
//! commands, on the database. `sip …`, `call …`, `numbers …` and `provider-accounts …` are client commands for one account,
//! through a running server's API (`client`).
//! Thin on purpose: settings are parsed in `settings`, everything else lives in the crates.

mod approvals;
mod backup;
mod bridge;
mod client;
mod database;
#[cfg(feature = "api")]
mod demo;
mod failure;
mod keys;
mod master_key;
mod parse;
#[cfg(feature = "api")]
mod provider_settings;
mod rotation;
#[cfg(feature = "api")]
mod serve;
mod settings;
mod signals;
mod telemetry;
#[cfg(feature = "api")]
mod trunks;

use clap::{CommandFactory, Parser, Subcommand};
use failure::{Failure, EXIT_UNHEALTHY};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "trunkline",
    version,
    propagate_version = true,
    about = "Telephony for LiveKit voice agents",
    after_help = "Exit status: 0 done; 1 failed; 2 `trunks test` found the trunk unusable, or the server refused a client command's request; 3 a client command could not reach the server; 64 a flag, argument, file or setting is wrong."
)]
struct Cli {
    /// The database settings, accepted before or after any subcommand.
    #[command(flatten)]
    db: settings::DbArgs,
    /// The API the client commands talk to, accepted before or after any subcommand.
    #[command(flatten)]
    api: client::ApiArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once at start: the size of a variant does not matter (and it depends on which
// commands the build has).
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the HTTP API (and its LiveKit reconciler).
    #[cfg(feature = "api")]
    Serve(settings::ServeArgs),
    /// Manage tenants' API keys and the master key that seals secrets.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Run the Exotel SIP bridge (a B2BUA with RTP relay) on the host Exotel whitelisted.
    Bridge(bridge::BridgeArgs),
    /// Approve the numbers accounts' inbound trunks claim (with TRUNKLINE_NUMBER_APPROVAL=required).
    Approvals {
        #[command(subcommand)]
        command: approvals::ApprovalsCommand,
    },
    /// Operator commands on stored trunks (e.g. `trunks test ST_…`).
    #[cfg(feature = "api")]
    Trunks {
        #[command(subcommand)]
        command: trunks::TrunksCommand,
    },
    /// Write every tenant's configuration to stdout, secrets still sealed under the master
    /// key: `trunkline backup > backup.json`.
    Backup,
    /// Restore a backup into an empty database (refused otherwise, naming why).
    Restore {
        /// The file `trunkline backup` wrote.
        file: std::path::PathBuf,
    },
    /// Client: your account's SIP trunks and dispatch rules through a running trunkline's API,
    /// like `lk sip` (TRUNKLINE_URL, TRUNKLINE_API_KEY).
    Sip {
        #[command(flatten)]
        out: client::OutputArgs,
        #[command(subcommand)]
        command: client::SipCommand,
    },
    /// Client: outbound calls through a running trunkline's API (TRUNKLINE_URL,
    /// TRUNKLINE_API_KEY).
    Call {
        #[command(flatten)]
        out: client::OutputArgs,
        #[command(subcommand)]
        command: client::CallCommand,
    },
    /// Client: your account's numbers set up end to end (provider, LiveKit, dispatch) through
    /// a running trunkline's API (TRUNKLINE_URL, TRUNKLINE_API_KEY).
    Numbers {
        #[command(flatten)]
        out: client::OutputArgs,
        #[command(subcommand)]
        command: client::NumbersCommand,
    },
    /// Client: your account's Twilio, Exotel and Telnyx accounts, their numbers and webhook
    /// events, through a running trunkline's API (TRUNKLINE_URL, TRUNKLINE_API_KEY).
    #[command(alias = "provider-account")]
    ProviderAccounts {
        #[command(flatten)]
        out: client::OutputArgs,
        #[command(subcommand)]
        command: client::ProviderAccountsCommand,
    },
    /// Print a completion script for a shell, e.g. `trunkline completions bash >
    /// /etc/bash_completion.d/trunkline`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return failure::clap_exit(e),
    };
    let log_format = std::env::var("TRUNKLINE_LOG_FORMAT").ok();
    match telemetry::logs::format_from(log_format.as_deref()) {
        Ok(format) => telemetry::logs::init(format),
        Err(why) => return Failure::Usage(why).exit(),
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let db = cli.db;
    let api = cli.api;
    // The database setting matters to the operator commands only: a DATABASE_URL meant for
    // something else must not stop `trunkline sip …` on a developer's machine.
    let on_database = matches!(
        cli.command,
        Command::Keys { .. }
            | Command::Approvals { .. }
            | Command::Bridge(_)
            | Command::Backup
            | Command::Restore { .. }
    ) || needs_database_api(&cli.command);
    if on_database {
        if let Err(why) = parse::database_url(&db.database_url) {
            return Failure::Usage(why).exit();
        }
    }
    let result: Result<bool, Failure> = runtime.block_on(async {
        match cli.command {
            #[cfg(feature = "api")]
            Command::Serve(args) => serve::serve(args).await.map(|()| true),
            Command::Keys { command } => keys::run(db, command).await.map(|()| true),
            Command::Approvals { command } => approvals::run(db, command).await.map(|()| true),
            #[cfg(feature = "api")]
            Command::Trunks { command } => trunks::run(db, command).await,
            Command::Bridge(args) => bridge::run(args).await.map(|()| true),
            Command::Backup => backup::backup(db).await.map(|()| true),
            Command::Restore { file } => backup::restore(db, file).await.map(|()| true),
            Command::Sip { out, command } => client::sip(&api, out, command).await.map(|()| true),
            Command::Call { out, command } => client::call(&api, out, command).await.map(|()| true),
            Command::Numbers { out, command } => {
                client::numbers(&api, out, command).await.map(|()| true)
            }
            Command::ProviderAccounts { out, command } => {
                client::provider_accounts(&api, out, command)
                    .await
                    .map(|()| true)
            }
            Command::Completions { shell } => {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "trunkline", &mut script);
                client::write_stdout(&script);
                Ok(true)
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        // A check that ran and found a problem: distinct from a usage or runtime error.
        Ok(false) => ExitCode::from(EXIT_UNHEALTHY),
        Err(failure) => failure.exit(),
    }
}

/// Whether a command of the HTTP API build works on the database (see `on_database`).
#[cfg(feature = "api")]
fn needs_database_api(command: &Command) -> bool {
    matches!(command, Command::Serve(_) | Command::Trunks { .. })
}

#[cfg(not(feature = "api"))]
fn needs_database_api(_: &Command) -> bool {
    false
}
