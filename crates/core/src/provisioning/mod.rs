//! Converging LiveKit to the stored desired state. API requests provision synchronously (so a
//! client hears LiveKit's verdict), and a reconciler repairs whatever a crash, an outage or an
//! out-of-band change left behind.

mod approval;
pub mod dispatch;
mod engine;
mod exotel_remote;
pub mod exotel_side;
pub mod inbound;
mod kinds;
pub mod livekit_info;
mod ownership;
pub mod provider_side;
mod reconcile;
mod remote;
mod requests;
mod side_error;
pub mod status;
mod telnyx_object;
mod telnyx_remote;
mod twilio_remote;
pub use approval::describe_numbers;
pub use exotel_remote::trunk_name_for as exotel_trunk_name;
pub use kinds::ExotelSideConfig;
pub use kinds::ProviderSideConfig;

pub use reconcile::{run_reconciler, Counts, ReconcileReport};
pub use requests::Created;

use crate::records;
use crate::sealing::Keyring;
use crate::ServiceError;
use kinds::{DispatchRules, InboundTrunks, OutboundTrunks};
use std::sync::Arc;
use trunkline_domain::dispatch::DispatchRuleConfig;
use trunkline_domain::inbound::InboundTrunkConfig;
use trunkline_domain::{TrunkConfig, TrunkType};
use trunkline_livekit::LiveKitClient;
use trunkline_store::{DispatchRuleRow, InboundTrunkRow, OutboundTrunkRow, Store};

#[derive(Clone)]
pub struct Provisioner {
    store: Store,
    keyring: Arc<Keyring>,
    livekit: Option<LiveKitClient>,
    pending_grace: std::time::Duration,
    /// Where LiveKit reaches trunkline's SIP bridge; Exotel trunks have a LiveKit side only
    /// when this is set.
    bridge: Option<livekit_info::BridgeTarget>,
    /// Inbound trunks reach LiveKit only with numbers the operator approved (`approval.rs`).
    number_approval: bool,
}

impl Provisioner {
    pub fn new(store: Store, keyring: Arc<Keyring>, livekit: Option<LiveKitClient>) -> Self {
        Self {
            store,
            keyring,
            livekit,
            pending_grace: reconcile::PENDING_GRACE,
            bridge: None,
            number_approval: false,
        }
    }

    /// Provisions Exotel trunks into LiveKit as trunks to this bridge.
    pub fn with_bridge(mut self, bridge: Option<livekit_info::BridgeTarget>) -> Self {
        self.bridge = bridge;
        self
    }

    /// Whether trunks of this type get a LiveKit side: all but Exotel directly, Exotel through
    /// the bridge when one is configured.
    fn provisionable(&self, kind: TrunkType) -> bool {
        kind != TrunkType::Exotel || self.bridge.is_some()
    }

    /// How long a create may stay `pending` before the reconciler treats it as interrupted.
    pub fn pending_grace(&self) -> std::time::Duration {
        self.pending_grace
    }

    /// How long a create may stay `pending` before the reconciler treats it as interrupted.
    pub fn with_pending_grace(mut self, grace: std::time::Duration) -> Self {
        self.pending_grace = grace;
        self
    }

    /// Stores a new outbound trunk and, when LiveKit is configured (and, for Exotel, a
    /// bridge), creates its LiveKit side before answering.
    pub async fn create(
        &self,
        tenant_id: &str,
        name: &str,
        kind: TrunkType,
        config: &TrunkConfig,
    ) -> Result<Created, ServiceError> {
        let config = (kind, config.clone());
        let lk = self.livekit.as_ref();
        self.create_resource(&OutboundTrunks, lk, tenant_id, name, &config)
            .await
    }

    /// Applies a new configuration to an outbound trunk: LiveKit first (so its refusal leaves
    /// everything as it was), then the row. A LiveKit trunk deleted out of band is recreated.
    pub async fn update(
        &self,
        row: &OutboundTrunkRow,
        name: &str,
        config: &TrunkConfig,
    ) -> Result<(), ServiceError> {
        let config = (records::outbound_trunk_type(row)?, config.clone());
        let lk = self.livekit.as_ref();
        self.update_resource(&OutboundTrunks, lk, row, name, &config)
            .await
    }

    /// Removes an outbound trunk's LiveKit side, then the trunk. LiveKit down changes nothing.
    pub async fn delete(&self, row: &OutboundTrunkRow) -> Result<bool, ServiceError> {
        let lk = self.livekit.as_ref();
        self.delete_resource(&OutboundTrunks, lk, row).await
    }

    /// Stores a new inbound trunk (with its number claims) and provisions it in LiveKit.
    pub async fn create_inbound(
        &self,
        tenant_id: &str,
        name: &str,
        config: &InboundTrunkConfig,
    ) -> Result<Created, ServiceError> {
        let lk = self.livekit.as_ref();
        self.create_resource(&InboundTrunks, lk, tenant_id, name, config)
            .await
    }

    /// Applies a new configuration to an inbound trunk; the numbers it no longer serves are
    /// freed, and rules on every trunk follow a trunk LiveKit recreated.
    pub async fn update_inbound(
        &self,
        row: &InboundTrunkRow,
        name: &str,
        config: &InboundTrunkConfig,
    ) -> Result<(), ServiceError> {
        let lk = self.livekit.as_ref();
        self.update_resource(&InboundTrunks, lk, row, name, config)
            .await
    }

    /// Refuses (409) the delete of an inbound trunk a dispatch rule names, before anything
    /// (such as its provider side) is removed.
    pub async fn check_inbound_deletable(&self, row: &InboundTrunkRow) -> Result<(), ServiceError> {
        use requests::RequestKind;
        InboundTrunks.may_delete(self, row).await
    }

    /// Removes an inbound trunk (LiveKit's copy, then ours and its numbers). A trunk a
    /// dispatch rule names is refused.
    pub async fn delete_inbound(&self, row: &InboundTrunkRow) -> Result<bool, ServiceError> {
        let lk = self.livekit.as_ref();
        self.delete_resource(&InboundTrunks, lk, row).await
    }

    /// Stores a new dispatch rule (with its keys) and sends it to LiveKit once the trunks it
    /// applies to are there.
    pub async fn create_rule(
        &self,
        tenant_id: &str,
        name: &str,
        config: &DispatchRuleConfig,
    ) -> Result<Created, ServiceError> {
        let lk = self.livekit.as_ref();
        self.create_resource(&DispatchRules, lk, tenant_id, name, config)
            .await
    }

    pub async fn update_rule(
        &self,
        row: &DispatchRuleRow,
        name: &str,
        config: &DispatchRuleConfig,
    ) -> Result<(), ServiceError> {
        let lk = self.livekit.as_ref();
        self.update_resource(&DispatchRules, lk, row, name, config)
            .await
    }

    pub async fn delete_rule(&self, row: &DispatchRuleRow) -> Result<bool, ServiceError> {
        let lk = self.livekit.as_ref();
        self.delete_resource(&DispatchRules, lk, row).await
    }
}
