//! `trunkline provider-accounts …`: the account's Twilio, Exotel and Telnyx accounts, the
//! numbers each holds at its provider, and the webhook events its provider sent.
//!
//! A credential is never a flag's value (a process list shows those to every user): it comes
//! from the JSON file, from a file named by a `--…-file` flag, or from an environment
//! variable, and is never printed (the server does not return it either).

use super::api::Api;
use super::input::read_object;
use super::output::{at, print, Column, View};
use super::pages::{page_limit, Paged};
use super::resources::{self, CrudCommand, Resource};
use crate::failure::Failure;
use clap::Subcommand;
use serde_json::{json, Map, Value};
use std::io::Read;

#[derive(Subcommand)]
pub enum ProviderAccountsCommand {
    /// Add an account; the server checks its credentials with the provider first. The body
    /// comes from a JSON file of `POST /provider-accounts`'s body (`-` for stdin), the flags,
    /// or both: a flag replaces the file's field. Each credential the file lacks is read from
    /// its `--…-file`, else from its variable (TRUNKLINE_PROVIDER_AUTH_TOKEN,
    /// TRUNKLINE_PROVIDER_API_KEY_SECRET, TRUNKLINE_PROVIDER_API_KEY,
    /// TRUNKLINE_PROVIDER_API_TOKEN), for the fields the provider takes.
    Create {
        /// JSON file with `provider`, `name` and the provider's credentials.
        file: Option<String>,
        /// twilio, exotel or telnyx.
        #[arg(long)]
        provider: Option<String>,
        /// A name to tell the account apart.
        #[arg(long)]
        name: Option<String>,
        /// Twilio's AC… or Exotel's account sid.
        #[arg(long)]
        account_sid: Option<String>,
        /// Twilio: the API key's SK… (with --api-key-secret-file instead of an auth token).
        #[arg(long)]
        api_key_sid: Option<String>,
        /// Exotel: the API host, e.g. api.in.exotel.com.
        #[arg(long)]
        subdomain: Option<String>,
        /// Twilio: a file holding the auth token.
        #[arg(long, value_name = "FILE")]
        auth_token_file: Option<String>,
        /// Twilio: a file holding the API key's secret.
        #[arg(long, value_name = "FILE")]
        api_key_secret_file: Option<String>,
        /// Exotel or Telnyx: a file holding the API key.
        #[arg(long, value_name = "FILE")]
        api_key_file: Option<String>,
        /// Exotel: a file holding the API token.
        #[arg(long, value_name = "FILE")]
        api_token_file: Option<String>,
    },
    /// List the accounts.
    List,
    /// Show one (PA_…).
    Get { id: String },
    /// Forget one (nothing at the provider changes; refused while a trunk uses it).
    Delete { id: String },
    /// The account's numbers at its provider, with the trunks that use each.
    Numbers { id: String },
    /// The webhook events the provider sent about the account, oldest first, one page
    /// (`--all` for every page).
    Events {
        id: String,
        /// Only the events of this Twilio call (CA…).
        #[arg(long)]
        call_sid: Option<String>,
        /// Events per page, 1–200 (the server's default is 50).
        #[arg(long, value_parser = page_limit)]
        limit: Option<u32>,
        /// The page after the one that printed this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// Follow the cursors to the last page.
        #[arg(long, conflicts_with = "cursor")]
        all: bool,
    },
}

/// Each credential: its field, the flag naming a file of it, its variable, and the providers
/// that take it.
const SECRETS: [(&str, &str, &str, &[&str]); 4] = [
    (
        "auth_token",
        "--auth-token-file",
        "TRUNKLINE_PROVIDER_AUTH_TOKEN",
        &["twilio"],
    ),
    (
        "api_key_secret",
        "--api-key-secret-file",
        "TRUNKLINE_PROVIDER_API_KEY_SECRET",
        &["twilio"],
    ),
    (
        "api_key",
        "--api-key-file",
        "TRUNKLINE_PROVIDER_API_KEY",
        &["exotel", "telnyx"],
    ),
    (
        "api_token",
        "--api-token-file",
        "TRUNKLINE_PROVIDER_API_TOKEN",
        &["exotel"],
    ),
];

/// A credential file larger than this is not a credential.
const MAX_SECRET_FILE: u64 = 4096;

