//! `new_data_sensor`: the seed's event-driven pattern. It lists the directory the host grants
//! at `/data/incoming` and requests a `processed_events` run for the date in each new file's
//! name (`events-2024-01-15.json` → partition `2024-01-15`).
//!
//! Run keys are `<file name>:<size>:<mtime>`, so a file rewritten later runs again. The cursor
//! is `<mtime>:<file name>` of the newest file seen; older and equal files are not new.

use std::path::Path;
use std::time::UNIX_EPOCH;

use tessera_sdk::prelude::*;

/// The guest path of the watched directory.
pub const INCOMING: &str = "/data/incoming";
/// The asset the runs are for.
pub const TARGET: &str = "processed_events";

/// A file of the watched directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    mtime: i64,
    name: String,
    size: u64,
}

fn new_data_sensor(ctx: &SensorContext) -> Result<SensorResult, PluginError> {
    let dir = granted_path(INCOMING);
    let mut files = match list(&dir) {
        Ok(files) => files,
        Err(e) => {
            return Ok(SensorResult::skip(format!(
                "{INCOMING} is not available (not granted or missing): {e}"
            )));
        }
    };
    files.sort();
    let after = ctx.cursor().and_then(parse_cursor);
    if ctx.cursor().is_some() && after.is_none() {
        tessera_sdk::warn!("ignoring unreadable cursor {:?}", ctx.cursor());
    }
    let new: Vec<&Seen> = files
        .iter()
        .filter(|f| {
            after
                .as_ref()
                .is_none_or(|(mtime, name)| (f.mtime, &f.name) > (*mtime, name))
        })
        .collect();
    let Some(newest) = new.last() else {
        return Ok(SensorResult::skip(format!("no new files in {INCOMING}")));
    };
    let cursor = format!("{}:{}", newest.mtime, newest.name);
    let mut requests = Vec::new();
    for file in &new {
        match date_in(&file.name) {
            Some(date) => requests.push(
                RunRequest::new()
                    .asset(TARGET)
                    .partition(date)
                    .run_key(format!("{}:{}:{}", file.name, file.size, file.mtime))
                    .tag("file", file.name.clone()),
            ),
            None => tessera_sdk::info!("{} names no date; skipped", file.name),
        }
    }
    if requests.is_empty() {
        return Ok(
            SensorResult::skip(format!("{} new files, none named with a date", new.len()))
                .cursor(cursor),
        );
    }
    Ok(SensorResult::new().run_requests(requests).cursor(cursor))
}

/// The regular files of `dir` (not hidden).
fn list(dir: &Path) -> std::io::Result<Vec<Seen>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !meta.is_file() || name.starts_with('.') {
            continue;
        }
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        files.push(Seen {
            mtime,
            name,
            size: meta.len(),
        });
    }
    Ok(files)
}

fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (mtime, name) = cursor.split_once(':')?;
    Some((mtime.parse().ok()?, name.to_string()))
}

/// The first `YYYY-MM-DD` in a file name.
fn date_in(name: &str) -> Option<&str> {
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|i| {
        let w = &bytes[i..i + 10];
        let digits = [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&j| w[j].is_ascii_digit());
        if !digits || w[4] != b'-' || w[7] != b'-' {
            return None;
        }
        let month = (w[5] - b'0') * 10 + (w[6] - b'0');
        let day = (w[8] - b'0') * 10 + (w[9] - b'0');
        ((1..=12).contains(&month) && (1..=31).contains(&day)).then(|| &name[i..i + 10])
    })
}

