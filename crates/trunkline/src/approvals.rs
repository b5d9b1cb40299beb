//! `trunkline approvals …`: the operator's approval of the numbers tenants' inbound trunks
//! claim, where `serve` runs with `TRUNKLINE_NUMBER_APPROVAL=required`. An approval takes
//! effect at the reconciler's next pass (`TRUNKLINE_RECONCILE_INTERVAL`).

use crate::database::open_existing_store;
use crate::failure::Failure;
use crate::settings::DbArgs;
use clap::Subcommand;
use trunkline_domain::E164;
use trunkline_store::{now_micros, Approval, ANY_NUMBER};

#[derive(Subcommand)]
pub enum ApprovalsCommand {
    /// List the numbers inbound trunks claim that are not approved for their account.
    List,
    /// Approve numbers for an account: its inbound trunks serving them reach LiveKit.
    Approve {
        /// The account: its email (as given to `keys create`) or its tenant id.
        account: String,
        /// E.164 numbers, or `any` for a trunk that lists no numbers (it answers any).
        #[arg(required = true)]
        numbers: Vec<String>,
    },
    /// Withdraw approvals: trunks serving these numbers lose their LiveKit side at the next
    /// reconciler pass, and wait again.
    Revoke {
        #[arg(required = true)]
        numbers: Vec<String>,
    },
}

/// A number as stored: E.164, or `""` for `any`.
fn stored_number(raw: &str) -> Result<String, Failure> {
    if raw.eq_ignore_ascii_case("any") {
        return Ok(ANY_NUMBER.to_owned());
    }
    E164::parse("NUMBER", raw)
        .map(|n| n.as_str().to_owned())
        .map_err(|e| {
            Failure::Usage(format!(
                "{raw:?} is not a number trunkline can approve: {} (e.g. +14155550100, or `any`)",
                e.message
            ))
        })
}

fn shown(number: &str) -> &str {
    if number == ANY_NUMBER {
        "any"
    } else {
        number
    }
}

pub async fn run(db: DbArgs, command: ApprovalsCommand) -> Result<(), Failure> {
    match command {
        ApprovalsCommand::List => {
            let store = open_existing_store(&db).await?;
            let pending = store
                .pending_number_approvals()
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:<16} {:<30} {:<35} TRUNK NAME",
                "NUMBER", "ACCOUNT", "TRUNK"
            );
            for p in &pending {
                println!(
                    "{:<16} {:<30} {:<35} {}",
                    shown(&p.number),
                    p.tenant_email,
                    p.trunk_id,
                    p.trunk_name
                );
            }
            eprintln!("{} number(s) await approval.", pending.len());
            Ok(())
        }
        ApprovalsCommand::Approve { account, numbers } => {
            let numbers = numbers
                .iter()
                .map(|n| stored_number(n))
                .collect::<Result<Vec<_>, _>>()?;
            let store = open_existing_store(&db).await?;
            let mut refused = Vec::new();
            for n in &numbers {
                match store
                    .approve_number(account.trim(), n, now_micros())
                    .await
                    .map_err(|e| e.to_string())?
                {
                    Approval::Approved => println!("approved {} for {account}", shown(n)),
                    Approval::AlreadyApproved => {
                        println!("{} was already approved for {account}", shown(n))
                    }
                    Approval::HeldBy(other) => refused.push(format!(
                        "{} is approved for another account ({other}): revoke it first with `trunkline approvals revoke {}`",
                        shown(n),
                        shown(n)
                    )),
                    Approval::NoSuchTenant => {
                        return Err(Failure::Usage(format!(
                            "no account has the email or tenant id {account:?} (see `trunkline keys list`)"
                        )))
                    }
                }
            }
            if refused.is_empty() {
                eprintln!(
                    "Trunks serving these numbers are provisioned at the reconciler's next pass."
                );
                Ok(())
            } else {
                Err(Failure::Runtime(refused.join("\n")))
            }
        }
        ApprovalsCommand::Revoke { numbers } => {
            let numbers = numbers
                .iter()
                .map(|n| stored_number(n))
                .collect::<Result<Vec<_>, _>>()?;
            let store = open_existing_store(&db).await?;
            for n in &numbers {
                let had = store
                    .revoke_number_approval(n)
                    .await
                    .map_err(|e| e.to_string())?;
                if had {
                    println!("revoked {}", shown(n));
                } else {
                    println!("{} was not approved", shown(n));
                }
            }
            Ok(())
        }
    }
}
