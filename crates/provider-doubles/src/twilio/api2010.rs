//! The 2010 API (`/2010-04-01/Accounts/{AccountSid}…​.json`), per twilio-oai
//! `twilio_api_v2010.json`: the account, SIP credential lists and credentials, IP access
//! control lists and addresses, and incoming phone numbers. Paths without `.json` would get
//! XML from Twilio; the double answers 404 to them.

use super::form::{invalid, not_found, page, Form, Style};
use super::state::{sid, Credential, IpAddress, NamedList, State};
use super::Ctx;
use crate::wire::{Exchange, Reply};
use axum::http::Method;
use serde_json::json;

pub(crate) fn handle(ctx: &Ctx, s: &mut State, ex: &Exchange, segs: &[&str]) -> Reply {
    // The last segment carries `.json`; strip it once here.
    let Some((last, head)) = segs.split_last() else {
        return not_found(&ex.path);
    };
    let Some(last) = last.strip_suffix(".json") else {
        return not_found(&ex.path);
    };
    let mut p: Vec<&str> = head.to_vec();
    p.push(last);
    let Some((account, rest)) = p.split_first() else {
        return not_found(&ex.path);
    };
    if *account != ctx.account {
        return not_found(&ex.path);
    }
    let r = match rest {
        [] if ex.method == Method::GET => Ok(Reply::json(200, account_json(ctx))),
        ["SIP", "CredentialLists", rest @ ..] => credential_lists(ctx, s, ex, rest),
        ["SIP", "IpAccessControlLists", rest @ ..] => ip_acls(ctx, s, ex, rest),
        ["IncomingPhoneNumbers", rest @ ..] => numbers(ctx, s, ex, rest),
        _ => Err(not_found(&ex.path)),
    };
    r.unwrap_or_else(|e| e)
}

fn account_json(ctx: &Ctx) -> serde_json::Value {
    let uri = format!("/2010-04-01/Accounts/{}.json", ctx.account);
    json!({
        "sid": ctx.account,
        "owner_account_sid": ctx.account,
        "friendly_name": "trunkline double account",
        "status": "active",
        "type": "Full",
        // The real resource returns the Auth Token too; a client must never surface it.
        "auth_token": ctx.token,
        "date_created": State::now_2010(),
        "date_updated": State::now_2010(),
        "uri": uri,
        "subresource_uris": {},
    })
}

fn lists_mut(s: &mut State, acl: bool) -> &mut Vec<NamedList> {
    if acl {
        &mut s.ip_acls
    } else {
        &mut s.credential_lists
    }
}

/// The shared create/fetch/rename/delete of CredentialLists and IpAccessControlLists.
fn named_list(
    ctx: &Ctx,
    s: &mut State,
    ex: &Exchange,
    id: Option<&str>,
    acl: bool,
    max: usize,
) -> Result<Reply, Reply> {
    let (key, render): (&str, fn(&NamedList, &str) -> serde_json::Value) = if acl {
        ("ip_access_control_lists", State::ip_acl_json)
    } else {
        ("credential_lists", State::credential_list_json)
    };
    match (id, &ex.method) {
        (None, &Method::GET) => {
            let items = lists_mut(s, acl)
                .iter()
                .map(|l| render(l, &ctx.account))
                .collect();
            Ok(page(ex, items, key, Style::V2010))
        }
        (None, &Method::POST) => {
            let f = Form::parse(ex, &["FriendlyName"])?;
            f.require("FriendlyName")?;
            let now = State::now_2010();
            let l = NamedList {
                sid: sid(if acl { "AL" } else { "CL" }),
                friendly_name: f.text("FriendlyName", max)?.unwrap_or_default(),
                created: now.clone(),
                updated: now,
            };
            let body = render(&l, &ctx.account);
            lists_mut(s, acl).push(l);
            Ok(Reply::json(201, body))
        }
        (Some(id), method) => {
            let pos = lists_mut(s, acl)
                .iter()
                .position(|l| l.sid == id)
                .ok_or_else(|| not_found(&ex.path))?;
            match *method {
                Method::GET => Ok(Reply::json(
                    200,
                    render(&lists_mut(s, acl)[pos], &ctx.account),
                )),
                Method::POST => {
                    let f = Form::parse(ex, &["FriendlyName"])?;
                    f.require("FriendlyName")?;
                    let name = f.text("FriendlyName", max)?.unwrap_or_default();
                    let l = &mut lists_mut(s, acl)[pos];
                    l.friendly_name = name;
                    l.updated = State::now_2010();
                    Ok(Reply::json(200, render(l, &ctx.account)))
                }
                Method::DELETE => {
                    lists_mut(s, acl).remove(pos);
                    // What hangs off the list goes with it, associations included.
                    if acl {
                        s.ip_addresses.retain(|i| i.list_sid != id);
                        s.trunk_ip_acls.retain(|a| a.sid != id);
                    } else {
                        s.credentials.retain(|c| c.list_sid != id);
                        s.trunk_credential_lists.retain(|a| a.sid != id);
                    }
                    Ok(Reply::empty(204))
                }
                _ => Err(super::form::error(405, 20004, "Method not allowed")),
            }
        }
        _ => Err(not_found(&ex.path)),
    }
}

