//! Five-field cron expressions, parsed the way Dagster accepts them.
//!
//! Dagster validates partition and schedule crons with the `croniter` library (it vendors
//! croniter 6.0.0) plus two extra rules: the expression must expand to exactly five fields, and
//! "February 30th/31st only" is refused. This module accepts that language, with the semantics
//! croniter gives it, and answers "does this minute / hour / day match". Iterating ticks across
//! time zones is done elsewhere.
//!
//! Accepted syntax, per field: `*`, `?` (day-of-month and day-of-week only, alone), `N`, `N-M`,
//! `*/S`, `N-M/S`, `N/S` (from `N` to the field's maximum), comma lists of these, month names
//! `jan`..`dec` and weekday names `sun`..`sat` (any case, also as range bounds), `L` (last day of
//! the month) in day-of-month, and the aliases `@yearly`, `@annually`, `@monthly`, `@weekly`,
//! `@daily`, `@midnight` and `@hourly`. Day-of-week takes `0`..=`7`, both `0` and `7` meaning
//! Sunday.
//!
//! Where croniter accepts something but reads it in a way nobody writing it would expect, or in a
//! way Dagster cannot iterate, this module refuses it with an error saying why rather than guess:
//!
//! * descending ranges (`5-1`, `fri-mon`): croniter wraps them around the end of the field. A
//!   range ending on Sunday (`fri-sun`, `5-0`, `5-7`) is not descending: it ends on day 7.
//! * ranges with equal bounds (`5-5`, `mon-mon`): croniter 6 expands them to the *whole* field.
//! * `N/S` starting at the field maximum (`59/15`, `dec/3`): croniter 6 expands it like `*/S`
//!   (croniter bug #246, fixed after the version Dagster vendors).
//! * `*` inside a list (`*,5`): croniter then ignores the rest of the list, and Dagster's
//!   "repeats every hour" test no longer recognises an hourly schedule.
//! * a day-of-month list of 30 values plus `L` that croniter miscounts as every day (`2-31,L`).
//! * schedules whose day-of-month values never occur in the selected months (`0 0 31 4 *`):
//!   Dagster accepts them but can never produce a tick.
//! * croniter extensions: `#` (nth weekday), `L` in day-of-week (last weekday), `W` (nearest
//!   weekday), `H`/`R` (hashed and random values), and the 6- and 7-field forms with seconds and
//!   years.
//! * anything non-ASCII (croniter would take Unicode digits and Unicode whitespace).
//!
//! Day matching follows croniter (and Vixie cron): when both day-of-month and day-of-week are
//! restricted a day matches if *either* matches; when one of them is unrestricted only the other
//! counts. "Unrestricted" is decided the way croniter decides it, which is subtler than "the field
//! is `*`": a day-of-month list covering every day is unrestricted only when the day-of-week field
//! contains a `*` somewhere (and vice versa), so `0 0 1-31 * 1` fires every day while
//! `0 0 1-31 * */2` fires every other weekday.

use std::fmt;
use std::str::FromStr;

/// One of the five fields of a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    /// Minute of the hour, 0..=59.
    Minute,
    /// Hour of the day, 0..=23.
    Hour,
    /// Day of the month, 1..=31 or `L`.
    DayOfMonth,
    /// Month, 1..=12 or `jan`..`dec`.
    Month,
    /// Day of the week, 0..=7 (0 and 7 are Sunday) or `sun`..`sat`.
    DayOfWeek,
}

impl CronField {
    const ALL: [CronField; 5] = [
        CronField::Minute,
        CronField::Hour,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
    ];

    /// The field's name as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        }
    }

    /// Smallest and largest value a token may spell. For day-of-week that is 0..=7 because 7 is
    /// accepted as Sunday, although croniter's own range (and `*`) is 0..=6.
    fn bounds(self) -> (u32, u32) {
        match self {
            CronField::Minute => (0, 59),
            CronField::Hour => (0, 23),
            CronField::DayOfMonth => (1, 31),
            CronField::Month => (1, 12),
            CronField::DayOfWeek => (0, 7),
        }
    }

    /// The range `*` (and so `*/S`) stands for; `N/S` runs from `N` to the upper end of it.
    fn star_range(self) -> (u32, u32) {
        match self {
            CronField::DayOfWeek => (0, 6),
            other => other.bounds(),
        }
    }

    /// Three-letter names and the number each stands for.
    fn names(self) -> &'static [(&'static str, u32)] {
        const MONTHS: [(&str, u32); 12] = [
            ("jan", 1),
            ("feb", 2),
            ("mar", 3),
            ("apr", 4),
            ("may", 5),
            ("jun", 6),
            ("jul", 7),
            ("aug", 8),
            ("sep", 9),
            ("oct", 10),
            ("nov", 11),
            ("dec", 12),
        ];
        const WEEKDAYS: [(&str, u32); 7] = [
            ("sun", 0),
            ("mon", 1),
            ("tue", 2),
            ("wed", 3),
            ("thu", 4),
            ("fri", 5),
            ("sat", 6),
        ];
        match self {
            CronField::Month => &MONTHS,
            CronField::DayOfWeek => &WEEKDAYS,
            _ => &[],
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a cron expression was refused. Every message starts with
/// `invalid cron schedule '<expression>':` and, where one field is at fault, names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Not five whitespace-separated fields (minute hour day-of-month month day-of-week), and not
    /// 6 or 7 either (see [`CronError::Unsupported`]).
    #[error("invalid cron schedule '{expr}': expected 5 fields, found {found}")]
    FieldCount {
        /// The expression, trimmed.
        expr: String,
        /// How many fields it has.
        found: usize,
    },
    /// Starts with `@` but is not one of the supported aliases (as written: croniter does not
    /// recognise an alias with whitespace around it).
    #[error(
        "invalid cron schedule '{expr}': {reason} (supported aliases: @yearly, @annually, \
         @monthly, @weekly, @daily, @midnight, @hourly)"
    )]
    UnknownAlias {
        /// The expression, trimmed.
        expr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A token that is not cron syntax at all.
    #[error("invalid cron schedule '{expr}': {field} field '{token}': {reason}")]
    Syntax {
        /// The expression, trimmed.
        expr: String,
        /// The field at fault.
        field: CronField,
        /// The field's text.
        token: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value outside the field's range, such as day-of-month `0` or minute `60`.
    #[error(
        "invalid cron schedule '{expr}': {field} field '{token}': value {value} is out of \
         range {min}-{max}"
    )]
    OutOfRange {
        /// The expression, trimmed.
        expr: String,
        /// The field at fault.
        field: CronField,
        /// The field's text.
        token: String,
        /// The offending value (saturated at `u32::MAX`).
        value: u32,
        /// The field's smallest value.
        min: u32,
        /// The field's largest value.
        max: u32,
    },
    /// A step of zero, as in `*/0`.
    #[error("invalid cron schedule '{expr}': {field} field '{token}': step must be at least 1")]
    ZeroStep {
        /// The expression, trimmed.
        expr: String,
        /// The field at fault.
        field: CronField,
        /// The field's text.
        token: String,
    },
    /// A range whose start is after its end, such as `5-1`.
    #[error(
        "invalid cron schedule '{expr}': {field} field '{token}': descending range {low}-{high} \
         is not supported (croniter would wrap it around the end of the field); write it as \
         {suggestion}"
    )]
    DescendingRange {
        /// The expression, trimmed.
        expr: String,
        /// The field at fault.
        field: CronField,
        /// The field's text.
        token: String,
        /// Start of the range, as a number.
        low: u32,
        /// End of the range, as a number.
        high: u32,
        /// An equivalent list of ascending ranges (or, with a step, a hint to write one).
        suggestion: String,
    },
    /// Syntax croniter accepts but reads differently from what it appears to say.
    #[error("invalid cron schedule '{expr}': {field} field '{token}': {reason}")]
    Ambiguous {
        /// The expression, trimmed.
        expr: String,
        /// The field at fault.
        field: CronField,
        /// The field's text.
        token: String,
        /// What croniter would make of it, and what to write instead.
        reason: String,
    },
    /// A croniter extension (or form) this module deliberately does not support.
    #[error("invalid cron schedule '{expr}': unsupported cron syntax: {feature}")]
    Unsupported {
        /// The expression, trimmed.
        expr: String,
        /// Which extension, and where.
        feature: String,
    },
    /// The fields are valid but no calendar day can ever match (February 30th, April 31st).
    #[error("invalid cron schedule '{expr}': {reason}")]
    NeverMatches {
        /// The expression, trimmed.
        expr: String,
        /// Which combination can never occur.
        reason: String,
    },
}

impl CronError {
    /// The expression that was refused (trimmed of surrounding whitespace).
    pub fn expr(&self) -> &str {
        match self {
            CronError::FieldCount { expr, .. }
            | CronError::UnknownAlias { expr, .. }
            | CronError::Syntax { expr, .. }
            | CronError::OutOfRange { expr, .. }
            | CronError::ZeroStep { expr, .. }
            | CronError::DescendingRange { expr, .. }
            | CronError::Ambiguous { expr, .. }
            | CronError::Unsupported { expr, .. }
            | CronError::NeverMatches { expr, .. } => expr,
        }
    }

