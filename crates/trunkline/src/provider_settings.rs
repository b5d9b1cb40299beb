//! `serve`'s settings for the carriers' APIs (base URLs, overridable so that tests and staging
//! point at doubles) and for their webhooks.

use crate::parse::{invalid, number, socket_addr};
use clap::Args;
use trunkline_core::provider_accounts::ProviderSettings;
use trunkline_providers::twilio::TwilioUrls;

/// An http(s) base URL without a trailing slash.
fn base_url(
    env: &'static str,
    example: &'static str,
) -> impl Fn(&str) -> Result<String, String> + Clone + Send + Sync + 'static {
    move |raw| {
        let v = raw.trim().trim_end_matches('/');
        let ok = url::Url::parse(v).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
        });
        if ok {
            Ok(v.to_owned())
        } else {
            Err(invalid(
                env,
                "an http:// or https:// URL without query",
                example,
                raw,
            ))
        }
    }
}

/// A `sip:` URI of LiveKit's SIP endpoint.
fn sip_uri(raw: &str) -> Result<String, String> {
    let v = raw.trim();
    let host = v.strip_prefix("sip:").unwrap_or_default();
    if !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        Ok(v.to_owned())
    } else {
        Err(invalid(
            "LIVEKIT_SIP_URI",
            "a sip: URI of LiveKit's SIP endpoint",
            "sip:xxxx.sip.livekit.cloud",
            raw,
        ))
    }
}

#[derive(Args, Clone)]
pub struct ProviderArgs {
    /// Twilio's 2010 API.
    #[arg(long, env = "TRUNKLINE_TWILIO_API_URL", default_value = trunkline_providers::twilio::DEFAULT_API_URL,
          value_parser = base_url("TRUNKLINE_TWILIO_API_URL", "https://api.twilio.com"))]
    pub twilio_api_url: String,
    /// Twilio's Elastic SIP Trunking API.
    #[arg(long, env = "TRUNKLINE_TWILIO_TRUNKING_URL", default_value = trunkline_providers::twilio::DEFAULT_TRUNKING_URL,
          value_parser = base_url("TRUNKLINE_TWILIO_TRUNKING_URL", "https://trunking.twilio.com"))]
    pub twilio_trunking_url: String,
    /// Exotel's API; unset: https://<subdomain> of each account.
    #[arg(long, env = "TRUNKLINE_EXOTEL_API_URL",
          value_parser = base_url("TRUNKLINE_EXOTEL_API_URL", "https://api.in.exotel.com"))]
    pub exotel_api_url: Option<String>,
    /// Telnyx's API.
    #[arg(long, env = "TRUNKLINE_TELNYX_API_URL", default_value = trunkline_providers::telnyx::DEFAULT_API_URL,
          value_parser = base_url("TRUNKLINE_TELNYX_API_URL", "https://api.telnyx.com"))]
    pub telnyx_api_url: String,
    /// Where providers reach this server (scheme, host, optional port and path prefix):
    /// Twilio's webhook signatures cover this URL.
    #[arg(long, env = "TRUNKLINE_PUBLIC_URL",
          value_parser = base_url("TRUNKLINE_PUBLIC_URL", "https://trunkline.example.com"))]
    pub public_url: Option<String>,
    /// LiveKit's SIP endpoint, where providers send inbound calls.
    #[arg(long, env = "LIVEKIT_SIP_URI", value_parser = sip_uri)]
    pub livekit_sip_uri: Option<String>,
    /// Verified Twilio webhook requests each provider account may make a minute (per instance).
    #[arg(long, env = "TRUNKLINE_TWILIO_WEBHOOKS_PER_MINUTE", default_value_t = 600,
          value_parser = number("TRUNKLINE_TWILIO_WEBHOOKS_PER_MINUTE", "a whole number", 1u32, 1_000_000, "600"))]
    pub twilio_webhooks_per_minute: u32,
    /// The bridge's public ip:port (the bridge's own setting, read here too): the IP
    /// whitelisted on the vSIP trunks made at Exotel.
    #[arg(long = "bridge-public-address", env = "TRUNKLINE_BRIDGE_PUBLIC_ADDRESS",
          value_parser = socket_addr("TRUNKLINE_BRIDGE_PUBLIC_ADDRESS --bridge-public-address", "203.0.113.7:5070"))]
    pub bridge_public_address: Option<std::net::SocketAddr>,
}

impl ProviderArgs {
    pub fn settings(&self) -> ProviderSettings {
        ProviderSettings {
            twilio: TwilioUrls {
                api: self.twilio_api_url.clone(),
                trunking: self.twilio_trunking_url.clone(),
            },
            exotel_api_url: self.exotel_api_url.clone(),
            telnyx_api_url: self.telnyx_api_url.clone(),
            public_url: self.public_url.clone(),
            livekit_sip_uri: self.livekit_sip_uri.clone(),
            webhooks_per_minute: self.twilio_webhooks_per_minute,
            bridge_public_address: self.bridge_public_address,
            ..ProviderSettings::default()
        }
    }
}
