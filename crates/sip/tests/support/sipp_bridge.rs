//! The bridge against SIPp, harness half: the bridge on its own runtime with a recording RTP
//! relay, SIPp as LiveKit (UAC over UDP) and as Exotel (UAS over TCP, or UAC calling in), the
//! per-test log directory, and the verdicts with both sides' logs.
#![allow(dead_code)] // a test file uses what it needs

use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UdpSocket};
use trunkline_domain::Secret;
use trunkline_sip::bridge::{
    serve_with, BridgeConfig, BridgeTrunk, ExotelTransport, FixedDirectory, InboundSide,
    InboundTrunk, Listeners, MediaRelay, MediaSession, NumberFormat, OpenFuture, Timers,
};
use trunkline_sip::rtp::{RelayConfig, RelaySession, RelayStats, RtpRelay};
use trunkline_sip::Credentials;

pub const LK_USER: &str = "lkuser";
pub const LK_PASSWORD: &str = "lkpass";

pub fn sipp_available() -> bool {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("SKIPPED: the sipp binary is missing (apt-get install sip-tester)");
    }
    found
}

pub fn free_tcp_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn free_udp_port() -> u16 {
    StdUdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A base port `p` with `p..p+4` free over UDP: SIPp's media port (`-mp`) also binds `p + 2`
/// (its echo of video), and RTCP sits on `+1`.
pub fn free_media_base() -> u16 {
    for _ in 0..100 {
        let p = free_udp_port();
        if p % 2 == 1 || p > 65530 {
            continue;
        }
        let held: Vec<_> = (p..p + 4)
            .map_while(|q| StdUdpSocket::bind(("127.0.0.1", q)).ok())
            .collect();
        if held.len() == 4 {
            return p;
        }
    }
    panic!("no four free UDP ports in a row");
}

pub fn tcp_listening(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[3] == "0A" && f[1].ends_with(&format!(":{port:04X}"))
    })
}

pub fn scenario(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "scenarios", name]
        .iter()
        .collect()
}

/// Every relay session's counters, recorded when the bridge drops it.
pub type MediaLog = Arc<Mutex<Vec<(String, RelayStats)>>>;

/// `RtpRelay` as the bridge uses it, keeping each session's stats when the session ends.
pub struct RecordingRelay {
    relay: RtpRelay,
    log: MediaLog,
}

pub struct RecordingSession {
    inner: RelaySession,
    call_id: String,
    log: MediaLog,
}

impl MediaSession for RecordingSession {
    fn caller_addr(&self) -> SocketAddr {
        self.inner.local_a()
    }
    fn callee_addr(&self) -> SocketAddr {
        self.inner.local_b()
    }
    fn set_caller_peer(&mut self, addr: SocketAddr) {
        self.inner.set_peer_a(addr)
    }
    fn set_callee_peer(&mut self, addr: SocketAddr) {
        self.inner.set_peer_b(addr)
    }
    fn activity(&self) -> u64 {
        self.inner.activity()
    }
    fn rtp_timeout(&self) -> Option<Duration> {
        Some(self.inner.rtp_timeout())
    }
}

impl Drop for RecordingSession {
    fn drop(&mut self) {
        let stats = self.inner.stats();
        self.log
            .lock()
            .unwrap()
            .push((std::mem::take(&mut self.call_id), stats));
    }
}

impl MediaRelay for RecordingRelay {
    fn open<'a>(&'a self, call_id: &'a str) -> OpenFuture<'a> {
        Box::pin(async move {
            let inner = self.relay.open(call_id).await.map_err(|e| e.to_string())?;
            Ok(Box::new(RecordingSession {
                inner,
                call_id: call_id.to_owned(),
                log: self.log.clone(),
            }) as Box<dyn MediaSession>)
        })
    }
}

/// How a test's bridge is set up.
pub struct Setup {
    /// Where the Exotel trunk's Exotel listens.
    pub exotel_port: u16,
    pub rtp_timeout: Duration,
    /// Where LiveKit's SIP service listens (TCP): enables the inbound direction, on a
    /// provider listener of its own, for the inbound trunk holding +918047000000 whose
    /// credentials are exouser/exopass (what `bridge_exo_answer.xml` checks).
    pub livekit_sip: Option<u16>,
    /// Where the relay's sockets bind, and the addresses the SDP toward each side carries
    /// (`None`: the bind address).
    pub relay_bind: std::net::IpAddr,
    pub livekit_media_ip: Option<std::net::IpAddr>,
    pub provider_media_ip: Option<std::net::IpAddr>,
}

