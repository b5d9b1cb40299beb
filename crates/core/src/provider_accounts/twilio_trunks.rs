//! Outbound trunks made at Twilio from a provider account: `POST /sip/create-outbound-trunk`
//! with `trunk_type: "twilio"` and `trunk_config: {"provider_account_id", "numbers"}` creates
//! an Elastic SIP Trunk (its domain derived from its sid), a credential list holding a
//! generated credential associated for termination, and the numbers on the trunk; then
//! LiveKit's outbound trunk with that domain and credential, through the usual create path
//! (which seals the password). What every provider shares is in `sides.rs`.

use super::connect::AccountClient;
use super::sides::ProviderSide;
use crate::provisioning::provider_side::twilio_domain;
use crate::provisioning::{Created, ProviderSideConfig};
use crate::{ServiceError, ServiceResult, Services};
use trunkline_domain::trunk::RawSipTrunkConfig;
use trunkline_domain::{ids::random_hex, TrunkConfig, TrunkType, E164};
use trunkline_store::ProviderAccountRow;

/// What Twilio requires of a credential's password (12 or more, a digit, both cases).
fn generated_password() -> String {
    format!("Tl9{}", &crate::sealing::generate_secret_token()[..29])
}

impl Services {
    /// Makes both sides of an outbound trunk automated at Twilio for `numbers`; with
    /// `origination`, the Twilio trunk also sends the numbers' inbound calls there (a number
    /// used both ways, on one Twilio trunk). `prefix` goes before the field names of errors.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn create_twilio_outbound(
        &self,
        tenant_id: &str,
        name: &str,
        account: &ProviderAccountRow,
        client: &AccountClient,
        numbers: &[E164],
        origination: Option<String>,
        prefix: &str,
    ) -> ServiceResult<(Created, ProviderSide)> {
        self.check_numbers_free(client, numbers, prefix).await?;
        let hex = random_hex();
        let username = format!("tl{}", &hex[..16]);
        let password = generated_password();
        let side_config = ProviderSideConfig {
            numbers: numbers.iter().map(|n| n.as_str().to_owned()).collect(),
            username: username.clone(),
            password: Some(password.clone()),
            origination,
            caller_ids_only: false,
        };
        let wanted_numbers = side_config.numbers.clone();
        self.with_side(
            tenant_id,
            name,
            account,
            client,
            &side_config,
            |side| async move {
                let tk = side
                    .provider_trunk_sid
                    .ok_or_else(|| ServiceError::internal("Twilio trunk without a sid"))?;
                let config = RawSipTrunkConfig {
                    address: Some(twilio_domain(&tk)),
                    numbers: Some(wanted_numbers),
                    username: Some(Some(username)),
                    password: Some(Some(password)),
                    transport: None,
                    media_encryption: None,
                }
                .validate(TrunkType::Twilio, "trunk_config")
                .map_err(|e| ServiceError::internal(format!("generated trunk config: {e}")))?;
                self.provisioner
                    .create(
                        tenant_id,
                        name,
                        TrunkType::Twilio,
                        &TrunkConfig::Sip(config),
                    )
                    .await
            },
        )
        .await
    }
}
