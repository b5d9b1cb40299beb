//! What the Exotel double holds, rendered as EX-REF shows it, and the envelope around it.

use crate::wire::{hex, iso_now, Reply};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub(crate) struct Trunk {
    pub sid: String,
    pub name: String,
    pub domain_name: String,
    pub nso_code: String,
    pub created: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub id: String,
    pub trunk_sid: String,
    pub phone_number: String,
    pub mode: Option<String>,
    pub created: String,
    pub updated: String,
}

#[derive(Debug, Clone)]
pub(crate) struct WhitelistedIp {
    pub id: String,
    pub trunk_sid: String,
    pub ip: String,
    pub mask: u8,
    pub created: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Destination {
    pub id: String,
    pub trunk_sid: String,
    /// As stored: with the `sip:` prefix.
    pub destination: String,
    pub created: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Credential {
    pub id: String,
    pub trunk_sid: String,
    pub user_name: String,
    pub password: String,
    pub friendly_name: Option<String>,
    pub created: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ExoPhone {
    pub sid: String,
    pub phone_number: String,
    pub voice_url: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub trunks: Vec<Trunk>,
    pub numbers: Vec<Mapping>,
    pub ips: Vec<WhitelistedIp>,
    pub destinations: Vec<Destination>,
    pub credentials: Vec<Credential>,
    pub exophones: Vec<ExoPhone>,
    next_id: u64,
}

impl State {
    /// Mapping, IP, destination and credential ids: numeric strings ("41512", "1153").
    pub(crate) fn next_id(&mut self) -> String {
        self.next_id += 1;
        (1000 + self.next_id).to_string()
    }

    /// Lowercase, 28 characters, `trmum…` like every example.
    pub(crate) fn trunk_sid() -> String {
        format!("trmum{}a1n", hex(20))
    }

    pub(crate) fn trunk(&self, sid: &str) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.sid == sid)
    }

    /// Deleting a trunk cascades to its numbers, IPs, destinations and credentials.
    pub(crate) fn remove_trunk(&mut self, sid: &str) -> Option<Trunk> {
        let pos = self.trunks.iter().position(|t| t.sid == sid)?;
        let t = self.trunks.remove(pos);
        self.numbers.retain(|m| m.trunk_sid != sid);
        self.ips.retain(|i| i.trunk_sid != sid);
        self.destinations.retain(|d| d.trunk_sid != sid);
        self.credentials.retain(|c| c.trunk_sid != sid);
        Some(t)
    }

    pub(crate) fn trunk_json(t: &Trunk, account: &str, with_links: bool) -> Value {
        let mut v = json!({
            "trunk_name": t.name,
            "date_created": t.created,
            "date_updated": t.created,
            "trunk_sid": t.sid,
            "status": "active",
            "domain_name": t.domain_name,
            "auth_type": "IP-WHITELIST",
            "registration_enabled": "disabled",
            "edge_preference": "auto",
            "nso_code": t.nso_code,
            "secure_trunking": "disabled",
        });
        if with_links {
            let base = format!("/v2/accounts/{account}/trunks/{}", t.sid);
            for (k, p) in [
                ("destination_uris", "destination-uris"),
                ("whitelisted_ips", "whitelisted-ips"),
                ("credentials", "credentials"),
                ("phone_numbers", "phone-numbers"),
            ] {
                v[k] = json!(format!("{base}/{p}"));
            }
        }
        v
    }

    pub(crate) fn mapping_json(m: &Mapping) -> Value {
        json!({
            "id": m.id,
            "phone_number": m.phone_number,
            "trunk_sid": m.trunk_sid,
            "date_created": m.created,
            "date_updated": m.updated,
            "mode": m.mode,
        })
    }

    pub(crate) fn ip_json(i: &WhitelistedIp) -> Value {
        json!({
            "id": i.id,
            "mask": i.mask,
            "trunk_sid": i.trunk_sid,
            "ip": i.ip,
            "friendly_name": null,
            "date_created": i.created,
            "date_updated": i.created,
        })
    }

    pub(crate) fn destination_json(d: &Destination) -> Value {
        json!({
            "id": d.id,
            "destination": d.destination,
            "date_created": d.created,
            "date_updated": d.created,
            "type": "public",
            "priority": 0,
            "weight": 1,
            "trunk_sid": d.trunk_sid,
        })
    }

    /// Never the password.
    pub(crate) fn credential_json(c: &Credential) -> Value {
        json!({
            "id": c.id,
            "trunk_sid": c.trunk_sid,
            "user_name": c.user_name,
            "friendly_name": c.friendly_name,
            "date_created": c.created,
            "date_updated": c.created,
        })
    }

    pub(crate) fn exophone_json(e: &ExoPhone, account: &str) -> Value {
        json!({
            "sid": e.sid,
            "friendly_name": e.phone_number,
            "phone_number": e.phone_number,
            "voice_url": e.voice_url,
            "sms_url": null,
            "capabilities": {"voice": true, "sms": true},
            "account_sid": account,
        })
    }

    pub(crate) fn now() -> String {
        iso_now()
    }
}

/// One item of `response`: success with `data`, or failure with `error_data`.
pub(crate) fn ok_item(data: Value) -> Value {
    json!({"code": 200, "error_data": null, "status": "success", "data": data})
}

pub(crate) fn err_item(code: u16, err: u32, message: &str, description: &str) -> Value {
    json!({
        "code": code,
        "error_data": {"code": err, "message": message, "description": description},
        "status": "failure",
        "data": null,
    })
}

/// The envelope, `http_code` equal to the HTTP status.
pub(crate) fn envelope(
    method: &str,
    http_code: u16,
    metadata: Option<Value>,
    response: Value,
) -> Reply {
    let mut v = json!({
        "request_id": hex(32),
        "method": method,
        "http_code": http_code,
        "response": response,
    });
    if let Some(m) = metadata {
        v["metadata"] = m;
    }
    Reply::json(http_code, v)
}

/// A whole-request failure: HTTP status = inner code.
pub(crate) fn failure(
    method: &str,
    code: u16,
    err: u32,
    message: &str,
    description: &str,
) -> Reply {
    envelope(
        method,
        code,
        None,
        err_item(code, err, message, description),
    )
}
