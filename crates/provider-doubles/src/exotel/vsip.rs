//! `/v2/accounts/{sid}/trunks…` (EX-REF §1–11, EX-AS credentials) and the ExoPhones list.

use super::state::*;
use crate::wire::{Exchange, Reply};
use axum::http::Method;
use serde_json::{json, Value};
use std::net::Ipv4Addr;

pub(crate) const NOT_FOUND: u32 = 1000;
pub(crate) const MISSING: u32 = 1001;
pub(crate) const INVALID: u32 = 1002;
pub(crate) const BAD_BODY: u32 = 1007;
pub(crate) const DUPLICATE: u32 = 1008;
pub(crate) const CONTENT_TYPE: u32 = 1011;

pub(crate) struct Req<'a> {
    pub ex: &'a Exchange,
    pub account: &'a str,
    pub method: &'a str,
}

impl Req<'_> {
    fn fail(&self, code: u16, err: u32, message: &str, description: &str) -> Reply {
        failure(self.method, code, err, message, description)
    }

    fn not_found(&self, what: &str) -> Reply {
        self.fail(404, NOT_FOUND, "Not Found", what)
    }

    fn single(&self, data: Value) -> Reply {
        envelope(self.method, 200, None, ok_item(data))
    }

    /// The JSON body; POST and PUT must say `application/json` (else 415/1011).
    fn body(&self) -> Result<Value, Reply> {
        if !self.ex.is_content_type("application/json") {
            return Err(self.fail(
                415,
                CONTENT_TYPE,
                "Unsupported content type",
                "Use Content-Type: application/json",
            ));
        }
        serde_json::from_slice::<Value>(&self.ex.body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| self.fail(400, BAD_BODY, "Invalid request body", "JSON parsing failed"))
    }

    fn text<'v>(&self, body: &'v Value, name: &str) -> Result<&'v str, Reply> {
        match body.get(name).and_then(Value::as_str) {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.fail(
                400,
                MISSING,
                "Mandatory Parameter missing",
                &format!("{name} is required"),
            )),
        }
    }

    fn invalid(&self, description: &str) -> Reply {
        self.fail(400, INVALID, "Invalid parameter", description)
    }

    /// A list with `metadata` paging by `offset` and `page_size` (default 50).
    fn list(&self, items: Vec<Value>) -> Reply {
        let size = self
            .ex
            .q("page_size")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| (1..=100).contains(n))
            .unwrap_or(50);
        let offset = self
            .ex
            .q("offset")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        let total = items.len();
        let page: Vec<Value> = items
            .into_iter()
            .skip(offset)
            .take(size)
            .map(ok_item)
            .collect();
        let link = |o: usize| format!("{}?offset={o}&page_size={size}", self.ex.path);
        let next = (offset + page.len() < total).then(|| link(offset + size));
        let prev = (offset > 0).then(|| link(offset.saturating_sub(size)));
        let metadata = json!({
            "page_size": size,
            "first_page_uri": link(0),
            "prev_page_uri": prev,
            "next_page_uri": next,
        });
        envelope(self.method, 200, Some(metadata), Value::Array(page))
    }
}

fn is_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

