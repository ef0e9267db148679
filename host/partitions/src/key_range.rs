//! A range of partition keys, both ends included: `START...END` on command lines, in run
//! records and in messages. One type parses and prints it everywhere; [`KeyRange::subset`]
//! resolves it against a definition once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::definition::{Context, PartitionsDefinition};
use crate::error::Error;
use crate::subset::PartitionSubset;

/// The keys from `start` to `end` of a definition, both included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyRange {
    pub start: String,
    pub end: String,
}

impl KeyRange {
    /// The separator between the ends.
    pub const SEPARATOR: &'static str = "...";

    pub fn new(start: impl Into<String>, end: impl Into<String>) -> KeyRange {
        KeyRange {
            start: start.into(),
            end: end.into(),
        }
    }

    /// The partitions of `def` the range covers at `cx`: an error when it is empty (its
    /// start comes after its end) or reaches partitions that do not exist yet.
    pub fn subset(
        &self,
        def: &PartitionsDefinition,
        cx: &Context<'_>,
    ) -> Result<PartitionSubset, Error> {
        let subset = def.range(cx, &self.start, &self.end)?;
        if subset.is_empty() {
            return Err(Error::EmptyRange {
                def: def.to_string(),
                range: self.to_string(),
                start: self.start.clone(),
                end: self.end.clone(),
            });
        }
        let (existing, missing) = subset.split_existing(def.count(cx)?);
        if !missing.is_empty() {
            return Err(Error::RangeNotYet {
                def: def.to_string(),
                range: self.to_string(),
                missing: missing.len(),
                now: cx.now().to_rfc3339(),
            });
        }
        Ok(existing)
    }
}

impl fmt::Display for KeyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.start, Self::SEPARATOR, self.end)
    }
}

impl FromStr for KeyRange {
    type Err = Error;

    /// `START...END`; a key may itself contain dots, so the first `...` splits.
    fn from_str(text: &str) -> Result<KeyRange, Error> {
        match text.split_once(Self::SEPARATOR) {
            Some((start, end)) if !start.is_empty() && !end.is_empty() => {
                Ok(KeyRange::new(start, end))
            }
            _ => Err(Error::MalformedRange {
                text: text.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TimeWindowPartitions;

    #[test]
    fn parses_and_prints_round_trip() {
        let r: KeyRange = "2024-01-01...2024-01-31".parse().unwrap();
        assert_eq!(r, KeyRange::new("2024-01-01", "2024-01-31"));
        assert_eq!(r.to_string(), "2024-01-01...2024-01-31");
        for bad in ["2024-01-01", "...b", "a...", ""] {
            assert!(matches!(
                bad.parse::<KeyRange>(),
                Err(Error::MalformedRange { .. })
            ));
        }
    }

    #[test]
    fn resolves_against_a_definition() {
        let def =
            PartitionsDefinition::from(TimeWindowPartitions::daily("2024-01-01").build().unwrap());
        let now = "2024-01-10T00:00:00Z".parse().unwrap();
        let cx = Context::new(now);
        let s = KeyRange::new("2024-01-02", "2024-01-04")
            .subset(&def, &cx)
            .unwrap();
        assert_eq!(s.len(), 3);
        assert!(matches!(
            KeyRange::new("2024-01-04", "2024-01-02").subset(&def, &cx),
            Err(Error::EmptyRange { .. })
        ));
        let e = KeyRange::new("2024-01-08", "2024-01-12")
            .subset(&def, &cx)
            .unwrap_err();
        assert!(matches!(e, Error::RangeNotYet { missing: 3, .. }), "{e}");
    }
}
