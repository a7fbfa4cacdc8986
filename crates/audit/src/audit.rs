//! One audit from start to report: which checks run is decided by what the
//! auditor gives (trees, a journal, a process, a stream); the report records
//! every check, including those that could not run and why.

use std::path::PathBuf;

use time::OffsetDateTime;
use vitrine_canary::{Registry, Scanner};
use vitrine_config::policy::Policy;

use crate::checks::{self, Context, hardening, journal, keys, memory, storage, stream};
use crate::report::{CanaryRecord, CheckResult, PolicyRecord, Report, SCHEMA, WindowPoint};

/// What to audit.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `self`, `scan` or `mqtt`.
    pub mode: String,
    pub subject: String,
    pub policy: Policy,
    /// Where the policy came from (a path, or "defaults").
    pub policy_source: String,
    pub storage: Option<storage::StorageScope>,
    pub journal: Option<journal::JournalSource>,
    /// The daemon whose memory and confinement are checked.
    pub process: Option<ProcessPlan>,
    /// Check the swap areas of this system.
    pub swap: bool,
}

#[derive(Debug, Clone)]
pub struct ProcessPlan {
    pub name: String,
    /// Capabilities it may hold (CapEff bits).
    pub allowed_caps: u64,
}

/// The stream as watched during the audit.
#[derive(Debug, Clone)]
pub struct Watched {
    /// Every message, recorded as it came (not held in memory).
    pub messages: stream::Recording,
    pub expect: stream::Expect,
    pub rotation: Option<OffsetDateTime>,
}

/// Runs the plan's checks and puts the report together.
pub fn run(
    plan: &Plan,
    registry: &Registry,
    watched: Option<&Watched>,
    started: OffsetDateTime,
) -> Report {
    let scanner = Scanner::new(registry);
    let now = OffsetDateTime::now_utc();
    let ctx = Context {
        policy: &plan.policy,
        registry,
        scanner: &scanner,
        now,
    };
    let mut results: Vec<CheckResult> = Vec::new();
    let mut windows: Vec<WindowPoint> = Vec::new();
    if let Some(scope) = &plan.storage {
        results.extend(storage::run(&ctx, scope));
    }
    if let Some(source) = &plan.journal {
        results.push(journal::run(&ctx, source));
    }
    if let Some(p) = &plan.process {
        let pids = memory::pids_named(&p.name);
        results.extend(memory::run(&ctx, &p.name, &pids));
        let facts: Vec<_> = pids
            .iter()
            .filter_map(|&pid| {
                hardening::ProcessFacts::read(std::path::Path::new("/proc"), pid).ok()
            })
            .collect();
        results.extend(hardening::run(
            &p.name,
            &facts,
            p.allowed_caps,
            &hardening::systemctl_show,
        ));
    }
    if plan.swap {
        results.push(keys::swap(
            std::path::Path::new("/proc/swaps"),
            std::path::Path::new("/sys/block"),
        ));
    }
    if let Some(w) = watched {
        let (r, points) = stream::analyze(&ctx, &w.messages, w.expect, w.rotation);
        results.extend(r);
        windows = points;
    }
    // Report order is the catalogue's.
    results.sort_by_key(|r| {
        checks::ALL
            .iter()
            .position(|c| c.id == r.id)
            .unwrap_or(usize::MAX)
    });
    let verdict = Report::verdict_of(&results);
    Report {
        schema: SCHEMA.to_string(),
        tool: format!("vitrine-audit {}", env!("CARGO_PKG_VERSION")),
        mode: plan.mode.clone(),
        subject: plan.subject.clone(),
        started,
        finished: OffsetDateTime::now_utc(),
        verdict,
        policy: PolicyRecord::new(plan.policy_source.clone(), &plan.policy),
        canaries: registry
            .canaries
            .iter()
            .map(|c| CanaryRecord {
                id: c.id.clone(),
                kind: match c.value {
                    vitrine_canary::CanaryValue::Mac(_) => "mac".into(),
                    vitrine_canary::CanaryValue::Ssid(_) => "ssid".into(),
                    vitrine_canary::CanaryValue::Visual(_) => "visual".into(),
                },
                emitted: c.emitted.iter().map(|t| checks::rfc3339(*t)).collect(),
            })
            .collect(),
        checks: results,
        windows,
    }
}

/// The host name, for the report's subject.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this device".into())
}

/// Where the audit keeps its own state on a rig: the report-signing key,
/// the canary registry, the reports. Never searched (it holds the canaries).
pub fn state_dir() -> PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/vitrine-audit"))
}