pub(crate) fn handle(r: &Req, s: &mut State, segs: &[&str]) -> Reply {
    match segs {
        ["trunks"] => match r.ex.method {
            Method::POST => create_trunk(r, s).unwrap_or_else(|e| e),
            Method::DELETE => delete_trunk(r, s),
            _ => r.not_found(&r.ex.path),
        },
        ["trunks", t, rest @ ..] => {
            let Some(trunk) = s.trunk(t).cloned() else {
                return r.not_found(&format!("Trunk '{t}' does not exist"));
            };
            let res = match (rest, &r.ex.method) {
                ([], &Method::GET) => Ok(r.single(State::trunk_json(&trunk, r.account, true))),
                (["phone-numbers"], &Method::POST) => map_number(r, s, t),
                (["phone-numbers"], &Method::GET) => Ok(r.list(
                    s.numbers
                        .iter()
                        .filter(|m| m.trunk_sid == *t)
                        .map(State::mapping_json)
                        .collect(),
                )),
                (["phone-numbers", id], &Method::PUT) => update_mode(r, s, t, id),
                (["whitelisted-ips"], &Method::POST) => whitelist(r, s, t),
                (["whitelisted-ips"], &Method::GET) => Ok(r.list(
                    s.ips
                        .iter()
                        .filter(|i| i.trunk_sid == *t)
                        .map(State::ip_json)
                        .collect(),
                )),
                (["destination-uris"], &Method::POST) => destinations(r, s, t),
                (["destination-uris"], &Method::GET) => Ok(r.list(
                    s.destinations
                        .iter()
                        .filter(|d| d.trunk_sid == *t)
                        .map(State::destination_json)
                        .collect(),
                )),
                (["credentials"], &Method::POST) => create_credential(r, s, t),
                (["credentials"], &Method::GET) => Ok(r.list(
                    s.credentials
                        .iter()
                        .filter(|c| c.trunk_sid == *t)
                        .map(State::credential_json)
                        .collect(),
                )),
                (["credentials"], &Method::DELETE) => delete_credential(r, s, t),
                _ => Err(r.not_found(&r.ex.path)),
            };
            res.unwrap_or_else(|e| e)
        }
        _ => r.not_found(&r.ex.path),
    }
}

fn create_trunk(r: &Req, s: &mut State) -> Result<Reply, Reply> {
    let body = r.body()?;
    let name = r.text(&body, "trunk_name")?;
    let nso = r.text(&body, "nso_code")?;
    let domain = r.text(&body, "domain_name")?;
    if name.len() > 16 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(
            r.invalid("trunk_name must be alphanumeric with underscores only, max 16 characters")
        );
    }
    if domain != format!("{}.pstn.exotel.com", r.account) {
        return Err(r.invalid("domain_name must be {account_sid}.pstn.exotel.com"));
    }
    if s.trunks.iter().any(|t| t.name == name) {
        return Err(r.fail(
            409,
            DUPLICATE,
            "Duplicate resource",
            &format!("Trunk with name '{name}' already exists"),
        ));
    }
    let t = Trunk {
        sid: State::trunk_sid(),
        name: name.to_owned(),
        domain_name: domain.to_owned(),
        nso_code: nso.to_owned(),
        created: State::now(),
    };
    let data = State::trunk_json(&t, r.account, true);
    s.trunks.push(t);
    Ok(r.single(data))
}

/// `DELETE /trunks?trunk_sid=…`: answers the deleted trunk (without the sub-resource paths).
fn delete_trunk(r: &Req, s: &mut State) -> Reply {
    let Some(sid) = r.ex.q("trunk_sid").filter(|v| !v.is_empty()) else {
        return r.fail(
            400,
            MISSING,
            "Mandatory Parameter missing",
            "trunk_sid is required",
        );
    };
    match s.remove_trunk(sid) {
        Some(t) => r.single(State::trunk_json(&t, r.account, false)),
        None => r.not_found(&format!("Trunk '{sid}' does not exist")),
    }
}

fn mode_of(r: &Req, body: &Value, required: bool) -> Result<Option<String>, Reply> {
    match body.get("mode") {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(m)) if m == "pstn" || m == "flow" => Ok(Some(m.clone())),
        None | Some(Value::Null) => Err(r.fail(
            400,
            MISSING,
            "Mandatory Parameter missing",
            "mode is required",
        )),
        Some(_) => Err(r.invalid("mode must be pstn or flow")),
    }
}

fn map_number(r: &Req, s: &mut State, t: &str) -> Result<Reply, Reply> {
    let body = r.body()?;
    let number = r.text(&body, "phone_number")?;
    if !is_e164(number) {
        return Err(r.invalid("phone_number must be in E.164 format (e.g., +919876543210)"));
    }
    let mode = mode_of(r, &body, false)?;
    if s.numbers
        .iter()
        .any(|m| m.trunk_sid == t && m.phone_number == number)
    {
        // The quirk: HTTP 200 outside, 409/1008 inside.
        return Ok(envelope(
            r.method,
            200,
            None,
            err_item(
                409,
                DUPLICATE,
                "Duplicate resource",
                &format!("Unable to create DidTrunkMapping with TrunkSid {t}"),
            ),
        ));
    }
    let now = State::now();
    let m = Mapping {
        id: s.next_id(),
        trunk_sid: t.to_owned(),
        phone_number: number.to_owned(),
        mode,
        created: now.clone(),
        updated: now,
    };
    let data = State::mapping_json(&m);
    s.numbers.push(m);
    Ok(r.single(data))
}

