//! The end of every audit: the report signed and written, its verdict
//! printed and turned into the exit status.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use vitrine_audit::report::{self, DeviceKey, Report, Verdict};
use vitrine_publish::consume::printable;

use crate::cli::ReportArgs;

/// Signs and writes the report, prints its verdict, and turns it into the
/// exit status.
pub fn finish(
    report: Report,
    args: &ReportArgs,
    default_out: Option<PathBuf>,
    default_key: PathBuf,
) -> anyhow::Result<ExitCode> {
    let key_path = args.key.clone().unwrap_or(default_key);
    let key = DeviceKey::load_or_create(&key_path)
        .with_context(|| format!("report-signing key {}", key_path.display()))?;
    let signed = report::sign(&report, &key);
    if let Some(dir) = args.out.clone().or(default_out) {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let stamp = report.started.unix_timestamp();
        let json = dir.join(format!("audit-{stamp}.json"));
        let html = dir.join(format!("audit-{stamp}.html"));
        report::write_report(&signed, &json, &html)
            .with_context(|| format!("cannot write the report to {}", dir.display()))?;
        eprintln!("report: {} and {}", json.display(), html.display());
    }
    if args.json {
        println!("{}", signed.to_json_pretty());
    }
    let findings = report.findings();
    eprintln!(
        "verdict: {:?}, {} findings, signed by {}",
        report.verdict,
        findings.len(),
        key.fingerprint()
    );
    for f in findings.iter().take(20) {
        // Summaries quote topics and paths from the device.
        eprintln!("  [{}] {:?} {}", f.check, f.severity, printable(&f.summary));
    }
    for c in &report.checks {
        match &c.status {
            report::Status::Skipped { reason } => {
                eprintln!("  not run: {}: {}", c.id, printable(reason));
            }
            report::Status::Incomplete { reason } => {
                eprintln!("  incomplete: {}: {}", c.id, printable(reason));
            }
            _ => {}
        }
    }
    Ok(match report.verdict {
        Verdict::Pass => ExitCode::SUCCESS,
        Verdict::Fail => ExitCode::from(1),
        Verdict::Incomplete => ExitCode::from(3),
    })
}

pub fn user_key_path() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("vitrine-audit/report-key")
}
