//! Phone numbers in E.164 (ITU-T E.164: a country code and subscriber number, at most 15
//! digits). Providers reject anything else, and seed 001's troubleshooting list starts with
//! numbers that were not in this form.

use crate::errors::FieldError;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

const E164_RULE: &str = "must be an E.164 number: '+' then 2 to 15 digits, the first not 0, with no spaces or dashes (e.g. +15550100000)";

impl E164 {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let digits = raw
            .strip_prefix('+')
            .ok_or_else(|| FieldError::new(field, format!("{E164_RULE}; got {}", quote(raw))))?;
        let ok = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                format!("{E164_RULE}; got {}", quote(raw)),
            ))
        }
    }

    /// Exotel numbers may be given the way Exotel's dashboard shows them: the Indian national
    /// form `0` + 10 digits (`08044319240`), which is `+91` + the 10 digits.
    pub fn parse_indian(field: &str, raw: &str) -> Result<Self, FieldError> {
        if let Some(national) = raw.strip_prefix('0') {
            if national.len() == 10 && national.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(Self(format!("+91{national}")));
            }
            return Err(FieldError::new(
                field,
                format!(
                    "must be E.164 (+918044319240) or the Indian national form: 0 then 10 digits (08044319240); got {}",
                    quote(raw)
                ),
            ));
        }
        Self::parse(field, raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For values read back from our own store.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Echoes a client's value in an error, bounded so a megabyte of input does not come back.
pub(crate) fn quote(raw: &str) -> String {
    const MAX: usize = 40;
    if raw.chars().count() <= MAX {
        format!("{raw:?}")
    } else {
        let head: String = raw.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_table() {
        let cases: &[(&str, bool)] = &[
            ("+15550100000", true),
            ("+918044319240", true),
            ("+12", true),
            ("+123456789012345", true),
            ("+1234567890123456", false), // 16 digits
            ("+1", false),                // 1 digit
            ("+0123456789", false),       // country code cannot start with 0
            ("15550100000", false),       // no plus
            ("+1 555 010 0000", false),
            ("+1-555-010-0000", false),
            ("+1555010000a", false),
            ("", false),
            ("+", false),
            (" +15550100000", false),
            ("+١٢٣٤٥٦٧", false), // non-ASCII digits
        ];
        for (raw, ok) in cases {
            assert_eq!(E164::parse("n", raw).is_ok(), *ok, "{raw:?}");
        }
    }

    #[test]
    fn error_names_field_and_rule() {
        let e = E164::parse("trunk_config.numbers[0]", "555").unwrap_err();
        assert_eq!(e.field, "trunk_config.numbers[0]");
        assert!(e.message.contains("E.164"), "{}", e.message);
        assert!(e.message.contains("\"555\""), "{}", e.message);
    }

    #[test]
    fn indian_national_form_becomes_e164() {
        assert_eq!(
            E164::parse_indian("x", "08044319240").unwrap().as_str(),
            "+918044319240"
        );
        assert_eq!(
            E164::parse_indian("x", "+918044319240").unwrap().as_str(),
            "+918044319240"
        );
        for bad in [
            "0804431924",
            "080443192400",
            "8044319240",
            "0804431924a",
            "00",
        ] {
            assert!(E164::parse_indian("x", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn long_input_is_not_echoed_whole() {
        let long = "9".repeat(10_000);
        let e = E164::parse("n", &long).unwrap_err();
        assert!(e.message.len() < 300);
    }
}
