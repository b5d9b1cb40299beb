//! The log format: human-readable text (default) or, with `TRUNKLINE_LOG_FORMAT=json`, one
//! JSON object per line for a log pipeline. Span fields (`call_id`, `trunk_id`, `tenant`)
//! ride along on every line logged inside the span, in both formats.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `TRUNKLINE_LOG_FORMAT`: `text` or `json`; unset or empty is `text`.
pub fn format_from(raw: Option<&str>) -> Result<LogFormat, String> {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(_) => Err(crate::parse::invalid(
            "TRUNKLINE_LOG_FORMAT",
            "text or json",
            "json",
            raw.unwrap_or_default(),
        )),
    }
}

/// Installs the process's subscriber: logs go to stderr, filtered by `TRUNKLINE_LOG`.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("TRUNKLINE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // The current span's fields flattened into the object's `span`, and every enclosing
        // span's in `spans`: a line inside a call's span carries its call_id.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_values() {
        assert_eq!(format_from(None), Ok(LogFormat::Text));
        assert_eq!(format_from(Some("")), Ok(LogFormat::Text));
        assert_eq!(format_from(Some("JSON")), Ok(LogFormat::Json));
        let err = format_from(Some("yaml")).unwrap_err();
        assert!(err.starts_with("TRUNKLINE_LOG_FORMAT"), "{err}");
        assert!(
            err.contains("text or json") && err.contains("\"yaml\""),
            "{err}"
        );
    }
}
