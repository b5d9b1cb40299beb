//! Trunks made at Telnyx from a provider account (PROVIDERS.md §4). What every provider
//! shares (provider side first, undo, numbers, delete) is in `sides.rs`; the objects and how
//! they are converged in `provisioning::telnyx_remote`.
//!
//! - Outbound (`POST /sip/create-outbound-trunk`, `trunk_type: "telnyx"`): a credential
//!   connection with a generated user name and password, linked to an outbound voice
//!   profile, the numbers routed to it; LiveKit's outbound trunk dials `sip.telnyx.com` with
//!   that credential.
//! - Inbound (`POST /sip/inbound-trunks` with `provider_account_id`, made by `sides.rs`): an
//!   FQDN connection whose FQDN record is `LIVEKIT_SIP_URI`'s host, the numbers routed to it;
//!   then LiveKit's inbound trunk.
//! - Both ways (`POST /numbers` with `direction: "both"`): a Telnyx number is routed to one
//!   connection, and a credential connection sends its inbound calls to a registered SIP
//!   user (LiveKit registers none), so the number goes on the inbound FQDN connection and
//!   the outbound credential connection uses it as caller id only ([`caller_ids_only`]).

use super::connect::AccountClient;
use super::sides::ProviderSide;
use crate::provisioning::provider_side::TELNYX_SIP_ADDRESS;
use crate::provisioning::{Created, ProviderSideConfig};
use crate::{ServiceError, ServiceResult, Services};
use trunkline_domain::trunk::RawSipTrunkConfig;
use trunkline_domain::{ids::random_hex, TrunkConfig, TrunkType, E164};
use trunkline_store::ProviderAccountRow;

/// A credential connection's user name: Telnyx takes 4–32 letters and digits with a letter
/// in the first five.
fn generated_user_name() -> String {
    format!("tl{}", &random_hex()[..16])
}

/// A credential connection's password: Telnyx takes 8–128 characters; 128 random bits.
fn generated_password() -> String {
    format!("Tl9{}", random_hex())
}

/// Whether an outbound side that must also serve the numbers' inbound calls keeps them off
/// its own connection (see the module's "both ways"). The inbound side then routes them.
fn caller_ids_only(also_inbound: bool) -> bool {
    also_inbound
}

impl Services {
    /// Makes both sides of an outbound trunk automated at Telnyx for `numbers`.
    /// `also_inbound`: the numbers' inbound calls are to be served too (by an inbound side
    /// made next, so the numbers stay off this connection).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn create_telnyx_outbound(
        &self,
        tenant_id: &str,
        name: &str,
        account: &ProviderAccountRow,
        client: &AccountClient,
        numbers: &[E164],
        also_inbound: bool,
        prefix: &str,
    ) -> ServiceResult<(Created, ProviderSide)> {
        self.check_numbers_free(client, numbers, prefix).await?;
        let username = generated_user_name();
        let password = generated_password();
        let side_config = ProviderSideConfig {
            numbers: numbers.iter().map(|n| n.as_str().to_owned()).collect(),
            username: username.clone(),
            password: Some(password.clone()),
            origination: None,
            caller_ids_only: caller_ids_only(also_inbound),
        };
        let wanted_numbers = side_config.numbers.clone();
        self.with_side(
            tenant_id,
            name,
            account,
            client,
            &side_config,
            |_| async move {
                let config = RawSipTrunkConfig {
                    address: Some(TELNYX_SIP_ADDRESS.to_owned()),
                    numbers: Some(wanted_numbers),
                    username: Some(Some(username)),
                    password: Some(Some(password)),
                    transport: None,
                    media_encryption: None,
                }
                .validate(TrunkType::Telnyx, "trunk_config")
                .map_err(|e| ServiceError::internal(format!("generated trunk config: {e}")))?;
                self.provisioner
                    .create(
                        tenant_id,
                        name,
                        TrunkType::Telnyx,
                        &TrunkConfig::Sip(config),
                    )
                    .await
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_meet_telnyx_rules() {
        let u = generated_user_name();
        assert!((4..=32).contains(&u.len()), "{u}");
        assert!(u.chars().all(|c| c.is_ascii_alphanumeric()), "{u}");
        assert!(u.chars().take(5).any(|c| c.is_ascii_alphabetic()), "{u}");
        let p = generated_password();
        assert!((8..=128).contains(&p.len()), "{p}");
        assert_ne!(p, generated_password());
    }
}
