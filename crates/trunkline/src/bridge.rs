//! `trunkline bridge`: the Exotel SIP bridge as a process of its own, on the whitelisted host.
//! It reads the Exotel trunks and the inbound trunks from the same database (and master key)
//! as `serve`, listens for LiveKit's SIP service on UDP and TCP and, when enabled, for
//! Exotel's calls on TCP, and relays RTP through its port pool.

use crate::database::open_store;
use crate::failure::Failure;
use crate::master_key;
use crate::parse::{boolean, ip_addr, number, socket_addr};
use crate::settings::DbArgs;
use crate::signals::shutdown_signal;
use clap::Args;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use trunkline_core::bridge_directory::StoreDirectory;
use trunkline_sip::bridge::{BridgeConfig, GuardConfig, Timers};
use trunkline_sip::rtp::{RelayConfig, RtpRelay};

#[derive(Args)]
pub struct BridgeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Where LiveKit's SIP service sends its INVITEs (UDP and TCP on the same port). Provision
    /// the trunks with TRUNKLINE_BRIDGE_SIP_ADDRESS pointing here.
    #[arg(long, env = "TRUNKLINE_BRIDGE_LISTEN", default_value = "0.0.0.0:5080",
          value_parser = socket_addr("TRUNKLINE_BRIDGE_LISTEN --listen", "0.0.0.0:5080"))]
    pub listen: SocketAddr,
    /// Where Prometheus scrapes the bridge's `GET /metrics` (`ip:port`, a listener of its
    /// own). Unset: no metrics are kept or served.
    #[arg(long, env = "TRUNKLINE_BRIDGE_METRICS_LISTEN",
          value_parser = socket_addr("TRUNKLINE_BRIDGE_METRICS_LISTEN --metrics-listen", "127.0.0.1:9465"))]
    pub metrics_listen: Option<SocketAddr>,
    /// Our address as LiveKit reaches it (`ip:port`, for Via and Contact toward LiveKit).
    /// Default: the listen address, which must then be a specific IP.
    #[arg(long, env = "TRUNKLINE_BRIDGE_LIVEKIT_ADDRESS",
          value_parser = socket_addr("TRUNKLINE_BRIDGE_LIVEKIT_ADDRESS --livekit-address", "10.0.0.5:5080"))]
    pub livekit_address: Option<SocketAddr>,
    /// The public address Exotel has whitelisted (`ip:port`): the source of our calls to
    /// Exotel, written in Via, Contact and the SDP toward Exotel.
    #[arg(long, env = "TRUNKLINE_BRIDGE_PUBLIC_ADDRESS",
          value_parser = socket_addr("TRUNKLINE_BRIDGE_PUBLIC_ADDRESS --public-address", "203.0.113.10:5070"))]
    pub public_address: SocketAddr,
    /// The IP Exotel sends RTP to, written in the SDP toward Exotel, when it differs from
    /// TRUNKLINE_BRIDGE_PUBLIC_ADDRESS's (a 1:1 NAT whose public side is another address).
    /// Default: the public address's IP.
    #[arg(long, env = "TRUNKLINE_BRIDGE_PUBLIC_MEDIA_ADDRESS",
          value_parser = ip_addr("TRUNKLINE_BRIDGE_PUBLIC_MEDIA_ADDRESS --public-media-address", "203.0.113.11"))]
    pub public_media_address: Option<IpAddr>,
    /// Where Exotel delivers calls to the tenants' numbers (TCP), and where it sends requests
    /// inside our calls to it (our Contact): bind it to the port of
    /// TRUNKLINE_BRIDGE_PUBLIC_ADDRESS. Unset: no inbound calls.
    #[arg(long, env = "TRUNKLINE_BRIDGE_PROVIDER_LISTEN",
          value_parser = socket_addr("TRUNKLINE_BRIDGE_PROVIDER_LISTEN --provider-listen", "0.0.0.0:5070"))]
    pub provider_listen: Option<SocketAddr>,
    /// LiveKit's SIP service (`host:port`, reached over TCP) for inbound calls. Its inbound
    /// trunks must accept the bridge's address (allowed_addresses) and numbers in E.164.
    #[arg(long, env = "TRUNKLINE_BRIDGE_LIVEKIT_SIP")]
    pub livekit_sip: Option<String>,
    /// RTP port range of the relay, `MIN-MAX` (even RTP ports, RTCP = RTP + 1). The default
    /// sits above LiveKit SIP's own 10000–40000.
    #[arg(
        long,
        env = "TRUNKLINE_BRIDGE_RTP_PORTS",
        default_value = "40000-49999"
    )]
    pub rtp_ports: String,
    /// Seconds without RTP from either side before a call's media counts as dead.
    #[arg(long, env = "TRUNKLINE_BRIDGE_RTP_TIMEOUT", default_value_t = 30,
          value_parser = number("TRUNKLINE_BRIDGE_RTP_TIMEOUT --rtp-timeout", "whole seconds", 1u64, 86_400, "30"))]
    pub rtp_timeout: u64,
    /// Source networks that get an answer, comma-separated CIDRs or IPs: LiveKit's SIP
    /// service and the provider's signalling addresses. Everything else is dropped silently.
    /// Required: `any` answers every source (a lab, or a bridge behind a firewall that does
    /// the filtering).
    #[arg(long, env = "TRUNKLINE_BRIDGE_ALLOW", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// SIP messages per second per source before messages are dropped (burst: twice this).
    #[arg(long, env = "TRUNKLINE_BRIDGE_RATE", default_value_t = 10000.0,
          value_parser = number("TRUNKLINE_BRIDGE_RATE --rate", "messages per second", 1.0, 10_000_000.0, "10000"))]
    pub rate: f64,
    /// Open TCP connections per source.
    #[arg(long, env = "TRUNKLINE_BRIDGE_MAX_TCP_PER_SOURCE", default_value_t = 256,
          value_parser = number("TRUNKLINE_BRIDGE_MAX_TCP_PER_SOURCE --max-tcp-per-source", "a whole number", 1usize, 1_000_000, "256"))]
    pub max_tcp_per_source: usize,
    /// Calls in progress per source (an IPv4 address or an IPv6 /64); past it a new INVITE
    /// gets 503.
    #[arg(long, env = "TRUNKLINE_BRIDGE_MAX_CALLS_PER_SOURCE", default_value_t = 1000,
          value_parser = number("TRUNKLINE_BRIDGE_MAX_CALLS_PER_SOURCE --max-calls-per-source", "a whole number", 1usize, 1_000_000, "1000"))]
    pub max_calls_per_source: usize,
    /// Relay ports one source's calls may hold (4 per call). Default: half the RTP port range.
    #[arg(long, env = "TRUNKLINE_BRIDGE_MAX_RTP_PORTS_PER_SOURCE",
          value_parser = number("TRUNKLINE_BRIDGE_MAX_RTP_PORTS_PER_SOURCE --max-rtp-ports-per-source", "a whole number", 4usize, 65_536, "5000"))]
    pub max_rtp_ports_per_source: Option<usize>,
    /// Let Exotel trunks point at loopback, private or link-local addresses (labs and tests
    /// only). Checked on the resolved address before every connection to a trunk, as `serve`
    /// checks it when the trunk is created.
    #[arg(long, env = "TRUNKLINE_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = clap::ArgAction::Set,
          value_parser = boolean("TRUNKLINE_ALLOW_PRIVATE_TARGETS"))]
    pub allow_private_targets: bool,
    /// Seconds between re-reads of the Exotel trunks from the database.
    #[arg(long, env = "TRUNKLINE_BRIDGE_REFRESH", default_value_t = 5,
          value_parser = number("TRUNKLINE_BRIDGE_REFRESH --refresh", "whole seconds", 1u64, 3_600, "5"))]
    pub refresh: u64,
}