fn credential_lists(
    ctx: &Ctx,
    s: &mut State,
    ex: &Exchange,
    rest: &[&str],
) -> Result<Reply, Reply> {
    match rest {
        [] => named_list(ctx, s, ex, None, false, 64),
        [cl] => named_list(ctx, s, ex, Some(cl), false, 64),
        [cl, "Credentials", rest @ ..] => {
            if !s.credential_lists.iter().any(|l| l.sid == *cl) {
                return Err(not_found(&ex.path));
            }
            credentials(ctx, s, ex, cl, rest)
        }
        _ => Err(not_found(&ex.path)),
    }
}

/// At least 12 characters, a digit, upper and lower case (twilio-oai Credential Password).
fn check_password(p: &str) -> Result<(), Reply> {
    let ok = p.chars().count() >= 12
        && p.chars().any(|c| c.is_ascii_digit())
        && p.chars().any(char::is_uppercase)
        && p.chars().any(char::is_lowercase);
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "Password must be at least 12 characters long and contain a digit, an uppercase and a lowercase letter",
        ))
    }
}

fn credentials(
    ctx: &Ctx,
    s: &mut State,
    ex: &Exchange,
    cl: &str,
    rest: &[&str],
) -> Result<Reply, Reply> {
    match (rest, &ex.method) {
        ([], &Method::GET) => {
            let items = s
                .credentials
                .iter()
                .filter(|c| c.list_sid == cl)
                .map(|c| State::credential_json(c, &ctx.account))
                .collect();
            Ok(page(ex, items, "credentials", Style::V2010))
        }
        ([], &Method::POST) => {
            let f = Form::parse(ex, &["Username", "Password"])?;
            let username = f.require("Username")?.to_owned();
            if username.chars().count() > 32 {
                return Err(invalid("Username is longer than 32 characters"));
            }
            let password = f.require("Password")?.to_owned();
            check_password(&password)?;
            if s.credentials
                .iter()
                .any(|c| c.list_sid == cl && c.username == username)
            {
                return Err(invalid(format!(
                    "Username {username} already exists in this list"
                )));
            }
            let now = State::now_2010();
            let c = Credential {
                sid: sid("CR"),
                list_sid: cl.to_owned(),
                username,
                password,
                created: now.clone(),
                updated: now,
            };
            let body = State::credential_json(&c, &ctx.account);
            s.credentials.push(c);
            Ok(Reply::json(201, body))
        }
        ([cr], method) => {
            let pos = s
                .credentials
                .iter()
                .position(|c| c.sid == *cr && c.list_sid == cl)
                .ok_or_else(|| not_found(&ex.path))?;
            match *method {
                Method::GET => Ok(Reply::json(
                    200,
                    State::credential_json(&s.credentials[pos], &ctx.account),
                )),
                Method::POST => {
                    let f = Form::parse(ex, &["Password"])?;
                    if let Some(p) = f.get("Password") {
                        check_password(p)?;
                        s.credentials[pos].password = p.to_owned();
                        s.credentials[pos].updated = State::now_2010();
                    }
                    Ok(Reply::json(
                        200,
                        State::credential_json(&s.credentials[pos], &ctx.account),
                    ))
                }
                Method::DELETE => {
                    s.credentials.remove(pos);
                    Ok(Reply::empty(204))
                }
                _ => Err(super::form::error(405, 20004, "Method not allowed")),
            }
        }
        _ => Err(not_found(&ex.path)),
    }
}

fn ip_acls(ctx: &Ctx, s: &mut State, ex: &Exchange, rest: &[&str]) -> Result<Reply, Reply> {
    match rest {
        [] => named_list(ctx, s, ex, None, true, 255),
        [al] => named_list(ctx, s, ex, Some(al), true, 255),
        [al, "IpAddresses", rest @ ..] => {
            if !s.ip_acls.iter().any(|l| l.sid == *al) {
                return Err(not_found(&ex.path));
            }
            ip_addresses(ctx, s, ex, al, rest)
        }
        _ => Err(not_found(&ex.path)),
    }
}

