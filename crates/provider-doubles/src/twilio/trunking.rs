//! Elastic SIP Trunking v1 (`/v1/Trunks…`), per twilio-oai `twilio_trunking_v1.json`.

use super::form::{self, invalid, not_found, page, Form, Style};
use super::state::{sid, Association, OriginationUrl, State, Trunk};
use super::Ctx;
use crate::wire::{Exchange, Reply};
use axum::http::Method;

const TRUNK_FIELDS: &[&str] = &[
    "FriendlyName",
    "DomainName",
    "DisasterRecoveryUrl",
    "DisasterRecoveryMethod",
    "TransferMode",
    "Secure",
    "CnamLookupEnabled",
    "TransferCallerId",
];
const OU_FIELDS: &[&str] = &["Weight", "Priority", "Enabled", "FriendlyName", "SipUrl"];

pub(crate) fn handle(ctx: &Ctx, s: &mut State, ex: &Exchange, segs: &[&str]) -> Reply {
    match segs {
        ["Trunks"] => match ex.method {
            Method::GET => {
                let items = s
                    .trunks
                    .iter()
                    .map(|t| s.trunk_json(t, &ctx.base, &ctx.account))
                    .collect();
                page(ex, items, "trunks", Style::V1 { base: &ctx.base })
            }
            Method::POST => create_trunk(ctx, s, ex).unwrap_or_else(|e| e),
            _ => method_not_allowed(),
        },
        ["Trunks", tk, rest @ ..] => {
            if s.trunk(tk).is_none() {
                return not_found(&ex.path);
            }
            match rest {
                [] => trunk_instance(ctx, s, ex, tk).unwrap_or_else(|e| e),
                ["OriginationUrls", rest @ ..] => {
                    origination_urls(ctx, s, ex, tk, rest).unwrap_or_else(|e| e)
                }
                [kind @ ("CredentialLists" | "IpAccessControlLists"), rest @ ..] => {
                    associations(ctx, s, ex, tk, kind, rest).unwrap_or_else(|e| e)
                }
                ["PhoneNumbers", rest @ ..] => {
                    phone_numbers(ctx, s, ex, tk, rest).unwrap_or_else(|e| e)
                }
                _ => not_found(&ex.path),
            }
        }
        _ => not_found(&ex.path),
    }
}

fn method_not_allowed() -> Reply {
    form::error(405, 20004, "Method not allowed")
}

/// `<label>.pstn.twilio.com`, the label letters, digits and `-`.
fn check_domain(d: &str) -> Result<(), Reply> {
    let lower = d.to_ascii_lowercase();
    let ok = lower.strip_suffix(".pstn.twilio.com").is_some_and(|label| {
        !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "DomainName {d:?} is invalid: use letters, digits and '-', ending with pstn.twilio.com"
        )))
    }
}

fn one_of(f: &Form, name: &str, allowed: &[&str]) -> Result<Option<String>, Reply> {
    match f.get(name) {
        Some(v) if !allowed.contains(&v) => Err(invalid(format!(
            "{name} must be one of {}",
            allowed.join(", ")
        ))),
        v => Ok(v.map(str::to_owned)),
    }
}

/// Applies create/update fields to `t`.
fn apply_trunk(s: &State, f: &Form, t: &mut Trunk) -> Result<(), Reply> {
    if let Some(name) = f.text("FriendlyName", 64)? {
        t.friendly_name = Some(name);
    }
    if let Some(d) = f.get("DomainName") {
        check_domain(d)?;
        if s.domain_taken(d, Some(&t.sid)) {
            return Err(form::error(
                400,
                form::DOMAIN_TAKEN,
                "Trunk Domain already taken",
            ));
        }
        t.domain_name = Some(d.to_owned());
    }
    if let Some(u) = f.get("DisasterRecoveryUrl") {
        t.disaster_recovery_url = Some(u.to_owned());
    }
    if let Some(m) = one_of(f, "DisasterRecoveryMethod", &["GET", "POST"])? {
        t.disaster_recovery_method = Some(m);
    }
    if let Some(m) = one_of(
        f,
        "TransferMode",
        &["disable-all", "enable-all", "sip-only"],
    )? {
        t.transfer_mode = m;
    }
    if let Some(c) = one_of(
        f,
        "TransferCallerId",
        &["from-transferee", "from-transferor"],
    )? {
        t.transfer_caller_id = c;
    }
    if let Some(b) = f.bool("Secure")? {
        t.secure = b;
    }
    if let Some(b) = f.bool("CnamLookupEnabled")? {
        t.cnam_lookup_enabled = b;
    }
    Ok(())
}