fn port_range(raw: &str) -> Result<(u16, u16), String> {
    let bad = || {
        format!("TRUNKLINE_BRIDGE_RTP_PORTS must be MIN-MAX with 1024 <= MIN < MAX <= 65535 (got {raw:?})")
    };
    let (a, b) = raw.split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a < 1024 || a >= b {
        return Err(bad());
    }
    Ok((a, b))
}

/// The edge's settings. Without an allow-list the bridge would answer anyone, and every
/// INVITE reserves relay ports: an open bridge is only ever chosen explicitly.
fn guard(args: &BridgeArgs, (port_min, port_max): (u16, u16)) -> Result<GuardConfig, String> {
    let raw: Vec<&str> = args
        .allow
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let open = raw.iter().any(|s| s.eq_ignore_ascii_case("any"));
    if raw.is_empty() {
        return Err("TRUNKLINE_BRIDGE_ALLOW is required: the networks of LiveKit's SIP service and of the provider, e.g. TRUNKLINE_BRIDGE_ALLOW=10.0.0.0/24,203.0.113.0/24 (or TRUNKLINE_BRIDGE_ALLOW=any to answer every source)".into());
    }
    if open && raw.len() > 1 {
        return Err(
            "TRUNKLINE_BRIDGE_ALLOW is either `any` or a list of networks, not both".into(),
        );
    }
    let mut allow = Vec::new();
    for raw in raw.iter().filter(|_| !open) {
        let net = trunkline_domain::inbound::parse_address("TRUNKLINE_BRIDGE_ALLOW", raw)
            .map_err(|e| e.to_string())?;
        allow.push(net);
    }
    let ports = usize::from(port_max - port_min) + 1;
    let max_rtp_ports_per_source = args.max_rtp_ports_per_source.unwrap_or(ports / 2);
    if max_rtp_ports_per_source < trunkline_sip::bridge::media::PORTS_PER_CALL {
        return Err(format!(
            "TRUNKLINE_BRIDGE_MAX_RTP_PORTS_PER_SOURCE must be at least {} (one call's ports)",
            trunkline_sip::bridge::media::PORTS_PER_CALL
        ));
    }
    Ok(GuardConfig {
        allow,
        rate_per_sec: args.rate,
        burst: args.rate * 2.0,
        max_tcp_per_source: args.max_tcp_per_source,
        max_calls_per_source: args.max_calls_per_source,
        max_rtp_ports_per_source,
    })
}

