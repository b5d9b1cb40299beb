//! bench/sip_calls.sh's helpers: the Exotel bridge as a process of its own, and the port
//! plumbing the script needs.
//!
//! - `bench-sip bridge --listen IP:PORT --exotel IP:PORT [--media rtp|none]`: `bridge::serve`
//!   on UDP and TCP at `--listen` with a fixed directory of one trunk: LiveKit's side
//!   authenticates as `lkuser`/`lkpass` (challenged with 401), Exotel's 401 is answered as
//!   `exouser`/`exopass` (what the SIPp scenarios in crates/sip/tests/scenarios check). With
//!   `--media rtp` (the default) every call opens an RTP relay session (four sockets from the
//!   pool, as in production); `none` rewrites SDP to fixed addresses and relays nothing.
//!   Runs until SIGINT or SIGTERM.
//! - `bench-sip free-ports N`: N distinct ports free on 127.0.0.1 over both UDP and TCP.
//! - `bench-sip wait-listen PORT tcp|udp [SECS]`: exits 0 once something is bound there
//!   (read from /proc, not by connecting), 1 after SECS (default 10).

use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use tokio::net::{TcpListener, UdpSocket};
use trunkline_domain::Secret;
use trunkline_sip::bridge::{
    serve, BridgeConfig, BridgeTrunk, ExotelTransport, MediaRelay, NoRelay, NumberFormat,
    OpenFuture, Timers,
};
use trunkline_sip::rtp::{RelayConfig, RtpRelay};
use trunkline_sip::Credentials;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Media {
    Rtp,
    None,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the bridge with the bench's fixed trunk.
    Bridge {
        #[arg(long)]
        listen: SocketAddr,
        /// Where "Exotel" (the SIPp UAS) listens over TCP.
        #[arg(long)]
        exotel: SocketAddr,
        #[arg(long, value_enum, default_value = "rtp")]
        media: Media,
        /// The relay's port range (RTP even, RTCP + 1).
        #[arg(long, default_value_t = 40000)]
        rtp_min: u16,
        #[arg(long, default_value_t = 49999)]
        rtp_max: u16,
    },
    /// Print N ports free over both UDP and TCP on 127.0.0.1.
    FreePorts { count: usize },
    /// Wait until PORT is bound (tcp: listening; udp: bound) on this machine.
    WaitListen {
        port: u16,
        proto: String,
        #[arg(default_value_t = 10)]
        secs: u64,
    },
}

fn main() {
    match Args::parse().cmd {
        Cmd::Bridge {
            listen,
            exotel,
            media,
            rtp_min,
            rtp_max,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(bridge(listen, exotel, media, rtp_min, rtp_max));
        }
        Cmd::FreePorts { count } => {
            let mut held = vec![];
            while held.len() < count {
                let udp = StdUdpSocket::bind("127.0.0.1:0").expect("bind");
                let port = udp.local_addr().expect("addr").port();
                if let Ok(tcp) = StdTcpListener::bind(("127.0.0.1", port)) {
                    println!("{port}");
                    held.push((udp, tcp));
                }
            }
        }
        Cmd::WaitListen { port, proto, secs } => {
            let deadline = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < deadline {
                if bound(port, &proto) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!("nothing bound on {proto} port {port} after {secs} s");
            std::process::exit(1);
        }
    }
}

/// Whether `port` is bound locally: a TCP listener (state 0A) or any UDP socket.
fn bound(port: u16, proto: &str) -> bool {
    let files: &[&str] = if proto == "tcp" {
        &["/proc/net/tcp", "/proc/net/tcp6"]
    } else {
        &["/proc/net/udp", "/proc/net/udp6"]
    };
    let suffix = format!(":{port:04X}");
    files.iter().any(|f| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3 && cols[1].ends_with(&suffix) && (proto != "tcp" || cols[3] == "0A")
            })
    })
}

async fn bridge(listen: SocketAddr, exotel: SocketAddr, media: Media, rtp_min: u16, rtp_max: u16) {
    let udp = UdpSocket::bind(listen).await.expect("bind UDP");
    let tcp = TcpListener::bind(listen).await.expect("bind TCP");
    let trunk = BridgeTrunk {
        trunk_id: "ST_bench".into(),
        digest_username: "lkuser".into(),
        digest_password: Secret::new("lkpass".into()),
        exotel_host: exotel.ip().to_string(),
        exotel_port: exotel.port(),
        transport: ExotelTransport::Tcp,
        exotel_number: "+918047000000".into(),
        account_sid: "bench".into(),
        exotel_credentials: Some(Credentials {
            username: "exouser".into(),
            password: Secret::new("exopass".into()),
        }),
        number_format: NumberFormat::E164NoPlus,
    };
    let relay: Arc<dyn MediaRelay> = match media {
        Media::Rtp => Arc::new(Logged(RtpRelay::new(RelayConfig {
            bind_ip: listen.ip(),
            port_min: rtp_min,
            port_max: rtp_max,
            ..RelayConfig::default()
        }))),
        Media::None => Arc::new(NoRelay {
            caller: SocketAddr::new(listen.ip(), 30000),
            callee: SocketAddr::new(listen.ip(), 30002),
        }),
    };
    let cfg = BridgeConfig {
        realm: "trunkline.bench".into(),
        livekit_address: listen.to_string(),
        provider_address: listen.to_string(),
        timers: Timers::default(),
        connect_timeout: Duration::from_secs(2),
        guard: Default::default(),
        tls: Default::default(),
        connections: Default::default(),
        livekit_media_ip: None,
        provider_media_ip: None,
        allow_private_targets: true,
    };
    eprintln!("bench-sip bridge: listening on {listen} (UDP, TCP), Exotel at {exotel}");
    serve(udp, tcp, cfg, Arc::new(vec![trunk]), relay, async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    })
    .await;
}

/// The RTP relay, with its failures to open a session printed (the bridge answers those 503).
struct Logged(RtpRelay);

impl MediaRelay for Logged {
    fn open<'a>(&'a self, call_id: &'a str) -> OpenFuture<'a> {
        Box::pin(async move {
            let r = MediaRelay::open(&self.0, call_id).await;
            if let Err(e) = &r {
                eprintln!(
                    "bench-sip bridge: no relay session for {call_id}: {e} ({} open, {} free)",
                    self.0.in_use(),
                    self.0.available()
                );
            }
            r
        })
    }
}
