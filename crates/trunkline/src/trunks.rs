//! `trunkline trunks …`: operator commands on stored trunks.

use crate::database::open_existing_store;
use crate::failure::Failure;
use crate::master_key;
use crate::settings::DbArgs;
use clap::Subcommand;
use trunkline_api::routes::trunk_test::result;
use trunkline_core::trunk_probe::probe_request;
use trunkline_domain::E164;
use trunkline_sip::ProbeOptions;

#[derive(Subcommand)]
pub enum TrunksCommand {
    /// Probe a trunk's provider from this machine, as `POST /sip/trunks/{id}/test` does:
    /// OPTIONS (with the trunk's credentials on a challenge) and, with --test-number, an
    /// INVITE cancelled at the first ring. Prints the report as JSON; exits 0 when the trunk
    /// looks usable, 2 when it does not.
    Test {
        /// The trunk id (ST_…).
        trunk_id: String,
        /// E.164 number to ring briefly.
        #[arg(long)]
        test_number: Option<String>,
        /// Allow loopback, private and link-local targets (labs).
        #[arg(long, env = "TRUNKLINE_ALLOW_PRIVATE_TARGETS", default_value_t = false,
              action = clap::ArgAction::Set,
              value_parser = crate::parse::boolean("TRUNKLINE_ALLOW_PRIVATE_TARGETS"))]
        allow_private_targets: bool,
    },
}

/// Ok(true) when the trunk looks usable.
pub async fn run(db: DbArgs, command: TrunksCommand) -> Result<bool, Failure> {
    match command {
        TrunksCommand::Test {
            trunk_id,
            test_number,
            allow_private_targets,
        } => {
            let test_number = test_number
                .map(|n| {
                    E164::parse("--test-number", &n)
                        .map(|e| e.as_str().to_owned())
                        .map_err(|e| Failure::Usage(e.to_string()))
                })
                .transpose()?;
            let store = open_existing_store(&db).await?;
            let keyring = master_key::load_existing(&db)?;
            let row = store
                .outbound_trunks()
                .live(&trunk_id)
                .await
                .map_err(|e| format!("cannot read the trunk: {e}"))?
                .filter(|r| r.status != trunkline_store::Status::Pending)
                .ok_or_else(|| format!("no trunk {trunk_id} (check the full id, ST_…)"))?;
            let config = trunkline_core::records::open(&keyring, &row).map_err(|_| {
                format!(
                    "the configuration of {trunk_id} cannot be opened with the loaded master keys"
                )
            })?;
            let request = probe_request(allow_private_targets, &config, test_number)
                .map_err(|e| e.to_string())?;
            let report = trunkline_sip::run_probe(&request, &ProbeOptions::quick()).await;
            let out = result(row.id.clone(), report);
            let healthy = out.healthy;
            println!(
                "{}",
                serde_json::to_string_pretty(&out).expect("report serializes")
            );
            store.close().await;
            Ok(healthy)
        }
    }
}
