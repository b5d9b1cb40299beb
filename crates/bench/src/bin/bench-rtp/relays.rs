//! The two relays under test, each a process of its own so that /proc gives each one's CPU
//! and memory alone: trunkline's (`bench-rtp relay`, driven over stdin/stdout) and rtpengine
//! (userspace forwarding, driven over its ng control protocol as Kamailio drives it).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use trunkline_sip::rtp::{RelayConfig, RtpRelay};

use crate::ng::{audio_address, g711_sdp, NgClient};

/// Where a call's two sides must send through a relay: `a` for side A's packets (relayed to
/// B), `b` for side B's.
#[derive(Debug, Clone, Copy)]
pub struct Legs {
    pub a: SocketAddr,
    pub b: SocketAddr,
}

// ---------------------------------------------------------------------------------------------
// trunkline's relay.

/// How trunkline's relay process relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosting {
    /// `RtpRelay::new` (0: one thread per core, as `trunkline bridge` runs it) or
    /// `RtpRelay::with_threads(n)`.
    Threads(usize),
    /// `RtpRelay::on_runtime` on the process's tokio runtime of this many workers.
    Runtime(usize),
}

impl Hosting {
    /// The relay process's own tokio runtime: the relay's when it hosts it, else one worker
    /// for the stdin commands.
    pub fn runtime_workers(self) -> usize {
        match self {
            Hosting::Threads(_) => 1,
            Hosting::Runtime(w) => w,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Hosting::Threads(0) => "its own threads, one per core".to_owned(),
            Hosting::Threads(n) => format!("{n} threads of its own"),
            Hosting::Runtime(w) => format!("a tokio runtime of {w} workers"),
        }
    }
}

/// The body of `bench-rtp relay`: reads `open N`, `peer I A B`, `sync`, `stats` lines on stdin.
pub async fn trunkline_process(ip: IpAddr, port_min: u16, port_max: u16, hosting: Hosting) {
    let config = RelayConfig {
        bind_ip: ip,
        port_min,
        port_max,
        rtp_timeout: Duration::from_secs(3600),
    };
    let relay = match hosting {
        Hosting::Threads(0) => RtpRelay::new(config),
        Hosting::Threads(n) => RtpRelay::with_threads(config, n),
        Hosting::Runtime(_) => RtpRelay::on_runtime(config, tokio::runtime::Handle::current()),
    };
    let mut sessions = Vec::new();
    let mut out = std::io::stdout().lock();
    // stdin is read on a thread of its own, so a current-thread runtime keeps relaying.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if tx.send(line.expect("stdin")).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["open", n] => {
                for i in 0..n.parse::<usize>().expect("count") {
                    let s = relay.open(&format!("bench-{i}")).await.expect("open");
                    writeln!(out, "{} {}", s.local_a(), s.local_b()).unwrap();
                    sessions.push(s);
                }
            }
            ["peer", i, a, b] => {
                let s = &sessions[i.parse::<usize>().expect("index")];
                s.set_peer_a(a.parse().expect("peer a"));
                s.set_peer_b(b.parse().expect("peer b"));
            }
            ["sync"] => writeln!(out, "ok").unwrap(),
            ["stats"] => {
                let (mut ab, mut ba, mut wrong, mut nopeer, mut other) = (0, 0, 0, 0, 0);
                for s in &sessions {
                    let st = s.stats();
                    ab += st.rtp_a_to_b.packets;
                    ba += st.rtp_b_to_a.packets;
                    wrong += st.dropped_wrong_source;
                    nopeer += st.dropped_no_peer;
                    other += st.dropped_other;
                }
                writeln!(out, "{ab} {ba} {wrong} {nopeer} {other} {}", relay.in_use()).unwrap();
            }
            _ => panic!("unknown command {line:?}"),
        }
        out.flush().unwrap();
    }
}

