//! The remote side the converge engine keeps in step with the store: a service holding a copy
//! of each row as one object (LiveKit's SIP trunks and dispatch rules today; a telephony
//! provider's trunks next). The engine needs four operations per object type and one way to
//! classify a failure ([`Failure`]).

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
    /// What a failure means for the object.
    fn failure(e: &Self::Error) -> Failure;
}

/// How a call to the remote side failed, as far as provisioning cares.
pub enum Failure {
    /// The remote side refused the configuration itself, in these words: retrying the same
    /// one is pointless.
    Refused(String),
    /// The object is not there (deleted out of band, or never made).
    Gone,
    /// The remote side may have acted before the failure (a timeout, a reset, a 5xx).
    Unknown,
    /// It did not act (unreachable before the request was sent, credentials refused).
    Failed,
}

fn livekit_failure(e: &LiveKitError) -> Failure {
    match e.kind() {
        ErrorKind::InvalidArgument => {
            Failure::Refused(e.livekit_message().unwrap_or_default().to_owned())
        }
        ErrorKind::NotFound => Failure::Gone,
        _ if e.outcome_unknown() => Failure::Unknown,
        _ => Failure::Failed,
    }
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
    fn failure(e: &LiveKitError) -> Failure {
        livekit_failure(e)
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
    fn failure(e: &LiveKitError) -> Failure {
        livekit_failure(e)
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
    fn failure(e: &LiveKitError) -> Failure {
        livekit_failure(e)
    }
}