fn create_trunk(ctx: &Ctx, s: &mut State, ex: &Exchange) -> Result<Reply, Reply> {
    let f = Form::parse(ex, TRUNK_FIELDS)?;
    let now = State::now_v1();
    let mut t = Trunk {
        sid: sid("TK"),
        friendly_name: None,
        domain_name: None,
        disaster_recovery_url: None,
        disaster_recovery_method: None,
        transfer_mode: "disable-all".into(),
        secure: false,
        cnam_lookup_enabled: false,
        transfer_caller_id: "from-transferee".into(),
        created_v1: now.clone(),
        updated_v1: now,
    };
    apply_trunk(s, &f, &mut t)?;
    let body = s.trunk_json(&t, &ctx.base, &ctx.account);
    s.trunks.push(t);
    Ok(Reply::json(201, body))
}

fn trunk_instance(ctx: &Ctx, s: &mut State, ex: &Exchange, tk: &str) -> Result<Reply, Reply> {
    match ex.method {
        Method::GET => {
            let t = s.trunk(tk).ok_or_else(|| not_found(&ex.path))?;
            Ok(Reply::json(200, s.trunk_json(t, &ctx.base, &ctx.account)))
        }
        Method::POST => {
            let f = Form::parse(ex, TRUNK_FIELDS)?;
            let mut t = s.trunk(tk).cloned().ok_or_else(|| not_found(&ex.path))?;
            apply_trunk(s, &f, &mut t)?;
            t.updated_v1 = State::now_v1();
            let body = s.trunk_json(&t, &ctx.base, &ctx.account);
            if let Some(slot) = s.trunks.iter_mut().find(|x| x.sid == tk) {
                *slot = t;
            }
            Ok(Reply::json(200, body))
        }
        Method::DELETE => {
            s.remove_trunk(tk);
            Ok(Reply::empty(204))
        }
        _ => Ok(method_not_allowed()),
    }
}

fn origination_urls(
    ctx: &Ctx,
    s: &mut State,
    ex: &Exchange,
    tk: &str,
    rest: &[&str],
) -> Result<Reply, Reply> {
    let json = |o: &OriginationUrl| State::origination_url_json(o, &ctx.base, &ctx.account);
    match (rest, &ex.method) {
        ([], &Method::GET) => {
            let items = s
                .origination_urls
                .iter()
                .filter(|o| o.trunk_sid == tk)
                .map(json)
                .collect();
            Ok(page(
                ex,
                items,
                "origination_urls",
                Style::V1 { base: &ctx.base },
            ))
        }
        ([], &Method::POST) => {
            let f = Form::parse(ex, OU_FIELDS)?;
            // All five are required (twilio-oai; twilio-python's create() signature).
            for name in OU_FIELDS {
                f.require(name)?;
            }
            let now = State::now_v1();
            let o = OriginationUrl {
                sid: sid("OU"),
                trunk_sid: tk.to_owned(),
                weight: f.int("Weight", 1, 65535)?.unwrap_or(1),
                priority: f.int("Priority", 0, 65535)?.unwrap_or(0),
                enabled: f.bool("Enabled")?.unwrap_or(true),
                friendly_name: f.text("FriendlyName", 64)?.unwrap_or_default(),
                sip_url: check_sip_url(f.require("SipUrl")?)?,
                created: now.clone(),
                updated: now,
            };
            let body = json(&o);
            s.origination_urls.push(o);
            Ok(Reply::json(201, body))
        }
        ([ou], method) => {
            let pos = s
                .origination_urls
                .iter()
                .position(|o| o.sid == *ou && o.trunk_sid == tk)
                .ok_or_else(|| not_found(&ex.path))?;
            match *method {
                Method::GET => Ok(Reply::json(200, json(&s.origination_urls[pos]))),
                Method::POST => {
                    let f = Form::parse(ex, OU_FIELDS)?;
                    let mut o = s.origination_urls[pos].clone();
                    if let Some(w) = f.int("Weight", 1, 65535)? {
                        o.weight = w;
                    }
                    if let Some(p) = f.int("Priority", 0, 65535)? {
                        o.priority = p;
                    }
                    if let Some(e) = f.bool("Enabled")? {
                        o.enabled = e;
                    }
                    if let Some(n) = f.text("FriendlyName", 64)? {
                        o.friendly_name = n;
                    }
                    if let Some(u) = f.get("SipUrl") {
                        o.sip_url = check_sip_url(u)?;
                    }
                    o.updated = State::now_v1();
                    let body = json(&o);
                    s.origination_urls[pos] = o;
                    Ok(Reply::json(200, body))
                }
                Method::DELETE => {
                    s.origination_urls.remove(pos);
                    Ok(Reply::empty(204))
                }
                _ => Ok(method_not_allowed()),
            }
        }
        _ => Ok(not_found(&ex.path)),
    }
}

/// A `sip:` URI; "`sips` is NOT supported" (twilio-oai, OriginationUrl update).
fn check_sip_url(u: &str) -> Result<String, Reply> {
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("sip:") && u.len() > 4 {
        Ok(u.to_owned())
    } else {
        Err(invalid(format!(
            "SipUrl {u:?} must be a sip: URI (sips is not supported)"
        )))
    }
}

