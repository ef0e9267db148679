//! The expected-deviations file: cases (and optionally checks within them) where Tessera
//! deliberately differs from Dagster, each with what Tessera does and why.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deviations {
    pub(crate) deviations: Vec<Deviation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deviation {
    /// Case-id globs (`*` matches any run of characters).
    pub(crate) cases: Vec<String>,
    /// Check-name globs; absent means every check of the matched cases.
    #[serde(default)]
    pub(crate) checks: Option<Vec<String>>,
    /// What Tessera does instead.
    pub(crate) tessera: String,
    /// Why.
    pub(crate) why: String,
}

impl Deviations {
    /// The deviation that excuses a failed check, if any (its position in the file).
    pub(crate) fn excuse(&self, case: &str, check: &str) -> Option<usize> {
        self.deviations.iter().position(|d| {
            d.cases.iter().any(|g| glob(g, case))
                && d.checks
                    .as_ref()
                    .is_none_or(|checks| checks.iter().any(|g| glob(g, check)))
        })
    }
}

/// Glob match with `*` only; everything else is literal.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("a.b", "a.b"));
        assert!(!glob("a.b", "a.bc"));
        assert!(glob("dst.*.spring.*", "dst.hourly.NY.spring.eo0"));
        assert!(!glob("dst.*.spring.*", "dst.hourly.NY.fall.eo0"));
        assert!(glob("*", ""));
        assert!(glob("a*a", "aa"));
        assert!(!glob("a*a", "a"));
        assert!(glob(
            "has_partition_key:*-02:00",
            "has_partition_key:2024-03-10-02:00"
        ));
    }
}