fn ip_addresses(
    ctx: &Ctx,
    s: &mut State,
    ex: &Exchange,
    al: &str,
    rest: &[&str],
) -> Result<Reply, Reply> {
    match (rest, &ex.method) {
        ([], &Method::GET) => {
            let items = s
                .ip_addresses
                .iter()
                .filter(|i| i.list_sid == al)
                .map(|i| State::ip_address_json(i, &ctx.account))
                .collect();
            Ok(page(ex, items, "ip_addresses", Style::V2010))
        }
        ([], &Method::POST) => {
            let f = Form::parse(ex, &["FriendlyName", "IpAddress", "CidrPrefixLength"])?;
            f.require("FriendlyName")?;
            let ip = f.require("IpAddress")?;
            if ip.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(invalid(format!("IpAddress {ip:?} is not an IPv4 address")));
            }
            let i = IpAddress {
                sid: sid("IP"),
                list_sid: al.to_owned(),
                friendly_name: f.text("FriendlyName", 255)?.unwrap_or_default(),
                ip_address: ip.to_owned(),
                cidr_prefix_length: f.int("CidrPrefixLength", 8, 32)?.unwrap_or(32) as u8,
                created: State::now_2010(),
            };
            let body = State::ip_address_json(&i, &ctx.account);
            s.ip_addresses.push(i);
            Ok(Reply::json(201, body))
        }
        ([ip], method) => {
            let pos = s
                .ip_addresses
                .iter()
                .position(|i| i.sid == *ip && i.list_sid == al)
                .ok_or_else(|| not_found(&ex.path))?;
            match *method {
                Method::GET => Ok(Reply::json(
                    200,
                    State::ip_address_json(&s.ip_addresses[pos], &ctx.account),
                )),
                Method::DELETE => {
                    s.ip_addresses.remove(pos);
                    Ok(Reply::empty(204))
                }
                _ => Err(super::form::error(405, 20004, "Method not allowed")),
            }
        }
        _ => Err(not_found(&ex.path)),
    }
}

/// `PhoneNumber` filters partially (a substring); with `*`, the pattern is anchored at both
/// ends and `*` matches any run of characters.
fn matches(filter: &str, number: &str) -> bool {
    let parts: Vec<&str> = filter.split('*').collect();
    let [first, .., last] = parts.as_slice() else {
        return number.contains(filter);
    };
    if number.len() < first.len() + last.len()
        || !number.starts_with(first)
        || !number.ends_with(last)
    {
        return false;
    }
    let mut mid = &number[first.len()..number.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match mid.find(part) {
            Some(i) => mid = &mid[i + part.len()..],
            None => return false,
        }
    }
    true
}

fn numbers(ctx: &Ctx, s: &mut State, ex: &Exchange, rest: &[&str]) -> Result<Reply, Reply> {
    match (rest, &ex.method) {
        ([], &Method::GET) => {
            let filter = ex.q("PhoneNumber");
            let items = s
                .numbers
                .iter()
                .filter(|n| filter.is_none_or(|f| matches(f, &n.phone_number)))
                .map(|n| State::number_json(n, &ctx.account))
                .collect();
            Ok(page(ex, items, "incoming_phone_numbers", Style::V2010))
        }
        ([pn], method) => {
            let pos = s
                .numbers
                .iter()
                .position(|n| n.sid == *pn)
                .ok_or_else(|| not_found(&ex.path))?;
            match *method {
                Method::GET => Ok(Reply::json(
                    200,
                    State::number_json(&s.numbers[pos], &ctx.account),
                )),
                Method::POST => {
                    let f = Form::parse(ex, &["TrunkSid", "VoiceUrl", "FriendlyName"])?;
                    if let Some(tk) = f.get("TrunkSid") {
                        if !tk.is_empty() && s.trunk(tk).is_none() {
                            return Err(not_found(&format!("TrunkSid {tk}")));
                        }
                    }
                    let n = &mut s.numbers[pos];
                    if let Some(name) = f.text("FriendlyName", 64)? {
                        n.friendly_name = name;
                    }
                    // TrunkSid and a voice application exclude each other.
                    if let Some(tk) = f.get("TrunkSid") {
                        n.trunk_sid = (!tk.is_empty()).then(|| tk.to_owned());
                        n.voice_application_sid = None;
                    }
                    if let Some(url) = f.get("VoiceUrl") {
                        n.voice_url = (!url.is_empty()).then(|| url.to_owned());
                        if n.voice_url.is_some() {
                            n.trunk_sid = None;
                        }
                    }
                    Ok(Reply::json(200, State::number_json(n, &ctx.account)))
                }
                _ => Err(super::form::error(405, 20004, "Method not allowed")),
            }
        }
        _ => Err(not_found(&ex.path)),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn phone_number_filter_is_partial_with_wildcards() {
        assert!(matches("+1415", "+14155550100"));
        assert!(matches("555", "+14155550100"));
        assert!(matches("+1415*0100", "+14155550100"));
        assert!(!matches("+1416*", "+14155550100"));
        assert!(matches("*0100", "+14155550100"));
        assert!(!matches("*0101", "+14155550100"));
        assert!(matches("+1*5*0", "+14155550100"));
    }
}
