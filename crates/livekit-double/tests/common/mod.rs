//! A deliberately tiny HTTP/1.1 client over a raw TcpStream (so tests can send anything,
//! including what a polite client never would) and LiveKit token minting.
#![allow(dead_code)] // each test file uses a different subset

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use livekit_double::LiveKitDouble;
use livekit_protocol::{
    CreateSipOutboundTrunkRequest, ListSipOutboundTrunkRequest, ListSipOutboundTrunkResponse,
    SipOutboundTrunkInfo,
};
use prost::Message;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const KEY: &str = "APIdouble";
pub const SECRET: &str = "double-secret-that-is-long-enough";

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// A Twirp error: status, `code`, `msg`.
    pub fn twirp(&self) -> (u16, String, String) {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.text()
        );
        let j = self.json();
        (
            self.status,
            j["code"].as_str().unwrap_or_default().into(),
            j["msg"].as_str().unwrap_or_default().into(),
        )
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole answer.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut s = TcpStream::connect(addr).await?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let framed = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !framed("content-length") && !framed("transfer-encoding") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    Ok(parse(&raw))
}

fn parse(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let (mut out, mut rest) = (Vec::new(), body.as_slice());
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 4 + size..];
        }
        body = out;
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs `claims` with HS256 (or `alg`) and `secret`.
pub fn sign_with(alg: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Claims a LiveKit server SDK would mint, with the given top-level grants merged in.
pub fn claims(grants: Value) -> Value {
    let mut c = json!({"iss": KEY, "sub": "tester", "nbf": now() - 5, "exp": now() + 600});
    if let (Some(c), Some(g)) = (c.as_object_mut(), grants.as_object()) {
        c.extend(g.clone());
    }
    c
}

pub fn admin_token() -> String {
    sign_with(
        Algorithm::HS256,
        SECRET,
        &claims(json!({"sip": {"admin": true}})),
    )
}

pub async fn start() -> LiveKitDouble {
    LiveKitDouble::start(KEY, SECRET).await
}

pub fn path(method: &str) -> String {
    format!("/twirp/livekit.SIP/{method}")
}

/// A protobuf call with the given bearer token (none when `None`).
pub async fn call_raw<Req: Message>(
    lk: &LiveKitDouble,
    method: &str,
    token: Option<&str>,
    req: &Req,
) -> HttpResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/protobuf")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    send(
        lk.addr(),
        "POST",
        &path(method),
        &headers,
        &req.encode_to_vec(),
    )
    .await
    .expect("request")
}

/// A protobuf call with an admin token: the decoded answer, or the Twirp error.
pub async fn call<Req: Message, Resp: Message + Default>(
    lk: &LiveKitDouble,
    method: &str,
    req: &Req,
) -> Result<Resp, (u16, String, String)> {
    let r = call_raw(lk, method, Some(&admin_token()), req).await;
    if r.status == 200 {
        assert_eq!(r.header("content-type"), Some("application/protobuf"));
        Ok(Resp::decode(r.body.as_slice()).expect("protobuf answer"))
    } else {
        Err(r.twirp())
    }
}

pub fn invalid(msg: &str) -> (u16, String, String) {
    (400, "invalid_argument".into(), msg.into())
}

/// A typical trunk; `address` and `numbers` vary per test.
pub fn trunk(address: &str, numbers: &[&str]) -> SipOutboundTrunkInfo {
    SipOutboundTrunkInfo {
        name: "carrier".into(),
        address: address.into(),
        numbers: numbers.iter().map(|n| n.to_string()).collect(),
        auth_username: "user".into(),
        auth_password: "pass".into(),
        ..Default::default()
    }
}

/// CreateSIPOutboundTrunk with an admin token.
pub async fn create(
    lk: &LiveKitDouble,
    t: SipOutboundTrunkInfo,
) -> Result<SipOutboundTrunkInfo, (u16, String, String)> {
    call(
        lk,
        "CreateSIPOutboundTrunk",
        &CreateSipOutboundTrunkRequest { trunk: Some(t) },
    )
    .await
}

/// ListSIPOutboundTrunk with an admin token: the ids answered, in order.
pub async fn list(lk: &LiveKitDouble, req: ListSipOutboundTrunkRequest) -> Vec<String> {
    let r: ListSipOutboundTrunkResponse = call(lk, "ListSIPOutboundTrunk", &req).await.unwrap();
    r.items.into_iter().map(|t| t.sip_trunk_id).collect()
}

/// A JSON call with an admin token; the raw answer.
pub async fn call_json(lk: &LiveKitDouble, method: &str, body: &str) -> HttpResponse {
    let auth = format!("Bearer {}", admin_token());
    let headers = [
        ("Content-Type", "application/json"),
        ("Authorization", auth.as_str()),
    ];
    send(lk.addr(), "POST", &path(method), &headers, body.as_bytes())
        .await
        .expect("request")
}

/// A token with exactly these grants (plus the usual registered claims).
pub fn token(grants: Value) -> String {
    sign_with(Algorithm::HS256, SECRET, &claims(grants))
}

/// `sip.call` plus room admin of `room` (what TransferSIPParticipant needs).
pub fn call_token(room: &str) -> String {
    token(json!({"sip": {"call": true}, "video": {"roomAdmin": true, "room": room}}))
}

/// A protobuf call to any Twirp service with the given token: the decoded answer or the
/// whole error JSON (status, code, msg, meta).
pub async fn twirp<Req: Message, Resp: Message + Default>(
    lk: &LiveKitDouble,
    service: &str,
    method: &str,
    token: &str,
    req: &Req,
) -> Result<Resp, TwirpErr> {
    let auth = format!("Bearer {token}");
    let headers = [
        ("Content-Type", "application/protobuf"),
        ("Authorization", auth.as_str()),
    ];
    let path = format!("/twirp/{service}/{method}");
    let r = send(lk.addr(), "POST", &path, &headers, &req.encode_to_vec())
        .await
        .expect("request");
    if r.status == 200 {
        Ok(Resp::decode(r.body.as_slice()).expect("protobuf answer"))
    } else {
        let j = r.json();
        Err(TwirpErr {
            status: r.status,
            code: j["code"].as_str().unwrap_or_default().into(),
            msg: j["msg"].as_str().unwrap_or_default().into(),
            meta: j["meta"].clone(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct TwirpErr {
    pub status: u16,
    pub code: String,
    pub msg: String,
    pub meta: Value,
}

impl TwirpErr {
    pub fn parts(&self) -> (u16, &str, &str) {
        (self.status, &self.code, &self.msg)
    }
}
