//! Writes a realistic sample audit report, signed with a fresh key, as JSON
//! and HTML, to look at the page:
//!
//! ```sh
//! cargo run -p vitrine-audit --example sample_report -- target/report/sample [fail|pass|incomplete]
//! ```
//!
//! writes `target/report/sample.json` and `target/report/sample.html`.

use std::path::PathBuf;

use time::macros::datetime;
use vitrine_audit::report::{
    CanaryRecord, CheckResult, Counts, DeviceKey, Evidence, Finding, PolicyRecord, Report, SCHEMA,
    Severity, Status, WindowPoint, sign, write_report,
};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let stem = PathBuf::from(args.next().unwrap_or_else(|| "target/report/sample".into()));
    let kind = args.next().unwrap_or_else(|| "fail".into());
    let report = sample(&kind)?;
    let key = DeviceKey::generate();
    let signed = sign(&report, &key);
    if let Some(dir) = stem.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = stem.with_extension("json");
    let html = stem.with_extension("html");
    write_report(&signed, &json, &html)?;
    println!(
        "{}\n{}\nsigned by {} ({})",
        json.display(),
        html.display(),
        key.fingerprint(),
        key.public_key_base64()
    );
    Ok(())
}

fn check(
    id: &str,
    title: &str,
    severity: Severity,
    examined: &str,
    findings: Vec<Finding>,
) -> CheckResult {
    CheckResult {
        id: id.into(),
        title: title.into(),
        severity,
        status: if findings.is_empty() {
            Status::Passed
        } else {
            Status::Failed
        },
        examined: examined.into(),
        findings,
        counts: None,
        not_read: None,
        set_aside: None,
    }
}

fn finding(check: &str, severity: Severity, summary: &str, evidence: Evidence) -> Finding {
    Finding {
        check: check.into(),
        severity,
        summary: summary.into(),
        evidence,
    }
}

