/// ISO 8601 in UTC with microseconds, the precision seed 000 shows
/// (`2024-01-15T10:00:00.000000`), with an explicit `Z` so no client has to guess the zone.
pub fn iso8601(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_like_seed_000_plus_zone() {
        // 2024-01-15T10:00:00Z
        assert_eq!(
            super::iso8601(1_705_312_800_000_000),
            "2024-01-15T10:00:00.000000Z"
        );
        assert_eq!(
            super::iso8601(1_705_312_800_123_456),
            "2024-01-15T10:00:00.123456Z"
        );
    }
}