pub async fn run(api: &Api, json: bool, command: ProviderAccountsCommand) -> Result<(), Failure> {
    let crud = match command {
        ProviderAccountsCommand::Create {
            file,
            provider,
            name,
            account_sid,
            api_key_sid,
            subdomain,
            auth_token_file,
            api_key_secret_file,
            api_key_file,
            api_token_file,
        } => {
            let mut body = match &file {
                Some(f) => read_object(f)?,
                None => json!({}),
            };
            let map = body.as_object_mut().expect("read_object answers objects");
            let flags = [
                ("provider", provider),
                ("name", name),
                ("account_sid", account_sid),
                ("api_key_sid", api_key_sid),
                ("subdomain", subdomain),
            ];
            for (k, v) in flags {
                if let Some(v) = v {
                    map.insert(k.to_owned(), Value::String(v));
                }
            }
            let files = [
                auth_token_file,
                api_key_secret_file,
                api_key_file,
                api_token_file,
            ];
            for ((field, flag, _, _), path) in SECRETS.iter().zip(files) {
                if let Some(path) = path {
                    map.insert(
                        (*field).to_owned(),
                        Value::String(read_secret(flag, &path)?),
                    );
                }
            }
            fill_from_environment(map, |var| std::env::var(var).ok());
            return resources::create(api, json, &ACCOUNTS, &body).await;
        }
        ProviderAccountsCommand::List => CrudCommand::List,
        ProviderAccountsCommand::Get { id } => CrudCommand::Get { id },
        ProviderAccountsCommand::Delete { id } => CrudCommand::Delete { id },
        ProviderAccountsCommand::Numbers { id } => {
            let answer = api.get(below(api, &id, "numbers")).await?;
            let view = View::List {
                columns: NUMBER_COLUMNS,
                pointer: "",
            };
            print(&answer, json, view);
            return Ok(());
        }
        ProviderAccountsCommand::Events {
            id,
            call_sid,
            limit,
            cursor,
            all,
        } => {
            let filters = [
                ("call_sid", call_sid),
                ("limit", limit.or(all.then_some(200)).map(|l| l.to_string())),
            ];
            let filters: Vec<(&str, String)> = filters
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            let events = Paged {
                path: "/provider-accounts/{id}/events",
                items: "events",
                columns: EVENT_COLUMNS,
                noun: "events",
            };
            let url = below(api, &id, "events");
            return events.print(api, url, json, &filters, cursor, all).await;
        }
    };
    resources::run(api, json, &ACCOUNTS, crud).await
}

/// `/provider-accounts/{id}/{what}`, the id percent-encoded.
fn below(api: &Api, id: &str, what: &str) -> reqwest::Url {
    let mut url = api.url(ACCOUNTS.item, Some(id));
    url.path_segments_mut()
        .expect("an http(s) URL has a path")
        .push(what);
    url
}

/// A credential from a file: one line, its line ending dropped. What the file holds is
/// never part of a message.
fn read_secret(flag: &str, path: &str) -> Result<String, Failure> {
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SECRET_FILE + 1).read_to_end(&mut buf))
        .map_err(|e| Failure::Usage(format!("{flag}: cannot read {path}: {e}")))?;
    if buf.len() as u64 > MAX_SECRET_FILE {
        return Err(Failure::Usage(format!(
            "{flag}: {path} is over {MAX_SECRET_FILE} bytes; it must hold the credential alone"
        )));
    }
    let text = String::from_utf8(buf)
        .map_err(|_| Failure::Usage(format!("{flag}: {path} is not UTF-8 text")))?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(Failure::Usage(format!("{flag}: {path} is empty")));
    }
    if secret.contains(['\n', '\r']) {
        return Err(Failure::Usage(format!(
            "{flag}: {path} must hold the credential on one line"
        )));
    }
    Ok(secret.to_owned())
}

/// Fills each credential the body lacks from its variable, for the fields its provider
/// takes (a Twilio account with an `api_key_sid` authenticates with the key's secret, one
/// without it with the auth token): a variable set for another provider adds nothing.
fn fill_from_environment(map: &mut Map<String, Value>, var: impl Fn(&str) -> Option<String>) {
    let Some(provider) = map
        .get("provider")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    let uses_api_key = map.contains_key("api_key_sid");
    for (field, _, name, providers) in SECRETS {
        let twilio_other_method = provider == "twilio"
            && ((field == "auth_token" && uses_api_key)
                || (field == "api_key_secret" && !uses_api_key));
        if map.contains_key(field) || !providers.contains(&provider.as_str()) || twilio_other_method
        {
            continue;
        }
        if let Some(value) = var(name).filter(|v| !v.trim().is_empty()) {
            map.insert(field.to_owned(), Value::String(value.trim().to_owned()));
        }
    }
}

