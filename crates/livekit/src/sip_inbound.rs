//! Inbound trunks and dispatch rules: which calls LiveKit accepts, and where they go.

use crate::client::LiveKitClient;
use crate::error::LiveKitError;
use livekit_protocol as proto;

const PAGE: i32 = 500;

/// Follows LiveKit's `after_id` pagination; stops on a server that ignores it (everything at
/// once, or the same page again) rather than looping.
async fn paged<T, F, Fut>(id: impl Fn(&T) -> String, mut page: F) -> Result<Vec<T>, LiveKitError>
where
    F: FnMut(proto::Pagination) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, LiveKitError>>,
{
    let mut all: Vec<T> = Vec::new();
    let mut after = String::new();
    loop {
        let items = page(proto::Pagination {
            after_id: after.clone(),
            limit: PAGE,
        })
        .await?;
        let n = items.len();
        let last = items.last().map(&id);
        all.extend(items);
        match last {
            Some(last) if n == PAGE as usize && last > after => after = last,
            _ => break,
        }
    }
    all.sort_by_key(|t| id(t));
    all.dedup_by(|a, b| id(a) == id(b));
    Ok(all)
}

impl LiveKitClient {
    pub async fn create_inbound_trunk(
        &self,
        trunk: proto::SipInboundTrunkInfo,
    ) -> Result<proto::SipInboundTrunkInfo, LiveKitError> {
        let req = proto::CreateSipInboundTrunkRequest { trunk: Some(trunk) };
        self.call("CreateSIPInboundTrunk", Self::ADMIN, &req).await
    }

    /// Replaces the whole trunk: trunkline holds the full desired state.
    pub async fn replace_inbound_trunk(
        &self,
        sip_trunk_id: &str,
        trunk: proto::SipInboundTrunkInfo,
    ) -> Result<proto::SipInboundTrunkInfo, LiveKitError> {
        let req = proto::UpdateSipInboundTrunkRequest {
            sip_trunk_id: sip_trunk_id.to_owned(),
            action: Some(proto::update_sip_inbound_trunk_request::Action::Replace(
                trunk,
            )),
        };
        self.call("UpdateSIPInboundTrunk", Self::ADMIN, &req).await
    }

    /// Every inbound trunk of the project, following pagination. Inbound trunks are deleted
    /// with [`LiveKitClient::delete_trunk`] (LiveKit has one DeleteSIPTrunk for both kinds).
    pub async fn list_inbound_trunks(
        &self,
    ) -> Result<Vec<proto::SipInboundTrunkInfo>, LiveKitError> {
        paged(
            |t: &proto::SipInboundTrunkInfo| t.sip_trunk_id.clone(),
            |page| async move {
                let req = proto::ListSipInboundTrunkRequest {
                    page: Some(page),
                    trunk_ids: vec![],
                    numbers: vec![],
                };
                let resp: proto::ListSipInboundTrunkResponse =
                    self.call("ListSIPInboundTrunk", Self::ADMIN, &req).await?;
                Ok(resp.items)
            },
        )
        .await
    }

    pub async fn create_dispatch_rule(
        &self,
        rule: proto::SipDispatchRuleInfo,
    ) -> Result<proto::SipDispatchRuleInfo, LiveKitError> {
        #[allow(deprecated)] // the legacy flat fields stay empty; `dispatch_rule` carries it all
        let req = proto::CreateSipDispatchRuleRequest {
            dispatch_rule: Some(rule),
            ..Default::default()
        };
        self.call("CreateSIPDispatchRule", Self::ADMIN, &req).await
    }

    pub async fn replace_dispatch_rule(
        &self,
        sip_dispatch_rule_id: &str,
        rule: proto::SipDispatchRuleInfo,
    ) -> Result<proto::SipDispatchRuleInfo, LiveKitError> {
        let req = proto::UpdateSipDispatchRuleRequest {
            sip_dispatch_rule_id: sip_dispatch_rule_id.to_owned(),
            action: Some(proto::update_sip_dispatch_rule_request::Action::Replace(
                rule,
            )),
        };
        self.call("UpdateSIPDispatchRule", Self::ADMIN, &req).await
    }

    /// Deletes a rule. Unlike DeleteSIPTrunk, LiveKit answers `not_found` for an unknown id.
    pub async fn delete_dispatch_rule(
        &self,
        sip_dispatch_rule_id: &str,
    ) -> Result<(), LiveKitError> {
        let req = proto::DeleteSipDispatchRuleRequest {
            sip_dispatch_rule_id: sip_dispatch_rule_id.to_owned(),
        };
        let _: proto::SipDispatchRuleInfo = self
            .call("DeleteSIPDispatchRule", Self::ADMIN, &req)
            .await?;
        Ok(())
    }

    /// Every dispatch rule of the project, following pagination.
    pub async fn list_dispatch_rules(
        &self,
    ) -> Result<Vec<proto::SipDispatchRuleInfo>, LiveKitError> {
        paged(
            |r: &proto::SipDispatchRuleInfo| r.sip_dispatch_rule_id.clone(),
            |page| async move {
                let req = proto::ListSipDispatchRuleRequest {
                    page: Some(page),
                    dispatch_rule_ids: vec![],
                    trunk_ids: vec![],
                };
                let resp: proto::ListSipDispatchRuleResponse =
                    self.call("ListSIPDispatchRule", Self::ADMIN, &req).await?;
                Ok(resp.items)
            },
        )
        .await
    }
}