fn update_mode(r: &Req, s: &mut State, t: &str, id: &str) -> Result<Reply, Reply> {
    let body = r.body()?;
    let number = r.text(&body, "phone_number")?.to_owned();
    let mode = mode_of(r, &body, true)?;
    let m = s
        .numbers
        .iter_mut()
        .find(|m| m.trunk_sid == t && m.id == id)
        .ok_or_else(|| r.not_found(&format!("Phone number mapping '{id}' does not exist")))?;
    if m.phone_number != number {
        return Err(r.invalid("phone_number does not match the mapping"));
    }
    m.mode = mode;
    m.updated = State::now();
    Ok(r.single(State::mapping_json(m)))
}

fn whitelist(r: &Req, s: &mut State, t: &str) -> Result<Reply, Reply> {
    let body = r.body()?;
    let ip = r.text(&body, "ip")?;
    if ip.parse::<Ipv4Addr>().is_err() {
        return Err(r.invalid("ip must be a valid IPv4 address"));
    }
    let mask = match body.get("mask") {
        None | Some(Value::Null) => 32,
        Some(v) => match v.as_u64() {
            Some(m @ 1..=32) => m as u8,
            _ => return Err(r.invalid("mask must be an integer from 1 to 32")),
        },
    };
    if s.ips.iter().any(|i| i.trunk_sid == t && i.ip == ip) {
        return Ok(envelope(
            r.method,
            200,
            None,
            err_item(
                409,
                DUPLICATE,
                "Duplicate resource",
                &format!("Unable to Whitelist-ip with ip {ip}"),
            ),
        ));
    }
    let w = WhitelistedIp {
        id: s.next_id(),
        trunk_sid: t.to_owned(),
        ip: ip.to_owned(),
        mask,
        created: State::now(),
    };
    let data = State::ip_json(&w);
    s.ips.push(w);
    Ok(r.single(data))
}

/// `host:port;transport=tls|tcp`; an IP host must be whitelisted first, an FQDN need not.
fn destinations(r: &Req, s: &mut State, t: &str) -> Result<Reply, Reply> {
    let body = r.body()?;
    let Some(items) = body
        .get("destinations")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        return Err(r.fail(
            400,
            MISSING,
            "Mandatory Parameter missing",
            "destinations is required",
        ));
    };
    let mut out = Vec::new();
    let mut ok = 0;
    for item in items {
        let dest = item
            .get("destination")
            .and_then(Value::as_str)
            .unwrap_or("");
        let outcome = check_destination(dest).and_then(|host| {
            if host.parse::<Ipv4Addr>().is_ok()
                && !s.ips.iter().any(|i| i.trunk_sid == t && i.ip == host)
            {
                Err("Destination not whitelisted")
            } else {
                Ok(())
            }
        });
        match outcome {
            Ok(()) => {
                let d = Destination {
                    id: s.next_id(),
                    trunk_sid: t.to_owned(),
                    destination: format!("sip:{dest}"),
                    created: State::now(),
                };
                out.push(ok_item(State::destination_json(&d)));
                s.destinations.push(d);
                ok += 1;
            }
            Err(why) => out.push(err_item(400, INVALID, "Invalid parameter", why)),
        }
    }
    let total = out.len();
    let (status, metadata) = if ok == total {
        (200, json!({"total": total, "success": ok}))
    } else {
        (
            207,
            json!({"failed": total - ok, "total": total, "success": ok}),
        )
    };
    Ok(envelope(
        r.method,
        status,
        Some(metadata),
        Value::Array(out),
    ))
}

