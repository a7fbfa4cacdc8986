//! The systemd journal, read through `journalctl -o json` so compressed
//! fields come out whole: every field of every entry is searched. Text
//! syslog files are plain files and are covered by the storage checks.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::{Context, JOURNAL_CANARY, Outcome, megabytes, thousands};
use crate::report::CheckResult;

/// Where the entries come from.
#[derive(Debug, Clone)]
pub enum JournalSource {
    /// The local journal (`journalctl`).
    Local,
    /// A journal directory from another system (`journalctl -D DIR`).
    Directory(std::path::PathBuf),
}

/// Runs `journalctl` and searches its entries.
pub fn run(ctx: &Context<'_>, source: &JournalSource) -> CheckResult {
    let mut cmd = Command::new("journalctl");
    cmd.args(["-o", "json", "--no-pager", "--quiet"]);
    if let JournalSource::Directory(dir) = source {
        cmd.arg("-D").arg(dir);
    }
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::skipped(JOURNAL_CANARY, format!("cannot run journalctl: {e}")),
    };
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    let result = search(ctx, stdout.lines().map_while(Result::ok));
    let status = child.wait();
    if result.entries == 0 && !status.is_ok_and(|s| s.success()) {
        return Outcome::skipped(JOURNAL_CANARY, "journalctl found no journal to read");
    }
    result.outcome.finish()
}

#[derive(Debug)]
pub struct Searched {
    pub outcome: Outcome,
    pub entries: u64,
}

/// Searches `journalctl -o json` lines (one entry per line).
pub fn search(ctx: &Context<'_>, lines: impl Iterator<Item = String>) -> Searched {
    let mut out = Outcome::new(JOURNAL_CANARY);
    let (mut entries, mut bytes) = (0u64, 0u64);
    for line in lines {
        bytes += line.len() as u64;
        let Ok(serde_json::Value::Object(entry)) = serde_json::from_str::<serde_json::Value>(&line)
        else {
            continue;
        };
        entries += 1;
        let text = |k: &str| entry.get(k).and_then(|v| v.as_str()).map(str::to_string);
        for (field, value) in &entry {
            if field.starts_with("__") {
                continue;
            }
            let bytes: Vec<u8> = match value {
                serde_json::Value::String(s) => s.clone().into_bytes(),
                // Binary fields come as arrays of byte values.
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|b| b.as_u64().map(|b| b as u8))
                    .collect(),
                _ => continue,
            };
            ctx.scanner.scan(&bytes, &mut |m| {
                let mut evidence = ctx.canary_evidence(&m);
                evidence.process = text("_SYSTEMD_UNIT")
                    .or_else(|| text("SYSLOG_IDENTIFIER"))
                    .or_else(|| text("_COMM"));
                evidence.pid = text("_PID").and_then(|p| p.parse().ok());
                evidence.timestamp = text("__REALTIME_TIMESTAMP")
                    .and_then(|us| us.parse::<i128>().ok())
                    .and_then(|us| time::OffsetDateTime::from_unix_timestamp_nanos(us * 1000).ok())
                    .map(super::rfc3339);
                evidence.detail = Some(format!(
                    "field {field}; cursor {}",
                    text("__CURSOR").unwrap_or_default()
                ));
                out.find(
                    format!(
                        "Canary {} is in the journal as {}.",
                        evidence.canary.as_deref().unwrap_or("?"),
                        evidence.encoding.as_deref().unwrap_or("?")
                    ),
                    evidence,
                );
            });
        }
    }
    out.examined(format!(
        "{} journal entries ({})",
        thousands(entries),
        megabytes(bytes)
    ));
    Searched {
        outcome: out,
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine_canary::{Case, Registry, Scanner, Spelling, encoding::spelled};

    #[test]
    fn a_canary_in_any_field_of_an_entry_is_found_with_its_unit_and_time() {
        let reg = Registry::generate(2, 0, &[[0x3c, 0x22, 0xfb]], &mut rand::rng());
        let scanner = Scanner::new(&reg);
        let policy = vitrine_config::policy::Policy::default();
        let ctx = Context {
            policy: &policy,
            registry: &reg,
            scanner: &scanner,
            now: time::OffsetDateTime::now_utc(),
        };
        let mac = reg.canaries[1].mac().unwrap();
        let leak = spelled(&mac, Spelling::Bare, Case::Lower);
        let lines = vec![
            r#"{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1764000000000000","_SYSTEMD_UNIT":"vitrined.service","MESSAGE":"window closed"}"#.to_string(),
            format!(r#"{{"__CURSOR":"s=2","__REALTIME_TIMESTAMP":"1764000001000000","_SYSTEMD_UNIT":"vendord.service","_PID":"77","MESSAGE":"probe {leak}"}}"#),
            // A binary field, as journalctl prints it: an array of bytes.
            format!(r#"{{"__CURSOR":"s=3","SYSLOG_IDENTIFIER":"vendord","MESSAGE":{:?}}}"#, mac.to_vec()),
            "not json".to_string(),
        ];
        let r = search(&ctx, lines.into_iter());
        assert_eq!(r.entries, 3);
        let result = r.outcome.finish();
        assert_eq!(result.findings.len(), 2, "{result:?}");
        let e = &result.findings[0].evidence;
        assert_eq!(result.findings[0].check, "journal.canary");
        assert_eq!(e.process.as_deref(), Some("vendord.service"));
        assert_eq!(e.pid, Some(77));
        assert_eq!(e.timestamp.as_deref(), Some("2025-11-24T16:00:01Z"));
        assert_eq!(e.canary.as_deref(), Some(reg.canaries[1].id.as_str()));
        assert_eq!(e.encoding.as_deref(), Some("clear(bare-lower)"));
        assert_eq!(
            result.findings[1].evidence.encoding.as_deref(),
            Some("raw-bytes")
        );

        let clean = search(
            &ctx,
            std::iter::once(r#"{"MESSAGE":"window closed"}"#.to_string()),
        );
        assert!(clean.outcome.finish().findings.is_empty());
    }
}
