//! Inbound trunks automated at Twilio: `POST /sip/inbound-trunks` with `provider_account_id`
//! and `numbers` makes an Elastic SIP trunk whose origination URL is LiveKit's SIP endpoint
//! (`LIVEKIT_SIP_URI`), with the numbers on it, then LiveKit's inbound trunk for those numbers.
//! The Twilio side is a provider trunk (`PT_…`) converged like the outbound ones.

use super::twilio_trunks::ProviderSide;
use crate::provisioning::{Created, TwilioSideConfig};
use crate::{ServiceError, ServiceResult, Services};
use trunkline_domain::inbound::InboundTrunkConfig;
use trunkline_store::{InboundTrunkRow, ProviderTrunkRow};

fn numbers_of(config: &InboundTrunkConfig) -> Vec<String> {
    config
        .numbers
        .iter()
        .map(|n| n.as_str().to_owned())
        .collect()
}

/// What a user must do in the provider's console where trunkline cannot route inbound calls
/// through the provider's API; `None` where it can (Twilio).
pub fn console_steps(provider: &str, livekit_sip_uri: &str) -> Option<String> {
    let endpoint = livekit_sip_uri.trim_start_matches("sip:");
    match provider {
        // Exotel's vSIP API makes destination URIs, but routing a number to one takes a Flow
        // whose Connect applet dials the trunk, made in the dashboard (PROVIDERS.md §3.3).
        "exotel" => Some(format!(
            "is an Exotel account: Exotel's API cannot route numbers to a SIP trunk, so inbound calls are not automated for Exotel. \
             In the Exotel dashboard: (1) under vSIP trunks, add the destination URI {endpoint}:5061;transport=tls (or the bridge's public address when calls go through trunkline's bridge); \
             (2) create a Flow whose Connect applet dials sip:<your trunk_sid>; (3) assign each ExoPhone to that Flow (Manage > ExoPhones). \
             Then create this inbound trunk without provider_account_id"
        )),
        "telnyx" => Some(format!(
            "is a Telnyx account: inbound calls are not automated for Telnyx yet. In the Telnyx portal: create an FQDN connection with the FQDN {endpoint} (inbound number format +E.164), \
             and assign your numbers to it (Numbers > My Numbers > connection). Then create this inbound trunk without provider_account_id"
        )),
        _ => None,
    }
}

impl Services {
    /// Makes the Twilio side, then LiveKit's inbound trunk; if LiveKit refuses or cannot be
    /// reached, the Twilio side is removed again.
    pub async fn create_twilio_inbound(
        &self,
        tenant_id: &str,
        name: &str,
        account_id: &str,
        config: &InboundTrunkConfig,
    ) -> ServiceResult<(Created, ProviderSide)> {
        if config.numbers.is_empty() {
            return Err(ServiceError::field(
                "numbers",
                "is required with provider_account_id: the account's numbers Twilio sends to LiveKit",
            ));
        }
        let Some(sip_uri) = self.providers.livekit_sip_uri.clone() else {
            return Err(ServiceError::Unavailable(
                "LIVEKIT_SIP_URI is not set on this server, so Twilio cannot be told where to send calls; nothing was created".into(),
            ));
        };
        if let Some(a) = self
            .store
            .get_provider_account(tenant_id, account_id)
            .await?
        {
            if let Some(steps) = console_steps(&a.provider, &sip_uri) {
                return Err(ServiceError::field("provider_account_id", steps));
            }
        }
        let (account, tw) = self.twilio_account_for(tenant_id, account_id, "").await?;
        self.check_numbers_free(&tw, &config.numbers, "").await?;
        let side_config = TwilioSideConfig {
            numbers: numbers_of(config),
            origination: Some(sip_uri),
            ..Default::default()
        };
        self.with_twilio_side(tenant_id, name, &account.id, &tw, &side_config, |_| {
            self.provisioner.create_inbound(tenant_id, name, config)
        })
        .await
    }

    /// The provider side of an inbound trunk, if trunkline made one.
    pub async fn inbound_provider_side(
        &self,
        row: &InboundTrunkRow,
    ) -> ServiceResult<Option<ProviderSide>> {
        Ok(self
            .store
            .provider_trunk_of(&row.id)
            .await?
            .as_ref()
            .map(super::sides::side))
    }

    /// A change of an automated inbound trunk: new numbers go to Twilio first, then LiveKit
    /// and the row; if LiveKit refuses, Twilio gets the old numbers back.
    pub async fn update_twilio_inbound(
        &self,
        row: &InboundTrunkRow,
        side_row: &ProviderTrunkRow,
        name: &str,
        config: &InboundTrunkConfig,
    ) -> ServiceResult<()> {
        let numbers = numbers_of(config);
        if numbers.is_empty() {
            return Err(ServiceError::field(
                "numbers",
                "cannot be empty on a trunk automated at Twilio: delete the trunk instead",
            ));
        }
        self.with_twilio_numbers(
            side_row,
            name,
            numbers,
            self.provisioner.update_inbound(row, name, config),
        )
        .await
    }

    /// Removes the Twilio side of an inbound trunk before the trunk goes (an outage: 503,
    /// nothing changed).
    pub async fn delete_inbound_provider_side(&self, row: &InboundTrunkRow) -> ServiceResult<()> {
        let Some(side_row) = self.store.provider_trunk_of(&row.id).await? else {
            return Ok(());
        };
        self.remove_provider_side(&side_row).await
    }
}
