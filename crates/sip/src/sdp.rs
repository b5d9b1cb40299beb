//! The SDP subset a B2BUA needs (RFC 4566, offer/answer RFC 3264): each leg sees the relay's
//! address instead of the other leg's, and only what both Exotel and LiveKit carry survives
//! (PCMU, PCMA, telephone-event; Exotel accepts G.711 only). Everything else is kept verbatim.
//! Pure: no I/O, no panics on peer input.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Why an SDP body cannot be bridged. Every variant maps to 488 Not Acceptable Here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    Malformed(String),
    NoAudio,
    /// The audio stream offers none of PCMU/PCMA (the list of what it did offer, in short).
    NoSupportedCodec(String),
}

impl std::fmt::Display for SdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed SDP: {why}"),
            Self::NoAudio => f.write_str("the SDP has no audio stream"),
            Self::NoSupportedCodec(offered) => write!(
                f,
                "no PCMU or PCMA in the audio stream (offered: {offered}); Exotel carries G.711 only"
            ),
        }
    }
}

/// The media direction (RFC 4566 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: String,
    pub port: u16,
    /// Whatever followed the port (`/2` port counts included) up to the formats.
    pub proto: String,
    pub formats: Vec<String>,
    /// The lines after `m=`, verbatim without their line ending.
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    /// Session-level lines (`v=` first), verbatim.
    pub session: Vec<String>,
    pub media: Vec<Media>,
}

const MAX_SDP: usize = 16 * 1024;

/// Attributes that describe the peer's own transport and cannot survive the relay.
const DROPPED_ATTRS: &[&str] = &[
    "a=rtcp:",
    "a=candidate:",
    "a=ice-",
    "a=end-of-candidates",
    "a=remote-candidates",
];

