//! One request through LiveKit's HTTP stack, in the server's order (livekit/livekit
//! `pkg/service/server.go`): body limit, API-key middleware, the mux (one Twirp server per
//! service, each under its own `/twirp/<service>/` prefix), then the generated Twirp server
//! (method, path, Content-Type, decode) and finally the service method.

use crate::auth::{self, Grants};
use crate::twirp::{go_quote, Codec, TwirpError};
use crate::{
    agent_dispatch, room, room_move, sip, sip_dispatch, sip_inbound, sip_participant, sip_transfer,
};
use crate::{Outcome, RecordedRequest, Shared, State as DoubleState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use livekit_protocol as proto;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// `limit.max_api_request_body_size` default (`pkg/config/config.go`): 10 MiB.
pub(crate) const MAX_BODY: usize = 10 << 20;

/// Every method the generated `livekit.SIP` server routes (`livekit_sip.twirp.go`).
const SIP_METHODS: &[&str] = &[
    "ListSIPTrunk",
    "CreateSIPInboundTrunk",
    "CreateSIPOutboundTrunk",
    "UpdateSIPInboundTrunk",
    "UpdateSIPOutboundTrunk",
    "GetSIPInboundTrunk",
    "GetSIPOutboundTrunk",
    "ListSIPInboundTrunk",
    "ListSIPOutboundTrunk",
    "DeleteSIPTrunk",
    "CreateSIPDispatchRule",
    "UpdateSIPDispatchRule",
    "ListSIPDispatchRule",
    "DeleteSIPDispatchRule",
    "CreateSIPParticipant",
    "TransferSIPParticipant",
];

/// `livekit_room.twirp.go`.
const ROOM_METHODS: &[&str] = &[
    "CreateRoom",
    "ListRooms",
    "DeleteRoom",
    "ListParticipants",
    "GetParticipant",
    "RemoveParticipant",
    "MutePublishedTrack",
    "UpdateParticipant",
    "UpdateSubscriptions",
    "SendData",
    "UpdateRoomMetadata",
    "ForwardParticipant",
    "MoveParticipant",
    "PerformRpc",
];

/// `livekit_agent_dispatch.twirp.go`.
const DISPATCH_METHODS: &[&str] = &["CreateDispatch", "DeleteDispatch", "ListDispatch"];

/// The Twirp servers `server.go` registers that the double serves.
const SERVICES: &[(&str, &[&str])] = &[
    ("livekit.SIP", SIP_METHODS),
    ("livekit.RoomService", ROOM_METHODS),
    ("livekit.AgentDispatchService", DISPATCH_METHODS),
];

/// The service whose mux prefix (`/twirp/<service>/`) `path` is under, with that prefix.
fn service_of(path: &str) -> Option<(&'static str, String)> {
    SERVICES.iter().find_map(|(name, _)| {
        let prefix = format!("/twirp/{name}/");
        path.starts_with(&prefix).then_some((*name, prefix))
    })
}

/// How a request ended, before it becomes a response.
enum Reply {
    Ok(Response),
    Twirp(TwirpError),
    /// `HandleError`: plain text, Content-Type sniffed by Go as text/plain.
    Plain(u16, String),
}

impl Reply {
    fn into_parts(self) -> (Response, u16, Outcome) {
        match self {
            Reply::Ok(r) => {
                let status = r.status().as_u16();
                (r, status, Outcome::Ok)
            }
            Reply::Twirp(e) => {
                let status = e.status();
                let outcome = Outcome::Twirp {
                    code: e.code.clone(),
                    msg: e.msg.clone(),
                };
                (e.into_response(), status, outcome)
            }
            Reply::Plain(status, body) => {
                let code =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let outcome = Outcome::Http {
                    status,
                    body: body.clone(),
                };
                let resp = (
                    code,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    body,
                )
                    .into_response();
                (resp, status, outcome)
            }
        }
    }
}

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = request_path(parts.uri.path());
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut grants = None;
    let reply = pipeline(&shared, &parts, &path, &content_type, body, &mut grants).await;
    let (response, status, outcome) = reply.into_parts();
    let (service, method) = match service_of(&path) {
        Some((service, prefix)) => (service.to_owned(), path[prefix.len()..].to_owned()),
        None => (String::new(), String::new()),
    };
    shared.record(RecordedRequest {
        http_method: parts.method.to_string(),
        path,
        method,
        service,
        content_type,
        grants,
        status,
        outcome,
    });
    // The request has taken effect; only the answer is held back, like a slow network.
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    response
}

/// `r.URL.Path` (percent-decoded) after `RemoveDoubleSlashes`.
fn request_path(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], auth::escaped_byte(bytes, i)) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    let path = String::from_utf8_lossy(&out).into_owned();
    match path.strip_prefix('/') {
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => path,
    }
}