/// Our addresses as each side reaches them.
#[derive(Debug, PartialEq, Eq)]
struct Advertised {
    /// Signalling toward LiveKit, and the relay's address in the SDP toward LiveKit.
    livekit: SocketAddr,
    /// The relay's address in the SDP toward the provider.
    provider_media: IpAddr,
}

/// What each side is told to send to. The relay listens on 0.0.0.0, so an unspecified
/// address here would reach the peers' SDP, and no peer can send audio to it: refused,
/// naming the setting.
fn advertised(args: &BridgeArgs) -> Result<Advertised, String> {
    let livekit = match args.livekit_address {
        Some(a) if a.ip().is_unspecified() => {
            return Err(format!(
                "TRUNKLINE_BRIDGE_LIVEKIT_ADDRESS must be the address LiveKit reaches (got {a}), e.g. 10.0.0.5:5080"
            ))
        }
        Some(a) => a,
        None if !args.listen.ip().is_unspecified() => args.listen,
        None => {
            return Err(
                "set TRUNKLINE_BRIDGE_LIVEKIT_ADDRESS (ip:port LiveKit reaches, e.g. 10.0.0.5:5080) when listening on 0.0.0.0"
                    .into(),
            )
        }
    };
    if args.public_address.ip().is_unspecified() {
        return Err(format!(
            "TRUNKLINE_BRIDGE_PUBLIC_ADDRESS must be the whitelisted public ip:port (got {}), e.g. 203.0.113.7:5070",
            args.public_address
        ));
    }
    let provider_media = args
        .public_media_address
        .unwrap_or(args.public_address.ip());
    if provider_media.is_unspecified() {
        return Err(format!(
            "TRUNKLINE_BRIDGE_PUBLIC_MEDIA_ADDRESS must be the IP the provider sends RTP to (got {provider_media}), e.g. 203.0.113.8"
        ));
    }
    Ok(Advertised {
        livekit,
        provider_media,
    })
}

