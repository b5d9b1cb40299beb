//! The torture corpus, shared by the bridge's torture tests and bench/sip-parsers (which puts
//! every SIP parser considered through it): RFC 4475's messages as files, and a few thousand
//! deterministic mutations of them.
#![allow(dead_code)] // each user takes what it needs

use std::path::{Path, PathBuf};

/// Every message of RFC 4475, by the RFC's name, in the order of its sections.
pub const NAMES: &[&str] = &[
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
    "badinv01",
    "clerr",
    "ncl",
    "scalar02",
    "scalarlg",
    "quotbal",
    "ltgtruri",
    "lwsruri",
    "lwsstart",
    "trws",
    "escruri",
    "baddate",
    "regbadct",
    "badaspec",
    "baddn",
    "badvers",
    "mismatch01",
    "mismatch02",
    "bigcode",
    "badbranch",
    "insuf",
    "unkscm",
    "novelsc",
    "unksm2",
    "bext01",
    "invut",
    "regaut01",
    "multi01",
    "mcl01",
    "bcast",
    "zeromf",
    "cparam01",
    "cparam02",
    "regescrt",
    "sdp01",
    "inv2543",
];

/// `tests/torture` of the sip crate, from that crate's manifest directory.
pub fn dir(manifest: &str) -> PathBuf {
    [manifest, "tests", "torture"].iter().collect()
}

/// The bytes of message `name`, as sent.
pub fn message(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(format!("{name}.sip"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A deterministic generator (Knuth's MMIX LCG): the same mutations on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() % n.max(1)
    }
}

/// An INVITE with digest credentials (a forged nonce): its mutations reach the bridge's
/// digest code, not only the parser.
const WITH_CREDENTIALS: &str = "INVITE sip:+919876543210@bridge SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKcred1\r\nMax-Forwards: 70\r\n\
    From: \"LK\" <sip:+15550100@livekit>;tag=c1\r\nTo: <sip:+919876543210@bridge>\r\n\
    Call-ID: cred1\r\nCSeq: 2 INVITE\r\nContact: <sip:lk@127.0.0.1:9>\r\n\
    Authorization: Digest username=\"lk-user\", realm=\"trunkline\", nonce=\"65a0b1c2.00112233445566778899aabbccddeeff\", \
    uri=\"sip:+919876543210@bridge\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, \
    qop=auth, nc=00000001, cnonce=\"abc\"\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n";

/// Bytes that break SIP's grammar where they land.
const SPICY: &[u8] = b"\r\n \t:;,\"<>\\%/@=?[]\x00\xff0-";

/// For every torture message: truncations (bare, and closed with CRLF CRLF so the parser
/// reads on), and copies with one to four bytes replaced, deleted or doubled.
pub fn mutations(dir: &Path) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = NAMES.iter().map(|n| message(dir, n)).collect();
    seeds.push(WITH_CREDENTIALS.as_bytes().to_vec());
    let mut rng = Lcg(0x4475_5eed);
    let mut out = vec![];
    for seed in &seeds {
        for _ in 0..20 {
            let cut = rng.below(seed.len());
            out.push(seed[..cut].to_vec());
            let mut closed = seed[..cut].to_vec();
            closed.extend_from_slice(b"\r\n\r\n");
            out.push(closed);
        }
        for _ in 0..20 {
            let mut m = seed.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(m.len());
                match rng.below(4) {
                    0 => m[at] ^= 1 << rng.below(8),
                    1 => m[at] = SPICY[rng.below(SPICY.len())],
                    2 => {
                        m.remove(at);
                    }
                    _ => {
                        let end = (at + 1 + rng.below(16)).min(m.len());
                        let piece = m[at..end].to_vec();
                        m.splice(at..at, piece);
                    }
                }
                if m.is_empty() {
                    break;
                }
            }
            out.push(m);
        }
    }
    out
}
