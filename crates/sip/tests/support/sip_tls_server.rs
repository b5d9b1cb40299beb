//! A SIP-over-TLS peer for the transport and probe tests: a tokio-rustls server on
//! 127.0.0.1:0 that frames SIP by Content-Length and answers OPTIONS with 200, or with a digest
//! challenge first (verified with the crate's own digest code); also a peer that accepts TCP and
//! never handshakes, a plain SIP/TCP port and a closed port.

use rustls::ServerConfig;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use trunkline_sip::digest::{self, Algorithm, Answer, Challenge};

pub const REALM: &str = "exotel.test";
pub const NONCE: &str = "a1b2c3d4e5";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cret-pw";

// --- the SIP-over-TLS server --------------------------------------------------------------

#[derive(Default)]
pub struct Seen {
    /// Every request received, as text.
    pub requests: Vec<String>,
    /// The SNI of every handshake (`None` when the client dialled an IP literal).
    pub sni: Vec<Option<String>>,
    pub handshake_errors: Vec<String>,
}

pub struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
}

/// A TLS server on 127.0.0.1:0 answering OPTIONS with 200, or with a 401 digest challenge
/// first when `challenge`.
pub async fn sip_tls_server(config: ServerConfig, challenge: bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&record);
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(s) => s,
                    Err(e) => {
                        seen.lock().unwrap().handshake_errors.push(e.to_string());
                        return;
                    }
                };
                let sni = tls.get_ref().1.server_name().map(str::to_owned);
                seen.lock().unwrap().sni.push(sni);
                let mut framer = Framer::default();
                let mut buf = vec![0u8; 8192];
                loop {
                    while let Some(request) = framer.next() {
                        seen.lock().unwrap().requests.push(request.clone());
                        let reply = answer(&request, challenge);
                        if tls.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                        let _ = tls.flush().await;
                    }
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => framer.buf.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    Server { addr, seen }
}

/// SIP over a stream, framed by Content-Length (RFC 3261 §18.3).
#[derive(Default)]
pub struct Framer {
    pub buf: Vec<u8>,
}

impl Framer {
    pub fn next(&mut self) -> Option<String> {
        let end = self.buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let length: usize = head
            .split("\r\n")
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                (name.trim().eq_ignore_ascii_case("content-length") || name.trim() == "l")
                    .then(|| value.trim().parse().ok())
                    .flatten()
            })
            .unwrap_or(0);
        if self.buf.len() < end + length {
            return None;
        }
        let message = String::from_utf8_lossy(&self.buf[..end + length]).into_owned();
        self.buf.drain(..end + length);
        Some(message)
    }
}

pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `k=v` / `k="v"` parameters of a Digest header (our probe quotes no commas).
pub fn digest_params(value: &str) -> Vec<(String, String)> {
    value
        .trim_start_matches("Digest")
        .split(',')
        .filter_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        })
        .collect()
}

/// Whether `authorization` answers our challenge for `method` with the right password.
pub fn digest_ok(authorization: &str, method: &str) -> bool {
    let params = digest_params(authorization);
    let get = |k: &str| {
        params
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    let (Some(user), Some(uri), Some(response), Some(cnonce), Some(nc)) = (
        get("username"),
        get("uri"),
        get("response"),
        get("cnonce"),
        get("nc"),
    ) else {
        return false;
    };
    let Ok(nc) = u32::from_str_radix(nc, 16) else {
        return false;
    };
    let challenge = Challenge {
        realm: REALM.into(),
        nonce: NONCE.into(),
        opaque: None,
        algorithm: Algorithm::Md5,
        qop_auth: true,
    };
    let expected = digest::response(
        &challenge,
        &Answer {
            username: USER,
            password: PASSWORD,
            method,
            uri,
            cnonce,
            nc,
        },
    );
    user == USER
        && get("realm") == Some(REALM)
        && get("nonce") == Some(NONCE)
        && response == expected
}

pub fn answer(request: &str, challenge: bool) -> String {
    let method = request.split(' ').next().unwrap_or("");
    let (status, extra) = match header(request, "Authorization") {
        _ if method != "OPTIONS" => ("501 Not Implemented", String::new()),
        None if challenge => (
            "401 Unauthorized",
            format!(
                "WWW-Authenticate: Digest realm=\"{REALM}\", nonce=\"{NONCE}\", algorithm=MD5, qop=\"auth\"\r\n"
            ),
        ),
        Some(auth) if !digest_ok(auth, method) => (
            "401 Unauthorized",
            format!(
                "WWW-Authenticate: Digest realm=\"{REALM}\", nonce=\"{NONCE}\", algorithm=MD5, qop=\"auth\"\r\n"
            ),
        ),
        _ => ("200 OK", String::new()),
    };
    let h = |name| header(request, name).unwrap_or("");
    format!(
        "SIP/2.0 {status}\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=tls-uas\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
        h("Via"),
        h("From"),
        h("To"),
        h("Call-ID"),
        h("CSeq"),
    )
}

/// Accepts TCP and then says nothing: a handshake that never completes.
pub async fn silent_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    (addr, task)
}

/// A plain SIP/TCP port (Exotel's 5070) dialled with TLS: it answers the ClientHello with a
/// SIP 400 and closes.
pub async fn plain_sip_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp
                .write_all(b"SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    addr
}

pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}
