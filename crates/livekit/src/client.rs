use crate::error::LiveKitError;
use crate::token::{sign, Grants, SipGrant};
use livekit_protocol as proto;
use prost::Message;
use std::collections::HashMap;
use std::time::Duration;

/// `LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`: LiveKit's own names.
#[derive(Clone)]
pub struct LiveKitConfig {
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
    /// Bound on each whole request; connect failures are reported at once regardless.
    pub timeout: Duration,
}

impl std::fmt::Debug for LiveKitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("api_secret", &"[redacted]")
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct LiveKitClient {
    http: reqwest::Client,
    base: String,
    config: LiveKitConfig,
}

/// LiveKit URLs are usually given as the WebSocket URL (`wss://project.livekit.cloud`); the
/// Twirp API lives on the same host over HTTP(S).
fn http_base(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_owned()
    }
}

impl LiveKitClient {
    pub fn new(config: LiveKitConfig) -> Self {
        // reqwest is built without a bundled crypto provider; use ring's (pure Rust + asm,
        // no C toolchain). Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3).min(config.timeout))
            .timeout(config.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client configuration is static");
        Self {
            http,
            base: http_base(&config.url),
            config,
        }
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// For verifying LiveKit's webhooks, which are signed with the same key pair.
    pub fn api_key(&self) -> &str {
        &self.config.api_key
    }

    pub fn api_secret(&self) -> &str {
        &self.config.api_secret
    }

    pub(crate) async fn call<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        grant: SipGrant,
        req: &Req,
    ) -> Result<Resp, LiveKitError> {
        self.rpc("livekit.SIP", method, grant.into(), req, None)
            .await
    }

    /// One Twirp call to `service`/`method` with a token carrying `grants`. `timeout`
    /// replaces the client's default for calls that legitimately wait (a call ringing).
    pub(crate) async fn rpc<Req: Message, Resp: Message + Default>(
        &self,
        service: &str,
        method: &str,
        grants: Grants,
        req: &Req,
        timeout: Option<Duration>,
    ) -> Result<Resp, LiveKitError> {
        let started = std::time::Instant::now();
        let result = self.rpc_once(service, method, grants, req, timeout).await;
        crate::metrics::rpc_done(method, started.elapsed(), &result);
        result
    }

    async fn rpc_once<Req: Message, Resp: Message + Default>(
        &self,
        service: &str,
        method: &str,
        grants: Grants,
        req: &Req,
        timeout: Option<Duration>,
    ) -> Result<Resp, LiveKitError> {
        let url = format!("{}/twirp/{service}/{method}", self.base);
        let token = sign(&self.config.api_key, &self.config.api_secret, grants);
        let mut builder = self
            .http
            .post(&url)
            .header("Content-Type", "application/protobuf")
            .header("Authorization", format!("Bearer {token}"))
            .body(req.encode_to_vec());
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        let sent = builder.send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(&e)),
        };
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp.bytes().await.map_err(|e| self.transport_error(&e))?;
        if status == 200 {
            return Resp::decode(body.as_ref()).map_err(|e| LiveKitError::BadResponse {
                url: self.config.url.clone(),
                detail: format!("{method}: undecodable protobuf ({e})"),
            });
        }
        Err(self.error_response(status, &content_type, &body))
    }

    /// A failure before any answer: a timeout, or anything else (refused connection, DNS,
    /// TLS, reset) reported with its innermost cause.
    fn transport_error(&self, e: &reqwest::Error) -> LiveKitError {
        if e.is_timeout() {
            LiveKitError::Timeout {
                url: self.config.url.clone(),
                secs: self.config.timeout.as_secs(),
            }
        } else {
            LiveKitError::Unreachable {
                url: self.config.url.clone(),
                detail: root_cause(e),
                request_sent: !e.is_connect(),
            }
        }
    }

    fn error_response(&self, status: u16, content_type: &str, body: &[u8]) -> LiveKitError {
        #[derive(serde::Deserialize)]
        struct TwirpError {
            code: String,
            #[serde(default)]
            msg: String,
            #[serde(default)]
            meta: HashMap<String, String>,
        }
        if content_type.starts_with("application/json") {
            if let Ok(e) = serde_json::from_slice::<TwirpError>(body) {
                return LiveKitError::Twirp {
                    status,
                    code: e.code,
                    msg: e.msg,
                    meta: e.meta,
                };
            }
        }
        let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
        let text = text.trim().to_owned();
        match status {
            401 => LiveKitError::Unauthorized { detail: text },
            // A proxy or load balancer in front of LiveKit saying it is not there.
            502..=504 => LiveKitError::Unreachable {
                url: self.config.url.clone(),
                detail: format!("HTTP {status}"),
                request_sent: true,
            },
            _ => LiveKitError::BadResponse {
                url: self.config.url.clone(),
                detail: format!("HTTP {status}: {text}"),
            },
        }
    }

    pub(crate) const ADMIN: SipGrant = SipGrant {
        admin: true,
        call: false,
    };

    pub async fn create_outbound_trunk(
        &self,
        trunk: proto::SipOutboundTrunkInfo,
    ) -> Result<proto::SipOutboundTrunkInfo, LiveKitError> {
        let req = proto::CreateSipOutboundTrunkRequest { trunk: Some(trunk) };
        self.call("CreateSIPOutboundTrunk", Self::ADMIN, &req).await
    }

    /// Replaces the whole trunk: trunkline holds the full desired state, so there is nothing
    /// for a partial update to preserve on LiveKit's side.
    pub async fn replace_outbound_trunk(
        &self,
        sip_trunk_id: &str,
        trunk: proto::SipOutboundTrunkInfo,
    ) -> Result<proto::SipOutboundTrunkInfo, LiveKitError> {
        let req = proto::UpdateSipOutboundTrunkRequest {
            sip_trunk_id: sip_trunk_id.to_owned(),
            action: Some(proto::update_sip_outbound_trunk_request::Action::Replace(
                trunk,
            )),
        };
        self.call("UpdateSIPOutboundTrunk", Self::ADMIN, &req).await
    }

    /// Deletes a trunk. LiveKit answers success for an id it does not know.
    pub async fn delete_trunk(&self, sip_trunk_id: &str) -> Result<(), LiveKitError> {
        let req = proto::DeleteSipTrunkRequest {
            sip_trunk_id: sip_trunk_id.to_owned(),
        };
        let _: proto::SipTrunkInfo = self.call("DeleteSIPTrunk", Self::ADMIN, &req).await?;
        Ok(())
    }

    /// Every outbound trunk of the project, following pagination.
    pub async fn list_outbound_trunks(
        &self,
    ) -> Result<Vec<proto::SipOutboundTrunkInfo>, LiveKitError> {
        const PAGE: i32 = 500;
        let mut all: Vec<proto::SipOutboundTrunkInfo> = Vec::new();
        let mut after = String::new();
        loop {
            let req = proto::ListSipOutboundTrunkRequest {
                page: Some(proto::Pagination {
                    after_id: after.clone(),
                    limit: PAGE,
                }),
                trunk_ids: vec![],
                numbers: vec![],
            };
            let resp: proto::ListSipOutboundTrunkResponse =
                self.call("ListSIPOutboundTrunk", Self::ADMIN, &req).await?;
            let n = resp.items.len();
            let last = resp.items.last().map(|t| t.sip_trunk_id.clone());
            all.extend(resp.items);
            // A server that ignores pagination returns everything at once (n > PAGE) or the
            // same page again (last id not beyond `after`): stop rather than loop forever.
            match last {
                Some(last) if n == PAGE as usize && last > after => after = last,
                _ => break,
            }
        }
        all.sort_by(|a, b| a.sip_trunk_id.cmp(&b.sip_trunk_id));
        all.dedup_by(|a, b| a.sip_trunk_id == b.sip_trunk_id);
        Ok(all)
    }

    /// A cheap authenticated round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), LiveKitError> {
        let req = proto::ListSipOutboundTrunkRequest {
            page: Some(proto::Pagination {
                after_id: String::new(),
                limit: 1,
            }),
            trunk_ids: vec![],
            numbers: vec![],
        };
        let _: proto::ListSipOutboundTrunkResponse =
            self.call("ListSIPOutboundTrunk", Self::ADMIN, &req).await?;
        Ok(())
    }
}

/// The innermost cause ("Connection refused (os error 111)"), which says more than reqwest's
/// outer "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_urls_map_to_http() {
        assert_eq!(
            http_base("wss://p.livekit.cloud/"),
            "https://p.livekit.cloud"
        );
        assert_eq!(http_base("ws://localhost:7880"), "http://localhost:7880");
        assert_eq!(http_base("http://127.0.0.1:7880"), "http://127.0.0.1:7880");
    }
}