pub const ACCOUNTS: Resource = Resource {
    noun: "provider account",
    create: "/provider-accounts",
    list: "/provider-accounts",
    paged_items: None,
    item: "/provider-accounts",
    id_field: "provider_account_id",
    columns: &[
        Column {
            header: "ACCOUNT ID",
            cell: |v| at(v, "/provider_account_id"),
        },
        Column {
            header: "PROVIDER",
            cell: |v| at(v, "/provider"),
        },
        Column {
            header: "NAME",
            cell: |v| at(v, "/name"),
        },
        Column {
            header: "ACCOUNT",
            cell: |v| at(v, "/account"),
        },
        Column {
            header: "AUTH",
            cell: |v| at(v, "/auth_method"),
        },
        Column {
            header: "CREATED (UTC)",
            cell: |v| at(v, "/created_at"),
        },
    ],
    create_body: super::lk_files::as_is,
    update_body: super::lk_files::as_is,
};

const NUMBER_COLUMNS: &[Column] = &[
    Column {
        header: "NUMBER",
        cell: |v| at(v, "/phone_number"),
    },
    Column {
        header: "PROVIDER ID",
        cell: |v| at(v, "/provider_number_id"),
    },
    Column {
        header: "NAME",
        cell: |v| at(v, "/friendly_name"),
    },
    Column {
        header: "OUTBOUND TRUNK",
        cell: |v| at(v, "/trunk_id"),
    },
    Column {
        header: "INBOUND TRUNK",
        cell: |v| at(v, "/inbound_trunk_id"),
    },
    Column {
        header: "PROVIDER TRUNK",
        cell: |v| at(v, "/provider_trunk_id"),
    },
];

const EVENT_COLUMNS: &[Column] = &[
    Column {
        header: "EVENT ID",
        cell: |v| at(v, "/event_id"),
    },
    Column {
        header: "KIND",
        cell: |v| at(v, "/kind"),
    },
    Column {
        header: "CALL SID",
        cell: |v| at(v, "/call_sid"),
    },
    Column {
        header: "STATUS",
        cell: |v| at(v, "/params/CallStatus"),
    },
    Column {
        header: "RECEIVED (UTC)",
        cell: |v| at(v, "/received_at"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(body: Value, vars: &[(&str, &str)]) -> Value {
        let mut body = body;
        fill_from_environment(body.as_object_mut().unwrap(), |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        });
        body
    }

    #[test]
    fn variables_fill_only_what_the_provider_takes_and_the_file_lacks() {
        let all = [
            ("TRUNKLINE_PROVIDER_AUTH_TOKEN", "tok\n"),
            ("TRUNKLINE_PROVIDER_API_KEY_SECRET", "sec"),
            ("TRUNKLINE_PROVIDER_API_KEY", "key"),
            ("TRUNKLINE_PROVIDER_API_TOKEN", "apitok"),
        ];
        assert_eq!(
            filled(json!({"provider": "twilio", "account_sid": "AC1"}), &all),
            json!({"provider": "twilio", "account_sid": "AC1", "auth_token": "tok"})
        );
        assert_eq!(
            filled(json!({"provider": "twilio", "api_key_sid": "SK1"}), &all),
            json!({"provider": "twilio", "api_key_sid": "SK1", "api_key_secret": "sec"})
        );
        assert_eq!(
            filled(json!({"provider": "exotel", "api_key": "file"}), &all),
            json!({"provider": "exotel", "api_key": "file", "api_token": "apitok"})
        );
        assert_eq!(
            filled(json!({"provider": "telnyx"}), &all),
            json!({"provider": "telnyx", "api_key": "key"})
        );
        assert_eq!(filled(json!({"name": "x"}), &all), json!({"name": "x"}));
    }

    #[test]
    fn a_secret_file_is_one_line_and_its_content_is_never_in_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "s3cr3t-value\r\n").unwrap();
        assert_eq!(
            read_secret("--auth-token-file", ok.to_str().unwrap()).ok(),
            Some("s3cr3t-value".to_owned())
        );
        let two = dir.path().join("two");
        std::fs::write(&two, "s3cr3t-value\nsecond-line").unwrap();
        let Err(Failure::Usage(m)) = read_secret("--auth-token-file", two.to_str().unwrap()) else {
            panic!()
        };
        assert!(m.contains("one line") && !m.contains("s3cr3t"), "{m}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(matches!(
            read_secret("--api-key-file", empty.to_str().unwrap()),
            Err(Failure::Usage(m)) if m.contains("--api-key-file") && m.contains("empty")
        ));
    }
}
