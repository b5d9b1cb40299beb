//! What the Twilio double holds, and each object rendered as Twilio renders it: v1 objects
//! with an absolute `url` and `links`, ISO-8601 dates; 2010 objects with a relative `uri`,
//! `subresource_uris` and RFC 2822 dates.

use crate::wire::{hex, iso_now, rfc2822_now};
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub(crate) fn sid(prefix: &str) -> String {
    format!("{prefix}{}", hex(32))
}

#[derive(Debug, Clone)]
pub(crate) struct Trunk {
    pub sid: String,
    pub friendly_name: Option<String>,
    pub domain_name: Option<String>,
    pub disaster_recovery_url: Option<String>,
    pub disaster_recovery_method: Option<String>,
    pub transfer_mode: String,
    pub secure: bool,
    pub cnam_lookup_enabled: bool,
    pub transfer_caller_id: String,
    pub created_v1: String,
    pub updated_v1: String,
}

#[derive(Debug, Clone)]
pub(crate) struct OriginationUrl {
    pub sid: String,
    pub trunk_sid: String,
    pub weight: u32,
    pub priority: u32,
    pub enabled: bool,
    pub friendly_name: String,
    pub sip_url: String,
    pub created: String,
    pub updated: String,
}

/// A CL/AL/PN associated with a trunk.
#[derive(Debug, Clone)]
pub(crate) struct Association {
    pub trunk_sid: String,
    pub sid: String,
    pub created: String,
}

