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

use crate::report::{CheckResult, Counts, Evidence, Finding, Place, Places, Severity, Status};

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
    STORAGE_FRAMES = "storage.frames", High, "No raw camera frames kept";
    STORAGE_RETENTION = "storage.retention", Medium, "No data kept past its retention";
    JOURNAL_CANARY = "journal.canary", Critical, "No canary in the system journal";
    MEMORY_CANARY = "memory.canary", High, "No canary in the daemon's memory past the in-memory retention";
    MEMORY_FRAMES = "memory.frames", High, "No camera frame in the daemon's memory once processed";
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

/// A check's result being put together. Every finding is counted (in all,
/// per canary, per file); only the first [`MAX_FINDINGS`] are listed.
#[derive(Debug)]
pub struct Outcome {
    check: CheckId,
    findings: Vec<Finding>,
    examined: String,
    skipped: Option<String>,
    counts: Counts,
    not_read: Places,
    set_aside: Places,
}

/// Findings of one check beyond this many are counted, not listed.
pub const MAX_FINDINGS: usize = 200;

/// Places not read (or set aside) beyond this many are counted, not listed.
pub const MAX_PLACES: usize = 100;

impl Outcome {
    pub fn new(check: CheckId) -> Self {
        Outcome {
            check,
            findings: Vec::new(),
            examined: String::new(),
            skipped: None,
            counts: Counts::default(),
            not_read: Places::default(),
            set_aside: Places::default(),
        }
    }

    pub fn skipped(check: CheckId, reason: impl Into<String>) -> CheckResult {
        let mut o = Outcome::new(check);
        o.skipped = Some(reason.into());
        o.finish()
    }

    /// One occurrence.
    pub fn find(&mut self, summary: impl Into<String>, evidence: Evidence) {
        self.find_n(summary, evidence, 1);
    }

    /// `n` occurrences that one listed finding stands for (grouped evidence).
    pub fn find_n(&mut self, summary: impl Into<String>, mut evidence: Evidence, n: u64) {
        let n = n.max(1);
        self.counts.findings += n;
        if let Some(c) = &evidence.canary {
            *self.counts.per_canary.entry(c.clone()).or_default() += n;
        }
        if let Some(p) = &evidence.path {
            *self.counts.per_file.entry(p.clone()).or_default() += n;
        }
        if self.findings.len() < MAX_FINDINGS {
            if n > 1 {
                evidence.count = Some(n);
            }
            self.findings.push(Finding {
                check: self.check.id.to_string(),
                severity: self.check.severity,
                summary: summary.into(),
                evidence,
            });
        } else {
            self.counts.unlisted += n;
        }
    }

    /// A place the check was asked to read and could not: it cannot pass.
    pub fn not_read(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        push_place(&mut self.not_read, path.into(), reason.into());
    }

    /// A place left out on purpose (informational).
    pub fn set_aside(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        push_place(&mut self.set_aside, path.into(), reason.into());
    }

    pub fn examined(&mut self, what: impl Into<String>) {
        self.examined = what.into();
    }

    pub fn finish(self) -> CheckResult {
        let status = if !self.findings.is_empty() {
            Status::Failed
        } else if let Some(reason) = &self.skipped {
            Status::Skipped {
                reason: reason.clone(),
            }
        } else if let Some(first) = self.not_read.listed.first() {
            Status::Incomplete {
                reason: format!(
                    "{} not read, e.g. {}: {}",
                    if self.not_read.total == 1 {
                        "1 place".to_string()
                    } else {
                        format!("{} places", thousands(self.not_read.total))
                    },
                    first.path,
                    first.reason
                ),
            }
        } else {
            Status::Passed
        };
        let some = |p: Places| (p.total > 0).then_some(p);
        CheckResult {
            id: self.check.id.to_string(),
            title: self.check.title.to_string(),
            severity: self.check.severity,
            status,
            examined: self.examined,
            findings: self.findings,
            counts: (self.counts.findings > 0).then_some(self.counts),
            not_read: some(self.not_read),
            set_aside: some(self.set_aside),
        }
    }
}

fn push_place(places: &mut Places, path: String, reason: String) {
    places.total += 1;
    if places.listed.len() < MAX_PLACES {
        places.listed.push(Place { path, reason });
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

/// `58.1 MB`, `12.3 kB` or `512 bytes`: a small tree is never "0.0 MB".
pub fn megabytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::megabytes;

    #[test]
    fn sizes_of_small_trees_are_not_rounded_to_nothing() {
        assert_eq!(megabytes(0), "0 bytes");
        assert_eq!(megabytes(999), "999 bytes");
        assert_eq!(megabytes(12_345), "12.3 kB");
        assert_eq!(megabytes(58_100_000), "58.1 MB");
    }
}