    /// The field at fault, when the error is about one field.
    pub fn field(&self) -> Option<CronField> {
        match self {
            CronError::Syntax { field, .. }
            | CronError::OutOfRange { field, .. }
            | CronError::ZeroStep { field, .. }
            | CronError::DescendingRange { field, .. }
            | CronError::Ambiguous { field, .. } => Some(*field),
            CronError::FieldCount { .. }
            | CronError::UnknownAlias { .. }
            | CronError::Unsupported { .. }
            | CronError::NeverMatches { .. } => None,
        }
    }
}

/// A parsed five-field cron expression: one bitmask per field plus the text it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    last_day_of_month: bool,
    months: u16,
    days_of_week: u8,
    dom_restricted: bool,
    dow_restricted: bool,
}

const ALL_HOURS: u32 = (1 << 24) - 1;
/// Bits 1..=31.
const ALL_DAYS_OF_MONTH: u32 = !1;
/// Bits 1..=30: with `L` added, croniter counts this as a full month.
const DAYS_1_TO_30: u32 = ALL_DAYS_OF_MONTH & !(1 << 31);
/// Bits 1..=28: days every month has.
const DAYS_1_TO_28: u32 = ALL_DAYS_OF_MONTH & !(0b111 << 29);
/// Bits 1..=12.
const ALL_MONTHS: u16 = 0b1_1111_1111_1110;
/// Bits 0..=6.
const ALL_DAYS_OF_WEEK: u8 = 0b111_1111;

/// The aliases croniter knows and what they stand for (`@reboot` is not one of them).
const ALIASES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Python's `str.split()` whitespace, restricted to ASCII (non-ASCII input is refused outright).
/// This includes vertical tab and the four information separators 0x1C..=0x1F, which Rust's
/// `is_ascii_whitespace` does not.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t'..='\r' | '\u{1c}'..='\u{1f}')
}

fn bit<T: Into<u64>>(mask: T, n: u8) -> bool {
    n < 64 && mask.into() & (1 << n) != 0
}

/// Longest length month `month` (1..=12) can have; February counts its leap-year 29th.
fn max_days_in_month(month: u32) -> u32 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Bits 1..=`last` (`last` <= 31).
fn days_up_to(last: u32) -> u32 {
    narrow::<u32>((1u64 << (last + 1)) - 2)
}

/// The values one field expands to.
#[derive(Debug, Clone, Copy)]
struct FieldSet {
    /// Bit `v` set for each value `v` (day-of-week already folded 7 -> 0).
    mask: u64,
    /// `L` appeared (day-of-month only).
    last: bool,
    /// The whole field was `*` or `?`.
    star: bool,
}

/// Parses one field. `expr` is the whole expression, for error messages.
struct FieldParser<'a> {
    expr: &'a str,
    field: CronField,
    token: &'a str,
}