async fn pipeline(
    shared: &Arc<Shared>,
    parts: &axum::http::request::Parts,
    path: &str,
    content_type: &str,
    body: Body,
    grants_out: &mut Option<Grants>,
) -> Reply {
    // `RequestBodyLimiter`: a declared length over the limit is refused before auth.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Reply::Plain(413, "request body too large".into());
    }
    let grants = match auth::authenticate(
        &parts.headers,
        parts.uri.query(),
        &shared.api_key,
        &shared.api_secret,
    ) {
        Ok(g) => g,
        Err(msg) => return Reply::Plain(401, msg),
    };
    grants_out.clone_from(&grants);

    // The mux: each Twirp server owns its prefix (a path missing only the trailing slash is
    // redirected); "/" is the health check; the rest is 404.
    if let Some((name, _)) = SERVICES
        .iter()
        .find(|(name, _)| path == format!("/twirp/{name}"))
    {
        let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
        if let Ok(v) = header::HeaderValue::from_str(&format!("/twirp/{name}/")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Reply::Ok(r);
    }
    let Some((server, _)) = service_of(path) else {
        return if path == "/" {
            Reply::Ok((StatusCode::OK, "OK").into_response())
        } else {
            Reply::Plain(404, "404 page not found\n".into())
        };
    };
    let methods = SERVICES
        .iter()
        .find(|(name, _)| *name == server)
        .map(|(_, m)| *m)
        .unwrap_or_default();

    let http_method = parts.method.as_str();
    if parts.method != Method::POST {
        let msg = format!(
            "unsupported method {} (only POST is allowed)",
            go_quote(http_method)
        );
        return Reply::Twirp(TwirpError::bad_route(msg, http_method, path));
    }
    // `parseTwirpPath`: [<prefix>]/<package>.<Service>/<Method>.
    let segments: Vec<&str> = path.split('/').collect();
    let method = segments[segments.len() - 1];
    let service = segments[segments.len() - 2];
    let prefix = segments[..segments.len() - 2].join("/");
    let no_handler = || {
        TwirpError::bad_route(
            format!("no handler for path {}", go_quote(path)),
            http_method,
            path,
        )
    };
    if service != server {
        return Reply::Twirp(no_handler());
    }
    if prefix != "/twirp" {
        let msg = format!(
            "invalid path prefix {}, expected \"/twirp\", on path {}",
            go_quote(&prefix),
            go_quote(path)
        );
        return Reply::Twirp(TwirpError::bad_route(msg, http_method, path));
    }
    if !methods.contains(&method) {
        return Reply::Twirp(no_handler());
    }
    let Some(codec) = Codec::from_content_type(content_type) else {
        let msg = format!("unexpected Content-Type: {}", go_quote(content_type));
        return Reply::Twirp(TwirpError::bad_route(msg, http_method, path));
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return Reply::Twirp(TwirpError::malformed(codec.unreadable_body_msg())),
    };
    let result = if server == "livekit.SIP" && method == "CreateSIPParticipant" {
        sip_participant::create(shared, codec, &body, grants.as_ref()).await
    } else {
        dispatch(shared, server, method, codec, &body, grants.as_ref())
    };
    match result {
        Ok(r) => Reply::Ok(r),
        Err(e) => Reply::Twirp(e),
    }
}

/// Decode, then the injected failure if any, then the service method under the state lock.
fn rpc<Req, Resp>(
    shared: &Shared,
    codec: Codec,
    body: &[u8],
    handler: impl FnOnce(&mut DoubleState, Req) -> Result<Resp, TwirpError>,
) -> Result<Response, TwirpError>
where
    Req: prost::Message + Default + DeserializeOwned,
    Resp: prost::Message + Serialize,
{
    let req: Req = codec.decode(body)?;
    let mut state = shared.lock();
    if let Some(e) = state.fail_next.take() {
        return Err(e);
    }
    let resp = handler(&mut state, req)?;
    drop(state);
    Ok(codec.encode(&resp))
}

/// Methods the double routes and decodes like the real server but does not implement.
fn unimplemented<Req>(
    shared: &Shared,
    codec: Codec,
    body: &[u8],
    method: &str,
) -> Result<Response, TwirpError>
where
    Req: prost::Message + Default + DeserializeOwned,
{
    let msg = format!("livekit-double does not implement {method}");
    rpc::<Req, proto::SipTrunkInfo>(shared, codec, body, |_, _| {
        Err(TwirpError::new("unimplemented", msg))
    })
}

