//! Proleptic Gregorian calendar arithmetic on plain integers.
//!
//! Instants are Unix seconds (`i64`); "naive" local datetimes are seconds since
//! 1970-01-01T00:00 on the wall clock, with no zone attached. Keeping both as integers makes
//! tick arithmetic (count, nth, previous) a matter of divisions rather than a walk.

use crate::fmt::Civil;

pub(crate) const SECS_PER_DAY: i64 = 86_400;

/// The supported span of time: years 1 through 9999, as Python's `datetime` allows.
pub(crate) const MIN_NAIVE: i64 = -62_135_596_800; // 0001-01-01T00:00:00
pub(crate) const MAX_NAIVE: i64 = 253_402_300_799; // 9999-12-31T23:59:59

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}

/// 0 = Sunday … 6 = Saturday. Day 0 (1970-01-01) was a Thursday.
pub(crate) fn weekday(days: i64) -> u8 {
    (days + 4).rem_euclid(7) as u8
}

pub(crate) fn days_in_month(year: i32, month: u8) -> u8 {
    crate::fmt::days_in_month(year, month)
}

/// Naive seconds → calendar fields.
pub(crate) fn civil_from_naive(naive: i64) -> Civil {
    let days = naive.div_euclid(SECS_PER_DAY);
    let secs = naive.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (secs / 3600) as u8,
        minute: ((secs / 60) % 60) as u8,
        second: (secs % 60) as u8,
    }
}

/// Calendar fields → naive seconds.
pub(crate) fn naive_from_civil(c: &Civil) -> i64 {
    days_from_civil(c.year, c.month, c.day) * SECS_PER_DAY
        + i64::from(c.hour) * 3600
        + i64::from(c.minute) * 60
        + i64::from(c.second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(weekday(days_from_civil(2024, 6, 16)), 0); // a Sunday
        assert_eq!(naive_from_civil(&civil_from_naive(MIN_NAIVE)), MIN_NAIVE);
        assert_eq!(civil_from_naive(MAX_NAIVE).year, 9999);
    }

    proptest! {
        #[test]
        fn days_round_trip(days in -719_162i64..2_932_896) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
            prop_assert!(d >= 1 && d <= days_in_month(y, m));
        }
    }
}