impl FieldParser<'_> {
    fn syntax(&self, reason: impl Into<String>) -> CronError {
        CronError::Syntax {
            expr: self.expr.to_owned(),
            field: self.field,
            token: self.token.to_owned(),
            reason: reason.into(),
        }
    }

    fn ambiguous(&self, reason: impl Into<String>) -> CronError {
        CronError::Ambiguous {
            expr: self.expr.to_owned(),
            field: self.field,
            token: self.token.to_owned(),
            reason: reason.into(),
        }
    }

    fn unsupported(&self, what: &str) -> CronError {
        CronError::Unsupported {
            expr: self.expr.to_owned(),
            feature: format!("{what} in {} field '{}'", self.field, self.token),
        }
    }

    fn out_of_range(&self, value: u32) -> CronError {
        let (min, max) = self.field.bounds();
        CronError::OutOfRange {
            expr: self.expr.to_owned(),
            field: self.field,
            token: self.token.to_owned(),
            value,
            min,
            max,
        }
    }

    fn parse(&self) -> Result<FieldSet, CronError> {
        let token = self.token;
        let field = self.field;
        let day_field = matches!(field, CronField::DayOfMonth | CronField::DayOfWeek);

        if token == "*" || (token == "?" && day_field) {
            // croniter treats `?` exactly as `*`, and only allows it in the two day fields.
            let (lo, hi) = field.star_range();
            return Ok(FieldSet {
                mask: range_mask(lo, hi, 1),
                last: false,
                star: true,
            });
        }
        if token.contains('?') {
            return Err(self.syntax(if day_field {
                "'?' must be the whole field"
            } else {
                "'?' is only allowed in the day-of-month and day-of-week fields"
            }));
        }
        self.reject_extensions()?;

        let mut set = FieldSet {
            mask: 0,
            last: false,
            star: false,
        };
        for item in token.split(',') {
            self.parse_item(item, &mut set)?;
        }
        Ok(set)
    }

    /// Refuses croniter's extensions with an error that names them, rather than a bare syntax
    /// error, so that someone porting a Dagster schedule knows it is deliberate.
    fn reject_extensions(&self) -> Result<(), CronError> {
        let lower = self.token.to_ascii_lowercase();
        // croniter's hash expander looks at the whole field: `H`, `H/5`, `H(0-29)/10`, `R`...
        if lower.starts_with(['h', 'r']) {
            return Err(self.unsupported("'H'/'R' (hashed or random values)"));
        }
        for item in lower.split(',') {
            match self.field {
                CronField::DayOfWeek if item.contains('#') => {
                    return Err(self.unsupported("'#' (nth weekday of the month)"));
                }
                // `5L`/`L5`/`friL`: the last such weekday of the month.
                CronField::DayOfWeek if marks(item, 'l', |rest| self.is_value(rest)) => {
                    return Err(self.unsupported("'L' (last weekday of the month)"));
                }
                // `15W`/`W15`/`LW`: the weekday nearest to that day.
                CronField::DayOfMonth
                    if marks(item, 'w', |rest| rest == "l" || self.is_value(rest)) =>
                {
                    return Err(self.unsupported("'W' (nearest weekday)"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `text` spells a number or a name of this field (range not checked).
    fn is_value(&self, text: &str) -> bool {
        parse_digits(text).is_some() || self.field.names().iter().any(|(name, _)| *name == text)
    }

    fn parse_item(&self, item: &str, set: &mut FieldSet) -> Result<(), CronError> {
        let field = self.field;
        if item.is_empty() {
            return Err(self.syntax("empty list item"));
        }
        if item == "*" {
            // croniter expands `*,5` to `*` plus a stray 5; the field then matches everything,
            // but Dagster's checks on the expansion (e.g. "repeats every hour") stop recognising
            // it. Refuse rather than carry that inconsistency.
            return Err(self.ambiguous("'*' cannot be combined with other values in a list"));
        }
        if field == CronField::DayOfMonth && is_last(item) {
            set.last = true;
            return Ok(());
        }

        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(self.parse_step(step)?)),
            None => (item, None),
        };

        let (lo, hi, step) = if range == "*" {
            // A bare `*` item was refused above, so this is `*/S`.
            let (lo, hi) = field.star_range();
            (lo, hi, step.unwrap_or(1))
        } else if let Some((low, high)) = range.split_once('-') {
            let (lo, hi) = self.parse_range(low, high, step)?;
            (lo, hi, step.unwrap_or(1))
        } else {
            let value = self.parse_value(range)?;
            match step {
                None => (value, value, 1),
                Some(step) => {
                    // `N/S` is croniter's shorthand for `N-<field max>/S`.
                    let (_, max) = field.star_range();
                    // Day-of-week 7 is Sunday, where a week starts.
                    let value = if field == CronField::DayOfWeek && value == 7 {
                        0
                    } else {
                        value
                    };
                    if value == max {
                        // croniter 6 turns `59/15` into the equal range `59-59/15`, which it
                        // expands to the whole field: `0,15,30,45`.
                        return Err(self.ambiguous(format!(
                            "'{range}/{step}' starts at the field's maximum, which croniter (as \
                             vendored by Dagster) reads as '*/{step}'; write '{range}' or \
                             '*/{step}'"
                        )));
                    }
                    (value, max, step)
                }
            }
        };
        let mut mask = range_mask(lo, hi, step);
        if field == CronField::DayOfWeek && mask & (1 << 7) != 0 {
            mask = (mask & !(1 << 7)) | 1;
        }
        set.mask |= mask;
        Ok(())
    }

    fn parse_step(&self, step: &str) -> Result<u32, CronError> {
        let value = parse_digits(step).ok_or_else(|| {
            self.syntax(format!(
                "step '{step}' is not a number (expected e.g. '*/5')"
            ))
        })?;
        if value == 0 {
            return Err(CronError::ZeroStep {
                expr: self.expr.to_owned(),
                field: self.field,
                token: self.token.to_owned(),
            });
        }
        Ok(value)
    }

    /// Parses the bounds of `low-high` (`step` only for messages), returning an ascending
    /// inclusive range.
    fn parse_range(
        &self,
        low: &str,
        high: &str,
        step: Option<u32>,
    ) -> Result<(u32, u32), CronError> {
        let field = self.field;
        if low.is_empty() {
            return Err(self.syntax("negative numbers are not allowed"));
        }
        if high.is_empty() {
            return Err(self.syntax(format!("range '{low}-' has no end")));
        }
        let lo = self.parse_value(low)?;
        // croniter reads `N-L` as `N-31`, which is the same as "from N to the last day".
        let hi = if field == CronField::DayOfMonth && is_last(high) {
            31
        } else {
            self.parse_value(high)?
        };
        if lo == hi {
            return Err(self.ambiguous(format!(
                "range '{low}-{high}' has equal bounds, which croniter (as vendored by Dagster) \
                 reads as the whole field; write '{low}' or '*'"
            )));
        }
        let (lo, hi) = if field == CronField::DayOfWeek {
            // Sunday is both 0 and 7: as a start it is 0, as an end 7, so `fri-sun` and `5-0`
            // are Friday to Sunday (which is also what croniter makes of them), not descending.
            (if lo == 7 { 0 } else { lo }, if hi == 0 { 7 } else { hi })
        } else {
            (lo, hi)
        };
        if lo > hi {
            let (min, max) = field.star_range();
            let suggestion = match step {
                None => format!("'{lo}-{max},{min}-{hi}'"),
                Some(_) => "ascending ranges".to_owned(),
            };
            return Err(CronError::DescendingRange {
                expr: self.expr.to_owned(),
                field,
                token: self.token.to_owned(),
                low: lo,
                high: hi,
                suggestion,
            });
        }
        Ok((lo, hi))
    }

    /// A number or (month, day-of-week) name, range-checked for the field.
    fn parse_value(&self, text: &str) -> Result<u32, CronError> {
        if self.field == CronField::DayOfMonth && is_last(text) {
            return Err(self.syntax("'L' can only stand alone or end a range (as in '15-L')"));
        }
        let value = match parse_digits(text) {
            Some(value) => value,
            None => self
                .field
                .names()
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(text))
                .map(|&(_, value)| value)
                .ok_or_else(|| self.syntax(self.not_a_value(text)))?,
        };
        let (min, max) = self.field.bounds();
        if value < min || value > max {
            return Err(self.out_of_range(value));
        }
        Ok(value)
    }

    fn not_a_value(&self, text: &str) -> String {
        if text.starts_with('-') {
            return "negative numbers are not allowed".to_owned();
        }
        let expected = match self.field {
            CronField::Month => "a number or a month name (jan..dec)",
            CronField::DayOfWeek => "a number or a weekday name (sun..sat)",
            CronField::DayOfMonth => "a number or 'L'",
            CronField::Minute | CronField::Hour => "a number",
        };
        format!("'{text}' is not {expected}")
    }
}

/// `item` is `marker` alone, or `marker` before or after something `rest` accepts.
fn marks(item: &str, marker: char, rest: impl Fn(&str) -> bool) -> bool {
    item == marker.to_string()
        || item.strip_prefix(marker).is_some_and(&rest)
        || item.strip_suffix(marker).is_some_and(&rest)
}

/// `L` (either case), the last day of the month.
fn is_last(text: &str) -> bool {
    text.eq_ignore_ascii_case("l")
}

/// Parses a non-empty string of ASCII digits (leading zeros allowed, as croniter allows them),
/// saturating at `u32::MAX` so that absurdly long numbers still report as out of range.
fn parse_digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}

/// Bits `lo, lo+step, ..` up to `hi` inclusive (`hi` <= 59).
fn range_mask(lo: u32, hi: u32, step: u32) -> u64 {
    let mut mask = 0u64;
    let mut v = lo;
    while v <= hi && v < 64 {
        mask |= 1 << v;
        match v.checked_add(step) {
            Some(next) => v = next,
            None => break,
        }
    }
    mask
}

/// Narrows a mask that fits the field by construction; the fallback is never taken.
fn narrow<T: TryFrom<u64> + Default>(mask: u64) -> T {
    T::try_from(mask).unwrap_or_default()
}

impl Cron {
    /// Parses a cron expression, accepting what Dagster accepts (see the module docs for the
    /// exceptions, which are refused with an explanation).
    pub fn parse(s: &str) -> Result<Cron, CronError> {
        let text = s.trim_matches(is_separator);
        if !s.is_ascii() {
            return Err(CronError::Unsupported {
                expr: text.to_owned(),
                feature: "non-ASCII characters (only ASCII digits, names and whitespace are \
                          accepted)"
                    .to_owned(),
            });
        }

        let fields_text = if text.starts_with('@') && !text.contains(is_separator) {
            let lower = text.to_ascii_lowercase();
            let Some(&(_, expansion)) = ALIASES.iter().find(|(alias, _)| *alias == lower) else {
                return Err(CronError::UnknownAlias {
                    expr: text.to_owned(),
                    reason: "unknown alias".to_owned(),
                });
            };
            if text.len() != s.len() {
                // croniter looks aliases up on the string as given, so " @daily" is invalid
                // in Dagster; refuse it too rather than accept more than Dagster does.
                return Err(CronError::UnknownAlias {
                    expr: text.to_owned(),
                    reason: "an alias must not have whitespace around it".to_owned(),
                });
            }
            expansion
        } else {
            text
        };

        let tokens: Vec<&str> = fields_text
            .split(is_separator)
            .filter(|t| !t.is_empty())
            .collect();
        let tokens: [&str; 5] = match <[&str; 5]>::try_from(tokens.as_slice()) {
            Ok(tokens) => tokens,
            Err(_) if matches!(tokens.len(), 6 | 7) => {
                return Err(CronError::Unsupported {
                    expr: text.to_owned(),
                    feature: format!(
                        "{} fields (croniter's seconds{} field); Dagster requires exactly 5",
                        tokens.len(),
                        if tokens.len() == 7 { " and year" } else { "" }
                    ),
                });
            }
            Err(_) => {
                return Err(CronError::FieldCount {
                    expr: text.to_owned(),
                    found: tokens.len(),
                });
            }
        };

        let mut sets = [FieldSet {
            mask: 0,
            last: false,
            star: true,
        }; 5];
        for ((set, field), token) in sets.iter_mut().zip(CronField::ALL).zip(tokens) {
            *set = FieldParser {
                expr: text,
                field,
                token,
            }
            .parse()?;
        }
        let [minute, hour, mut dom, month, mut dow] = sets;

        // Whether day-of-month / day-of-week take part in day matching is decided as croniter
        // decides it: a field is unrestricted when it expands to `*`. Besides `*` and `?`, a field
        // expands to `*` when its values cover the whole field, except that croniter keeps a full
        // day-of-month (day-of-week) list as a list when the *other* day field's text contains
        // no `*` anywhere. It counts `L` as one of the 31 day-of-month values.
        let dom_token = tokens[2];
        let dow_token = tokens[4];
        let dom_count = dom.mask.count_ones() + u32::from(dom.last);
        if !dom.star && dom_count == 31 && dow_token.contains('*') {
            if dom.last && narrow::<u32>(dom.mask) != DAYS_1_TO_30 {
                return Err(FieldParser {
                    expr: text,
                    field: CronField::DayOfMonth,
                    token: dom_token,
                }
                .ambiguous(
                    "croniter counts 'L' as a 31st value and reads this list as every day \
                         of the month; list the days explicitly without 'L', or use '*'",
                ));
            }
            dom = FieldSet {
                mask: u64::from(ALL_DAYS_OF_MONTH),
                last: false,
                star: true,
            };
        }
        if !dow.star && dow.mask == u64::from(ALL_DAYS_OF_WEEK) && dom_token.contains('*') {
            dow.star = true;
        }

        let cron = Cron {
            text: text.to_owned(),
            minutes: minute.mask,
            hours: narrow(hour.mask),
            days_of_month: narrow(dom.mask),
            last_day_of_month: dom.last,
            months: narrow(month.mask),
            days_of_week: narrow(dow.mask),
            dom_restricted: !dom.star,
            dow_restricted: !dow.star,
        };
        cron.check_some_day_matches()?;
        Ok(cron)
    }

    /// Refuses day/month combinations that can never occur.
    fn check_some_day_matches(&self) -> Result<(), CronError> {
        // Dagster's own rule, checked on croniter's expansion: February alone with the 30th or
        // 31st alone. It applies even when a day-of-week restriction would make it fire.
        let only_day = |d: u32| self.days_of_month == 1 << d && !self.last_day_of_month;
        if self.dom_restricted && self.months == 1 << 2 && (only_day(30) || only_day(31)) {
            return Err(CronError::NeverMatches {
                expr: self.text.clone(),
                reason: "February 30th/31st never occurs (Dagster refuses this schedule)"
                    .to_owned(),
            });
        }
        // The general case, which Dagster's validation lets through: none of the day-of-month
        // values exists in any selected month. With day-of-week unrestricted the schedule never
        // fires. With day-of-week restricted the OR rule would still make it fire on the listed
        // weekdays, but croniter computes an OR schedule as the earlier of a day-of-month-only and
        // a day-of-week-only search, and the former fails ("failed to find next date"), so
        // Dagster cannot iterate it either.
        if self.dom_restricted && !self.last_day_of_month {
            let possible = (1..=12u32)
                .filter(|m| self.months & (1 << m) != 0)
                .any(|m| self.days_of_month & days_up_to(max_days_in_month(m)) != 0);
            if !possible {
                let reason = if self.dow_restricted {
                    "none of the day-of-month values occurs in any of the selected months; \
                     croniter (and so Dagster) fails to iterate such a schedule even though \
                     the day-of-week values occur"
                } else {
                    "none of the day-of-month values occurs in any of the selected months, \
                     so the schedule would never fire"
                };
                return Err(CronError::NeverMatches {
                    expr: self.text.clone(),
                    reason: reason.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The expression as given, without surrounding whitespace (aliases stay aliases).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Bit `m` set for each matching minute, 0..=59.
    pub fn minutes(&self) -> u64 {
        self.minutes
    }

    /// Bit `h` set for each matching hour, 0..=23.
    pub fn hours(&self) -> u32 {
        self.hours
    }

    /// Bit `d` set for each listed day of the month, 1..=31 (bit 0 unused). All of 1..=31 when
    /// the field is unrestricted; `L` is reported separately by
    /// [`last_day_of_month`](Self::last_day_of_month).
    pub fn days_of_month(&self) -> u32 {
        self.days_of_month
    }

    /// `L` (the last day of the month) is among the day-of-month values.
    pub fn last_day_of_month(&self) -> bool {
        self.last_day_of_month
    }

    /// Bit `m` set for each matching month, 1..=12 (bit 0 unused).
    pub fn months(&self) -> u16 {
        self.months
    }

    /// Bit `w` set for each listed weekday, 0 = Sunday ..= 6 = Saturday (7 is folded into 0).
    /// All of 0..=6 when the field is unrestricted.
    pub fn days_of_week(&self) -> u8 {
        self.days_of_week
    }

    /// The day-of-month field takes part in day matching (croniter does not expand it to `*`).
    pub fn dom_restricted(&self) -> bool {
        self.dom_restricted
    }

    /// The day-of-week field takes part in day matching (croniter does not expand it to `*`).
    pub fn dow_restricted(&self) -> bool {
        self.dow_restricted
    }

    /// Every hour of the day fires (hour field covers 0..=23): DST handling differs for such
    /// schedules. This is exactly Dagster's `cron_string_repeats_every_hour`, because the only
    /// way croniter keeps a full hour field from expanding to `*` (`*,5`) is refused here.
    pub fn every_hour(&self) -> bool {
        self.hours == ALL_HOURS
    }

    /// Does this calendar day match (month, day-of-month/L, day-of-week with the OR rule)?
    /// `weekday` is 0 = Sunday .. 6 = Saturday; `days_in_month` is that month's length (for `L`).
    pub fn matches_day(&self, month: u8, day: u8, weekday: u8, days_in_month: u8) -> bool {
        if !bit(self.months, month) {
            return false;
        }
        let dom_match =
            || bit(self.days_of_month, day) || (self.last_day_of_month && day == days_in_month);
        let dow_match = || bit(self.days_of_week, weekday);
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom_match() || dow_match(),
            (true, false) => dom_match(),
            (false, true) => dow_match(),
            (false, false) => true,
        }
    }

    /// Minutes-of-day (hour*60+minute) at which the schedule fires on a matching day, ascending.
    pub fn times_of_day(&self) -> Vec<u16> {
        let mut times = Vec::with_capacity(self.ticks_per_day() as usize);
        for hour in (0..24u16).filter(|&h| self.hours & (1 << h) != 0) {
            for minute in (0..60u16).filter(|&m| self.minutes & (1 << m) != 0) {
                times.push(hour * 60 + minute);
            }
        }
        times
    }

    /// Count of firing times per matching day (= hours.count_ones() * minutes.count_ones()).
    pub fn ticks_per_day(&self) -> u32 {
        self.hours.count_ones() * self.minutes.count_ones()
    }

    /// True when the set of matching days depends only on the weekday (dom, month unrestricted):
    /// lets callers count matching days with week arithmetic.
    pub fn day_filter_is_weekly(&self) -> bool {
        !self.dom_restricted && self.months == ALL_MONTHS
    }

    /// True when only day-of-month values 1..=28 (no L) and the month mask restrict days, with
    /// dow unrestricted: every matching month has exactly `days_of_month().count_ones()` matching
    /// days.
    pub fn day_filter_is_fixed_monthly(&self) -> bool {
        self.dom_restricted
            && !self.dow_restricted
            && !self.last_day_of_month
            && self.days_of_month & !DAYS_1_TO_28 == 0
    }
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Cron, CronError> {
        Cron::parse(s)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Day of the week of a day counted from 1970-01-01 (a Thursday): 0 = Sunday .. 6 = Saturday.
pub fn weekday_from_days(days_since_1970_01_01: i64) -> u8 {
    // rem_euclid keeps days before 1970 in 0..7 (and cannot overflow, unlike adding 4 first).
    let weekday = (days_since_1970_01_01.rem_euclid(7) + 4) % 7;
    u8::try_from(weekday).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cron(s: &str) -> Cron {
        match Cron::parse(s) {
            Ok(c) => c,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn err(s: &str) -> CronError {
        match Cron::parse(s) {
            Ok(c) => panic!("{s:?} should be refused, parsed as {c:?}"),
            Err(e) => e,
        }
    }

    fn mask(values: impl IntoIterator<Item = u32>) -> u64 {
        values.into_iter().fold(0, |m, v| m | 1 << v)
    }

    const ALL_MINUTES: u64 = (1 << 60) - 1;

    fn days_in_month(year: i64, month: u8) -> u8 {
        match month {
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Every day of `year` as (month, day, weekday, days_in_month), from the epoch-day helper.
    fn calendar(year: i64) -> Vec<(u8, u8, u8, u8)> {
        let mut epoch_day: i64 = (1970..year)
            .map(|y| if days_in_month(y, 2) == 29 { 366 } else { 365 })
            .sum();
        let mut days = Vec::new();
        for month in 1..=12 {
            let dim = days_in_month(year, month);
            for day in 1..=dim {
                days.push((month, day, weekday_from_days(epoch_day), dim));
                epoch_day += 1;
            }
        }
        days
    }

    fn matching_days(c: &Cron, year: i64) -> Vec<(u8, u8)> {
        calendar(year)
            .into_iter()
            .filter(|&(m, d, w, dim)| c.matches_day(m, d, w, dim))
            .map(|(m, d, _, _)| (m, d))
            .collect()
    }

    // ---- common partition schedules ------------------------------------------------------

    #[test]
    fn every_four_hours() {
        let c = cron("0 */4 * * *");
        assert_eq!(c.minutes(), 1);
        assert_eq!(c.hours() as u64, mask([0, 4, 8, 12, 16, 20]));
        assert!(!c.dom_restricted() && !c.dow_restricted());
        assert_eq!(c.times_of_day(), vec![0, 240, 480, 720, 960, 1200]);
        assert_eq!(c.ticks_per_day(), 6);
        assert!(!c.every_hour());
        assert!(c.day_filter_is_weekly());
    }

    #[test]
    fn weekdays_at_midnight() {
        let c = cron("0 0 * * 1-5");
        assert_eq!(c.days_of_week() as u64, mask(1..=5));
        assert!(c.dow_restricted() && !c.dom_restricted());
        assert!(c.day_filter_is_weekly());
        assert!(!c.day_filter_is_fixed_monthly());
        // 2024-01-01 was a Monday, 2024-01-06 a Saturday.
        assert!(c.matches_day(1, 1, 1, 31));
        assert!(!c.matches_day(1, 6, 6, 31));
        assert_eq!(matching_days(&c, 2024).len(), 262);
    }

    #[test]
    fn monthly_at_three_fifteen() {
        let c = cron("15 3 1 * *");
        assert_eq!(c.minutes(), 1 << 15);
        assert_eq!(c.hours(), 1 << 3);
        assert_eq!(c.days_of_month(), 1 << 1);
        assert!(c.dom_restricted() && !c.dow_restricted());
        assert!(c.day_filter_is_fixed_monthly());
        assert!(!c.day_filter_is_weekly());
        assert_eq!(c.times_of_day(), vec![3 * 60 + 15]);
        assert_eq!(matching_days(&c, 2024).len(), 12);
    }

    #[test]
    fn every_fifteen_minutes() {
        let c = cron("*/15 * * * *");
        assert_eq!(c.minutes(), mask([0, 15, 30, 45]));
        assert!(c.every_hour());
        assert_eq!(c.ticks_per_day(), 96);
        let times = c.times_of_day();
        assert_eq!(times.len(), 96);
        assert_eq!(&times[..5], &[0, 15, 30, 45, 60]);
        assert_eq!(times.last(), Some(&(23 * 60 + 45)));
    }

    #[test]
    fn twice_a_day() {
        let c = cron("0 9,17 * * *");
        assert_eq!(c.hours() as u64, mask([9, 17]));
        assert_eq!(c.times_of_day(), vec![540, 1020]);
    }

    #[test]
    fn quarterly() {
        let c = cron("0 0 1 */3 *");
        assert_eq!(c.months() as u64, mask([1, 4, 7, 10]));
        assert!(c.day_filter_is_fixed_monthly());
        assert_eq!(
            matching_days(&c, 2025),
            vec![(1, 1), (4, 1), (7, 1), (10, 1)]
        );
    }

    #[test]
    fn every_other_day_of_month() {
        let c = cron("0 0 */2 * *");
        assert_eq!(c.days_of_month() as u64, mask((1..=31).step_by(2)));
        // 29 and 31 are in the list, so not every month has the same count.
        assert!(!c.day_filter_is_fixed_monthly());
        // 31 Jan and 1 Feb both fire: the step restarts every month.
        assert!(c.matches_day(1, 31, 3, 31) && c.matches_day(2, 1, 4, 29));
    }

    #[test]
    fn sunday_spellings() {
        for s in [
            "0 0 * * sun",
            "0 0 * * 7",
            "0 0 * * 0",
            "0 0 * * SUN",
            "0 0 * * 0,7",
            "@weekly",
        ] {
            let c = cron(s);
            assert_eq!(c.days_of_week(), 1, "{s}");
            assert!(c.dow_restricted(), "{s}");
        }
    }

    #[test]
    fn thirty_first_skips_short_months() {
        let c = cron("0 0 31 * *");
        assert_eq!(c.days_of_month(), 1 << 31);
        assert_eq!(matching_days(&c, 2024).len(), 7);
        assert!(!c.matches_day(4, 30, 2, 30));
    }

    #[test]
    fn leap_day() {
        let c = cron("0 0 29 2 *");
        assert_eq!(c.months(), 1 << 2);
        assert_eq!(matching_days(&c, 2024), vec![(2, 29)]);
        assert!(matching_days(&c, 2025).is_empty());
    }

    #[test]
    fn aliases() {
        let daily = cron("@daily");
        assert_eq!(daily.as_str(), "@daily");
        assert_eq!(daily.to_string(), "@daily");
        assert_eq!(daily.times_of_day(), vec![0]);
        assert!(!daily.dom_restricted() && !daily.dow_restricted());
        assert_eq!(daily.months(), ALL_MONTHS);
        let hourly = cron("@hourly");
        assert_eq!(hourly.minutes(), 1);
        assert!(hourly.every_hour());
        assert_eq!(hourly.ticks_per_day(), 24);
        // Same schedule as the expansion, different text.
        let midnight = cron("@MIDNIGHT");
        assert_eq!(midnight.times_of_day(), daily.times_of_day());
        assert_ne!(midnight, daily);
        let monthly = cron("@monthly");
        assert_eq!(
            (monthly.days_of_month(), monthly.months()),
            (1 << 1, ALL_MONTHS)
        );
        for yearly in ["@yearly", "@annually"] {
            let c = cron(yearly);
            assert_eq!((c.days_of_month(), c.months()), (1 << 1, 1 << 1));
        }
    }

    #[test]
    fn last_day_of_month() {
        let c = cron("0 0 L * *");
        assert!(c.last_day_of_month());
        assert_eq!(c.days_of_month(), 0);
        assert!(c.dom_restricted());
        assert!(!c.day_filter_is_fixed_monthly());
        assert!(c.matches_day(2, 29, 4, 29));
        assert!(!c.matches_day(2, 28, 3, 29));
        assert!(c.matches_day(2, 28, 5, 28));
        assert_eq!(matching_days(&c, 2025).len(), 12);
        assert!(cron("0 0 l * *").last_day_of_month());
    }

    #[test]
    fn weekday_mornings() {
        let c = cron("30 9 * * 1-5");
        assert_eq!(c.times_of_day(), vec![9 * 60 + 30]);
        assert_eq!(c.days_of_week() as u64, mask(1..=5));
        assert_eq!(cron("0 0 * * MON-FRI").days_of_week(), c.days_of_week());
        assert_eq!(cron("0 0 * * mon-Fri").days_of_week(), c.days_of_week());
    }

    #[test]
    fn month_names() {
        let c = cron("0 0 1 jan *");
        assert_eq!(c.months(), 1 << 1);
        assert_eq!(cron("0 0 1 JAN-mar *").months() as u64, mask(1..=3));
        assert_eq!(
            cron("0 0 1 jan-dec/2 *").months() as u64,
            mask([1, 3, 5, 7, 9, 11])
        );
        assert_eq!(cron("0 0 1 1-feb *").months() as u64, mask(1..=2));
    }

    // ---- refusals -------------------------------------------------------------------------

    #[test]
    fn refuses_garbage_and_wrong_field_counts() {
        let e = err("bogus");
        assert_eq!(
            e,
            CronError::FieldCount {
                expr: "bogus".into(),
                found: 1
            }
        );
        assert_eq!(
            e.to_string(),
            "invalid cron schedule 'bogus': expected 5 fields, found 1"
        );
        assert_eq!(
            err(""),
            CronError::FieldCount {
                expr: String::new(),
                found: 0
            }
        );
        assert_eq!(
            err("   "),
            CronError::FieldCount {
                expr: String::new(),
                found: 0
            }
        );
        assert!(matches!(
            err("0 0 *"),
            CronError::FieldCount { found: 3, .. }
        ));
        assert!(matches!(
            err("0 0 * * * * * *"),
            CronError::FieldCount { found: 8, .. }
        ));
        assert!(matches!(err("@reboot"), CronError::UnknownAlias { .. }));
        assert!(matches!(
            err("0 0 * * monday"),
            CronError::Syntax {
                field: CronField::DayOfWeek,
                ..
            }
        ));
        assert!(matches!(
            err("0 0 1-fri * *"),
            CronError::Syntax {
                field: CronField::DayOfMonth,
                ..
            }
        ));
        for garbage in [
            "+5 * * * *",
            "-5 * * * *",
            "5- * * * *",
            "*/5/2 * * * *",
            "1-5-7 * * * *",
            "*-5 * * * *",
            "0 0 1,,2 * *",
            "0 0 1, * *",
            "x 0 * * *",
            "0 0 L/2 * *",
            "0 0 L-5 * *",
            "? * * * *",
            "0 0 ?,1 * *",
            "0 0 * jan-L *",
            "5/* * * * *",
        ] {
            assert!(
                matches!(err(garbage), CronError::Syntax { .. }),
                "{garbage}"
            );
        }
    }

    #[test]
    fn refuses_seconds_and_years() {
        for s in ["0 0 0 * * *", "0 0 * * * *", "0 0 * * * * *"] {
            let e = err(s);
            assert!(matches!(e, CronError::Unsupported { .. }), "{s}: {e}");
            assert!(e.to_string().contains("fields"), "{e}");
        }
    }

    #[test]
    fn refuses_out_of_range_values() {
        let e = err("0 0 0 * *");
        assert_eq!(e.field(), Some(CronField::DayOfMonth));
        assert!(matches!(
            e,
            CronError::OutOfRange {
                value: 0,
                min: 1,
                max: 31,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "invalid cron schedule '0 0 0 * *': day-of-month field '0': value 0 is out of range 1-31"
        );
        assert!(matches!(
            err("60 * * * *"),
            CronError::OutOfRange {
                field: CronField::Minute,
                value: 60,
                ..
            }
        ));
        assert!(matches!(
            err("* 24 * * *"),
            CronError::OutOfRange {
                field: CronField::Hour,
                value: 24,
                ..
            }
        ));
        assert!(matches!(
            err("0 0 32 * *"),
            CronError::OutOfRange { value: 32, .. }
        ));
        assert!(matches!(
            err("0 0 * 0 *"),
            CronError::OutOfRange {
                field: CronField::Month,
                ..
            }
        ));
        assert!(matches!(
            err("0 0 * 13 *"),
            CronError::OutOfRange {
                field: CronField::Month,
                ..
            }
        ));
        assert!(matches!(
            err("0 0 * * 8"),
            CronError::OutOfRange {
                field: CronField::DayOfWeek,
                ..
            }
        ));
        assert!(matches!(
            err("0 0 0-5 * *"),
            CronError::OutOfRange { value: 0, .. }
        ));
        assert!(matches!(
            err("0 0 0/5 * *"),
            CronError::OutOfRange { value: 0, .. }
        ));
        assert!(matches!(
            err("99999999999999999999 * * * *"),
            CronError::OutOfRange {
                value: u32::MAX,
                ..
            }
        ));
    }

    #[test]
    fn refuses_zero_step() {
        let e = err("*/0 * * * *");
        assert!(matches!(
            e,
            CronError::ZeroStep {
                field: CronField::Minute,
                ..
            }
        ));
        assert!(e.to_string().contains("'*/0 * * * *'") && e.to_string().contains("minute"));
        assert!(matches!(err("0 1-5/0 * * *"), CronError::ZeroStep { .. }));
        assert!(matches!(err("5/0 * * * *"), CronError::ZeroStep { .. }));
    }

    #[test]
    fn refuses_february_thirtieth() {
        for s in ["0 0 30 2 *", "0 0 31 2 *", "0 0 31 feb *", "0 0 30 2 1"] {
            let e = err(s);
            assert!(matches!(e, CronError::NeverMatches { .. }), "{s}: {e}");
            assert!(e.to_string().contains("February"), "{e}");
        }
        // Dagster's rule needs a single day and a single month; these are fine.
        assert_eq!(matching_days(&cron("0 0 30 2,3 *"), 2024), vec![(3, 30)]);
        assert_eq!(matching_days(&cron("0 0 30,L 2 *"), 2024), vec![(2, 29)]);
    }

    #[test]
    fn refuses_days_that_never_occur() {
        // Dagster accepts these, and then never finds a tick.
        for s in [
            "0 0 30,31 2 *",
            "0 0 31 4 *",
            "0 0 31 4,6,9,11 *",
            "0 0 30 feb *",
        ] {
            assert!(matches!(err(s), CronError::NeverMatches { .. }), "{s}");
        }
        // With a day-of-week restriction the OR rule would fire on Fridays-Sundays in June, but
        // croniter's OR search fails on the impossible day-of-month half.
        assert!(matches!(
            err("0 0 31 6 5-0"),
            CronError::NeverMatches { .. }
        ));
        // One possible month is enough.
        assert_eq!(matching_days(&cron("0 0 31 4,5 *"), 2024), vec![(5, 31)]);
    }

    #[test]
    fn refuses_descending_ranges() {
        let e = err("5-1 * * * *");
        assert!(matches!(
            e,
            CronError::DescendingRange {
                low: 5,
                high: 1,
                ..
            }
        ));
        assert!(e.to_string().contains("'5-59,0-1'"), "{e}");
        assert!(matches!(
            err("0 0 * * fri-mon"),
            CronError::DescendingRange {
                low: 5,
                high: 1,
                ..
            }
        ));
        assert!(matches!(
            err("0 0 * nov-feb *"),
            CronError::DescendingRange { .. }
        ));
        assert!(matches!(
            err("0 22-2 * * *"),
            CronError::DescendingRange { .. }
        ));
        assert!(matches!(
            err("0 0 3-2 * *"),
            CronError::DescendingRange { .. }
        ));
        assert!(matches!(
            err("50-10/5 * * * *"),
            CronError::DescendingRange { .. }
        ));
        // Ranges ending on Sunday are not descending: Sunday is also day 7.
        for s in [
            "0 0 * * fri-sun",
            "0 0 * * 5-0",
            "0 0 * * 5-7",
            "0 0 * * FRI-7",
        ] {
            assert_eq!(cron(s).days_of_week() as u64, mask([0, 5, 6]), "{s}");
        }
        assert_eq!(cron("0 0 * * 7-0").days_of_week(), ALL_DAYS_OF_WEEK);
        assert_eq!(cron("0 0 * * 7-3").days_of_week() as u64, mask(0..=3));
    }

    #[test]
    fn refuses_what_croniter_misreads() {
        // croniter 6 expands an equal range to the whole field.
        for s in [
            "5-5 * * * *",
            "0 0 * * mon-mon",
            "0 0 * * 7-7",
            "0 0 * * sun-sun",
            "0 0 31-L * *",
            "0 0 * 1-1/2 *",
        ] {
            assert!(matches!(err(s), CronError::Ambiguous { .. }), "{s}");
        }
        // ... and `N/S` starting at the field maximum like `*/S` (croniter bug #246).
        for (s, field) in [
            ("59/15 * * * *", CronField::Minute),
            ("0 23/2 * * *", CronField::Hour),
            ("0 0 31/5 * *", CronField::DayOfMonth),
            ("0 0 * dec/3 *", CronField::Month),
            ("0 0 * * sat/2", CronField::DayOfWeek),
        ] {
            let e = err(s);
            assert!(matches!(e, CronError::Ambiguous { .. }), "{s}");
            assert_eq!(e.field(), Some(field), "{s}");
            assert!(e.to_string().contains("maximum"), "{e}");
        }
        // A `*` in a list makes croniter drop the rest of the list.
        assert!(matches!(err("*,5 * * * *"), CronError::Ambiguous { .. }));
        assert!(matches!(err("0 0 *,L * *"), CronError::Ambiguous { .. }));
        // 30 days plus L: croniter counts 31 values and reads "every day", including the 1st.
        assert!(matches!(err("0 0 2-31,L * *"), CronError::Ambiguous { .. }));
        // ... but only where it would collapse: with a day-of-week field free of `*`, croniter
        // keeps the list and matches it correctly.
        let c = cron("0 0 2-31,L * 1");
        assert!(c.dom_restricted() && c.last_day_of_month());
    }

    #[test]
    fn refuses_croniter_extensions_as_unsupported() {
        for (s, what) in [
            ("0 0 * * 5L", "'L'"),
            ("0 0 * * L5", "'L'"),
            ("0 0 * * 1#2", "'#'"),
            ("0 0 * * mon#2", "'#'"),
            ("0 0 15W * *", "'W'"),
            ("0 0 LW * *", "'W'"),
            ("H * * * *", "'H'"),
            ("R * * * *", "'R'"),
            ("H(0-29)/10 * * * *", "'H'"),
            ("0 0 \u{0665} * *", "non-ASCII"),
            ("0\u{a0}0 * * *", "non-ASCII"),
        ] {
            let e = err(s);
            assert!(matches!(e, CronError::Unsupported { .. }), "{s}: {e}");
            let message = e.to_string();
            assert!(
                message.contains("unsupported") && message.contains(what),
                "{message}"
            );
        }
    }

    #[test]
    fn aliases_must_be_exact() {
        // croniter only recognises an alias as the whole string.
        assert!(matches!(err(" @daily"), CronError::UnknownAlias { .. }));
        assert!(matches!(err("@daily\n"), CronError::UnknownAlias { .. }));
        assert!(matches!(
            err("@daily 0"),
            CronError::FieldCount { found: 2, .. }
        ));
        assert!(matches!(err("@every"), CronError::UnknownAlias { .. }));
        assert!(matches!(
            err("@ * * * *"),
            CronError::Syntax {
                field: CronField::Minute,
                ..
            }
        ));
    }

    #[test]
    fn error_accessors() {
        let e = err("0 0 * * 1#2");
        assert_eq!(e.expr(), "0 0 * * 1#2");
        assert_eq!(e.field(), None);
        let e = err("  60 * * * *  ");
        assert_eq!(e.expr(), "60 * * * *");
        assert_eq!(e.field(), Some(CronField::Minute));
    }

    // ---- croniter's day matching ---------------------------------------------------------------

    #[test]
    fn question_mark_is_star_in_day_fields() {
        let c = cron("0 0 ? * 1");
        assert!(!c.dom_restricted() && c.dow_restricted());
        let c = cron("0 0 1 * ?");
        assert!(c.dom_restricted() && !c.dow_restricted());
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        // Both restricted: the 1st of each month, and every Monday.
        let c = cron("0 0 1 * mon");
        assert!(c.dom_restricted() && c.dow_restricted());
        assert!(c.matches_day(2, 1, 4, 29)); // Thursday 1 Feb 2024
        assert!(c.matches_day(2, 5, 1, 29)); // Monday 5 Feb 2024
        assert!(!c.matches_day(2, 6, 2, 29));
        assert!(!c.day_filter_is_weekly() && !c.day_filter_is_fixed_monthly());
        // L takes part in the OR like any day-of-month value.
        let c = cron("0 0 L * 5");
        assert!(c.matches_day(1, 31, 3, 31)); // Wednesday 31 Jan 2024
        assert!(c.matches_day(1, 5, 5, 31)); // Friday
        assert!(!c.matches_day(1, 30, 2, 31));
        // The month still has to match.
        assert!(!cron("0 0 1 2 mon").matches_day(3, 4, 1, 31));
    }

    #[test]
    fn full_day_lists_follow_croniter() {
        // A full day-of-month list stays a restriction unless the day-of-week text has a `*`.
        let c = cron("0 0 1-31 * 1");
        assert!(c.dom_restricted());
        assert_eq!(matching_days(&c, 2024).len(), 366);
        let c = cron("0 0 1-31 * */2");
        assert!(!c.dom_restricted());
        assert_eq!(c.days_of_week() as u64, mask([0, 2, 4, 6]));
        assert!(c.day_filter_is_weekly());
        assert!(cron("0 0 */1 * 1").dom_restricted());
        // And the same the other way round.
        assert!(cron("0 0 1 * 0-6").dow_restricted());
        assert!(cron("0 0 1 * 1-7").dow_restricted());
        assert!(!cron("0 0 */2 * 0-6").dow_restricted());
        assert!(!cron("0 0 * * 0-6").dow_restricted());
        assert!(cron("0 0 ? * 0-6").dow_restricted());
        // `L` plus 1-30 counts as a full month too.
        let c = cron("0 0 1-30,L * */2");
        assert!(!c.dom_restricted() && !c.last_day_of_month());
        assert_eq!(c.days_of_month(), ALL_DAYS_OF_MONTH);
    }

    #[test]
    fn unrestricted_masks_are_full() {
        let c = cron("* * * * *");
        assert_eq!(c.minutes(), ALL_MINUTES);
        assert_eq!(c.hours(), ALL_HOURS);
        assert_eq!(c.days_of_month(), ALL_DAYS_OF_MONTH);
        assert_eq!(c.months(), ALL_MONTHS);
        assert_eq!(c.days_of_week(), ALL_DAYS_OF_WEEK);
        assert!(!c.last_day_of_month());
        assert_eq!(c.ticks_per_day(), 1440);
        assert!(c.every_hour() && c.day_filter_is_weekly());
        assert!(cron("0 0-23 * * *").every_hour());
        assert!(cron("0 0-11,12-23 * * *").every_hour());
        assert!(!cron("0 0-22 * * *").every_hour());
    }

    #[test]
    fn steps_and_starts() {
        assert_eq!(cron("5/15 * * * *").minutes(), mask([5, 20, 35, 50]));
        assert_eq!(cron("10-50/20 * * * *").minutes(), mask([10, 30, 50]));
        assert_eq!(cron("*/100 * * * *").minutes(), 1);
        assert_eq!(cron("*/99999999999999999999 * * * *").minutes(), 1);
        assert_eq!(cron("0 22/1 * * *").hours() as u64, mask([22, 23]));
        assert_eq!(cron("0 0 15-L * *").days_of_month() as u64, mask(15..=31));
        assert_eq!(
            cron("0 0 * * 7/2").days_of_week() as u64,
            mask([0, 2, 4, 6])
        );
        assert_eq!(
            cron("0 0 * * 1-7/2").days_of_week() as u64,
            mask([0, 1, 3, 5])
        );
        assert_eq!(cron("0 0 * * */7").days_of_week(), 1);
        assert_eq!(cron("00 00 01 01 *").days_of_month(), 1 << 1);
    }

    #[test]
    fn whitespace_and_display() {
        let c = cron("\t 0  9 * *\t1-5 \n");
        assert_eq!(c.as_str(), "0  9 * *\t1-5");
        assert_eq!(c.to_string(), c.as_str());
        assert_eq!(c.days_of_week() as u64, mask(1..=5));
        // Python's str.split() also splits on vertical tab and the information separators.
        assert_eq!(cron("0\u{b}0\u{1f}*\u{1c}*\u{c}*").times_of_day(), vec![0]);
        let parsed: Cron = "0 0 * * *".parse().unwrap();
        assert_eq!(parsed, cron("0 0 * * *"));
        assert_eq!("bogus".parse::<Cron>(), Err(err("bogus")));
    }

    #[test]
    fn weekday_helper() {
        assert_eq!(weekday_from_days(0), 4); // 1970-01-01, Thursday
        assert_eq!(weekday_from_days(-1), 3);
        assert_eq!(weekday_from_days(3), 0); // 1970-01-04, Sunday
        assert_eq!(weekday_from_days(19_723), 1); // 2024-01-01, Monday
        assert!(weekday_from_days(i64::MIN) < 7 && weekday_from_days(i64::MAX) < 7);
    }

    #[test]
    fn fixed_monthly_and_weekly_filters() {
        assert!(cron("0 0 1,15,28 * *").day_filter_is_fixed_monthly());
        assert!(cron("0 0 1-28 */2 ?").day_filter_is_fixed_monthly());
        assert!(!cron("0 0 29 * *").day_filter_is_fixed_monthly());
        assert!(!cron("0 0 1,L * *").day_filter_is_fixed_monthly());
        assert!(!cron("0 0 1 * 1").day_filter_is_fixed_monthly());
        assert!(!cron("0 0 * * *").day_filter_is_fixed_monthly());
        assert!(cron("0 0 * * 1").day_filter_is_weekly());
        assert!(!cron("0 0 * 1 1").day_filter_is_weekly());
        assert!(!cron("0 0 1 * *").day_filter_is_weekly());
    }

    // ---- differential tables from croniter 6.0.0 (the version Dagster vendors) ----------------

    /// Masks computed by croniter.croniter.expand(expr): each field's values, with `*` read as
    /// the whole field, and dom/dow "restricted" meaning croniter did not expand them to `*`.
    type ExpandedRow = (&'static str, u64, u32, u32, bool, u16, u8, bool, bool);

    #[rustfmt::skip]
    const EXPANDED: &[ExpandedRow] = &[
    ("0 */4 * * *", 0x1, 0x111111, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("0 0 * * 1-5", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x3e, false, true),
    ("15 3 1 * *", 0x8000, 0x8, 0x2, false, 0x1ffe, 0x7f, true, false),
    ("*/15 * * * *", 0x200040008001, 0xffffff, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("0 9,17 * * *", 0x1, 0x20200, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("0 0 1 */3 *", 0x1, 0x1, 0x2, false, 0x492, 0x7f, true, false),
    ("0 0 */2 * *", 0x1, 0x1, 0xaaaaaaaa, false, 0x1ffe, 0x7f, true, false),
    ("0 0 * * sun", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x1, false, true),
    ("0 0 * * 7", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x1, false, true),
    ("0 0 31 * *", 0x1, 0x1, 0x80000000, false, 0x1ffe, 0x7f, true, false),
    ("0 0 29 2 *", 0x1, 0x1, 0x20000000, false, 0x4, 0x7f, true, false),
    ("@daily", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("@hourly", 0x1, 0xffffff, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("@weekly", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x1, false, true),
    ("@monthly", 0x1, 0x1, 0x2, false, 0x1ffe, 0x7f, true, false),
    ("@yearly", 0x1, 0x1, 0x2, false, 0x2, 0x7f, true, false),
    ("0 0 L * *", 0x1, 0x1, 0x0, true, 0x1ffe, 0x7f, true, false),
    ("30 9 * * 1-5", 0x40000000, 0x200, 0xfffffffe, false, 0x1ffe, 0x3e, false, true),
    ("0 0 * * MON-FRI", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x3e, false, true),
    ("0 0 1 jan *", 0x1, 0x1, 0x2, false, 0x2, 0x7f, true, false),
    ("5/15 * * * *", 0x4000800100020, 0xffffff, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("10-50/20 * * * *", 0x4000040000400, 0xffffff, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("0 22/1 * * *", 0x1, 0xc00000, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("0 0 ? * 1", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x2, false, true),
    ("0 0 1 * ?", 0x1, 0x1, 0x2, false, 0x1ffe, 0x7f, true, false),
    ("0 0 1,L * *", 0x1, 0x1, 0x2, true, 0x1ffe, 0x7f, true, false),
    ("0 0 L * 5", 0x1, 0x1, 0x0, true, 0x1ffe, 0x20, true, true),
    ("0 0 1 * mon", 0x1, 0x1, 0x2, false, 0x1ffe, 0x2, true, true),
    ("0 0 1-31 * 1", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x2, true, true),
    ("0 0 1-31 * */2", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x55, false, true),
    ("0 0 */1 * 1", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x2, true, true),
    ("0 0 */2 * 0-6", 0x1, 0x1, 0xaaaaaaaa, false, 0x1ffe, 0x7f, true, false),
    ("0 0 1 * 0-7", 0x1, 0x1, 0x2, false, 0x1ffe, 0x7f, true, true),
    ("0 0 1-30,L * */2", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x55, false, true),
    ("0 0 15-L * *", 0x1, 0x1, 0xffff8000, false, 0x1ffe, 0x7f, true, false),
    ("0 0 1-L/2 * *", 0x1, 0x1, 0xaaaaaaaa, false, 0x1ffe, 0x7f, true, false),
    ("0 0 * * fri-sun", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x61, false, true),
    ("0 0 * * 5-7", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x61, false, true),
    ("0 0 * * 5-0", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x61, false, true),
    ("0 0 * * 7-0", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("0 0 * * 0-7/2", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x55, false, true),
    ("0 0 * * 7/2", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x55, false, true),
    ("0 0 * * 1-7/2", 0x1, 0x1, 0xfffffffe, false, 0x1ffe, 0x2b, false, true),
    ("0 0 * jan-dec/2 *", 0x1, 0x1, 0xfffffffe, false, 0xaaa, 0x7f, false, false),
    ("0 0 * 1-feb *", 0x1, 0x1, 0xfffffffe, false, 0x6, 0x7f, false, false),
    ("00 00 01 01 *", 0x1, 0x1, 0x2, false, 0x2, 0x7f, true, false),
    ("*/100 * * * *", 0x1, 0xffffff, 0xfffffffe, false, 0x1ffe, 0x7f, false, false),
    ("0 0 29 2 1", 0x1, 0x1, 0x20000000, false, 0x4, 0x2, true, true),
    ("0 0 31 4,5 *", 0x1, 0x1, 0x80000000, false, 0x30, 0x7f, true, false),
    ("0,30 8-18/2 1-7 * 1", 0x40000001, 0x55500, 0xfe, false, 0x1ffe, 0x2, true, true),
    ];

    #[test]
    fn masks_match_croniter_expand() {
        for &(s, minutes, hours, dom, last, months, dow, dom_r, dow_r) in EXPANDED {
            let c = cron(s);
            assert_eq!(
                (
                    c.minutes(),
                    c.hours(),
                    c.days_of_month(),
                    c.last_day_of_month(),
                    c.months(),
                    c.days_of_week(),
                    c.dom_restricted(),
                    c.dow_restricted()
                ),
                (minutes, hours, dom, last, months, dow, dom_r, dow_r),
                "{s}"
            );
        }
    }

    /// Matching days in 2024 found by iterating croniter 6.0.0 (the union of get_next and
    /// get_prev, each of which skips some month-end days; see the report on this module).
    type DaysRow = (&'static str, usize, &'static [(u8, u8)]);

    #[rustfmt::skip]
    const DAYS_2024: &[DaysRow] = &[
    ("0 0 1 * mon", 62, &[(1, 1), (1, 8), (1, 15), (1, 22), (1, 29), (2, 1)]),
    ("0 0 L * 5", 63, &[(1, 5), (1, 12), (1, 19), (1, 26), (1, 31), (2, 2)]),
    ("0 0 1,L * *", 24, &[(1, 1), (1, 31), (2, 1), (2, 29), (3, 1), (3, 31)]),
    ("0 0 1-31 * 1", 366, &[(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6)]),
    ("0 0 1-31 * */2", 209, &[(1, 2), (1, 4), (1, 6), (1, 7), (1, 9), (1, 11)]),
    ("0 0 */1 * 1", 366, &[(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6)]),
    ("0 0 */2 * 0-6", 187, &[(1, 1), (1, 3), (1, 5), (1, 7), (1, 9), (1, 11)]),
    ("0 0 1 * 0-7", 366, &[(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6)]),
    ("0 0 1-30,L * */2", 209, &[(1, 2), (1, 4), (1, 6), (1, 7), (1, 9), (1, 11)]),
    ("0 0 L 2 *", 1, &[(2, 29)]),
    ("0 0 29 2 1", 5, &[(2, 5), (2, 12), (2, 19), (2, 26), (2, 29)]),
    ("0 0 * * fri-sun", 156, &[(1, 5), (1, 6), (1, 7), (1, 12), (1, 13), (1, 14)]),
    ("0 0 13 * 5", 62, &[(1, 5), (1, 12), (1, 13), (1, 19), (1, 26), (2, 2)]),
    ("0 0 1-7 * 1", 125, &[(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6)]),
    ("0 0 */6 * *", 67, &[(1, 1), (1, 7), (1, 13), (1, 19), (1, 25), (1, 31)]),
    ("0 0 1,31 * *", 19, &[(1, 1), (1, 31), (2, 1), (3, 1), (3, 31), (4, 1)]),
    ("0 0 9/2 * *", 139, &[(1, 9), (1, 11), (1, 13), (1, 15), (1, 17), (1, 19)]),
    ("0 0 15-L * *", 198, &[(1, 15), (1, 16), (1, 17), (1, 18), (1, 19), (1, 20)]),
    ("0 0 ? * 1", 53, &[(1, 1), (1, 8), (1, 15), (1, 22), (1, 29), (2, 5)]),
    ("0 0 31 4,5 *", 1, &[(5, 31)]),
    ];

    #[test]
    fn matching_days_match_croniter() {
        for &(s, count, first) in DAYS_2024 {
            let days = matching_days(&cron(s), 2024);
            assert_eq!(days.len(), count, "{s}");
            assert_eq!(&days[..first.len()], first, "{s}");
        }
    }

    // ---- properties ---------------------------------------------------------------------

    fn explicit_list(values: &[u32]) -> String {
        values
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    fn subset(range: std::ops::RangeInclusive<u32>) -> impl Strategy<Value = Vec<u32>> {
        let values: Vec<u32> = range.collect();
        let most = values.len().min(8);
        proptest::sample::subsequence(values, 1..=most)
    }

    proptest! {
        #[test]
        fn explicit_lists_set_exactly_their_bits(
            minutes in subset(0..=59),
            hours in subset(0..=23),
            days in subset(1..=28),
            months in subset(1..=12),
            weekdays in subset(0..=7),
        ) {
            let s = format!(
                "{} {} {} {} {}",
                explicit_list(&minutes), explicit_list(&hours), explicit_list(&days),
                explicit_list(&months), explicit_list(&weekdays)
            );
            let c = cron(&s);
            prop_assert_eq!(c.minutes(), mask(minutes.iter().copied()));
            prop_assert_eq!(u64::from(c.hours()), mask(hours.iter().copied()));
            prop_assert_eq!(u64::from(c.days_of_month()), mask(days.iter().copied()));
            prop_assert_eq!(u64::from(c.months()), mask(months.iter().copied()));
            let folded = weekdays.iter().map(|&w| w % 7);
            prop_assert_eq!(u64::from(c.days_of_week()), mask(folded));
            prop_assert_eq!(c.ticks_per_day() as usize, minutes.len() * hours.len());
        }

        #[test]
        fn ranges_with_steps_expand_like_loops(lo in 0u32..59, len in 1u32..59, step in 1u32..70) {
            let hi = (lo + len).min(59);
            prop_assume!(lo < hi);
            let c = cron(&format!("{lo}-{hi}/{step} * * * *"));
            prop_assert_eq!(c.minutes(), mask((lo..=hi).step_by(step as usize)));
        }

        #[test]
        fn parse_never_panics_and_results_are_consistent(
            chars in proptest::collection::vec(
                proptest::sample::select(
                    " 0123456789*/-,?LlWw#HRmonfrisatujebc@".chars().collect::<Vec<_>>()
                ),
                0..24,
            )
        ) {
            let s: String = chars.into_iter().collect();
            if let Ok(c) = Cron::parse(&s) {
                prop_assert_eq!(c.as_str(), s.trim_matches(is_separator));
                prop_assert_eq!(Cron::parse(c.as_str()), Ok(c.clone()));
                let times = c.times_of_day();
                prop_assert_eq!(times.len(), c.ticks_per_day() as usize);
                prop_assert!(times.windows(2).all(|w| w[0] < w[1]));
                prop_assert!(times.iter().all(|&t| t < 1440));
                prop_assert_eq!(c.minutes() >> 60, 0);
                prop_assert_eq!(c.hours() >> 24, 0);
                prop_assert_eq!(c.days_of_month() & 1, 0);
                prop_assert_eq!(c.months() & !ALL_MONTHS, 0);
                prop_assert_eq!(c.days_of_week() >> 7, 0);
                // Some day in 2024-2031 matches (impossible schedules are refused).
                prop_assert!((2024..2032).any(|y| !matching_days(&c, y).is_empty()));
            }
        }

        #[test]
        fn day_filters_mean_what_they_say(
            days in subset(1..=31),
            months in subset(1..=12),
            weekdays in subset(0..=6),
            use_dom in any::<bool>(),
            use_dow in any::<bool>(),
            use_months in any::<bool>(),
        ) {
            let dom = if use_dom { explicit_list(&days) } else { "*".to_owned() };
            let dow = if use_dow { explicit_list(&weekdays) } else { "*".to_owned() };
            let mon = if use_months { explicit_list(&months) } else { "*".to_owned() };
            let Ok(c) = Cron::parse(&format!("0 0 {dom} {mon} {dow}")) else {
                return Ok(()); // e.g. "31 4": refused as never matching
            };
            for year in [2024, 2025] {
                let cal = calendar(year);
                if c.day_filter_is_weekly() {
                    for &(m, d, w, dim) in &cal {
                        prop_assert_eq!(c.matches_day(m, d, w, dim), bit(c.days_of_week(), w));
                    }
                }
                if c.day_filter_is_fixed_monthly() {
                    for month in 1..=12u8 {
                        let n = cal
                            .iter()
                            .filter(|&&(m, d, w, dim)| m == month && c.matches_day(m, d, w, dim))
                            .count();
                        let expected = if bit(c.months(), month) {
                            c.days_of_month().count_ones() as usize
                        } else {
                            0
                        };
                        prop_assert_eq!(n, expected);
                    }
                }
            }
        }
    }
}
