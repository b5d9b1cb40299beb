//! The remote side the converge engine keeps in step with the store: a service holding a copy
//! of each row as one object (LiveKit's SIP trunks and dispatch rules today; a telephony
//! provider's trunks next). The engine needs four operations per object type and one way to
//! tell a refused configuration from a failure.

use std::fmt::Display;
use std::future::Future;
use trunkline_livekit::{proto, ErrorKind, LiveKitClient, LiveKitError};

/// A remote service holding objects of type `O`.
pub trait Remote<O>: Sync {
    type Error: Display + Send;
    /// Named in logs and in the `last_error` of a refused row.
    const NAME: &'static str;

    fn list(&self) -> impl Future<Output = Result<Vec<O>, Self::Error>> + Send;
    fn create(&self, wanted: O) -> impl Future<Output = Result<O, Self::Error>> + Send;
    fn replace(&self, id: &str, wanted: O) -> impl Future<Output = Result<O, Self::Error>> + Send;
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// The remote side's own words when it refused the configuration itself (retrying the
    /// same one is pointless); `None` for any other failure.
    fn refusal(e: &Self::Error) -> Option<String>;
}

fn livekit_refusal(e: &LiveKitError) -> Option<String> {
    (e.kind() == ErrorKind::InvalidArgument)
        .then(|| e.livekit_message().unwrap_or_default().to_owned())
}

impl Remote<proto::SipOutboundTrunkInfo> for LiveKitClient {
    type Error = LiveKitError;
    const NAME: &'static str = "LiveKit";

    async fn list(&self) -> Result<Vec<proto::SipOutboundTrunkInfo>, LiveKitError> {
        self.list_outbound_trunks().await
    }
    async fn create(
        &self,
        wanted: proto::SipOutboundTrunkInfo,
    ) -> Result<proto::SipOutboundTrunkInfo, LiveKitError> {
        self.create_outbound_trunk(wanted).await
    }
    async fn replace(
        &self,
        id: &str,
        wanted: proto::SipOutboundTrunkInfo,
    ) -> Result<proto::SipOutboundTrunkInfo, LiveKitError> {
        self.replace_outbound_trunk(id, wanted).await
    }
    async fn delete(&self, id: &str) -> Result<(), LiveKitError> {
        self.delete_trunk(id).await
    }
    fn refusal(e: &LiveKitError) -> Option<String> {
        livekit_refusal(e)
    }
}

impl Remote<proto::SipInboundTrunkInfo> for LiveKitClient {
    type Error = LiveKitError;
    const NAME: &'static str = "LiveKit";

    async fn list(&self) -> Result<Vec<proto::SipInboundTrunkInfo>, LiveKitError> {
        self.list_inbound_trunks().await
    }
    async fn create(
        &self,
        wanted: proto::SipInboundTrunkInfo,
    ) -> Result<proto::SipInboundTrunkInfo, LiveKitError> {
        self.create_inbound_trunk(wanted).await
    }
    async fn replace(
        &self,
        id: &str,
        wanted: proto::SipInboundTrunkInfo,
    ) -> Result<proto::SipInboundTrunkInfo, LiveKitError> {
        self.replace_inbound_trunk(id, wanted).await
    }
    async fn delete(&self, id: &str) -> Result<(), LiveKitError> {
        self.delete_trunk(id).await
    }
    fn refusal(e: &LiveKitError) -> Option<String> {
        livekit_refusal(e)
    }
}

impl Remote<proto::SipDispatchRuleInfo> for LiveKitClient {
    type Error = LiveKitError;
    const NAME: &'static str = "LiveKit";

    async fn list(&self) -> Result<Vec<proto::SipDispatchRuleInfo>, LiveKitError> {
        self.list_dispatch_rules().await
    }
    async fn create(
        &self,
        wanted: proto::SipDispatchRuleInfo,
    ) -> Result<proto::SipDispatchRuleInfo, LiveKitError> {
        self.create_dispatch_rule(wanted).await
    }
    async fn replace(
        &self,
        id: &str,
        wanted: proto::SipDispatchRuleInfo,
    ) -> Result<proto::SipDispatchRuleInfo, LiveKitError> {
        self.replace_dispatch_rule(id, wanted).await
    }
    /// A rule already gone counts as deleted.
    async fn delete(&self, id: &str) -> Result<(), LiveKitError> {
        match self.delete_dispatch_rule(id).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
    fn refusal(e: &LiveKitError) -> Option<String> {
        livekit_refusal(e)
    }
}