impl Sdp {
    pub fn parse(body: &[u8]) -> Result<Self, SdpError> {
        if body.len() > MAX_SDP {
            return Err(SdpError::Malformed("over 16 KiB".into()));
        }
        let text =
            std::str::from_utf8(body).map_err(|_| SdpError::Malformed("not UTF-8".into()))?;
        let mut sdp = Sdp {
            session: vec![],
            media: vec![],
        };
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.is_empty() {
                continue;
            }
            let b = line.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
                return Err(SdpError::Malformed(format!(
                    "line {} is not `x=value`",
                    i + 1
                )));
            }
            if i == 0 && line != "v=0" {
                return Err(SdpError::Malformed("it does not start with v=0".into()));
            }
            if let Some(m) = line.strip_prefix("m=") {
                sdp.media.push(parse_m(m)?);
            } else if let Some(m) = sdp.media.last_mut() {
                m.lines.push(line.to_owned());
            } else {
                sdp.session.push(line.to_owned());
            }
        }
        if sdp.session.first().map(String::as_str) != Some("v=0") {
            return Err(SdpError::Malformed("it does not start with v=0".into()));
        }
        for m in &sdp.media {
            let c = m.connection().or_else(|| connection_of(&sdp.session));
            match c {
                None => {
                    return Err(SdpError::Malformed(format!(
                        "the {} stream has no c= line",
                        m.kind
                    )))
                }
                Some(Err(why)) => return Err(SdpError::Malformed(why)),
                Some(Ok(_)) => {}
            }
        }
        Ok(sdp)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        for l in &self.session {
            out.push_str(l);
            out.push_str("\r\n");
        }
        for m in &self.media {
            out.push_str(&format!("m={} {} {}", m.kind, m.port, m.proto));
            for f in &m.formats {
                out.push(' ');
                out.push_str(f);
            }
            out.push_str("\r\n");
            for l in &m.lines {
                out.push_str(l);
                out.push_str("\r\n");
            }
        }
        out.into_bytes()
    }

    /// The first audio stream with a non-zero port.
    fn audio_index(&self) -> Option<usize> {
        self.media
            .iter()
            .position(|m| m.kind == "audio" && m.port != 0)
    }

    /// Where the peer wants to receive audio (`None` without audio, or on hold with
    /// c=0.0.0.0, RFC 3264 §8.4's old-style hold).
    pub fn audio_endpoint(&self) -> Option<SocketAddr> {
        let m = &self.media[self.audio_index()?];
        let ip = match m.connection().or_else(|| connection_of(&self.session))? {
            Ok(ip) => ip,
            Err(_) => return None,
        };
        (!ip.is_unspecified()).then_some(SocketAddr::new(ip, m.port))
    }

    /// The audio direction: the media-level attribute, else the session-level one.
    pub fn direction(&self) -> Direction {
        let find = |lines: &[String]| {
            lines.iter().find_map(|l| match l.as_str() {
                "a=sendrecv" => Some(Direction::SendRecv),
                "a=sendonly" => Some(Direction::SendOnly),
                "a=recvonly" => Some(Direction::RecvOnly),
                "a=inactive" => Some(Direction::Inactive),
                _ => None,
            })
        };
        self.audio_index()
            .and_then(|i| find(&self.media[i].lines))
            .or_else(|| find(&self.session))
            .unwrap_or(Direction::SendRecv)
    }

    /// Hold: `a=sendonly`/`a=inactive` (RFC 3264 §8.4), or the old c=0.0.0.0 (RFC 2543).
    pub fn is_hold(&self) -> bool {
        if matches!(self.direction(), Direction::SendOnly | Direction::Inactive) {
            return true;
        }
        match self.audio_index() {
            Some(i) => matches!(
                self.media[i].connection().or_else(|| connection_of(&self.session)),
                Some(Ok(ip)) if ip.is_unspecified()
            ),
            None => false,
        }
    }

    /// Keeps PCMU (0), PCMA (8) and telephone-event/8000 in the first audio stream, with
    /// their rtpmap/fmtp lines; other streams (and further audio) get port 0, which declines
    /// them without changing the m= line count (RFC 3264 §6).
    pub fn keep_g711(&mut self) -> Result<(), SdpError> {
        let i = self.audio_index().ok_or(SdpError::NoAudio)?;
        for (j, m) in self.media.iter_mut().enumerate() {
            if j != i {
                m.port = 0;
            }
        }
        let m = &mut self.media[i];
        let mut keep = vec![];
        for f in &m.formats {
            let codec = m.rtpmap(f).map(|c| c.to_ascii_lowercase());
            let ok = match codec.as_deref() {
                Some(c) => {
                    c.starts_with("pcmu/8000")
                        || c.starts_with("pcma/8000")
                        || c.starts_with("telephone-event/8000")
                }
                // Static payload types (RFC 3551 §6) may come without rtpmap.
                None => f == "0" || f == "8",
            };
            if ok {
                keep.push(f.clone());
            }
        }
        let has_g711 = keep.iter().any(|f| {
            let c = m.rtpmap(f).map(|c| c.to_ascii_lowercase());
            match c {
                Some(c) => c.starts_with("pcmu/") || c.starts_with("pcma/"),
                None => true,
            }
        });
        if !has_g711 {
            let offered: String = m.formats.join(" ").chars().take(60).collect();
            return Err(SdpError::NoSupportedCodec(offered));
        }
        m.lines.retain(|l| {
            let pt = l
                .strip_prefix("a=rtpmap:")
                .or_else(|| l.strip_prefix("a=fmtp:"))
                .and_then(|r| r.split_whitespace().next());
            match pt {
                Some(pt) => keep.iter().any(|k| k == pt),
                None => true,
            }
        });
        m.formats = keep;
        Ok(())
    }

    /// Points the audio stream at `addr` (the relay's side facing the reader of this SDP):
    /// `o=` and every `c=` get its IP, the audio `m=` its port. A c=0.0.0.0 hold stays a hold.
    /// Transport attributes of the original peer (rtcp, ICE) are dropped.
    pub fn rewrite(&mut self, addr: SocketAddr) -> Result<(), SdpError> {
        let i = self.audio_index().ok_or(SdpError::NoAudio)?;
        let (ip, family) = match addr.ip() {
            IpAddr::V4(v4) => (v4.to_string(), "IP4"),
            IpAddr::V6(v6) => (v6.to_string(), "IP6"),
        };
        let set_c = |l: &mut String| {
            if l.starts_with("c=") && !is_zero_c(l) {
                *l = format!("c=IN {family} {ip}");
            }
        };
        for l in self.session.iter_mut() {
            set_c(l);
            if let Some(o) = l.strip_prefix("o=") {
                let mut f: Vec<&str> = o.split(' ').collect();
                if f.len() == 6 {
                    f[4] = family;
                    f[5] = &ip;
                    *l = format!("o={}", f.join(" "));
                }
            }
        }
        for m in self.media.iter_mut() {
            m.lines.iter_mut().for_each(set_c);
            m.lines
                .retain(|l| !DROPPED_ATTRS.iter().any(|d| l.starts_with(d)));
        }
        self.media[i].port = addr.port();
        Ok(())
    }
}

