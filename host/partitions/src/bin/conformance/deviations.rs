//! The expected-deviations file: cases (and optionally checks within them) where Tessera
//! deliberately differs from Dagster, each with what Tessera does and why.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deviations {
    pub(crate) deviations: Vec<Deviation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deviation {
    /// Case-id globs (`*` matches any run of characters); absent means every case.
    #[serde(default = "every_case")]
    pub(crate) cases: Vec<String>,
    /// Properties of a definition in the case (the definition, either side of a mapping or
    /// one of their dimensions) that all hold for the same definition: the behaviour is
    /// recognised by what the case is, wherever it was recorded, not by its name.
    /// `exclusions` (non-empty), `end_offset>0`, `dimensions>2`.
    #[serde(default)]
    pub(crate) when: Vec<String>,
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
    pub(crate) fn excuse(&self, case: &Value, id: &str, check: &str) -> Option<usize> {
        self.deviations.iter().position(|d| {
            d.cases.iter().any(|g| glob(g, id))
                && (d.when.is_empty() || definitions(case).iter().any(|def| holds(&d.when, def)))
                && d.checks
                    .as_ref()
                    .is_none_or(|checks| checks.iter().any(|g| glob(g, check)))
        })
    }
}

fn every_case() -> Vec<String> {
    vec!["*".to_string()]
}

/// Every definition spec in a case, dimensions included.
fn definitions(case: &Value) -> Vec<&Value> {
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        if !v.is_object() {
            return;
        }
        out.push(v);
        if let Some(dims) = v.get("dimensions").and_then(Value::as_object) {
            for d in dims.values() {
                walk(d, out);
            }
        }
    }
    let mut out = Vec::new();
    for field in ["def", "upstream_def", "downstream_def"] {
        if let Some(v) = case.get(field) {
            walk(v, &mut out);
        }
    }
    out
}

/// Do all the properties hold for this definition spec? An unknown property never holds, so
/// a typo excuses nothing.
fn holds(properties: &[String], def: &Value) -> bool {
    properties.iter().all(|p| match p.as_str() {
        "exclusions" => def
            .get("exclusions")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
        "dimensions>2" => def
            .get("dimensions")
            .and_then(Value::as_object)
            .is_some_and(|d| d.len() > 2),
        "end_offset>0" => def
            .get("end_offset")
            .and_then(Value::as_i64)
            .is_some_and(|k| k > 0),
        _ => false,
    })
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
