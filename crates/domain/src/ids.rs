//! Opaque identifiers: a type prefix and 128 random bits in lowercase hex. The prefix tells a
//! human (and a support ticket) what an id is; the randomness means ids cannot be guessed or
//! enumerated across tenants.

use rand::RngCore;
use std::fmt;

/// 128 random bits in lowercase hex: the body of every id, and of other unguessable names.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 32
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_hex()))
            }

            /// `None` unless `s` has exactly the shape this type generates.
            pub fn parse(s: &str) -> Option<Self> {
                is_id(s, $prefix).then(|| Self(s.to_owned()))
            }

            /// For values read back from our own store, which only ever holds generated ids.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A SIP trunk, `ST_…` as in seed 000.
    TrunkId,
    "ST_"
);
id_type!(
    /// A dispatch rule, `SDR_…` as LiveKit names its own.
    DispatchRuleId,
    "SDR_"
);
id_type!(
    /// A tenant (one email, any number of API keys).
    TenantId,
    "TN_"
);
id_type!(
    /// An API key's public id (the key itself is only ever shown once).
    ApiKeyId,
    "AK_"
);
id_type!(
    /// An assistant: the agent, metadata and webhook a call is dispatched with.
    AssistantId,
    "AS_"
);
id_type!(
    /// A carrier account (Twilio, Exotel, Telnyx) trunkline acts on for a tenant.
    ProviderAccountId,
    "PA_"
);
id_type!(
    /// An outbound call. Also the LiveKit room name of that call, so a webhook about the room
    /// names the call without a lookup table.
    CallId,
    "CL_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = TrunkId::generate();
        assert!(id.as_str().starts_with("ST_"));
        assert_eq!(TrunkId::parse(id.as_str()), Some(id));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "ST_",
            "ST_abc",
            "st_0123456789abcdef0123456789abcdef",
            "ST_0123456789ABCDEF0123456789ABCDEF",
            "ST_0123456789abcdef0123456789abcdeg",
            "ST_0123456789abcdef0123456789abcdef0",
            "TN_0123456789abcdef0123456789abcdef",
            "ST_../../etc/passwd0123456789abcdef",
        ] {
            assert_eq!(TrunkId::parse(bad), None, "{bad:?}");
        }
        assert!(TrunkId::parse("ST_0123456789abcdef0123456789abcdef").is_some());
    }
}
