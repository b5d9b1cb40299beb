//! Value parsers for settings given as a flag or an environment variable. Most settings come
//! from the environment, so an error names the variable first (and the flag), the rule, an
//! example, and what was given: `TRUNKLINE_LISTEN (--listen) must be ip:port, e.g.
//! 0.0.0.0:8080; got "abc"`. clap runs these on flags, variables and defaults alike.

use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;

/// A setting's variable and flag. `TRUNKLINE_TRUNK_CPS` is `--trunk-cps`, `DATABASE_URL`
/// `--database-url`; where the flag is named otherwise (the bridge's flags drop its
/// `TRUNKLINE_BRIDGE_` prefix), the caller writes both: `"TRUNKLINE_BRIDGE_LISTEN --listen"`.
fn names(setting: &str) -> (&str, String) {
    match setting.split_once(' ') {
        Some((env, flag)) => (env, flag.to_owned()),
        None => {
            let name = setting.strip_prefix("TRUNKLINE_").unwrap_or(setting);
            (
                setting,
                format!("--{}", name.to_ascii_lowercase().replace('_', "-")),
            )
        }
    }
}

/// The message every setting error has.
pub fn invalid(setting: &str, rule: &str, example: &str, raw: &str) -> String {
    let (env, flag) = names(setting);
    format!("{env} ({flag}) must be {rule}, e.g. {example}; got {raw:?}")
}

/// An `ip:port` to listen on.
pub fn socket_addr(
    env: &'static str,
    example: &'static str,
) -> impl Fn(&str) -> Result<SocketAddr, String> + Clone + Send + Sync + 'static {
    move |raw| {
        raw.trim()
            .parse()
            .map_err(|_| invalid(env, "ip:port (an IP address, not a name)", example, raw))
    }
}

/// An IP address (no port) to advertise.
pub fn ip_addr(
    env: &'static str,
    example: &'static str,
) -> impl Fn(&str) -> Result<std::net::IpAddr, String> + Clone + Send + Sync + 'static {
    move |raw| {
        raw.trim()
            .parse()
            .map_err(|_| invalid(env, "an IP address (no port, not a name)", example, raw))
    }
}

/// A number from `min` to `max` (inclusive); `what` says what it counts ("seconds").
pub fn number<T>(
    env: &'static str,
    what: &'static str,
    min: T,
    max: T,
    example: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    move |raw| {
        let rule = format!("{what} from {min} to {max}");
        match raw.trim().parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(v),
            _ => Err(invalid(env, &rule, example, raw)),
        }
    }
}

/// `true` or `false` (also 1/0, yes/no, on/off).
pub fn boolean(
    env: &'static str,
) -> impl Fn(&str) -> Result<bool, String> + Clone + Send + Sync + 'static {
    move |raw| match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(env, "true or false", "true", raw)),
    }
}

/// `TRUNKLINE_NUMBER_APPROVAL`: `required` (true) or `off` (false).
#[cfg(feature = "api")]
pub fn number_approval(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "required" => Ok(true),
        "off" => Ok(false),
        _ => Err(invalid(
            "TRUNKLINE_NUMBER_APPROVAL",
            "required or off",
            "required",
            raw,
        )),
    }
}

/// `TRUNKLINE_SHARED_READS`: `notified`, `coalesced` or `per-request`.
#[cfg(feature = "api")]
pub fn shared_reads(raw: &str) -> Result<trunkline_store::SharedReads, String> {
    use trunkline_store::SharedReads;
    match raw.trim().to_ascii_lowercase().as_str() {
        "notified" => Ok(SharedReads::Notified),
        "coalesced" => Ok(SharedReads::Coalesced),
        "per-request" => Ok(SharedReads::PerRequest),
        _ => Err(invalid(
            "TRUNKLINE_SHARED_READS",
            "notified, coalesced or per-request",
            "notified",
            raw,
        )),
    }
}

/// `sqlite://PATH` or `postgres://…`.
pub fn database_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let ok = match trunkline_store::Backend::of_url(url) {
        Ok(trunkline_store::Backend::Sqlite) => trunkline_store::sqlite_path(url).is_some(),
        Ok(trunkline_store::Backend::Postgres) => true,
        Err(_) => false,
    };
    if ok {
        Ok(url.to_owned())
    } else {
        Err(invalid(
            "DATABASE_URL",
            "sqlite://PATH or postgres://USER@HOST/DATABASE",
            "sqlite://./trunkline-data/trunkline.db",
            raw,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_variable_the_flag_the_rule_and_an_example() {
        assert_eq!(
            socket_addr("TRUNKLINE_LISTEN", "0.0.0.0:8080")("abc").unwrap_err(),
            "TRUNKLINE_LISTEN (--listen) must be ip:port (an IP address, not a name), e.g. 0.0.0.0:8080; got \"abc\""
        );
        let cps = number(
            "TRUNKLINE_TRUNK_CPS",
            "calls per second",
            0.01,
            1000.0,
            "3.33",
        );
        assert_eq!(cps("3.33"), Ok(3.33));
        for bad in ["0", "abc", "1001", "NaN", "-1", ""] {
            let e = cps(bad).unwrap_err();
            assert!(
                e.starts_with("TRUNKLINE_TRUNK_CPS (--trunk-cps) must be calls per second from 0.01 to 1000, e.g. 3.33; got"),
                "{e}"
            );
        }
        let n = number(
            "TRUNKLINE_MAX_CONNECTIONS",
            "a whole number",
            1usize,
            1_000_000,
            "512",
        );
        assert_eq!(n("512"), Ok(512));
        assert!(n("0").unwrap_err().contains("--max-connections"));
        assert!(n("1.5").is_err());
        let b = boolean("TRUNKLINE_ALLOW_PRIVATE_TARGETS");
        assert_eq!(b("TRUE"), Ok(true));
        assert_eq!(b("0"), Ok(false));
        assert!(b("maybe").unwrap_err().contains("must be true or false"));
        let ip = ip_addr(
            "TRUNKLINE_BRIDGE_PUBLIC_MEDIA_ADDRESS --public-media-address",
            "203.0.113.11",
        );
        assert_eq!(ip("203.0.113.11"), Ok([203, 0, 113, 11].into()));
        assert_eq!(
            ip("203.0.113.11:5070").unwrap_err(),
            "TRUNKLINE_BRIDGE_PUBLIC_MEDIA_ADDRESS (--public-media-address) must be an IP address (no port, not a name), e.g. 203.0.113.11; got \"203.0.113.11:5070\""
        );
        assert!(database_url("sqlite://./x.db").is_ok());
        assert!(database_url("postgres://u@h/db").is_ok());
        for bad in ["mysql://x", "sqlite:", "./x.db"] {
            let e = database_url(bad).unwrap_err();
            assert!(
                e.starts_with("DATABASE_URL (--database-url) must be sqlite://PATH"),
                "{e}"
            );
        }
    }
}