fn sample(kind: &str) -> anyhow::Result<Report> {
    let failing = kind == "fail";
    let mut checks = Vec::new();

    let storage_canary = if failing {
        vec![
            finding(
                "storage.canary",
                Severity::Critical,
                "Canary mac-03 is stored in a database file, as a truncated SHA-256 of its address.",
                Evidence {
                    path: Some("/var/lib/tracker/devices.sqlite".into()),
                    offset: Some(18_432),
                    timestamp: Some("2026-03-14T10:42:17Z".into()),
                    canary: Some("mac-03".into()),
                    encoding: Some(
                        "sha256(colon-lower)/hex-lower truncated to 12 hex digits".into(),
                    ),
                    count: Some(41),
                    offsets: vec![18_432, 18_511, 22_090],
                    detail: Some("modified 2026-03-14 10:42, 2 h 5 min after the canary was first sent; in-memory retention is 1 day, raw frames must never be stored".into()),
                    ..Evidence::default()
                },
            ),
            finding(
                "storage.canary",
                Severity::Critical,
                "Canary mac-03 is in a log, as a truncated SHA-256 of its address.",
                Evidence {
                    path: Some("/var/log/tracker.log".into()),
                    offset: Some(2_310),
                    canary: Some("mac-03".into()),
                    encoding: Some(
                        "sha256(colon-lower)/hex-lower truncated to 12 hex digits".into(),
                    ),
                    count: Some(80),
                    offsets: vec![2_310, 2_398, 2_486],
                    ..Evidence::default()
                },
            ),
            finding(
                "storage.canary",
                Severity::Critical,
                "Canary mac-07 is stored in clear in a compressed log.",
                Evidence {
                    path: Some("/var/log/vitrine/debug.log.2.gz".into()),
                    offset: Some(1_048_790),
                    container: Some("gzip".into()),
                    timestamp: Some("2026-03-14T11:03:55Z".into()),
                    canary: Some("mac-07".into()),
                    encoding: Some("clear(colon-upper)".into()),
                    detail: Some("offset is in the decompressed stream".into()),
                    ..Evidence::default()
                },
            ),
            finding(
                "storage.canary",
                Severity::Critical,
                "Canary mac-11 is in a CSV export, maker kept and device part hashed.",
                Evidence {
                    path: Some("/srv/export/visits.csv".into()),
                    offset: Some(655),
                    canary: Some("mac-11".into()),
                    encoding: Some("oui+sha1(raw)[..3]/colon-lower".into()),
                    count: Some(3),
                    offsets: vec![655, 1_210, 1_877],
                    ..Evidence::default()
                },
            ),
        ]
    } else {
        vec![]
    };
    let mut storage = check(
        "storage.canary",
        "No canary on disk, in any encoding",
        Severity::Critical,
        "3,482 files, 412.7 MB under /var, /home, /tmp, /etc and /opt, 27 compressed files opened",
        storage_canary,
    );
    if failing {
        let mut counts = Counts {
            findings: 125,
            unlisted: 0,
            ..Counts::default()
        };
        for (c, n) in [("mac-03", 121), ("mac-07", 1), ("mac-11", 3)] {
            counts.per_canary.insert(c.into(), n);
        }
        for f in &storage.findings {
            let p = f.evidence.path.clone().unwrap_or_default();
            *counts.per_file.entry(p).or_default() += f.evidence.count.unwrap_or(1);
        }
        storage.counts = Some(counts);
    }
    checks.push(storage);
    checks.push(check(
        "storage.media",
        "No camera images or video kept",
        Severity::High,
        "3,482 files by content type",
        vec![],
    ));
    checks.push(check(
        "storage.retention",
        "No data kept past its retention",
        Severity::Medium,
        "214 spool and summary files under /var/lib/vitrine",
        vec![],
    ));
    checks.push(check(
        "journal.canary",
        "No canary in the system journal",
        Severity::Critical,
        "41,907 journal entries since boot",
        vec![],
    ));
    if kind == "pass" {
        checks.push(check(
            "memory.canary",
            "No canary in the daemon's memory past the in-memory retention",
            Severity::High,
            "vitrined (pid 812): 38.2 MB of writable mappings",
            vec![],
        ));
    } else {
        checks.push(CheckResult {
            id: "memory.canary".into(),
            title: "No canary in the daemon's memory past the in-memory retention".into(),
            severity: Severity::High,
            status: Status::Skipped {
                reason: "reading another process's memory needs root (CAP_SYS_PTRACE)".into(),
            },
            examined: String::new(),
            findings: vec![],
            counts: None,
            not_read: None,
            set_aside: None,
        });
    }
    checks.push(check(
        "stream.schema",
        "Every published message follows the summary schema",
        Severity::Medium,
        "30 messages on vitrine/store-12/rig-a/wifi",
        vec![],
    ));
    checks.push(check(
        "stream.k_anonymity",
        "Every published bin counts at least k devices",
        Severity::High,
        "30 messages, 1,140 bins",
        if failing {
            vec![finding(
                "stream.k_anonymity",
                Severity::High,
                "A dwell-time bin was published with 2 devices in it; the policy withholds any bin under 5.",
                Evidence {
                    topic: Some("vitrine/store-12/rig-a/wifi".into()),
                    timestamp: Some("2026-03-14T11:20:00Z".into()),
                    detail: Some("window 11:20–11:30, dwell_s bin 1800–3600: 2".into()),
                    ..Evidence::default()
                },
            )]
        } else {
            vec![]
        },
    ));
    checks.push(check(
        "stream.canary",
        "No canary in the published stream, in any encoding",
        Severity::Critical,
        "30 messages, 148.2 kB decoded",
        vec![],
    ));
    checks.push(check(
        "keys.on_disk",
        "No pseudonym key or salt on disk",
        Severity::Critical,
        "3,482 files",
        vec![],
    ));
    checks.push(check(
        "hardening.core_dumps",
        "The daemon cannot write core dumps",
        Severity::High,
        "vitrined (pid 812): /proc/812/limits, /proc/sys/kernel/core_pattern",
        if failing {
            vec![finding(
                "hardening.core_dumps",
                Severity::High,
                "The daemon may write core dumps: a crash would put its memory, keys included, on disk.",
                Evidence {
                    path: Some("/proc/812/limits".into()),
                    pid: Some(812),
                    process: Some("vitrined".into()),
                    detail: Some("Max core file size: unlimited; core_pattern: |/usr/lib/systemd/systemd-coredump".into()),
                    ..Evidence::default()
                },
            )]
        } else {
            vec![]
        },
    ));
    checks.push(check(
        "hardening.no_new_privs",
        "The daemon cannot gain privileges",
        Severity::Medium,
        "vitrined (pid 812): /proc/812/status",
        vec![],
    ));
    checks.push(check(
        "hardening.sandbox",
        "The daemon's systemd sandbox is in place",
        Severity::Low,
        "vitrined.service: 14 sandboxing properties",
        vec![],
    ));

    let verdict = Report::verdict_of(&checks);
    let started = datetime!(2026-03-14 09:00:00 UTC);
    let windows = (0..30)
        .map(|i| {
            // A morning into midday: a rise, a lunch peak, some noise.
            let t = i as f64 / 29.0;
            let noise = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
            let devices = 18.0 + 40.0 * (std::f64::consts::PI * t).sin().powi(2) + 4.0 * noise;
            let macs = devices * (2.6 + 0.3 * noise);
            let probes = macs * (9.0 + 2.0 * noise);
            WindowPoint {
                start: (started + time::Duration::minutes(10 * i))
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("formats"),
                topic: "vitrine/store-12/rig-a/wifi".into(),
                probe_requests: probes.round() as u64,
                distinct_macs: macs.round() as u64,
                devices_estimate: (devices * 10.0).round() / 10.0,
            }
        })
        .collect();
    // Some found, some not: the summary has a line for each.
    let canaries = ["mac-01", "mac-03", "mac-05", "mac-07", "mac-09", "mac-11"]
        .iter()
        .enumerate()
        .map(|(i, id)| CanaryRecord {
            id: (*id).into(),
            kind: "mac".into(),
            emitted: (0..3)
                .map(|h| format!("2026-03-14T{:02}:{:02}:12Z", 8 + h, 7 * i))
                .collect(),
        })
        .chain(std::iter::once(CanaryRecord {
            id: "ssid-02".into(),
            kind: "ssid".into(),
            emitted: vec!["2026-03-14T09:12:03Z".into()],
        }))
        .collect();
    Ok(Report {
        schema: SCHEMA.into(),
        tool: format!("vitrine-audit {}", env!("CARGO_PKG_VERSION")),
        mode: "self".into(),
        subject: "rig-a.store-12 (Raspberry Pi 4, vitrined 0.1.0)".into(),
        started,
        finished: datetime!(2026-03-14 14:07:31 UTC),
        verdict,
        policy: PolicyRecord::new(
            "/etc/vitrine/policy.toml",
            &vitrine_config::policy::Policy::default(),
        ),
        canaries,
        checks,
        windows,
    })
}