fn is_zero_c(l: &str) -> bool {
    l.split_whitespace()
        .nth(2)
        .is_some_and(|a| a.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified()))
}

fn parse_m(m: &str) -> Result<Media, SdpError> {
    let mut f = m.split_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (f.next(), f.next(), f.next()) else {
        return Err(SdpError::Malformed(format!(
            "m={} has too few fields",
            short(m)
        )));
    };
    let port_only = port.split('/').next().unwrap_or("");
    let port: u16 = port_only
        .parse()
        .map_err(|_| SdpError::Malformed(format!("m= port {:?} is not a port", short(port))))?;
    Ok(Media {
        kind: kind.to_owned(),
        port,
        proto: proto.to_owned(),
        formats: f.map(str::to_owned).collect(),
        lines: vec![],
    })
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The address of the first `c=` among `lines`.
fn connection_of(lines: &[String]) -> Option<Result<IpAddr, String>> {
    let l = lines.iter().find(|l| l.starts_with("c="))?;
    let f: Vec<&str> = l[2..].split_whitespace().collect();
    if f.len() != 3 || f[0] != "IN" || !(f[1] == "IP4" || f[1] == "IP6") {
        return Some(Err(format!("{:?} is not `c=IN IP4|IP6 address`", short(l))));
    }
    // Multicast TTL/count suffixes are not something a trunk sends; refuse rather than guess.
    Some(match f[2].parse::<IpAddr>() {
        Ok(ip) => Ok(ip),
        Err(_) => Err(format!(
            "connection address {:?} is not an IP address",
            short(f[2])
        )),
    })
}

impl Media {
    fn connection(&self) -> Option<Result<IpAddr, String>> {
        connection_of(&self.lines)
    }

    /// The encoding of payload type `pt` (`PCMU/8000`), from its `a=rtpmap`.
    pub fn rtpmap(&self, pt: &str) -> Option<&str> {
        self.lines.iter().find_map(|l| {
            let rest = l.strip_prefix("a=rtpmap:")?;
            let (p, enc) = rest.split_once(' ')?;
            (p == pt).then(|| enc.trim())
        })
    }
}

/// The unspecified IPv4 address, for tests and hold offers.
pub const HOLD_IP: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

#[cfg(test)]
mod tests {
    use super::*;

    pub const OFFER: &str = "v=0\r\n\
        o=- 1 2 IN IP4 10.0.0.5\r\n\
        s=LiveKit\r\n\
        c=IN IP4 10.0.0.5\r\n\
        t=0 0\r\n\
        m=audio 20000 RTP/AVP 111 0 8 9 101\r\n\
        a=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 useinbandfec=1\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:9 G722/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\n\
        a=rtcp:20001\r\n\
        a=ptime:20\r\n\
        a=sendrecv\r\n";

    fn relay() -> SocketAddr {
        "203.0.113.7:41000".parse().unwrap()
    }

    #[test]
    fn an_offer_is_filtered_and_rewritten() {
        let mut sdp = Sdp::parse(OFFER.as_bytes()).unwrap();
        assert_eq!(
            sdp.audio_endpoint(),
            Some("10.0.0.5:20000".parse().unwrap())
        );
        assert!(!sdp.is_hold());
        sdp.keep_g711().unwrap();
        sdp.rewrite(relay()).unwrap();
        let text = String::from_utf8(sdp.to_bytes()).unwrap();
        assert_eq!(
            text,
            "v=0\r\no=- 1 2 IN IP4 203.0.113.7\r\ns=LiveKit\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
             m=audio 41000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        // The printed form parses back to the same thing.
        assert_eq!(Sdp::parse(text.as_bytes()).unwrap(), sdp);
        assert_eq!(sdp.audio_endpoint(), Some(relay()));
    }

    #[test]
    fn codec_table() {
        let with = |m: &str, attrs: &str| {
            format!("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm={m}\r\n{attrs}")
        };
        for (sdp, want) in [
            // Static types without rtpmap are enough.
            (with("audio 4000 RTP/AVP 0", ""), Ok(vec!["0"])),
            (with("audio 4000 RTP/AVP 18 8", ""), Ok(vec!["8"])),
            // A dynamic PCMU is kept by its rtpmap.
            (
                with("audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/8000\r\n"),
                Ok(vec!["96"]),
            ),
            // telephone-event alone does not carry a voice.
            (
                with(
                    "audio 4000 RTP/AVP 101",
                    "a=rtpmap:101 telephone-event/8000\r\n",
                ),
                Err(SdpError::NoSupportedCodec("101".into())),
            ),
            (
                with("audio 4000 RTP/AVP 111", "a=rtpmap:111 opus/48000/2\r\n"),
                Err(SdpError::NoSupportedCodec("111".into())),
            ),
            (with("video 4000 RTP/AVP 96", ""), Err(SdpError::NoAudio)),
            (with("audio 0 RTP/AVP 0", ""), Err(SdpError::NoAudio)),
        ] {
            let mut parsed = Sdp::parse(sdp.as_bytes()).unwrap();
            let got = parsed.keep_g711().map(|()| parsed.media[0].formats.clone());
            let want = want.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(got, want, "{sdp}");
        }
    }

    #[test]
    fn other_streams_are_declined_with_port_zero() {
        let text = format!("{OFFER}m=video 30000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n");
        let mut sdp = Sdp::parse(text.as_bytes()).unwrap();
        sdp.keep_g711().unwrap();
        assert_eq!(sdp.media.len(), 2);
        assert_eq!(sdp.media[1].port, 0);
    }

    #[test]
    fn hold_table() {
        let base = |c: &str, attr: &str| {
            format!("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n{c}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n{attr}")
        };
        for (sdp, hold, dir) in [
            (base("c=IN IP4 1.2.3.4", ""), false, Direction::SendRecv),
            (
                base("c=IN IP4 1.2.3.4", "a=sendonly\r\n"),
                true,
                Direction::SendOnly,
            ),
            (
                base("c=IN IP4 1.2.3.4", "a=inactive\r\n"),
                true,
                Direction::Inactive,
            ),
            (
                base("c=IN IP4 1.2.3.4", "a=recvonly\r\n"),
                false,
                Direction::RecvOnly,
            ),
            (base("c=IN IP4 0.0.0.0", ""), true, Direction::SendRecv),
        ] {
            let parsed = Sdp::parse(sdp.as_bytes()).unwrap();
            assert_eq!((parsed.is_hold(), parsed.direction()), (hold, dir), "{sdp}");
        }
        // An old-style hold stays one through the rewrite, and has no endpoint.
        let mut held = Sdp::parse(base("c=IN IP4 0.0.0.0", "").as_bytes()).unwrap();
        assert_eq!(held.audio_endpoint(), None);
        held.rewrite(relay()).unwrap();
        assert!(held.is_hold());
        assert_eq!(held.media[0].port, 41000);
    }

    #[test]
    fn ipv6_rewrite_and_media_level_c() {
        let text = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n";
        let mut sdp = Sdp::parse(text.as_bytes()).unwrap();
        sdp.rewrite("[2001:db8::1]:5000".parse().unwrap()).unwrap();
        let out = String::from_utf8(sdp.to_bytes()).unwrap();
        assert!(out.contains("o=- 1 1 IN IP6 2001:db8::1\r\n"), "{out}");
        assert!(
            out.contains("m=audio 5000 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\n"),
            "{out}"
        );
    }

    #[test]
    fn malformed_sdp_is_an_error_never_a_panic() {
        for input in [
            &b""[..],
            b"\r\n",
            b"v=1\r\n",
            b"hello",
            b"v=0\r\nno equals\r\n",
            b"v=0\r\n=x\r\n",
            b"v=0\r\nm=audio\r\n",
            b"v=0\r\nm=audio 99999 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n",
            b"v=0\r\nm=audio x RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n",
            b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n",
            b"v=0\r\nc=IN IP4 nothost\r\nm=audio 4000 RTP/AVP 0\r\n",
            b"v=0\r\nc=IN\r\nm=audio 4000 RTP/AVP 0\r\n",
            b"v=0\r\nc=IN IP4 224.2.1.1/127\r\nm=audio 4000 RTP/AVP 0\r\n",
            &[b'v', b'=', b'0', b'\n', 0xff, 0xfe],
            "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\né".as_bytes(),
        ] {
            assert!(
                Sdp::parse(input).is_err(),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(Sdp::parse(&vec![b'a'; MAX_SDP + 1]).is_err());
        // Lenient where harmless: bare LF, and an SDP without media (nothing to rewrite).
        let bare = Sdp::parse(b"v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n").unwrap();
        assert_eq!(bare.audio_endpoint(), None);
        assert_eq!(bare.clone().keep_g711(), Err(SdpError::NoAudio));
        assert_eq!(bare.clone().rewrite(relay()), Err(SdpError::NoAudio));
        assert!(SdpError::NoSupportedCodec("111".into())
            .to_string()
            .contains("PCMU"));
    }
}