tessera_sdk::plugin! {
    sensors: [
        Sensor::new("new_data_sensor", new_data_sensor)
            .description("Runs processed_events for each new dated file in /data/incoming.")
            .minimum_interval(30)
            .targets([TARGET]),
    ],
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::path::PathBuf;
    use std::time::{Duration, UNIX_EPOCH};

    use tessera_sdk::testing;

    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("tessera-new-data-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self, name: &str, bytes: &[u8], mtime: u64) {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).unwrap();
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
                .unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn evaluate(dir: &TempDir, cursor: Option<&str>) -> SensorResult {
        let plugin = plugin();
        let mut test = testing::evaluate_sensor(&plugin, "new_data_sensor")
            .grant(INCOMING, &dir.0)
            .now("2024-02-01T00:00:00Z");
        if let Some(c) = cursor {
            test = test.cursor(c);
        }
        test.run().unwrap().result
    }

    #[test]
    fn new_files_become_runs_and_the_cursor_moves() {
        let dir = TempDir::new("runs");
        dir.file("events-2024-01-15.json", b"[1,2,3]", 1_705_400_000);
        dir.file("2024-01-16.csv", b"a,b", 1_705_500_000);
        dir.file("notes.txt", b"no date", 1_705_300_000);
        dir.file(".partial-2024-01-17", b"", 1_705_600_000);

        let first = evaluate(&dir, None);
        assert_eq!(first.skip_reason, None);
        assert_eq!(first.cursor.as_deref(), Some("1705500000:2024-01-16.csv"));
        let requests: Vec<(&str, &PartitionSelection)> = first
            .run_requests
            .iter()
            .map(|r| (r.run_key.as_deref().unwrap(), &r.partition))
            .collect();
        assert_eq!(
            requests,
            [
                (
                    "events-2024-01-15.json:7:1705400000",
                    &PartitionSelection::Key("2024-01-15".into())
                ),
                (
                    "2024-01-16.csv:3:1705500000",
                    &PartitionSelection::Key("2024-01-16".into())
                ),
            ]
        );
        assert_eq!(first.run_requests[0].assets, [TARGET]);
        assert_eq!(
            first.run_requests[0].tags,
            [("file".to_string(), "events-2024-01-15.json".to_string())]
        );

        let again = evaluate(&dir, first.cursor.as_deref());
        assert_eq!(
            again.skip_reason.as_deref(),
            Some("no new files in /data/incoming")
        );
        assert_eq!(again.cursor, None, "the cursor stays");

        dir.file("late-2024-01-14.json", b"[]", 1_705_600_000);
        let late = evaluate(&dir, first.cursor.as_deref());
        assert_eq!(late.run_requests.len(), 1);
        assert_eq!(
            late.run_requests[0].partition,
            PartitionSelection::Key("2024-01-14".into())
        );
    }

    #[test]
    fn undated_files_only_move_the_cursor() {
        let dir = TempDir::new("undated");
        dir.file("readme.md", b"x", 1_705_000_000);
        let result = evaluate(&dir, None);
        assert_eq!(
            result.skip_reason.as_deref(),
            Some("1 new files, none named with a date")
        );
        assert_eq!(result.cursor.as_deref(), Some("1705000000:readme.md"));
    }

    #[test]
    fn missing_directory_skips() {
        let result = testing::evaluate_sensor(&plugin(), "new_data_sensor")
            .grant(INCOMING, "/nonexistent/tessera-incoming")
            .run()
            .unwrap()
            .result;
        let reason = result.skip_reason.unwrap();
        assert!(
            reason.starts_with("/data/incoming is not available"),
            "{reason}"
        );
        assert!(result.run_requests.is_empty());
    }

    #[test]
    fn dates_in_names() {
        assert_eq!(date_in("events-2024-01-15.json"), Some("2024-01-15"));
        assert_eq!(date_in("2024-12-31"), Some("2024-12-31"));
        assert_eq!(date_in("2024-13-01.json"), None);
        assert_eq!(date_in("x2024-1-15"), None);
        assert_eq!(date_in("é2024-02-03é"), Some("2024-02-03"));
        assert_eq!(parse_cursor("12:a:b"), Some((12, "a:b".to_string())));
        assert_eq!(parse_cursor("nope"), None);
    }
}
