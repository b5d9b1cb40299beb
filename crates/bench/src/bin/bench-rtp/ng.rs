//! rtpengine's ng control protocol, as Kamailio's rtpengine module speaks it: one UDP datagram
//! per request, `<cookie> <bencoded dictionary>`, answered by `<cookie> <bencoded dictionary>`
//! with the same cookie. `offer` takes the caller's SDP and returns the SDP to send the callee
//! (its `m=` port is where the callee must send); `answer` takes the callee's SDP and returns
//! the SDP for the caller; `delete` ends the call.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::bencode::Value;

pub struct NgClient {
    sock: UdpSocket,
    next_cookie: u64,
}

/// Attempts per request: the transport is UDP, so a request or its answer may be lost.
const ATTEMPTS: usize = 4;

impl NgClient {
    /// `wait`: how long an attempt waits for its answer.
    pub fn connect(server: SocketAddr, wait: Duration) -> std::io::Result<Self> {
        let sock = UdpSocket::bind(SocketAddr::new(server.ip(), 0))?;
        sock.connect(server)?;
        sock.set_read_timeout(Some(wait))?;
        Ok(Self {
            sock,
            next_cookie: 1,
        })
    }

    /// Sends `body` and returns the answer's dictionary once its `result` is not `error`.
    pub fn request(&mut self, body: &Value) -> Result<Value, String> {
        let cookie = format!("tl{}", self.next_cookie);
        self.next_cookie += 1;
        let mut datagram = format!("{cookie} ").into_bytes();
        body.encode(&mut datagram);
        let mut buf = vec![0u8; 65536];
        for _ in 0..ATTEMPTS {
            self.sock
                .send(&datagram)
                .map_err(|e| format!("ng send: {e}"))?;
            loop {
                let n = match self.sock.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break;
                    }
                    Err(e) => return Err(format!("ng recv: {e}")),
                };
                // An answer to an earlier, retried request carries an older cookie.
                let Some(rest) = buf[..n].strip_prefix(format!("{cookie} ").as_bytes()) else {
                    continue;
                };
                let answer = Value::decode(rest).map_err(|e| format!("ng answer: {e}"))?;
                let result = answer.get("result").and_then(Value::as_text);
                if result.as_deref() == Some("error") {
                    let why = answer.get("error-reason").and_then(Value::as_text);
                    return Err(format!("rtpengine: {}", why.unwrap_or_default()));
                }
                return Ok(answer);
            }
        }
        Err(format!("rtpengine did not answer {ATTEMPTS} attempts"))
    }

    pub fn ping(&mut self) -> Result<(), String> {
        let answer = self.request(&Value::dict([("command", Value::str("ping"))]))?;
        match answer.get("result").and_then(Value::as_text).as_deref() {
            Some("pong") => Ok(()),
            other => Err(format!("ping answered {other:?}")),
        }
    }

    /// The caller's SDP in, the SDP for the callee out.
    pub fn offer(&mut self, call_id: &str, from_tag: &str, sdp: &str) -> Result<String, String> {
        self.sdp_request(Value::dict([
            ("command", Value::str("offer")),
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(from_tag)),
            ("sdp", Value::str(sdp)),
        ]))
    }

    /// The callee's SDP in, the SDP for the caller out.
    pub fn answer(
        &mut self,
        call_id: &str,
        from_tag: &str,
        to_tag: &str,
        sdp: &str,
    ) -> Result<String, String> {
        self.sdp_request(Value::dict([
            ("command", Value::str("answer")),
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(from_tag)),
            ("to-tag", Value::str(to_tag)),
            ("sdp", Value::str(sdp)),
        ]))
    }

    pub fn delete(&mut self, call_id: &str, from_tag: &str) -> Result<(), String> {
        self.request(&Value::dict([
            ("command", Value::str("delete")),
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(from_tag)),
        ]))
        .map(drop)
    }

    fn sdp_request(&mut self, body: Value) -> Result<String, String> {
        let answer = self.request(&body)?;
        answer
            .get("sdp")
            .and_then(Value::as_text)
            .ok_or_else(|| "answer without sdp".to_owned())
    }
}

/// A G.711 µ-law audio SDP (RFC 4566) for an endpoint at `at`.
pub fn g711_sdp(at: SocketAddr, session: u64) -> String {
    let ip = at.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=- {session} 1 IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
        at.port()
    )
}

/// Where an SDP asks its audio to be sent: the session or media `c=` address and the audio
/// `m=` port.
pub fn audio_address(sdp: &str) -> Result<SocketAddr, String> {
    let mut ip = None;
    let mut port = None;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(c) = line.strip_prefix("c=IN ") {
            let addr = c.split_whitespace().nth(1).ok_or("c= without address")?;
            ip = Some(
                addr.parse()
                    .map_err(|_| format!("bad c= address {addr:?}"))?,
            );
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            let p = m.split_whitespace().next().unwrap_or_default();
            port = Some(p.parse().map_err(|_| format!("bad m= port {p:?}"))?);
        }
    }
    match (ip, port) {
        (Some(ip), Some(port)) => Ok(SocketAddr::new(ip, port)),
        _ => Err(format!("no c= or m=audio in {sdp:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_round_trip_gives_the_audio_address() {
        let at: SocketAddr = "127.0.0.1:30000".parse().unwrap();
        assert_eq!(audio_address(&g711_sdp(at, 7)), Ok(at));
        let v6: SocketAddr = "[::1]:4000".parse().unwrap();
        assert_eq!(audio_address(&g711_sdp(v6, 7)), Ok(v6));
        assert!(audio_address("v=0\r\nm=audio 4000 RTP/AVP 0\r\n").is_err());
    }
}
