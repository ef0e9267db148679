//! How an asset may be run over several partitions.

/// How an asset may be run over several partitions (Dagster's `BackfillPolicy`): the 0.2.0
/// contract's `asset-definition.backfill-policy`, or for a 0.1.0 plugin its metadata
/// `backfill_policy` (`single_partition`, `single_run` or `multi_run:N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(
    rename_all = "snake_case",
    tag = "kind",
    content = "max_partitions_per_run"
)]
pub enum BackfillPolicy {
    /// Not declared: runs as the request says (one per partition unless asked otherwise).
    #[default]
    Unspecified,
    /// One partition per run and call: ranges are refused.
    SinglePartition,
    /// One run and one call per contiguous range.
    SingleRun,
    /// Runs (each one call) of at most N contiguous partitions.
    MultiRun(u64),
}

impl std::fmt::Display for BackfillPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackfillPolicy::Unspecified => f.write_str("unspecified"),
            BackfillPolicy::SinglePartition => f.write_str("single_partition"),
            BackfillPolicy::SingleRun => f.write_str("single_run"),
            BackfillPolicy::MultiRun(n) => write!(f, "multi_run:{n}"),
        }
    }
}

impl std::str::FromStr for BackfillPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<BackfillPolicy, String> {
        let s = s.trim();
        match s {
            "single_partition" => return Ok(BackfillPolicy::SinglePartition),
            "single_run" => return Ok(BackfillPolicy::SingleRun),
            _ => {}
        }
        match s
            .strip_prefix("multi_run:")
            .map(|n| n.trim().parse::<u64>())
        {
            Some(Ok(n)) if n > 0 => Ok(BackfillPolicy::MultiRun(n)),
            _ => Err(format!(
                "{s:?} is not a backfill policy: single_partition, single_run or multi_run:N (N > 0)"
            )),
        }
    }
}

/// When a downstream window runs while some upstream partitions it maps to are missing: an
/// input's `rollup` (contract 0.3.0), or `allow-missing` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RollupPolicy {
    /// Only when every one is materialized.
    #[default]
    WaitAll,
    /// When every one is materialized, or this long after the downstream window's end, with
    /// what exists then.
    WaitUntil(std::time::Duration),
    /// With what exists.
    RunPartial,
}

impl std::fmt::Display for RollupPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RollupPolicy::WaitAll => f.write_str("wait_all"),
            RollupPolicy::WaitUntil(d) => write!(f, "wait_until(+{}s)", d.as_secs()),
            RollupPolicy::RunPartial => f.write_str("run_partial"),
        }
    }
}
