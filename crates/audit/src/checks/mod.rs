//! The checks. Each has a stable id (`storage.canary`), a severity and a
//! one-line title; each run yields a [`CheckResult`] with its findings and
//! what it examined. The catalogue below is the list `docs/checks.md`
//! documents; ids are never reused for something else.

pub mod hardening;
pub mod journal;
pub mod keys;
pub mod memory;
pub mod storage;
pub mod stream;

use time::OffsetDateTime;
use vitrine_canary::{Match, Registry, Scanner};
use vitrine_config::policy::Policy;

use crate::report::{CheckResult, Evidence, Finding, Severity, Status};

/// A check's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckId {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
}

macro_rules! checks {
    ($($name:ident = $id:literal, $sev:ident, $title:literal;)*) => {
        $(pub const $name: CheckId = CheckId { id: $id, title: $title, severity: Severity::$sev };)*
        /// Every check, in report order.
        pub const ALL: &[CheckId] = &[$($name),*];
    };
}

checks! {
    STORAGE_CANARY = "storage.canary", Critical, "No canary on disk, in any encoding";
    STORAGE_MEDIA = "storage.media", High, "No camera images or video kept";
    STORAGE_RETENTION = "storage.retention", Medium, "No data kept past its retention";
    JOURNAL_CANARY = "journal.canary", Critical, "No canary in the system journal";
    MEMORY_CANARY = "memory.canary", High, "No canary in the daemon's memory past the in-memory retention";
    STREAM_SCHEMA = "stream.schema", Medium, "Every published message follows the summary schema";
    STREAM_K_ANONYMITY = "stream.k_anonymity", High, "Every published bin counts at least k devices";
    STREAM_CANARY = "stream.canary", Critical, "No canary in the published stream, in any encoding";
    STREAM_PSEUDONYMS = "stream.pseudonyms", High, "No per-device identifier is published";
    STREAM_LINKABLE = "stream.linkable", High, "Nothing published links devices across a key rotation";
    KEYS_ON_DISK = "keys.on_disk", Critical, "No pseudonym key or salt on disk";
    KEYS_SWAP = "keys.swap", Medium, "Swap is off or encrypted";
    HARDENING_CAPABILITIES = "hardening.capabilities", Medium, "The daemon holds only the capabilities capture needs";
    HARDENING_NO_NEW_PRIVS = "hardening.no_new_privs", Medium, "The daemon cannot gain privileges";
    HARDENING_DUMPABLE = "hardening.dumpable", Medium, "The daemon's memory cannot be read by other processes of its user";
    HARDENING_CORE_DUMPS = "hardening.core_dumps", High, "The daemon cannot write core dumps";
    HARDENING_SECCOMP = "hardening.seccomp", Medium, "The daemon runs under a seccomp filter";
    HARDENING_SANDBOX = "hardening.sandbox", Low, "The daemon's systemd sandbox is in place";
}

/// What every check may need.
#[derive(Debug)]
pub struct Context<'a> {
    pub policy: &'a Policy,
    pub registry: &'a Registry,
    pub scanner: &'a Scanner,
    /// The audit's clock (files' ages and canaries' ages are measured from it).
    pub now: OffsetDateTime,
}

impl Context<'_> {
    /// Evidence naming the canary and encoding of `m` (never the value).
    pub fn canary_evidence(&self, m: &Match) -> Evidence {
        let mut encoding = m.encoding.to_string();
        if m.truncated {
            use vitrine_canary::encoding::DigestForm;
            let unit = match m.encoding {
                vitrine_canary::Encoding::Digest {
                    form: DigestForm::Hex(_),
                    ..
                }
                | vitrine_canary::Encoding::SsidDigest {
                    form: DigestForm::Hex(_),
                    ..
                } => "hex digits",
                vitrine_canary::Encoding::Digest {
                    form: DigestForm::Base64,
                    ..
                }
                | vitrine_canary::Encoding::SsidDigest {
                    form: DigestForm::Base64,
                    ..
                } => "characters",
                _ => "bytes",
            };
            encoding += &format!(" truncated to {} {unit}", m.len);
        }
        Evidence {
            canary: Some(self.registry.canaries[m.canary].id.clone()),
            encoding: Some(encoding),
            offset: Some(m.offset),
            ..Evidence::default()
        }
    }
}

/// A check's result being put together.
#[derive(Debug)]
pub struct Outcome {
    check: CheckId,
    findings: Vec<Finding>,
    examined: String,
    skipped: Option<String>,
}

/// Findings of one check beyond this many are counted, not listed.
pub const MAX_FINDINGS: usize = 200;

impl Outcome {
    pub fn new(check: CheckId) -> Self {
        Outcome {
            check,
            findings: Vec::new(),
            examined: String::new(),
            skipped: None,
        }
    }

    pub fn skipped(check: CheckId, reason: impl Into<String>) -> CheckResult {
        let mut o = Outcome::new(check);
        o.skipped = Some(reason.into());
        o.finish()
    }

    pub fn find(&mut self, summary: impl Into<String>, evidence: Evidence) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(Finding {
                check: self.check.id.to_string(),
                severity: self.check.severity,
                summary: summary.into(),
                evidence,
            });
        }
    }

    pub fn examined(&mut self, what: impl Into<String>) {
        self.examined = what.into();
    }

    pub fn finish(self) -> CheckResult {
        let status = match (&self.skipped, self.findings.is_empty()) {
            (Some(reason), true) => Status::Skipped {
                reason: reason.clone(),
            },
            (_, false) => Status::Failed,
            (None, true) => Status::Passed,
        };
        CheckResult {
            id: self.check.id.to_string(),
            title: self.check.title.to_string(),
            severity: self.check.severity,
            status,
            examined: self.examined,
            findings: self.findings,
        }
    }
}

/// `1,234,567`
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `58.1 MB`
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
