//! The checks: what an incomplete audit lacks and what completes it, the
//! table of every check and its result, and the places checks did not read
//! or set aside.

use std::fmt::Write as _;

use crate::report::model::{CheckResult, Report, Status};
use crate::report::plain;

use super::{esc, severity_label, severity_word};

/// For an incomplete audit: each check that did not run or did not read
/// everything, what it lacks and what completes it.
pub(super) fn to_complete(h: &mut String, r: &Report) {
    let open: Vec<(&CheckResult, &str, bool)> = r
        .checks
        .iter()
        .filter_map(|c| match &c.status {
            Status::Skipped { reason } => Some((c, reason.as_str(), false)),
            Status::Incomplete { reason } => Some((c, reason.as_str(), true)),
            _ => None,
        })
        .collect();
    if open.is_empty() {
        return;
    }
    h.push_str(
        "<section id=\"to-complete\">\n<h2>What this audit lacks, and how to complete it</h2>\n\
         <table class=\"complete\">\n<thead><tr><th>Check</th><th>What it lacks</th>\
         <th>To complete it</th></tr></thead>\n<tbody>\n",
    );
    for (c, reason, partial) in open {
        let _ = writeln!(
            h,
            "<tr><td><div class=\"title\">{}</div><code class=\"id\">{}</code></td>\
             <td><strong>{}</strong> {}</td><td>{}</td></tr>",
            esc(&c.title),
            esc(&c.id),
            if partial { "Not all read:" } else { "Not run:" },
            esc(reason),
            esc(&plain::remedy(&c.id, reason, &r.mode))
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

/// Failed checks first (most severe finding first), then skipped, then
/// passed; otherwise in the report's order.
pub(super) fn ordered(checks: &[CheckResult]) -> Vec<&CheckResult> {
    let mut v: Vec<&CheckResult> = checks.iter().collect();
    v.sort_by_key(|c| {
        let rank = match (&c.status, c.findings.is_empty()) {
            (_, false) | (Status::Failed, true) => 0,
            (Status::Skipped { .. } | Status::Incomplete { .. }, _) => 1,
            (Status::Passed, _) => 2,
        };
        let worst = c.findings.iter().map(|f| f.severity).max();
        (rank, std::cmp::Reverse(worst))
    });
    v
}

pub(super) fn checks_table(h: &mut String, r: &Report) {
    h.push_str("<section>\n<h2>Checks</h2>\n");
    if r.checks.is_empty() {
        h.push_str("<p class=\"note\">The report holds no checks.</p>\n</section>\n");
        return;
    }
    h.push_str(
        "<table class=\"checks\">\n<thead><tr><th>Result</th><th>Check</th><th>Severity</th>\
         <th class=\"num\">Findings</th><th>Examined</th></tr></thead>\n<tbody>\n",
    );
    for c in ordered(&r.checks) {
        let (pill, examined) = match &c.status {
            Status::Passed => (
                "<span class=\"pill passed\">Passed</span>",
                esc(&c.examined),
            ),
            Status::Failed => (
                "<span class=\"pill failed\">Failed</span>",
                esc(&c.examined),
            ),
            Status::Incomplete { reason } => (
                "<span class=\"pill skipped\">Incomplete</span>",
                format!(
                    "<strong>Not all read:</strong> {} <span class=\"muted\">({})</span>",
                    esc(reason),
                    esc(&c.examined)
                ),
            ),
            Status::Skipped { reason } => (
                "<span class=\"pill skipped\">Not run</span>",
                format!(
                    "<strong>Not run:</strong> {}{}",
                    esc(reason),
                    if c.examined.is_empty() {
                        String::new()
                    } else {
                        format!(" <span class=\"muted\">({})</span>", esc(&c.examined))
                    }
                ),
            ),
        };
        let count = if c.findings.is_empty() {
            "<span class=\"muted\">0</span>".to_owned()
        } else {
            format!(
                "<a href=\"#{}\"><strong>{}</strong></a>",
                anchor(&c.id),
                c.counts
                    .as_ref()
                    .map_or(c.findings.len() as u64, |n| n.findings)
            )
        };
        let _ = writeln!(
            h,
            "<tr><td>{pill}</td><td><div class=\"title\">{}</div><code class=\"id\">{}</code></td>\
             <td>{}</td><td class=\"num\">{count}</td><td class=\"examined\">{examined}</td></tr>",
            esc(&c.title),
            esc(&c.id),
            if c.findings.is_empty() {
                format!("<span class=\"muted\">{}</span>", severity_word(c.severity))
            } else {
                severity_label(c.severity)
            }
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

pub(super) fn anchor(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("check-{s}")
}

/// Places not read (they make a check incomplete) and places set aside.
pub(super) fn places(h: &mut String, r: &Report) {
    let with: Vec<&CheckResult> = r
        .checks
        .iter()
        .filter(|c| c.not_read.is_some() || c.set_aside.is_some())
        .collect();
    if with.is_empty() {
        return;
    }
    h.push_str("<section>\n<h2>Places not read, and places set aside</h2>\n");
    for c in with {
        for (what, places) in [
            ("Not read (the check is incomplete)", &c.not_read),
            ("Set aside on purpose (informational)", &c.set_aside),
        ] {
            let Some(p) = places else { continue };
            let _ = writeln!(
                h,
                "<h3>{what} <code class=\"id\">{}</code> <span class=\"muted\">{} in all{}</span></h3>\n\
                 <table class=\"findings\">\n<thead><tr><th>Place</th><th>Why</th></tr></thead>\n<tbody>",
                esc(&c.id),
                p.total,
                if p.total > p.listed.len() as u64 {
                    format!(", the first {} listed", p.listed.len())
                } else {
                    String::new()
                }
            );
            for place in &p.listed {
                let _ = writeln!(
                    h,
                    "<tr><td><code>{}</code></td><td>{}</td></tr>",
                    esc(&place.path),
                    esc(&place.reason)
                );
            }
            h.push_str("</tbody>\n</table>\n");
        }
    }
    h.push_str("</section>\n");
}