/// The host of a valid destination.
fn check_destination(d: &str) -> Result<&str, &'static str> {
    const BAD: &str = "Destination is not a valid Ip or Fqdn";
    let (hostport, params) = d.split_once(';').ok_or(BAD)?;
    let transport = params.strip_prefix("transport=").ok_or(BAD)?;
    if transport != "tls" && transport != "tcp" {
        return Err(BAD);
    }
    let (host, port) = hostport.rsplit_once(':').ok_or(BAD)?;
    port.parse::<u16>().ok().filter(|p| *p > 0).ok_or(BAD)?;
    let fqdn = host.contains('.')
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && host
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()));
    if host.parse::<Ipv4Addr>().is_ok() || fqdn {
        Ok(host)
    } else {
        Err(BAD)
    }
}

fn create_credential(r: &Req, s: &mut State, t: &str) -> Result<Reply, Reply> {
    let body = r.body()?;
    let user = r.text(&body, "user_name")?.to_owned();
    let password = r.text(&body, "password")?.to_owned();
    let friendly = body
        .get("friendly_name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if friendly.as_ref().is_some_and(|f| f.chars().count() > 32) {
        return Err(r.invalid("friendly_name must be at most 32 characters"));
    }
    if s.credentials
        .iter()
        .any(|c| c.trunk_sid == t && c.user_name == user)
    {
        return Ok(envelope(
            r.method,
            200,
            None,
            err_item(
                409,
                DUPLICATE,
                "Duplicate resource",
                "Credential already exists",
            ),
        ));
    }
    let c = Credential {
        id: s.next_id(),
        trunk_sid: t.to_owned(),
        user_name: user,
        password,
        friendly_name: friendly,
        created: State::now(),
    };
    let data = State::credential_json(&c);
    s.credentials.push(c);
    Ok(r.single(data))
}

fn delete_credential(r: &Req, s: &mut State, t: &str) -> Result<Reply, Reply> {
    let Some(id) = r.ex.q("id").filter(|v| !v.is_empty()) else {
        return Err(r.fail(
            400,
            MISSING,
            "Mandatory Parameter missing",
            "id is required",
        ));
    };
    let pos = s
        .credentials
        .iter()
        .position(|c| c.trunk_sid == t && c.id == id)
        .ok_or_else(|| r.not_found(&format!("Credential '{id}' does not exist")))?;
    let c = s.credentials.remove(pos);
    Ok(r.single(State::credential_json(&c)))
}

/// `GET /v2_beta/Accounts/{sid}/IncomingPhoneNumbers`: Twilio-like paging by `Page` and
/// `PageSize` (developer.exotel.com exophone-details).
pub(crate) fn exophones(r: &Req, s: &State, base: &str) -> Reply {
    if r.ex.method != Method::GET {
        return r.not_found(&r.ex.path);
    }
    let size =
        r.ex.q("PageSize")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| (1..=100).contains(n))
            .unwrap_or(50);
    let page =
        r.ex.q("Page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
    let items: Vec<Value> = s
        .exophones
        .iter()
        .skip(page * size)
        .take(size)
        .map(|e| State::exophone_json(e, r.account))
        .collect();
    let more = (page + 1) * size < s.exophones.len();
    // Exotel's own links name its internal host; the client must use only path and query.
    let link = |p: usize| format!("{base}{}?Page={p}&PageSize={size}", r.ex.path);
    Reply::json(
        200,
        json!({
            "page": page,
            "page_size": size,
            "uri": link(page),
            "first_page_uri": link(0),
            "next_page_uri": more.then(|| link(page + 1)),
            "previous_page_uri": (page > 0).then(|| link(page - 1)),
            "incoming_phone_numbers": items,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::check_destination;

    #[test]
    fn destinations_are_host_port_transport() {
        assert_eq!(
            check_destination("44.248.146.11:5061;transport=tls"),
            Ok("44.248.146.11")
        );
        assert_eq!(
            check_destination("abc.sip.livekit.cloud:5061;transport=tls"),
            Ok("abc.sip.livekit.cloud")
        );
        assert!(check_destination("abc.sip.livekit.cloud:5061;transport=udp").is_err());
        assert!(check_destination("sip:abc.example:5061;transport=tls").is_err());
        assert!(check_destination("localhost:5061;transport=tls").is_err());
        assert!(check_destination("abc.example;transport=tls").is_err());
    }
}