/// `host:port` of LiveKit's SIP service.
fn livekit_sip(raw: &str) -> Result<(String, u16), String> {
    let bad = || format!("TRUNKLINE_BRIDGE_LIVEKIT_SIP must be host:port (got {raw:?})");
    let (host, port) = raw.trim().rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

pub async fn run(args: BridgeArgs) -> Result<(), Failure> {
    // Settings first: a mistake in them is a usage error (exit 64), found before anything
    // is opened.
    let (port_min, port_max) = port_range(&args.rtp_ports).map_err(Failure::Usage)?;
    let guard = guard(&args, (port_min, port_max)).map_err(Failure::Usage)?;
    if guard.allow.is_empty() {
        tracing::warn!("TRUNKLINE_BRIDGE_ALLOW=any: the bridge answers every source");
    }
    let advertised = advertised(&args).map_err(Failure::Usage)?;
    let lk_sip = match (&args.provider_listen, &args.livekit_sip) {
        (Some(_), Some(raw)) => Some(livekit_sip(raw).map_err(Failure::Usage)?),
        (Some(_), None) => {
            return Err(Failure::Usage(
                "TRUNKLINE_BRIDGE_PROVIDER_LISTEN needs TRUNKLINE_BRIDGE_LIVEKIT_SIP (host:port of LiveKit's SIP service, e.g. 10.0.0.7:5060) for inbound calls"
                    .into(),
            ))
        }
        (None, _) => None,
    };
    // Installed before the listeners are announced, so a stop right after start is graceful.
    let shutdown = shutdown_signal();
    let keyring = Arc::new(master_key::load(&args.db)?);
    let store = open_store(&args.db).await?;
    let directory = Arc::new(StoreDirectory::default());
    let n = directory
        .refresh(&store, &keyring)
        .await
        .map_err(|e| format!("cannot read the trunks: {e}"))?;
    let udp = tokio::net::UdpSocket::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on udp {}: {e}", args.listen))?;
    let tcp = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on tcp {}: {e}", args.listen))?;
    let addr = udp.local_addr().map_err(|e| e.to_string())?;
    let metrics = crate::telemetry::metrics::start(
        "TRUNKLINE_BRIDGE_METRICS_LISTEN",
        args.metrics_listen,
        trunkline_sip::bridge::metrics::describe,
    )
    .await?;
    let inbound = match (args.provider_listen, lk_sip) {
        (Some(at), Some((livekit_host, livekit_port))) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .map_err(|e| format!("cannot listen on tcp {at}: {e}"))?;
            tracing::info!(%at, livekit = %format!("{livekit_host}:{livekit_port}"), numbers = directory.inbound_count(), "inbound calls from the provider enabled");
            Some(trunkline_sip::bridge::InboundSide {
                listener,
                livekit_host,
                livekit_port,
            })
        }
        _ => None,
    };
    let relay = RtpRelay::new(RelayConfig {
        bind_ip: IpAddr::from([0, 0, 0, 0]),
        port_min,
        port_max,
        rtp_timeout: Duration::from_secs(args.rtp_timeout.max(1)),
    });
    let config = BridgeConfig {
        realm: "trunkline".into(),
        livekit_address: advertised.livekit.to_string(),
        provider_address: args.public_address.to_string(),
        timers: Timers::default(),
        connect_timeout: Duration::from_secs(5),
        guard,
        tls: trunkline_sip::transport::TlsSettings::public(),
        connections: Default::default(),
        // The relay listens on every interface: each side's SDP names the address it reaches.
        allow_private_targets: args.allow_private_targets,
        livekit_media_ip: Some(advertised.livekit.ip()),
        provider_media_ip: Some(advertised.provider_media),
    };
    tracing::info!(%addr, trunks = n, public = %args.public_address, "trunkline bridge listening");
    let metrics = metrics.map(|(mut exporter, listener)| {
        let relay = relay.clone();
        exporter.on_scrape(Arc::new(move || {
            trunkline_sip::bridge::metrics::record_relay(&relay);
            Box::pin(async {})
        }));
        exporter.spawn(listener)
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let refresher = tokio::spawn(directory.clone().run_refresher(
        store.clone(),
        keyring,
        Duration::from_secs(args.refresh.max(1)),
        async move {
            let mut rx = stop_rx;
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    trunkline_sip::bridge::serve_with(
        trunkline_sip::bridge::Listeners { udp, tcp, inbound },
        config,
        directory,
        Arc::new(relay),
        shutdown,
    )
    .await;
    let _ = stop_tx.send(true);
    let _ = refresher.await;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    store.close().await;
    tracing::info!("trunkline bridge stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bridge: BridgeArgs,
    }

    fn args(extra: &[&str]) -> BridgeArgs {
        let mut argv = vec!["trunkline", "--public-address", "203.0.113.7:5070"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().bridge
    }

    #[test]
    fn an_open_bridge_is_chosen_explicitly() {
        let ports = (40000, 49999);
        let e = guard(&args(&[]), ports).unwrap_err();
        assert!(
            e.contains("TRUNKLINE_BRIDGE_ALLOW=") && e.contains("TRUNKLINE_BRIDGE_ALLOW=any"),
            "{e}"
        );
        assert!(guard(&args(&["--allow", " "]), ports).is_err());
        assert!(guard(&args(&["--allow", "any"]), ports)
            .unwrap()
            .allow
            .is_empty());
        assert!(guard(&args(&["--allow", "ANY"]), ports).is_ok());
        assert!(guard(&args(&["--allow", "any,10.0.0.0/8"]), ports).is_err());
        let listed = guard(&args(&["--allow", "10.0.0.0/8,2001:db8::/32"]), ports).unwrap();
        assert_eq!(listed.allow.len(), 2);
        // The default port share: half the range.
        assert_eq!(listed.max_rtp_ports_per_source, 5000);
        assert_eq!(listed.max_calls_per_source, 1000);
        // The default share of a tiny range would not hold one call's ports.
        let e = guard(&args(&["--allow", "any"]), (40000, 40005)).unwrap_err();
        assert!(
            e.contains("TRUNKLINE_BRIDGE_MAX_RTP_PORTS_PER_SOURCE"),
            "{e}"
        );
        // Values out of range are refused as they are parsed, naming the variable.
        for (flag, value, var) in [
            (
                "--max-rtp-ports-per-source",
                "3",
                "TRUNKLINE_BRIDGE_MAX_RTP_PORTS_PER_SOURCE",
            ),
            (
                "--max-calls-per-source",
                "0",
                "TRUNKLINE_BRIDGE_MAX_CALLS_PER_SOURCE",
            ),
            (
                "--max-tcp-per-source",
                "0",
                "TRUNKLINE_BRIDGE_MAX_TCP_PER_SOURCE",
            ),
            ("--rate", "0", "TRUNKLINE_BRIDGE_RATE"),
            (
                "--metrics-listen",
                "localhost:9465",
                "TRUNKLINE_BRIDGE_METRICS_LISTEN",
            ),
        ] {
            let argv = [
                "trunkline",
                "--public-address",
                "203.0.113.7:5070",
                flag,
                value,
            ];
            let e = Cli::try_parse_from(argv).err().expect("refused");
            let why = std::error::Error::source(&e).map(|s| s.to_string());
            assert!(why.as_deref().unwrap_or_default().starts_with(var), "{e}");
        }
    }

    #[test]
    fn each_side_is_told_an_address_it_can_reach() {
        let ok = advertised(&args(&["--livekit-address", "10.0.0.5:5080"])).unwrap();
        assert_eq!(ok.livekit, "10.0.0.5:5080".parse().unwrap());
        assert_eq!(ok.provider_media, "203.0.113.7".parse::<IpAddr>().unwrap());
        let nat = advertised(&args(&[
            "--livekit-address",
            "10.0.0.5:5080",
            "--public-media-address",
            "198.51.100.4",
        ]))
        .unwrap();
        assert_eq!(
            nat.provider_media,
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
        let specific = advertised(&args(&["--listen", "10.0.0.6:5080"])).unwrap();
        assert_eq!(specific.livekit, "10.0.0.6:5080".parse().unwrap());
        for (extra, names) in [
            (&[][..], "TRUNKLINE_BRIDGE_LIVEKIT_ADDRESS"),
            (
                &["--livekit-address", "0.0.0.0:5080"][..],
                "TRUNKLINE_BRIDGE_LIVEKIT_ADDRESS",
            ),
            (
                &[
                    "--livekit-address",
                    "10.0.0.5:5080",
                    "--public-media-address",
                    "0.0.0.0",
                ][..],
                "TRUNKLINE_BRIDGE_PUBLIC_MEDIA_ADDRESS",
            ),
            (
                &[
                    "--livekit-address",
                    "10.0.0.5:5080",
                    "--public-media-address",
                    "::",
                ][..],
                "TRUNKLINE_BRIDGE_PUBLIC_MEDIA_ADDRESS",
            ),
        ] {
            let e = advertised(&args(extra)).unwrap_err();
            assert!(e.contains(names), "{extra:?}: {e}");
        }
        let mut unspecified = args(&["--livekit-address", "10.0.0.5:5080"]);
        unspecified.public_address = "0.0.0.0:5070".parse().unwrap();
        let e = advertised(&unspecified).unwrap_err();
        assert!(e.contains("TRUNKLINE_BRIDGE_PUBLIC_ADDRESS"), "{e}");
    }

    #[test]
    fn livekit_sip_address_table() {
        assert_eq!(
            livekit_sip("sip.internal:5060"),
            Ok(("sip.internal".to_owned(), 5060))
        );
        assert_eq!(livekit_sip("[::1]:5061"), Ok(("::1".to_owned(), 5061)));
        for bad in ["sip.internal", ":5060", "host:0", "host:x", ""] {
            let e = livekit_sip(bad).unwrap_err();
            assert!(e.contains("TRUNKLINE_BRIDGE_LIVEKIT_SIP"), "{bad}: {e}");
        }
    }
}
