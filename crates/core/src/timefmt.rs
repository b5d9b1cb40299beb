/// ISO 8601 in UTC with microseconds and no offset: exactly seed 000's `2024-01-15T10:00:00.000000`
/// (Python's `isoformat()` of a naive UTC time), so clients parsing that format keep working.
/// The API documents every timestamp as UTC.
///
/// The calendar comes from `time`; the digits are written by hand because `time`'s generic
/// formatter was a tenth of `GET /sip/list`'s CPU profile.
pub fn iso8601(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut out = [0u8; 26];
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, t.year().clamp(0, 9999) as u32);
    put(5, 2, u8::from(t.month()) as u32);
    put(8, 2, t.day() as u32);
    put(11, 2, t.hour() as u32);
    put(14, 2, t.minute() as u32);
    put(17, 2, t.second() as u32);
    put(20, 6, t.microsecond());
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        out[at] = c;
    }
    String::from_utf8(out.to_vec()).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn formats_exactly_like_seed_000() {
        // 2024-01-15T10:00:00Z
        assert_eq!(iso8601(1_705_312_800_000_000), "2024-01-15T10:00:00.000000");
        assert_eq!(iso8601(1_705_312_800_123_456), "2024-01-15T10:00:00.123456");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000");
    }

    #[test]
    fn agrees_with_the_time_crates_formatter_across_the_calendar() {
        let f = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
        );
        let mut micros: i64 = 0;
        // Every ~3 days for 100 years, with varying sub-second parts (leap years included).
        while micros < 3_155_760_000_000_000 {
            let expect = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
                .unwrap()
                .format(&f)
                .unwrap();
            assert_eq!(iso8601(micros), expect);
            micros += 259_199_999_977;
        }
    }
}