#[derive(Debug, Clone)]
pub(crate) struct NamedList {
    pub sid: String,
    pub friendly_name: String,
    pub created: String,
    pub updated: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Credential {
    pub sid: String,
    pub list_sid: String,
    pub username: String,
    pub password: String,
    pub created: String,
    pub updated: String,
}

#[derive(Debug, Clone)]
pub(crate) struct IpAddress {
    pub sid: String,
    pub list_sid: String,
    pub friendly_name: String,
    pub ip_address: String,
    pub cidr_prefix_length: u8,
    pub created: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: String,
    pub trunk_sid: Option<String>,
    pub voice_url: Option<String>,
    pub voice_application_sid: Option<String>,
    pub created: String,
}

/// Everything, in creation order (Twilio lists oldest first).
#[derive(Debug, Default)]
pub(crate) struct State {
    pub trunks: Vec<Trunk>,
    pub origination_urls: Vec<OriginationUrl>,
    pub trunk_credential_lists: Vec<Association>,
    pub trunk_ip_acls: Vec<Association>,
    pub credential_lists: Vec<NamedList>,
    pub credentials: Vec<Credential>,
    pub ip_acls: Vec<NamedList>,
    pub ip_addresses: Vec<IpAddress>,
    pub numbers: Vec<Number>,
    /// Domains of deleted trunks: reserved for up to 30 days (PROVIDERS.md §1.7), here until
    /// a test releases them.
    pub reserved_domains: BTreeSet<String>,
}

impl State {
    pub(crate) fn trunk(&self, sid: &str) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.sid == sid)
    }

    pub(crate) fn domain_taken(&self, domain: &str, except: Option<&str>) -> bool {
        let d = domain.to_ascii_lowercase();
        self.reserved_domains.contains(&d)
            || self.trunks.iter().any(|t| {
                Some(t.sid.as_str()) != except
                    && t.domain_name.as_deref().map(str::to_ascii_lowercase) == Some(d.clone())
            })
    }

    /// Deletes a trunk with everything hanging off it; its domain becomes reserved.
    pub(crate) fn remove_trunk(&mut self, sid: &str) -> bool {
        let Some(pos) = self.trunks.iter().position(|t| t.sid == sid) else {
            return false;
        };
        let t = self.trunks.remove(pos);
        if let Some(d) = t.domain_name {
            self.reserved_domains.insert(d.to_ascii_lowercase());
        }
        self.origination_urls.retain(|o| o.trunk_sid != sid);
        self.trunk_credential_lists.retain(|a| a.trunk_sid != sid);
        self.trunk_ip_acls.retain(|a| a.trunk_sid != sid);
        for n in &mut self.numbers {
            if n.trunk_sid.as_deref() == Some(sid) {
                n.trunk_sid = None;
            }
        }
        true
    }

    fn auth_types(&self, trunk_sid: &str) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.trunk_ip_acls.iter().any(|a| a.trunk_sid == trunk_sid) {
            v.push("IP_ACL");
        }
        if self
            .trunk_credential_lists
            .iter()
            .any(|a| a.trunk_sid == trunk_sid)
        {
            v.push("CREDENTIAL_LIST");
        }
        v
    }

    pub(crate) fn trunk_json(&self, t: &Trunk, v1: &str, account: &str) -> Value {
        let url = format!("{v1}/v1/Trunks/{}", t.sid);
        let auth = self.auth_types(&t.sid);
        json!({
            "sid": t.sid,
            "account_sid": account,
            "friendly_name": t.friendly_name,
            "domain_name": t.domain_name,
            "disaster_recovery_method": t.disaster_recovery_method,
            "disaster_recovery_url": t.disaster_recovery_url,
            "secure": t.secure,
            "recording": {"mode": "do-not-record", "trim": "do-not-trim"},
            "transfer_mode": t.transfer_mode,
            "transfer_caller_id": t.transfer_caller_id,
            "cnam_lookup_enabled": t.cnam_lookup_enabled,
            "auth_type": auth.join(","),
            "symmetric_rtp_enabled": false,
            "auth_type_set": auth,
            "date_created": t.created_v1,
            "date_updated": t.updated_v1,
            "url": url,
            "links": {
                "origination_urls": format!("{url}/OriginationUrls"),
                "credential_lists": format!("{url}/CredentialLists"),
                "ip_access_control_lists": format!("{url}/IpAccessControlLists"),
                "phone_numbers": format!("{url}/PhoneNumbers"),
                "recording": format!("{url}/Recording"),
            }
        })
    }

    pub(crate) fn origination_url_json(o: &OriginationUrl, v1: &str, account: &str) -> Value {
        json!({
            "sid": o.sid,
            "account_sid": account,
            "trunk_sid": o.trunk_sid,
            "weight": o.weight,
            "priority": o.priority,
            "enabled": o.enabled,
            "sip_url": o.sip_url,
            "friendly_name": o.friendly_name,
            "date_created": o.created,
            "date_updated": o.updated,
            "url": format!("{v1}/v1/Trunks/{}/OriginationUrls/{}", o.trunk_sid, o.sid),
        })
    }

    /// A CL or AL association (`kind` is the sub-resource path name).
    pub(crate) fn association_json(
        &self,
        a: &Association,
        kind: &str,
        v1: &str,
        account: &str,
    ) -> Value {
        let lists = if kind == "CredentialLists" {
            &self.credential_lists
        } else {
            &self.ip_acls
        };
        let name = lists
            .iter()
            .find(|l| l.sid == a.sid)
            .map(|l| l.friendly_name.clone());
        json!({
            "sid": a.sid,
            "account_sid": account,
            "trunk_sid": a.trunk_sid,
            "friendly_name": name,
            "date_created": a.created,
            "date_updated": a.created,
            "url": format!("{v1}/v1/Trunks/{}/{kind}/{}", a.trunk_sid, a.sid),
        })
    }

    pub(crate) fn credential_list_json(l: &NamedList, account: &str) -> Value {
        let uri = format!(
            "/2010-04-01/Accounts/{account}/SIP/CredentialLists/{}",
            l.sid
        );
        json!({
            "sid": l.sid,
            "account_sid": account,
            "friendly_name": l.friendly_name,
            "date_created": l.created,
            "date_updated": l.updated,
            "subresource_uris": {"credentials": format!("{uri}/Credentials.json")},
            "uri": format!("{uri}.json"),
        })
    }

    pub(crate) fn credential_json(c: &Credential, account: &str) -> Value {
        json!({
            "sid": c.sid,
            "account_sid": account,
            "credential_list_sid": c.list_sid,
            "username": c.username,
            "date_created": c.created,
            "date_updated": c.updated,
            "uri": format!("/2010-04-01/Accounts/{account}/SIP/CredentialLists/{}/Credentials/{}.json", c.list_sid, c.sid),
        })
    }

    pub(crate) fn ip_acl_json(l: &NamedList, account: &str) -> Value {
        let uri = format!(
            "/2010-04-01/Accounts/{account}/SIP/IpAccessControlLists/{}",
            l.sid
        );
        json!({
            "sid": l.sid,
            "account_sid": account,
            "friendly_name": l.friendly_name,
            "date_created": l.created,
            "date_updated": l.updated,
            "subresource_uris": {"ip_addresses": format!("{uri}/IpAddresses.json")},
            "uri": format!("{uri}.json"),
        })
    }

    pub(crate) fn ip_address_json(ip: &IpAddress, account: &str) -> Value {
        json!({
            "sid": ip.sid,
            "account_sid": account,
            "ip_access_control_list_sid": ip.list_sid,
            "friendly_name": ip.friendly_name,
            "ip_address": ip.ip_address,
            "cidr_prefix_length": ip.cidr_prefix_length,
            "date_created": ip.created,
            "date_updated": ip.created,
            "uri": format!("/2010-04-01/Accounts/{account}/SIP/IpAccessControlLists/{}/IpAddresses/{}.json", ip.list_sid, ip.sid),
        })
    }

    pub(crate) fn number_json(n: &Number, account: &str) -> Value {
        json!({
            "sid": n.sid,
            "account_sid": account,
            "phone_number": n.phone_number,
            "friendly_name": n.friendly_name,
            "trunk_sid": n.trunk_sid,
            "voice_url": n.voice_url,
            "voice_method": "POST",
            "voice_application_sid": n.voice_application_sid,
            "capabilities": {"voice": true, "sms": true, "mms": true, "fax": false},
            "status": "in-use",
            "api_version": "2010-04-01",
            "date_created": n.created,
            "date_updated": n.created,
            "uri": format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{}.json", n.sid),
        })
    }

    /// A trunk's PhoneNumbers association answers the whole number, with v1 links.
    pub(crate) fn trunk_number_json(n: &Number, v1: &str, account: &str) -> Value {
        let mut v = Self::number_json(n, account);
        let trunk = n.trunk_sid.clone().unwrap_or_default();
        v["url"] = json!(format!("{v1}/v1/Trunks/{trunk}/PhoneNumbers/{}", n.sid));
        v["links"] =
            json!({"phone_number": format!("{v1}/v1/Trunks/{trunk}/PhoneNumbers/{}", n.sid)});
        v
    }

    pub(crate) fn new_number(e164: &str) -> Number {
        Number {
            sid: sid("PN"),
            phone_number: e164.to_owned(),
            friendly_name: e164.to_owned(),
            trunk_sid: None,
            voice_url: None,
            voice_application_sid: None,
            created: rfc2822_now(),
        }
    }

    pub(crate) fn now_v1() -> String {
        iso_now()
    }

    pub(crate) fn now_2010() -> String {
        rfc2822_now()
    }
}
