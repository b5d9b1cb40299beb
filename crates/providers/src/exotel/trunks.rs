//! vSIP trunks and what hangs off them: mapped numbers, whitelisted IPs, destination URIs
//! (inbound), digest credentials (outbound). EX-REF §1–11; EX-AS for credentials.
//!
//! Not in Exotel's API (PROVIDERS.md §3.3): updating a trunk, listing trunks, deleting one
//! number mapping, IP or destination (only the whole trunk, which cascades), and creating a
//! Flow whose Connect applet dials `sip:<trunk_sid>`.

use super::types::*;
use super::{check_token, domain_name, ExotelClient, NSO_CODE};
use crate::error::ProviderError;
use crate::secret::Secret;
use crate::transport::Call;
use reqwest::Method;
use std::net::Ipv4Addr;

impl CreateTrunk {
    /// A trunk named `trunk_name` with the documented `nso_code` and domain.
    pub fn new(trunk_name: impl Into<String>, account_sid: &str) -> Self {
        Self {
            trunk_name: trunk_name.into(),
            nso_code: NSO_CODE.into(),
            domain_name: domain_name(account_sid),
        }
    }
}

/// Exotel's trunk_name rule: letters, digits and `_`, at most 16 (EX-REF validation rules).
pub fn valid_trunk_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 16
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ExotelClient {
    /// `POST /trunks`. A taken name is a conflict (409, 1008 or 1002 in EX-REF's examples).
    pub async fn create_trunk(&self, body: &CreateTrunk) -> Result<Trunk, ProviderError> {
        let url = self.vsip_url(&["trunks"]);
        self.single(Call::new(Method::POST, url).json(body)).await
    }

    /// `GET /trunks/{trunk_sid}`: shown only as a verify step in EX-AS; an unknown sid is 404.
    pub async fn fetch_trunk(&self, trunk_sid: &str) -> Result<Trunk, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        let url = self.vsip_url(&["trunks", trunk_sid]);
        self.single(Call::new(Method::GET, url)).await
    }

    /// `DELETE /trunks?trunk_sid=…` (a query parameter, not a path): answers the deleted
    /// trunk, and takes its numbers, IPs, destinations and credentials with it.
    pub async fn delete_trunk(&self, trunk_sid: &str) -> Result<Trunk, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        let mut url = self.vsip_url(&["trunks"]);
        url.query_pairs_mut().append_pair("trunk_sid", trunk_sid);
        self.single(Call::new(Method::DELETE, url)).await
    }

    /// Maps an E.164 number to the trunk. `None` leaves the mode unset (pstn). Mapping a
    /// number twice is an inner 409/1008 under HTTP 200: a conflict.
    pub async fn map_number(
        &self,
        trunk_sid: &str,
        phone_number: &str,
        mode: Option<NumberMode>,
    ) -> Result<NumberMapping, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        let url = self.vsip_url(&["trunks", trunk_sid, "phone-numbers"]);
        let body = MapNumber { phone_number, mode };
        self.single(Call::new(Method::POST, url).json(&body)).await
    }

    pub async fn list_numbers(&self, trunk_sid: &str) -> Result<Vec<NumberMapping>, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        self.list(self.first_page(&["trunks", trunk_sid, "phone-numbers"]))
            .await
    }

    /// `PUT …/phone-numbers/{id}` with the number (which must match) and the mode.
    pub async fn update_number_mode(
        &self,
        trunk_sid: &str,
        id: &str,
        phone_number: &str,
        mode: NumberMode,
    ) -> Result<NumberMapping, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        check_token("number mapping id", id, true)?;
        let url = self.vsip_url(&["trunks", trunk_sid, "phone-numbers", id]);
        let body = MapNumber {
            phone_number,
            mode: Some(mode),
        };
        self.single(Call::new(Method::PUT, url).json(&body)).await
    }

    /// Whitelists one IPv4 address. `mask` 32 is the only value EX-AS vouches for (it says
    /// trunk ACLs take no ranges; EX-REF shows 24 and 16 too).
    pub async fn whitelist_ip(
        &self,
        trunk_sid: &str,
        ip: Ipv4Addr,
        mask: u8,
    ) -> Result<WhitelistedIp, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        let url = self.vsip_url(&["trunks", trunk_sid, "whitelisted-ips"]);
        let body = WhitelistIp {
            ip: ip.to_string(),
            mask,
        };
        self.single(Call::new(Method::POST, url).json(&body)).await
    }

    pub async fn list_whitelisted_ips(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<WhitelistedIp>, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        self.list(self.first_page(&["trunks", trunk_sid, "whitelisted-ips"]))
            .await
    }

    /// Adds destinations (`host:port;transport=tls|tcp`, no `sip:`); each item succeeds or
    /// fails on its own (HTTP 207). An IP destination must be whitelisted first.
    pub async fn add_destinations(
        &self,
        trunk_sid: &str,
        destinations: &[String],
    ) -> Result<Vec<Result<DestinationUri, ProviderError>>, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        let url = self.vsip_url(&["trunks", trunk_sid, "destination-uris"]);
        let body = Destinations {
            destinations: destinations
                .iter()
                .map(|d| Destination {
                    destination: d.clone(),
                })
                .collect(),
        };
        self.batch(Call::new(Method::POST, url).json(&body)).await
    }

    pub async fn list_destinations(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<DestinationUri>, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        self.list(self.first_page(&["trunks", trunk_sid, "destination-uris"]))
            .await
    }

    /// A digest credential for LiveKit's (or the bridge's) outbound INVITEs.
    pub async fn create_credential(
        &self,
        trunk_sid: &str,
        user_name: &str,
        password: &Secret,
        friendly_name: Option<&str>,
    ) -> Result<TrunkCredential, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        let url = self.vsip_url(&["trunks", trunk_sid, "credentials"]);
        let body = CreateCredential {
            user_name,
            password,
            friendly_name,
        };
        self.single(Call::new(Method::POST, url).json(&body).secret(password))
            .await
    }

    pub async fn list_credentials(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<TrunkCredential>, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        self.list(self.first_page(&["trunks", trunk_sid, "credentials"]))
            .await
    }

    /// `DELETE …/credentials?id=…` (a query parameter): answers the deleted credential.
    pub async fn delete_credential(
        &self,
        trunk_sid: &str,
        id: &str,
    ) -> Result<TrunkCredential, ProviderError> {
        check_token("trunk_sid", trunk_sid, false)?;
        check_token("credential id", id, true)?;
        let mut url = self.vsip_url(&["trunks", trunk_sid, "credentials"]);
        url.query_pairs_mut().append_pair("id", id);
        self.single(Call::new(Method::DELETE, url)).await
    }

    /// A list's first page: `offset=0&page_size=N`, the parameters of Exotel's own
    /// `first_page_uri`.
    fn first_page(&self, segs: &[&str]) -> url::Url {
        let mut url = self.vsip_url(segs);
        let size = self.transport().options().page_size.clamp(1, 100);
        url.query_pairs_mut()
            .append_pair("offset", "0")
            .append_pair("page_size", &size.to_string());
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_names_follow_exotels_rule() {
        assert!(valid_trunk_name("tl_0123456789abc"));
        assert!(!valid_trunk_name("tl_0123456789abcd"));
        assert!(!valid_trunk_name("my-trunk"));
        assert!(!valid_trunk_name(""));
        let body = CreateTrunk::new("tl_x", "exoteltest");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"trunk_name": "tl_x", "nso_code": "ANY-ANY", "domain_name": "exoteltest.pstn.exotel.com"})
        );
    }
}
