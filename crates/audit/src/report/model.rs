//! The audit report: what was checked, against which policy, what was found
//! and where. Versioned; the JSON is the record, the HTML page is a view of
//! it. It names canaries by id and encodings by name, never a value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The `schema` field of every report this version writes.
pub const SCHEMA: &str = "vitrine-audit-report/2";

/// Schemas the verifier reads: version 1 is version 2 without the
/// `incomplete` status and the count and place fields, so it reads as it is.
pub const SCHEMAS_READ: [&str; 2] = [SCHEMA, "vitrine-audit-report/1"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check ran and none found anything.
    Pass,
    /// At least one finding.
    Fail,
    /// No finding, but some checks could not run or could not read all
    /// they were asked to (see their reasons).
    Incomplete,
}

/// Where a finding was seen. Only the fields that apply are set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// For files inside a compressed file: the outer file's compression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// When the thing was seen or written (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Canary id (never its value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<String>,
    /// Encoding name, e.g. `sha256(colon-lower)/hex-lower`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Anything else that makes the finding checkable, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a file inside an archive (tar, zip): the member's path in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// How many occurrences this finding stands for (grouped evidence:
    /// one file, one canary, one encoding); absent means one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The first offsets of a grouped finding (`offset` is the first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offsets: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The check that found it, e.g. `storage.canary`.
    pub check: String,
    pub severity: Severity,
    /// One sentence a reader understands without the evidence.
    pub summary: String,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    /// Could not run here (no journal, not root...): why.
    Skipped {
        reason: String,
    },
    /// Ran and found nothing in what it read, but could not read all it was
    /// asked to (the places are in `not_read`): never a pass.
    Incomplete {
        reason: String,
    },
}

/// A place a check did not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub path: String,
    pub reason: String,
}

/// Places of one kind: how many in all, the first of them listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Places {
    pub total: u64,
    pub listed: Vec<Place>,
}

/// Every finding of a check counted, whether listed or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Occurrences found in all.
    pub findings: u64,
    /// Occurrences that no listed finding stands for (the list is capped).
    pub unlisted: u64,
    /// Occurrences per canary id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_canary: BTreeMap<String, u64>,
    /// Occurrences per file: every file with a finding is named here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_file: BTreeMap<String, u64>,
}

/// One check as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(flatten)]
    pub status: Status,
    /// What was looked at, e.g. "1,204 files, 58.1 MB under /var/lib".
    pub examined: String,
    pub findings: Vec<Finding>,
    /// Every finding counted (absent when there is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    /// Places the check was asked to read and could not (missing, denied,
    /// too deep, a bound hit): the check is incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_read: Option<Places>,
    /// Places left out on purpose, and why (pseudo file systems, special
    /// files, images owned by installed packages): informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_aside: Option<Places>,
}

/// A canary as the report knows it: id, kind, when emitted. No value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryRecord {
    pub id: String,
    pub kind: String,
    pub emitted: Vec<String>,
}

/// One published window, for the charts of counts over the audit window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowPoint {
    /// Window start, RFC 3339.
    pub start: String,
    pub topic: String,
    pub probe_requests: u64,
    pub distinct_macs: u64,
    pub devices_estimate: f64,
}

/// The policy measured against, as plain numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub source: String,
    pub raw_frames_s: u64,
    pub device_state_s: u64,
    pub key_epoch_s: u64,
    pub summaries_s: u64,
    pub k: u32,
    pub pseudonyms_leave_device: bool,
    pub ssids_leave_device: bool,
    pub images_persisted: bool,
}

impl PolicyRecord {
    pub fn new(source: impl Into<String>, p: &vitrine_config::policy::Policy) -> Self {
        PolicyRecord {
            source: source.into(),
            raw_frames_s: p.raw_frames_s,
            device_state_s: p.device_state_s,
            key_epoch_s: p.key_epoch_s,
            summaries_s: p.summaries_s,
            k: p.k,
            pseudonyms_leave_device: p.pseudonyms_leave_device,
            ssids_leave_device: p.ssids_leave_device,
            images_persisted: p.images_persisted,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    /// `vitrine-audit 0.1.0`
    pub tool: String,
    /// `self`, `scan` or `mqtt`.
    pub mode: String,
    /// The device or tree audited, in the auditor's words (host name by default).
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished: OffsetDateTime,
    pub verdict: Verdict,
    pub policy: PolicyRecord,
    pub canaries: Vec<CanaryRecord>,
    pub checks: Vec<CheckResult>,
    /// The published windows seen during the audit (empty when no stream
    /// was watched).
    pub windows: Vec<WindowPoint>,
}

impl Report {
    /// The verdict the checks add up to.
    pub fn verdict_of(checks: &[CheckResult]) -> Verdict {
        if checks.iter().any(|c| !c.findings.is_empty()) {
            Verdict::Fail
        } else if checks
            .iter()
            .any(|c| matches!(c.status, Status::Skipped { .. } | Status::Incomplete { .. }))
        {
            Verdict::Incomplete
        } else {
            Verdict::Pass
        }
    }

    /// Every finding, most severe first.
    pub fn findings(&self) -> Vec<&Finding> {
        let mut all: Vec<&Finding> = self.checks.iter().flat_map(|c| &c.findings).collect();
        all.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.check.cmp(&b.check))
        });
        all
    }
}
