//! The top of the page: the verdict in a word and a sentence, and the
//! audit's facts (subject, time, mode, checks, policy, signing key).

use std::fmt::Write as _;

use crate::checks::thousands;
use crate::report::model::{Finding, Report, Severity, Status, Verdict};
use crate::report::sign::SignedReport;

use super::wording::{date_time, duration_between, group4, plural, same_day_time};
use super::{esc, severity_word};

pub(super) fn header(h: &mut String, signed: &SignedReport) {
    let r = &signed.report;
    let findings = r.findings();
    let ran = r
        .checks
        .iter()
        .filter(|c| !matches!(c.status, Status::Skipped { .. }))
        .count();
    let skipped = r.checks.len() - ran;
    let (class, headline, sentence) = match r.verdict {
        Verdict::Fail => (
            "fail",
            format!(
                "{}{} — {}",
                plural(findings.len(), "finding", "findings"),
                occurrences_note(r, findings.len()),
                severity_counts(&findings)
            ),
            "At least one check found what the policy below does not allow. \
             Each finding is listed with the evidence needed to check it."
                .to_owned(),
        ),
        Verdict::Pass => (
            "pass",
            format!("All {} ran, nothing found", plural(ran, "check", "checks")),
            "Every check ran and none found anything the policy below does not allow.".to_owned(),
        ),
        Verdict::Incomplete => {
            let partial = r
                .checks
                .iter()
                .filter(|c| matches!(c.status, Status::Incomplete { .. }))
                .count();
            (
                "incomplete",
                if partial == 0 {
                    format!(
                        "No findings, but {} could not run",
                        plural(skipped, "check", "checks")
                    )
                } else {
                    format!(
                        "No findings, but {} could not run and {} could not read everything",
                        plural(skipped, "check", "checks"),
                        plural(partial, "check", "checks")
                    )
                },
                "Nothing was found, but the checks that could not run or could not read \
                 everything leave questions open; their reasons, and the places not read, \
                 are below."
                    .to_owned(),
            )
        }
    };
    let _ = writeln!(
        h,
        "<p class=\"kicker\">Vitrine audit report</p>\n\
         <section class=\"verdict {class}\">\n\
         <div class=\"word\">{}</div>\n\
         <div class=\"what\"><div class=\"headline\">{}</div><p>{}</p></div>\n\
         </section>",
        verdict_word(r.verdict),
        esc(&headline),
        esc(&sentence)
    );

    h.push_str("<dl class=\"facts\">\n");
    fact(h, "Subject", &esc(&r.subject));
    fact(
        h,
        "Audited",
        &format!(
            "{} to {} <span class=\"muted\">({})</span>",
            esc(&date_time(r.started)),
            esc(&same_day_time(r.started, r.finished)),
            esc(&duration_between(r.started, r.finished))
        ),
    );
    fact(h, "Mode", &esc(&mode_words(&r.mode)));
    fact(
        h,
        "Checks",
        &esc(&format!(
            "{} ran, {} skipped, {} with findings",
            ran,
            skipped,
            r.checks.iter().filter(|c| !c.findings.is_empty()).count()
        )),
    );
    fact(
        h,
        "Policy",
        &format!("<code>{}</code>", esc(&r.policy.source)),
    );
    fact(
        h,
        "Signed by key",
        &format!(
            "<code class=\"fp\">{}</code> <a href=\"#verify\">how to check</a>",
            esc(&group4(&signed.fingerprint()))
        ),
    );
    h.push_str("</dl>\n");
}

/// " (125 occurrences)" when grouped rows stand for more than one each.
fn occurrences_note(r: &Report, rows: usize) -> String {
    let total: u64 = r
        .checks
        .iter()
        .map(|c| match &c.counts {
            Some(n) => n.findings,
            None => c
                .findings
                .iter()
                .map(|f| f.evidence.count.unwrap_or(1))
                .sum(),
        })
        .sum();
    if total > rows as u64 {
        format!(" ({} occurrences)", thousands(total))
    } else {
        String::new()
    }
}

fn fact(h: &mut String, term: &str, html_value: &str) {
    let _ = writeln!(h, "<div><dt>{}</dt><dd>{html_value}</dd></div>", esc(term));
}

pub(super) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Incomplete => "INCOMPLETE",
    }
}

fn mode_words(mode: &str) -> String {
    match mode {
        "self" => "self-audit: run on the device itself".to_owned(),
        "scan" => "scan: a copy of the device's storage, examined elsewhere".to_owned(),
        "mqtt" => "stream: what the device publishes, watched on the broker".to_owned(),
        other => other.to_owned(),
    }
}

/// "2 critical, 1 high" (most severe first).
fn severity_counts(findings: &[&Finding]) -> String {
    let mut parts = Vec::new();
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        let n = findings.iter().filter(|f| f.severity == s).count();
        if n > 0 {
            parts.push(format!("{n} {}", severity_word(s)));
        }
    }
    parts.join(", ")
}
