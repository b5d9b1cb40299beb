//! Twilio's request and answer conventions: form bodies with PascalCase names, `true`/`false`
//! booleans, the error body `{code, message, more_info, status}`, and both paging styles.

use crate::wire::{Exchange, Reply};
use serde_json::{json, Value};

/// Codes the double answers. 20003, 20404, 20429 and 21248 are Twilio's documented codes;
/// Twilio documents no single code for a missing or malformed parameter, so the double uses
/// 20001 for both and says which parameter in the message.
pub(crate) const AUTH: u32 = 20003;
pub(crate) const NOT_FOUND: u32 = 20404;
pub(crate) const TOO_MANY: u32 = 20429;
pub(crate) const DOMAIN_TAKEN: u32 = 21248;
pub(crate) const INVALID: u32 = 20001;

pub(crate) fn error(status: u16, code: u32, message: impl Into<String>) -> Reply {
    Reply::json(
        status,
        json!({
            "code": code,
            "message": message.into(),
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        }),
    )
}

pub(crate) fn invalid(message: impl Into<String>) -> Reply {
    error(400, INVALID, message)
}

pub(crate) fn not_found(path: &str) -> Reply {
    error(
        404,
        NOT_FOUND,
        format!("The requested resource {path} was not found"),
    )
}

/// A POST's parameters.
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Only `application/x-www-form-urlencoded` carries parameters. A body of another type
    /// (JSON, say) is refused outright: Twilio would ignore it and act on no parameters,
    /// which is never what the sender meant.
    pub(crate) fn parse(ex: &Exchange, allowed: &[&str]) -> Result<Self, Reply> {
        if !ex.body.is_empty() && !ex.is_content_type("application/x-www-form-urlencoded") {
            return Err(invalid(format!(
                "Content-Type {:?} is not supported: send application/x-www-form-urlencoded",
                ex.content_type()
            )));
        }
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&ex.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        // Strict where Twilio is lenient: a misspelt name (`friendly_name`) would be ignored
        // by Twilio and lose the value silently; the double says so.
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(invalid(format!("Unknown parameter {k}")));
        }
        Ok(Self { pairs })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn require(&self, name: &str) -> Result<&str, Reply> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(invalid(format!(
                "Missing required parameter {name} in the post body"
            ))),
        }
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, Reply> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(invalid(format!("{name} must be true or false, not {v:?}"))),
        }
    }

    pub(crate) fn int(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, Reply> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(invalid(format!(
                    "{name} must be an integer from {min} to {max}"
                ))),
            },
        }
    }

    /// At most `max` characters.
    pub(crate) fn text(&self, name: &str, max: usize) -> Result<Option<String>, Reply> {
        match self.get(name) {
            Some(v) if v.chars().count() > max => {
                Err(invalid(format!("{name} is longer than {max} characters")))
            }
            other => Ok(other.map(str::to_owned)),
        }
    }
}

/// Paging of v1 (`meta`, absolute URLs) or 2010 (flat fields, relative URIs).
pub(crate) enum Style<'a> {
    V1 { base: &'a str },
    V2010,
}

pub(crate) fn page(ex: &Exchange, items: Vec<Value>, key: &str, style: Style) -> Reply {
    let size = match ex.q("PageSize") {
        None => 50,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return invalid("PageSize must be an integer from 1 to 1000"),
        },
    };
    let number = match ex.q("Page") {
        None => 0,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return invalid("Page must be a non-negative integer"),
        },
    };
    let total = items.len();
    let start = number.saturating_mul(size);
    let slice: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    let more = start + slice.len() < total;
    // Filters carried into the links; paging parameters set per link.
    let filters: String = ex
        .query
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
        .map(|(k, v)| {
            format!(
                "{}={}&",
                k,
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect();
    let link = |p: usize| {
        let token = if p > 0 {
            format!("&PageToken=PT{p}")
        } else {
            String::new()
        };
        format!("{}?{filters}PageSize={size}&Page={p}{token}", ex.path)
    };
    let next = more.then(|| link(number + 1));
    let prev = (number > 0).then(|| link(number - 1));
    match style {
        Style::V1 { base } => {
            let abs = |s: Option<String>| s.map(|s| format!("{base}{s}"));
            Reply::json(
                200,
                json!({
                    key: slice,
                    "meta": {
                        "first_page_url": format!("{base}{}", link(0)),
                        "key": key,
                        "next_page_url": abs(next),
                        "page": number,
                        "page_size": size,
                        "previous_page_url": abs(prev),
                        "url": format!("{base}{}", link(number)),
                    }
                }),
            )
        }
        Style::V2010 => {
            let end = if slice.is_empty() {
                start
            } else {
                start + slice.len() - 1
            };
            Reply::json(
                200,
                json!({
                    key: slice,
                    "start": start,
                    "end": end,
                    "page": number,
                    "page_size": size,
                    "uri": link(number),
                    "first_page_uri": link(0),
                    "next_page_uri": next,
                    "previous_page_uri": prev,
                }),
            )
        }
    }
}