fn dispatch(
    shared: &Shared,
    server: &str,
    method: &str,
    codec: Codec,
    body: &[u8],
    g: Option<&Grants>,
) -> Result<Response, TwirpError> {
    match server {
        "livekit.RoomService" => return room_dispatch(shared, method, codec, body, g),
        "livekit.AgentDispatchService" => {
            return match method {
                "CreateDispatch" => {
                    rpc(shared, codec, body, |s, r| agent_dispatch::create(s, g, r))
                }
                "DeleteDispatch" => {
                    rpc(shared, codec, body, |s, r| agent_dispatch::delete(s, g, r))
                }
                _ => rpc(shared, codec, body, |s, r| agent_dispatch::list(s, g, r)),
            }
        }
        _ => {}
    }
    use proto::*;
    match method {
        "CreateSIPOutboundTrunk" => {
            rpc(shared, codec, body, |s, r| sip::create(&mut s.store, g, r))
        }
        "UpdateSIPOutboundTrunk" => rpc(shared, codec, body, |s, r| {
            sip::update(&mut s.store.outbound, g, r)
        }),
        "GetSIPOutboundTrunk" => rpc(shared, codec, body, |s, r| {
            sip::get(&s.store.outbound, g, r)
        }),
        "ListSIPOutboundTrunk" => rpc(shared, codec, body, |s, r| {
            sip::list(&s.store.outbound, g, r)
        }),
        "DeleteSIPTrunk" => rpc(shared, codec, body, |s, r| sip::delete(&mut s.store, g, r)),
        "CreateSIPInboundTrunk" => rpc(shared, codec, body, |s, r| {
            sip_inbound::create(&mut s.store, g, r)
        }),
        "UpdateSIPInboundTrunk" => rpc(shared, codec, body, |s, r| {
            sip_inbound::update(&mut s.store, g, r)
        }),
        "GetSIPInboundTrunk" => rpc(shared, codec, body, |s, r| sip_inbound::get(&s.store, g, r)),
        "ListSIPInboundTrunk" => rpc(shared, codec, body, |s, r| {
            sip_inbound::list(&s.store, g, r)
        }),
        "CreateSIPDispatchRule" => rpc(shared, codec, body, |s, r| {
            sip_dispatch::create(&mut s.store, g, r)
        }),
        "UpdateSIPDispatchRule" => rpc(shared, codec, body, |s, r| {
            sip_dispatch::update(&mut s.store, g, r)
        }),
        "ListSIPDispatchRule" => rpc(shared, codec, body, |s, r| {
            sip_dispatch::list(&s.store, g, r)
        }),
        "DeleteSIPDispatchRule" => rpc(shared, codec, body, |s, r| {
            sip_dispatch::delete(&mut s.store, g, r)
        }),
        "TransferSIPParticipant" => {
            rpc(shared, codec, body, |s, r| sip_transfer::transfer(s, g, r))
        }
        _ => unimplemented::<ListSipTrunkRequest>(shared, codec, body, method),
    }
}

fn room_dispatch(
    shared: &Shared,
    method: &str,
    codec: Codec,
    body: &[u8],
    g: Option<&Grants>,
) -> Result<Response, TwirpError> {
    use proto::*;
    match method {
        "CreateRoom" => rpc(shared, codec, body, |s, r| room::create(s, g, r)),
        "ListRooms" => rpc(shared, codec, body, |s, r| room::list(s, g, r)),
        "DeleteRoom" => rpc(shared, codec, body, |s, r| room::delete(s, g, r)),
        "ListParticipants" => rpc(shared, codec, body, |s, r| room::list_participants(s, g, r)),
        "GetParticipant" => rpc(shared, codec, body, |s, r| room::get_participant(s, g, r)),
        "RemoveParticipant" => rpc(shared, codec, body, |s, r| {
            room::remove_participant(s, g, r)
        }),
        "MutePublishedTrack" => unimplemented::<MuteRoomTrackRequest>(shared, codec, body, method),
        "UpdateParticipant" => {
            unimplemented::<UpdateParticipantRequest>(shared, codec, body, method)
        }
        "UpdateSubscriptions" => {
            unimplemented::<UpdateSubscriptionsRequest>(shared, codec, body, method)
        }
        "SendData" => unimplemented::<SendDataRequest>(shared, codec, body, method),
        "UpdateRoomMetadata" => rpc(shared, codec, body, |s, r| {
            room_move::update_metadata(s, g, r)
        }),
        "ForwardParticipant" => {
            unimplemented::<ForwardParticipantRequest>(shared, codec, body, method)
        }
        "MoveParticipant" => rpc(shared, codec, body, |s, r| {
            room_move::move_participant(s, g, r)
        }),
        _ => unimplemented::<PerformRpcRequest>(shared, codec, body, method),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            request_path("//twirp/livekit.SIP/X"),
            "/twirp/livekit.SIP/X"
        );
        assert_eq!(
            request_path("/twirp/livekit.SIP/Get%53IPOutboundTrunk"),
            "/twirp/livekit.SIP/GetSIPOutboundTrunk"
        );
        assert_eq!(request_path("/a%zz%+1%4"), "/a%zz%+1%4");
    }
}
