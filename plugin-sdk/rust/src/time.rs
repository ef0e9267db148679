//! Formatting Unix seconds without a date-time crate (plugins stay small).

const SECS_PER_DAY: i64 = 86_400;

/// Year, month (1–12) and day (1–31) of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, exact over the proleptic Gregorian calendar).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=12, 1..=31).
    (year, month as u32, day as u32)
}

/// `instant` at UTC offset `offset` (seconds east) as RFC 3339: `2024-03-10T00:00:00-05:00`.
pub fn rfc3339(instant: i64, offset: i32) -> String {
    let local = instant + i64::from(offset);
    let (y, m, d) = civil_from_days(local.div_euclid(SECS_PER_DAY));
    let secs = local.rem_euclid(SECS_PER_DAY);
    let (hh, mm, ss) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs();
    let (oh, om) = (off / 3600, off % 3600 / 60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{sign}{oh:02}:{om:02}")
}

/// The local date of `instant` at UTC offset `offset`: `2024-03-10`.
pub fn date(instant: i64, offset: i32) -> String {
    let local = instant + i64::from(offset);
    let (y, m, d) = civil_from_days(local.div_euclid(SECS_PER_DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_chrono() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            rfc3339(1_710_046_800, -5 * 3600),
            "2024-03-10T00:00:00-05:00"
        );
        assert_eq!(rfc3339(-1, 0), "1969-12-31T23:59:59+00:00");
        assert_eq!(rfc3339(1_709_164_800, 19_800), "2024-02-29T05:30:00+05:30");
        assert_eq!(date(1_710_046_800, -5 * 3600), "2024-03-10");
        for t in (-5_000_000_000i64..5_000_000_000).step_by(7_777_777) {
            let ours = rfc3339(t, 3600);
            let theirs = chrono::DateTime::from_timestamp(t, 0)
                .unwrap()
                .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
                .to_rfc3339();
            assert_eq!(ours, theirs);
        }
    }
}