impl Setup {
    pub fn outbound(exotel_port: u16) -> Self {
        Self {
            exotel_port,
            rtp_timeout: Duration::from_secs(30),
            livekit_sip: None,
            relay_bind: [127, 0, 0, 1].into(),
            livekit_media_ip: None,
            provider_media_ip: None,
        }
    }
}

/// The bridge on its own runtime, on a free port (UDP and TCP alike), with one trunk whose
/// Exotel is 127.0.0.1:`exotel_port`.
pub struct Bridge {
    pub rt: Option<tokio::runtime::Runtime>,
    pub port: u16,
    /// The provider listener (inbound calls from Exotel), when enabled.
    pub provider_port: Option<u16>,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub relay: RtpRelay,
    pub media: MediaLog,
}

impl Bridge {
    pub fn start(exotel_port: u16) -> Self {
        Self::start_with(Setup::outbound(exotel_port))
    }

    pub fn start_with(setup: Setup) -> Self {
        let exotel_port = setup.exotel_port;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (udp, tcp) = rt.block_on(async {
            for _ in 0..50 {
                let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let addr = udp.local_addr().unwrap();
                if let Ok(tcp) = TcpListener::bind(addr).await {
                    return (udp, tcp);
                }
            }
            panic!("no port free over both UDP and TCP");
        });
        let port = udp.local_addr().unwrap().port();
        // The relay's pool: a port range of its own, whose ports other processes may hold
        // (the pool skips those).
        let base = 20000 + (port % 20000) / 512 * 512;
        let relay = RtpRelay::new(RelayConfig {
            bind_ip: setup.relay_bind,
            port_min: base,
            port_max: base + 511,
            rtp_timeout: setup.rtp_timeout,
        });
        let media = MediaLog::default();
        let recording = RecordingRelay {
            relay: relay.clone(),
            log: media.clone(),
        };
        let trunk = BridgeTrunk {
            trunk_id: "ST_sipp".into(),
            digest_username: LK_USER.into(),
            digest_password: Secret::new(LK_PASSWORD.into()),
            exotel_host: "127.0.0.1".into(),
            exotel_port,
            transport: ExotelTransport::Tcp,
            exotel_number: "+918047000000".into(),
            account_sid: "acme".into(),
            exotel_credentials: Some(Credentials {
                username: "exouser".into(),
                password: Secret::new("exopass".into()),
            }),
            number_format: NumberFormat::E164NoPlus,
        };
        let here = format!("127.0.0.1:{port}");
        let cfg = BridgeConfig {
            realm: "trunkline.test".into(),
            livekit_address: here.clone(),
            provider_address: here,
            timers: Timers::default(),
            connect_timeout: Duration::from_secs(2),
            guard: Default::default(),
            tls: Default::default(),
            connections: Default::default(),
            livekit_media_ip: setup.livekit_media_ip,
            provider_media_ip: setup.provider_media_ip,
            allow_private_targets: true,
        };
        let inbound = setup.livekit_sip.map(|lk| InboundSide {
            listener: rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap(),
            livekit_host: "127.0.0.1".into(),
            livekit_port: lk,
        });
        let provider_port = inbound
            .as_ref()
            .map(|i| i.listener.local_addr().unwrap().port());
        let directory = FixedDirectory {
            outbound: vec![trunk],
            inbound: vec![InboundTrunk {
                trunk_id: "ST_in".into(),
                numbers: vec!["+918047000000".into()],
                credentials: Some(Credentials {
                    username: "exouser".into(),
                    password: Secret::new("exopass".into()),
                }),
            }],
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let listeners = Listeners { udp, tcp, inbound };
        rt.spawn(serve_with(
            listeners,
            cfg,
            Arc::new(directory),
            Arc::new(recording),
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            rt: Some(rt),
            port,
            provider_port,
            stop: Some(stop),
            relay,
            media,
        }
    }

    /// Waits until every relay port is back in the pool.
    pub fn assert_media_released(&self) {
        let rt = self.rt.as_ref().unwrap();
        let idle = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), self.relay.wait_idle()).await
        });
        assert!(
            idle.is_ok(),
            "relay sessions still open: {} (every path must release its ports)",
            self.relay.in_use()
        );
    }

    pub fn media(&self) -> Vec<(String, RelayStats)> {
        self.media.lock().unwrap().clone()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// One SIPp process with its logs in `dir`.
pub struct Sipp {
    child: Child,
    name: String,
    dir: PathBuf,
}

impl Sipp {
    pub fn spawn(name: &str, dir: &Path, args: &[String]) -> Self {
        let err = dir.join(format!("{name}_errors.log"));
        let screen = dir.join(format!("{name}_screen.log"));
        let msgs = dir.join(format!("{name}_messages.log"));
        #[allow(clippy::zombie_processes)] // reaped in Drop
        let child = Command::new("sipp")
            .args(args)
            .args(["-nostdin", "-timeout", "60s", "-timeout_error"])
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&err)
            .arg("-trace_screen")
            .arg("-screen_file")
            .arg(&screen)
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&msgs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}_stderr.log"))).unwrap())
            .current_dir(dir)
            .spawn()
            .expect("spawn sipp");
        Self {
            child,
            name: name.into(),
            dir: dir.to_owned(),
        }
    }

    /// SIPp as Exotel: a UAS on a free TCP port, echoing RTP on its media port.
    pub fn exotel(dir: &Path, scenario_file: &str, calls: u32, extra: &[&str]) -> (Self, u16) {
        Self::uas("exotel", dir, scenario_file, calls, extra)
    }

    /// SIPp as Exotel calling in: a UAC over TCP to the bridge's provider listener.
    pub fn exotel_calling(dir: &Path, scenario_file: &str, provider: u16, extra: &[&str]) -> Self {
        let mut args = vec![
            format!("127.0.0.1:{provider}"),
            "-sf".into(),
            scenario(scenario_file).display().to_string(),
        ];
        args.extend(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-t", "t1"].map(String::from));
        args.extend(["-p".into(), free_tcp_port().to_string()]);
        args.extend(["-mp".into(), free_media_base().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn("exotel", dir, &args)
    }

    /// SIPp as a UAS (`name` in its logs) on a free TCP port, echoing RTP.
    pub fn uas(
        name: &str,
        dir: &Path,
        scenario_file: &str,
        calls: u32,
        extra: &[&str],
    ) -> (Self, u16) {
        for _ in 0..5 {
            let port = free_tcp_port();
            let mut args = vec![
                "-sf".to_owned(),
                scenario(scenario_file).display().to_string(),
            ];
            args.extend(
                [
                    "-i",
                    "127.0.0.1",
                    "-mi",
                    "127.0.0.1",
                    "-t",
                    "t1",
                    "-rtp_echo",
                ]
                .map(String::from),
            );
            args.extend(["-p".into(), port.to_string()]);
            args.extend(["-mp".into(), free_media_base().to_string()]);
            args.extend(["-m".into(), calls.to_string()]);
            args.extend(extra.iter().map(|s| s.to_string()));
            let mut sipp = Self::spawn(name, dir, &args);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if tcp_listening(port) {
                    return (sipp, port);
                }
                if sipp.child.try_wait().unwrap().is_some() {
                    break; // lost the port to someone else: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = sipp.child.kill();
        }
        panic!("SIPp ({name}) never listened");
    }

    /// SIPp as LiveKit: a UAC over UDP calling the bridge.
    pub fn livekit(
        dir: &Path,
        scenario_path: &Path,
        bridge: u16,
        password: &str,
        extra: &[&str],
    ) -> Self {
        let mut args = vec![
            format!("127.0.0.1:{bridge}"),
            "-sf".into(),
            scenario_path.display().to_string(),
        ];
        args.extend(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-t", "u1"].map(String::from));
        args.extend(["-p".into(), free_udp_port().to_string()]);
        args.extend(["-mp".into(), free_media_base().to_string()]);
        args.extend(["-au".into(), LK_USER.into(), "-ap".into(), password.into()]);
        // The digest uri is the Request-URI (RFC 3261 §22.4), as the bridge checks; SIPp
        // defaults to `sip:<remote host:port>` and puts the `sip:` in front of this itself.
        args.extend([
            "-auth_uri".into(),
            format!("+919876543210@127.0.0.1:{bridge}"),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn("livekit", dir, &args)
    }

    /// Waits for SIPp to exit; `Ok` when it exited 0, else its logs.
    pub fn finish(mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match status {
            Some(s) if s.success() => Ok(()),
            other => Err(format!(
                "SIPp as {} {}\n{}",
                self.name,
                match other {
                    Some(s) => format!("exited with {s}"),
                    None => format!("was still running after {limit:?}"),
                },
                self.logs()
            )),
        }
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for kind in ["stderr", "errors", "screen", "messages"] {
            let path = self.dir.join(format!("{}_{kind}.log", self.name));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.trim().is_empty() {
                continue;
            }
            // The end is what matters; keep assertion messages readable.
            let cut = text.len().saturating_sub(4000);
            let cut = (cut..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            out.push_str(&format!(
                "--- {} ({}):\n{}\n",
                path.display(),
                if cut > 0 { "last 4000 bytes" } else { "whole" },
                &text[cut..]
            ));
        }
        out
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A per-test directory for SIPp's logs (and the RTP file), removed when the test passes.
pub struct Logs(pub PathBuf);

impl Logs {
    pub fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "trunkline-bridge-sipp-{test}-{}-{:08x}",
            std::process::id(),
            rand_u32()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos() ^ (t.as_secs() as u32)
}

/// `bridge_lk_reject.xml` with the expected status filled in, written to `dir`.
pub fn reject_scenario(dir: &Path, status: u16) -> PathBuf {
    let text = std::fs::read_to_string(scenario("bridge_lk_reject.xml")).unwrap();
    let path = dir.join(format!("bridge_lk_reject_{status}.xml"));
    std::fs::write(&path, text.replace("@STATUS@", &status.to_string())).unwrap();
    path
}

/// `name` with SIPp checks that the SDP of the message received at `anchor` (a `<recv …/>`
/// element, verbatim) carries `ip` in both `c=` and `o=`: a mismatch fails the call.
pub fn with_sdp_address(dir: &Path, name: &str, anchor: &str, ip: &str) -> PathBuf {
    let text = std::fs::read_to_string(scenario(name)).unwrap();
    assert!(text.contains(anchor), "{name} has no {anchor}");
    let re = ip.replace('.', "\\.");
    let open = anchor.trim_end_matches("/>").trim_end_matches('>');
    let checks = format!(
        "{open}>\n    <action>\n\
         <ereg regexp=\"c=IN IP4 {re}[^0-9]\" search_in=\"body\" check_it=\"true\" assign_to=\"sdp\"/>\n\
         <ereg regexp=\"o=[-a-zA-Z0-9_. ]* IN IP4 {re}[^0-9]\" search_in=\"body\" check_it=\"true\" assign_to=\"sdp\"/>\n"
    );
    let replaced = if anchor.ends_with("/>") {
        text.replace(anchor, &format!("{checks}    </action>\n  </recv>"))
    } else {
        // `<recv …>` already holding an `<action>`: ours go first inside it.
        text.replacen(&format!("{anchor}\n    <action>"), &checks, 1)
    };
    let path = dir.join(format!("{}_{ip}.xml", name.trim_end_matches(".xml")));
    std::fs::write(&path, replaced).unwrap();
    path
}

pub const LIMIT: Duration = Duration::from_secs(60);

/// Both verdicts, with both sides' logs when either failed.
pub fn both_succeed(livekit: Sipp, exotel: Sipp) {
    let lk = livekit.finish(LIMIT);
    let ex = exotel.finish(LIMIT);
    if lk.is_err() || ex.is_err() {
        panic!(
            "{}\n{}",
            lk.err().unwrap_or_else(|| "SIPp as livekit: ok".into()),
            ex.err().unwrap_or_else(|| "SIPp as exotel: ok".into())
        );
    }
}