pub struct TrunklineRelay {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl TrunklineRelay {
    /// Starts `bench-rtp relay` (this executable), under callgrind when `callgrind` names
    /// its output directory.
    pub fn start(
        ip: IpAddr,
        port_min: u16,
        port_max: u16,
        hosting: Hosting,
        callgrind: Option<&Path>,
    ) -> Self {
        let (threads, on_runtime) = match hosting {
            Hosting::Threads(n) => (n, 0),
            Hosting::Runtime(w) => (0, w),
        };
        let exe = std::env::current_exe().expect("own path");
        let exe = exe.to_string_lossy();
        let mut child = match callgrind {
            Some(dir) => crate::callgrind::wrap(dir, &exe),
            None => Command::new(&*exe),
        }
        .args([
            "relay",
            "--ip",
            &ip.to_string(),
            "--port-min",
            &port_min.to_string(),
            "--port-max",
            &port_max.to_string(),
            "--threads",
            &threads.to_string(),
            "--on-runtime",
            &on_runtime.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the relay process");
        let mut relay = Self {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
        };
        relay.sync();
        relay
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("relay stdin open");
        writeln!(stdin, "{line}").expect("relay stdin");
    }

    fn line(&mut self) -> String {
        self.stdin.as_mut().unwrap().flush().expect("relay stdin");
        let mut s = String::new();
        self.stdout.read_line(&mut s).expect("relay stdout");
        assert!(!s.is_empty(), "the relay process exited");
        s.trim().to_owned()
    }

    fn sync(&mut self) {
        self.send("sync");
        assert_eq!(self.line(), "ok");
    }

    /// Opens one session per call, and gives it the call's two ends as negotiated peers.
    pub fn open(&mut self, peers: &[Legs]) -> Vec<Legs> {
        self.send(&format!("open {}", peers.len()));
        let mut legs = Vec::with_capacity(peers.len());
        for _ in peers {
            let line = self.line();
            let (a, b) = line.split_once(' ').expect("two addresses");
            legs.push(Legs {
                a: a.parse().unwrap(),
                b: b.parse().unwrap(),
            });
        }
        for (i, p) in peers.iter().enumerate() {
            self.send(&format!("peer {i} {} {}", p.a, p.b));
        }
        self.sync();
        legs
    }

    /// `a→b b→a wrong-source no-peer other sessions`, as the relay counted them.
    pub fn stats(&mut self) -> String {
        self.send("stats");
        self.line()
    }
}

impl Drop for TrunklineRelay {
    fn drop(&mut self) {
        // EOF on stdin ends the process.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// rtpengine.

pub struct RtpEngine {
    child: Child,
    ng: NgClient,
    calls: usize,
}

impl RtpEngine {
    /// Starts `bin` in the foreground, userspace only (`--table=-1`), without the packaged
    /// configuration file, and waits for it to answer a ping.
    pub fn start(
        bin: &str,
        ip: IpAddr,
        ng_port: u16,
        port_min: u16,
        port_max: u16,
        threads: usize,
        callgrind: Option<&Path>,
    ) -> Result<Self, String> {
        let ng_addr = SocketAddr::new(ip, ng_port);
        let mut cmd = match callgrind {
            Some(dir) => crate::callgrind::wrap(dir, bin),
            None => Command::new(bin),
        };
        cmd.args([
            "--config-file=none".to_owned(),
            "--foreground".to_owned(),
            "--table=-1".to_owned(),
            format!("--interface={ip}"),
            format!("--listen-ng={ng_addr}"),
            format!("--port-min={port_min}"),
            format!("--port-max={port_max}"),
            // Calls wait silent while the other relay is measured: no timeout may end them.
            "--timeout=3600".to_owned(),
            "--silent-timeout=3600".to_owned(),
            "--offer-timeout=3600".to_owned(),
            "--log-stderr".to_owned(),
            // Warnings and worse: a line per call would cost it CPU in the measured window.
            "--log-level=4".to_owned(),
        ]);
        if threads > 0 {
            cmd.arg(format!("--num-threads={threads}"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its warnings (e.g. full receive queues on a busy machine) come a line per
            // packet: to a file, not over the figures.
            .stderr(Stdio::from(
                std::fs::File::create(std::env::temp_dir().join("bench-rtp-rtpengine.log"))
                    .map_err(|e| format!("rtpengine log: {e}"))?,
            ))
            .spawn()
            .map_err(|e| format!("cannot start {bin}: {e}"))?;
        let mut engine = Self {
            child,
            // Under valgrind rtpengine answers far more slowly.
            ng: NgClient::connect(
                ng_addr,
                Duration::from_millis(if callgrind.is_some() { 5000 } else { 500 }),
            )
            .map_err(|e| e.to_string())?,
            calls: 0,
        };
        // Under valgrind it takes far longer to start.
        let patience = Duration::from_secs(if callgrind.is_some() { 120 } else { 10 });
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = engine.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("{bin} exited at start: {status}"));
            }
            match engine.ng.ping() {
                Ok(()) => return Ok(engine),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("{bin} did not answer ng pings: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One call per peer pair: `offer` with side A's SDP, `answer` with side B's.
    pub fn open(&mut self, peers: &[Legs]) -> Result<Vec<Legs>, String> {
        let mut legs = Vec::with_capacity(peers.len());
        for (i, p) in peers.iter().enumerate() {
            let call_id = format!("bench-{i}");
            let to_b = self
                .ng
                .offer(&call_id, "a", &g711_sdp(p.a, i as u64))
                .map_err(|e| format!("offer {call_id}: {e}"))?;
            let to_a = self
                .ng
                .answer(&call_id, "a", "b", &g711_sdp(p.b, i as u64))
                .map_err(|e| format!("answer {call_id}: {e}"))?;
            legs.push(Legs {
                a: audio_address(&to_a)?,
                b: audio_address(&to_b)?,
            });
            self.calls = i + 1;
        }
        Ok(legs)
    }

    /// Deletes every call opened.
    pub fn close(&mut self) -> Result<(), String> {
        for i in 0..self.calls {
            self.ng.delete(&format!("bench-{i}"), "a")?;
        }
        self.calls = 0;
        Ok(())
    }
}

impl Drop for RtpEngine {
    fn drop(&mut self) {
        // SIGTERM lets it close its sockets; it is our own child.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    fn free_udp_port() -> u16 {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// rtpengine (Debian `rtpengine-daemon`) driven over ng: an offer/answer call relays RTP
    /// both ways between the two SDP addresses, from the ports it advertised; `delete` is
    /// accepted and an answer for an unknown call is refused.
    #[test]
    fn rtpengine_relays_an_offered_and_answered_call() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut engine = RtpEngine::start("rtpengine", ip, free_udp_port(), 23000, 23099, 1, None)
            .expect("rtpengine (Debian rtpengine-daemon) must be installed");
        let (a, b) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        for s in [&a, &b] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let peers = [Legs {
            a: a.local_addr().unwrap(),
            b: b.local_addr().unwrap(),
        }];
        let legs = engine.open(&peers).unwrap()[0];
        assert_ne!(legs.a, legs.b);
        for port in [legs.a.port(), legs.b.port()] {
            assert!((23000..=23099).contains(&port), "{port} outside the range");
        }
        let mut packet = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7];
        packet.extend_from_slice(&[0xff; 160]);
        let mut buf = [0u8; 2048];
        a.send_to(&packet, legs.a).unwrap();
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&packet[..], legs.b));
        packet[3] = 2;
        packet[11] = 8;
        b.send_to(&packet, legs.b).unwrap();
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&packet[..], legs.a));
        // rtpengine answers `result: ok` to the delete (an error answer is an Err).
        engine.close().unwrap();
        // An unknown call is refused, so the ng answers are read, not assumed.
        let e = engine
            .ng
            .answer("no-such-call", "x", "y", &g711_sdp(peers[0].b, 1))
            .unwrap_err();
        assert!(e.starts_with("rtpengine: "), "{e}");
    }
}
