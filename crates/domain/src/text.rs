//! Free-text fields: names and credentials.

use crate::errors::FieldError;

/// A display name: trimmed, then 1 to `max` characters, no control characters.
pub fn name(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    let len = trimmed.chars().count();
    if len == 0 || len > max {
        return Err(FieldError::new(
            field,
            format!("must be 1 to {max} characters after trimming spaces; got {len}"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A required display name: "is required" when absent, else the rules of [`name`]. Errors
/// are collected in `errors` so a request hears of every field at once.
pub fn required_name(
    errors: &mut crate::ValidationErrors,
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Option<String> {
    match raw {
        Some(n) => errors.take(name(field, n, max)),
        None => {
            errors.push(field, "is required");
            None
        }
    }
}

/// A SIP digest username or password: 1 to 128 characters, kept exactly as given, with no
/// control characters (a CR or LF would end up inside a SIP header). The value is never echoed:
/// it may be a secret.
pub fn credential(field: &str, raw: &str) -> Result<String, FieldError> {
    let len = raw.chars().count();
    if len == 0 || len > 128 {
        return Err(FieldError::new(
            field,
            format!("must be 1 to 128 characters; got {len}"),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_table() {
        let long = "x".repeat(101);
        let exactly = "é".repeat(100);
        let cases: &[(&str, Option<&str>)] = &[
            ("Twilio Production", Some("Twilio Production")),
            ("  padded  ", Some("padded")),
            ("", None),
            ("   ", None),
            (&long, None),
            (&exactly, Some(&exactly)),
            ("tab\there", None),
            ("new\nline", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                name("trunk_name", raw, 100).ok().as_deref(),
                *want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn credential_table() {
        assert!(credential("p", "s3cr3t!@#$%^&*()").is_ok());
        assert!(credential("p", " leading space kept ").is_ok());
        assert!(credential("p", "").is_err());
        assert!(credential("p", &"a".repeat(128)).is_ok());
        assert!(credential("p", &"a".repeat(129)).is_err());
        assert!(credential("p", "a\r\nVia: evil").is_err());
    }

    #[test]
    fn credential_errors_never_echo_the_value() {
        let e = credential("trunk_config.password", "hunter2\n").unwrap_err();
        assert!(!e.message.contains("hunter2"));
    }
}
