//! `trunkline serve --demo`: an embedded LiveKit stand-in (the `livekit-double` crate, which
//! speaks LiveKit's real wire: Twirp, JWT grants, signed webhooks) so every step of the
//! README's walk-through works offline on a fresh machine. Never a production setting: it
//! says so on stderr, in the log and in `GET /ready`.

use livekit_double::{CallOutcome, LiveKitDouble};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use trunkline_livekit::{LiveKitClient, LiveKitConfig};

/// How the stand-in's callees behave, by the dialed number's last digits (the README's
/// "Demo mode" section documents this table).
pub const SCRIPT: &[(&str, CallOutcome)] = &[
    ("0486", CallOutcome::Busy),
    ("0480", CallOutcome::NoAnswer),
    ("0603", CallOutcome::Reject),
];

/// An answered demo call ends with the callee hanging up after this long.
pub const ANSWERED_CALL_LENGTH: Duration = Duration::from_secs(30);

/// The API key the stand-in accepts; the secret is random per start.
const DEMO_API_KEY: &str = "APIdemo";

/// What `--demo` refuses to run with: any of the real LiveKit settings, so a demo is never
/// mistaken for (or silently replaces) a configured LiveKit.
pub fn refuse_real_livekit(set: &[(&str, bool)]) -> Result<(), String> {
    let given: Vec<&str> = set.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(format!(
        "--demo runs its own LiveKit stand-in and cannot be combined with a real LiveKit, but {} {} set: unset {} to run the demo, or drop --demo to use your LiveKit",
        given.join(", "),
        if given.len() == 1 { "is" } else { "are" },
        if given.len() == 1 { "it" } else { "them" },
    ))
}

/// The running stand-in and the client pointed at it.
pub struct Demo {
    pub double: LiveKitDouble,
    pub client: LiveKitClient,
}

/// Starts the stand-in on 127.0.0.1 (a free port; loopback only, so nothing outside this
/// machine can reach it) and returns a LiveKit client for it.
pub async fn start(timeout: Duration) -> Result<Demo, String> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| {
            format!("--demo: cannot bind a loopback port for the LiveKit stand-in: {e}")
        })?;
    let api_secret = trunkline_core::sealing::generate_secret_token();
    let double = LiveKitDouble::start_on(listener, DEMO_API_KEY, &api_secret).await;
    for (suffix, outcome) in SCRIPT {
        double.set_outcome_for_suffix(suffix, outcome.clone());
    }
    double.set_answered_call_length(Some(ANSWERED_CALL_LENGTH));
    let client = LiveKitClient::new(LiveKitConfig {
        url: double.url(),
        api_key: DEMO_API_KEY.to_owned(),
        api_secret,
        timeout,
    });
    Ok(Demo { double, client })
}

/// Where the stand-in posts its webhooks: this server's own `/livekit/webhook`, over
/// loopback when it listens on every address.
pub fn webhook_url(listening: SocketAddr) -> String {
    let ip = match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!(
        "http://{}/livekit/webhook",
        SocketAddr::new(ip, listening.port())
    )
}

/// The banner on stderr, printed whatever the log level, so nobody takes a demo for a
/// working telephony setup.
pub fn banner(stand_in: &str) -> String {
    let script: Vec<String> = SCRIPT
        .iter()
        .map(|(suffix, outcome)| format!("…{suffix} {}", describe(outcome)))
        .collect();
    format!(
        "\n\
         ************************************************************************\n\
         *  DEMO MODE: no real LiveKit, no real phone calls.                    *\n\
         ************************************************************************\n\
         A LiveKit stand-in on {stand_in} (loopback only) answers trunkline's\n\
         requests and sends it signed webhooks. Numbers ending in {}; every\n\
         other number answers and hangs up after {} s.\n\
         Trunks provisioned now exist only in this stand-in: drop --demo and set\n\
         LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET for real calls.\n",
        script.join(", "),
        ANSWERED_CALL_LENGTH.as_secs(),
    )
}

fn describe(outcome: &CallOutcome) -> &'static str {
    match outcome {
        CallOutcome::Busy => "are busy (486)",
        CallOutcome::NoAnswer => "go unanswered",
        CallOutcome::Reject => "decline (603)",
        _ => "answer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_each_real_setting_by_name() {
        assert!(refuse_real_livekit(&[("LIVEKIT_URL", false)]).is_ok());
        let one =
            refuse_real_livekit(&[("LIVEKIT_URL", true), ("LIVEKIT_API_KEY", false)]).unwrap_err();
        assert!(one.contains("LIVEKIT_URL is set"), "{one}");
        assert!(!one.contains("LIVEKIT_API_KEY"), "{one}");
        let two = refuse_real_livekit(&[("LIVEKIT_URL", true), ("LIVEKIT_API_SECRET", true)])
            .unwrap_err();
        assert!(
            two.contains("LIVEKIT_URL, LIVEKIT_API_SECRET are set"),
            "{two}"
        );
    }

    #[test]
    fn webhooks_come_back_over_loopback() {
        assert_eq!(
            webhook_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080/livekit/webhook"
        );
        assert_eq!(
            webhook_url("[::]:9000".parse().unwrap()),
            "http://[::1]:9000/livekit/webhook"
        );
        assert_eq!(
            webhook_url("127.0.0.1:81".parse().unwrap()),
            "http://127.0.0.1:81/livekit/webhook"
        );
    }
}
