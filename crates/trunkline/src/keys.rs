//! `trunkline keys …`: API keys per tenant, and master-key rotation.

use crate::database::open_existing_store;
use crate::failure::Failure;
use crate::settings::DbArgs;
use clap::Subcommand;
use trunkline_core::sealing::{generate_api_key, hash_api_key};
use trunkline_domain::{text, ApiKeyId, TenantId};
use trunkline_store::NewApiKey;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create an API key for the tenant with this email (the tenant is created if new). The
    /// key is printed alone on the last line of stdout, once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
    },
    /// List API keys (ids and prefixes, never the keys).
    List,
    /// Revoke an API key by its id (AK_…).
    Revoke { key_id: String },
    /// Re-seal every stored secret under a new master key. With TRUNKLINE_MASTER_KEY set,
    /// re-seals under that key (pass the old one in TRUNKLINE_MASTER_KEY_PREVIOUS); with the
    /// generated key file, generates the next key, re-seals, and replaces the file (old keys
    /// are kept in master.key.previous). Restart `serve` afterwards.
    RotateMaster,
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub async fn run(db: DbArgs, command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Create { name, email } => {
            let name =
                text::name("--name", &name, 100).map_err(|e| Failure::Usage(e.to_string()))?;
            let email = email.trim().to_ascii_lowercase();
            if !valid_email(&email) {
                return Err(Failure::Usage(format!(
                    "--email must be an email address, e.g. ops@acme.example; got {email:?}"
                )));
            }
            let store = open_existing_store(&db).await?;
            let key = generate_api_key();
            let key_id = ApiKeyId::generate();
            let tenant = store
                .create_api_key(NewApiKey {
                    key_id: key_id.as_str(),
                    new_tenant_id: TenantId::generate().as_str(),
                    email: &email,
                    name: &name,
                    key_hash: &hash_api_key(&key),
                    prefix: &key[..12],
                })
                .await
                .map_err(|e| e.to_string())?;
            println!("Created API key {key_id} for {email} (tenant {tenant}).");
            println!("Store it now; it cannot be shown again:");
            println!("{key}");
            Ok(())
        }
        KeysCommand::List => {
            let store = open_existing_store(&db).await?;
            let keys = store.list_api_keys().await.map_err(|e| e.to_string())?;
            println!(
                "{:<35} {:<14} {:<30} {:<20} {:<27} STATUS",
                "KEY ID", "PREFIX", "EMAIL", "NAME", "CREATED"
            );
            for k in keys {
                let status = match k.revoked_at {
                    Some(at) => format!("revoked {}", iso(at)),
                    None => "active".into(),
                };
                println!(
                    "{:<35} {:<14} {:<30} {:<20} {:<27} {status}",
                    k.id,
                    format!("{}…", k.prefix),
                    k.email,
                    k.name,
                    iso(k.created_at)
                );
            }
            Ok(())
        }
        KeysCommand::Revoke { key_id } => {
            let store = open_existing_store(&db).await?;
            if store
                .revoke_api_key(&key_id)
                .await
                .map_err(|e| e.to_string())?
            {
                println!("Revoked {key_id}.");
                Ok(())
            } else {
                Err(format!("no active API key with id {key_id}").into())
            }
        }
        KeysCommand::RotateMaster => Ok(crate::rotation::rotate_master(db).await?),
    }
}

fn iso(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
