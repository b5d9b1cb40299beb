//! How the callee's leg's INVITE is addressed (`plan_callee`): the only place the two directions differ.

use crate::bridge::{exotel_number, ExotelTransport, NumberFormat, Route};
use crate::msg::{self, name_addr_uri, SipMsg};
use crate::probe::Credentials;
use crate::transport::StreamTransport;

/// How the callee's leg's INVITE is addressed, and whether the call can be placed at all.
pub(super) struct CalleePlan {
    /// From, without its tag.
    pub(super) from: String,
    pub(super) to: String,
    /// The Request-URI.
    pub(super) target: String,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) transport: StreamTransport,
    pub(super) credentials: Option<Credentials>,
    /// A final answer to the caller instead of a call: status and Warning text.
    pub(super) refuse: Option<(u16, Option<&'static str>)>,
}

pub(super) fn plan_callee(route: &Route, callee_local: &str, invite: &SipMsg) -> CalleePlan {
    let called_user = invite.uri().and_then(msg::uri_user);
    match route {
        Route::ToExotel(t) => {
            let exo = hostport(&t.exotel_host, t.exotel_port);
            let number = called_user.and_then(|u| exotel_number(u, t.number_format));
            let caller = exotel_number(&t.exotel_number, t.number_format)
                .unwrap_or_else(|| t.exotel_number.trim_start_matches('+').to_owned());
            let refuse = number.is_none().then_some((484, None));
            let number = number.unwrap_or_default();
            let transport = match t.transport {
                ExotelTransport::Tcp => StreamTransport::Tcp,
                ExotelTransport::Tls => StreamTransport::Tls,
            };
            CalleePlan {
                // Exotel wants the From domain to be <account_sid>.pstn.exotel.com (seed 003).
                from: format!("<sip:{caller}@{}.pstn.exotel.com>", t.account_sid),
                to: format!("<sip:{number}@{exo}>"),
                target: format!("sip:{number}@{exo};transport={}", transport.param()),
                host: t.exotel_host.clone(),
                port: t.exotel_port,
                transport,
                credentials: t.exotel_credentials.clone(),
                refuse,
            }
        }
        Route::ToLiveKit { trunk, host, port } => {
            let lk = hostport(host, *port);
            // LiveKit matches its inbound trunk's `numbers` against To, and the rule's
            // `inbound_numbers` against From, both in E.164 with '+'.
            let called = called_user.and_then(|u| exotel_number(u, NumberFormat::E164));
            let caller = invite
                .header("From")
                .and_then(name_addr_uri)
                .as_deref()
                .and_then(msg::uri_user)
                .and_then(|u| exotel_number(u, NumberFormat::E164))
                .unwrap_or_else(|| "anonymous".to_owned());
            let refuse = called.is_none().then_some((484, None));
            let called = called.unwrap_or_default();
            CalleePlan {
                from: format!("<sip:{caller}@{callee_local}>"),
                to: format!("<sip:{called}@{lk}>"),
                target: format!("sip:{called}@{lk};transport=tcp"),
                host: host.clone(),
                port: *port,
                transport: StreamTransport::Tcp,
                credentials: trunk.credentials.clone(),
                refuse,
            }
        }
    }
}

/// `host:port` with IPv6 literals bracketed.
pub fn hostport(host: &str, port: u16) -> String {
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
