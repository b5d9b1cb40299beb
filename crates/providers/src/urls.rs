//! Base URLs (overridable so that tests and staging can point at doubles) and the paths built
//! on them. Every path segment is percent-encoded, so an id can never add a path of its own.

use crate::error::{Provider, ProviderError};
use url::Url;

/// Parses a base URL given by configuration: `http` or `https`, with a host.
pub(crate) fn parse_base(provider: Provider, what: &str, s: &str) -> Result<Url, ProviderError> {
    let url = Url::parse(s.trim()).map_err(|e| {
        ProviderError::invalid_input(provider, format!("{what} is not a URL ({e})"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ProviderError::invalid_input(
            provider,
            format!("{what} must be an http(s) URL with a host"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ProviderError::invalid_input(
            provider,
            format!("{what} must not carry a query or fragment"),
        ));
    }
    Ok(url)
}

/// `base` + one percent-encoded segment per item of `segs`.
pub(crate) fn join(base: &Url, segs: &[&str]) -> Url {
    let mut u = base.clone();
    if let Ok(mut p) = u.path_segments_mut() {
        p.pop_if_empty().extend(segs);
    }
    u
}

/// The URL of a provider's "next page" link, which may be absolute (Twilio v1
/// `next_page_url`, Exotel's `twilix` host) or a path (Twilio 2010 `next_page_uri`, Exotel
/// `next_page_uri`). Only its path and query are kept, on our own base: the credentials go
/// only where the operator configured.
pub(crate) fn follow(base: &Url, next: &str) -> Option<Url> {
    let next = next.trim();
    if next.is_empty() {
        return None;
    }
    let (path, query) = match Url::parse(next) {
        Ok(abs) => (abs.path().to_owned(), abs.query().map(str::to_owned)),
        Err(_) => {
            let rel = base.join(next).ok()?;
            (rel.path().to_owned(), rel.query().map(str::to_owned))
        }
    };
    let mut u = base.clone();
    // A base with a path prefix (a proxy) keeps it only if the provider's link lacks it.
    let prefix = base.path().trim_end_matches('/');
    if prefix.is_empty() || path.starts_with(prefix) {
        u.set_path(&path);
    } else {
        u.set_path(&format!("{prefix}{path}"));
    }
    u.set_query(query.as_deref());
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        let base = Url::parse("https://api.twilio.com").unwrap();
        let u = join(&base, &["2010-04-01", "Accounts", "AC../x?y", "SIP.json"]);
        assert_eq!(
            u.as_str(),
            "https://api.twilio.com/2010-04-01/Accounts/AC..%2Fx%3Fy/SIP.json"
        );
    }

    #[test]
    fn next_links_stay_on_our_host() {
        let base = Url::parse("http://127.0.0.1:9000").unwrap();
        let abs = follow(
            &base,
            "https://trunking.twilio.com/v1/Trunks?PageSize=2&Page=1",
        )
        .unwrap();
        assert_eq!(
            abs.as_str(),
            "http://127.0.0.1:9000/v1/Trunks?PageSize=2&Page=1"
        );
        let rel = follow(
            &base,
            "/2010-04-01/Accounts/AC1/SIP/CredentialLists.json?Page=2",
        )
        .unwrap();
        assert_eq!(
            rel.as_str(),
            "http://127.0.0.1:9000/2010-04-01/Accounts/AC1/SIP/CredentialLists.json?Page=2"
        );
        assert!(follow(&base, "").is_none());
    }

    #[test]
    fn bases_are_checked() {
        assert!(parse_base(Provider::Telnyx, "TRUNKLINE_TELNYX_API_URL", "ftp://x").is_err());
        assert!(parse_base(Provider::Telnyx, "u", "not a url").is_err());
        assert!(parse_base(Provider::Telnyx, "u", "https://api.telnyx.com?x=1").is_err());
        assert!(parse_base(Provider::Telnyx, "u", "https://api.telnyx.com").is_ok());
    }
}