fn associations(
    ctx: &Ctx,
    s: &mut State,
    ex: &Exchange,
    tk: &str,
    kind: &str,
    rest: &[&str],
) -> Result<Reply, Reply> {
    let (field, prefix, key) = if kind == "CredentialLists" {
        ("CredentialListSid", "CL", "credential_lists")
    } else {
        ("IpAccessControlListSid", "AL", "ip_access_control_lists")
    };
    let list = |s: &State| -> Vec<Association> {
        let v = if kind == "CredentialLists" {
            &s.trunk_credential_lists
        } else {
            &s.trunk_ip_acls
        };
        v.iter().filter(|a| a.trunk_sid == tk).cloned().collect()
    };
    match (rest, &ex.method) {
        ([], &Method::GET) => {
            let items = list(s)
                .iter()
                .map(|a| s.association_json(a, kind, &ctx.base, &ctx.account))
                .collect();
            Ok(page(ex, items, key, Style::V1 { base: &ctx.base }))
        }
        ([], &Method::POST) => {
            let f = Form::parse(ex, &[field])?;
            let target = f.require(field)?.to_owned();
            let exists = if prefix == "CL" {
                s.credential_lists.iter().any(|l| l.sid == target)
            } else {
                s.ip_acls.iter().any(|l| l.sid == target)
            };
            if !exists {
                return Err(not_found(&format!("{field} {target}")));
            }
            if list(s).iter().any(|a| a.sid == target) {
                return Err(invalid(format!(
                    "{target} is already associated with trunk {tk}"
                )));
            }
            let a = Association {
                trunk_sid: tk.to_owned(),
                sid: target,
                created: State::now_v1(),
            };
            let body = s.association_json(&a, kind, &ctx.base, &ctx.account);
            if kind == "CredentialLists" {
                s.trunk_credential_lists.push(a);
            } else {
                s.trunk_ip_acls.push(a);
            }
            Ok(Reply::json(201, body))
        }
        ([id], method) => {
            let a = list(s)
                .into_iter()
                .find(|a| a.sid == *id)
                .ok_or_else(|| not_found(&ex.path))?;
            match *method {
                Method::GET => Ok(Reply::json(
                    200,
                    s.association_json(&a, kind, &ctx.base, &ctx.account),
                )),
                Method::DELETE => {
                    let v = if kind == "CredentialLists" {
                        &mut s.trunk_credential_lists
                    } else {
                        &mut s.trunk_ip_acls
                    };
                    v.retain(|x| !(x.trunk_sid == tk && x.sid == *id));
                    Ok(Reply::empty(204))
                }
                _ => Ok(method_not_allowed()),
            }
        }
        _ => Ok(not_found(&ex.path)),
    }
}

fn phone_numbers(
    ctx: &Ctx,
    s: &mut State,
    ex: &Exchange,
    tk: &str,
    rest: &[&str],
) -> Result<Reply, Reply> {
    match (rest, &ex.method) {
        ([], &Method::GET) => {
            let items = s
                .numbers
                .iter()
                .filter(|n| n.trunk_sid.as_deref() == Some(tk))
                .map(|n| State::trunk_number_json(n, &ctx.base, &ctx.account))
                .collect();
            Ok(page(
                ex,
                items,
                "phone_numbers",
                Style::V1 { base: &ctx.base },
            ))
        }
        ([], &Method::POST) => {
            let f = Form::parse(ex, &["PhoneNumberSid"])?;
            let pn = f.require("PhoneNumberSid")?;
            let n = s
                .numbers
                .iter_mut()
                .find(|n| n.sid == pn)
                .ok_or_else(|| not_found(&format!("PhoneNumberSid {pn}")))?;
            // On a trunk, a number has no voice application (twilio-oai IncomingPhoneNumber
            // TrunkSid: setting one clears the other).
            n.trunk_sid = Some(tk.to_owned());
            n.voice_url = None;
            n.voice_application_sid = None;
            Ok(Reply::json(
                201,
                State::trunk_number_json(n, &ctx.base, &ctx.account),
            ))
        }
        ([pn], method) => {
            let n = s
                .numbers
                .iter_mut()
                .find(|n| n.sid == *pn && n.trunk_sid.as_deref() == Some(tk))
                .ok_or_else(|| not_found(&ex.path))?;
            match *method {
                Method::GET => Ok(Reply::json(
                    200,
                    State::trunk_number_json(n, &ctx.base, &ctx.account),
                )),
                Method::DELETE => {
                    n.trunk_sid = None;
                    Ok(Reply::empty(204))
                }
                _ => Ok(method_not_allowed()),
            }
        }
        _ => Ok(not_found(&ex.path)),
    }
}
