//! The relay's threads start with its first session and stop when the relay is dropped. Alone
//! in its test binary, so no other test's relay threads are counted.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use trunkline_sip::rtp::{RelayConfig, RtpRelay};

/// Threads of this process named `rtp-relay-…`.
fn relay_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("rtp-relay-"))
        .count()
}

#[tokio::test]
async fn relay_threads_start_with_the_first_session_and_stop_with_the_relay() {
    let relay = RtpRelay::with_threads(
        RelayConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_min: 61990,
            port_max: 61999,
            rtp_timeout: Duration::from_secs(10),
        },
        3,
    );
    assert_eq!(relay_threads(), 0, "none before the first session");
    let s1 = relay.open("one").await.unwrap();
    let s2 = relay.open("two").await.unwrap();
    // A thread names itself once it runs: wait for that, briefly.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while relay_threads() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(relay_threads(), 3);
    let clone = relay.clone();
    drop((relay, s1));
    assert_eq!(
        relay_threads(),
        3,
        "a clone and a session still hold the relay"
    );
    drop(s2);
    clone.wait_idle().await;
    drop(clone);
    assert_eq!(relay_threads(), 0, "joined when the last holder went");
}
