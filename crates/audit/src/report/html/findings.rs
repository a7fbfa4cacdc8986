//! The findings of each check that has any, with their evidence in the
//! columns that apply, and every finding counted when the list is grouped
//! or capped.

use std::fmt::Write as _;

use crate::checks::thousands;
use crate::report::model::{CheckResult, Counts, Evidence, Finding, Report};

use super::checks::{anchor, ordered};
use super::wording::{long_time, plural};
use super::{code, esc, severity_label, slashes};

/// An evidence column: its heading, and the cell for one piece of evidence
/// (HTML, escaped) when it applies.
type Column = (&'static str, fn(&Evidence) -> Option<String>);

const COLUMNS: &[Column] = &[
    ("Where", where_cell),
    ("Process", process_cell),
    ("Topic", |e| e.topic.as_deref().map(code)),
    ("Canary", canary_cell),
    ("When", |e| {
        e.timestamp.as_deref().map(|t| esc(&long_time(t)))
    }),
];

fn where_cell(e: &Evidence) -> Option<String> {
    if e.path.is_none() && e.offset.is_none() && e.container.is_none() {
        return None;
    }
    let mut s = String::new();
    if let Some(p) = &e.path {
        s.push_str(&format!("<code class=\"path\">{}</code>", slashes(p)));
    }
    let mut notes = Vec::new();
    if let Some(o) = e.offset {
        notes.push(format!("at byte {}", thousands(o)));
    }
    if let Some(c) = &e.container {
        notes.push(format!("inside {} compression", esc(c)));
    }
    if !notes.is_empty() {
        s.push_str(&format!("<div class=\"muted\">{}</div>", notes.join(", ")));
    }
    Some(s)
}

fn canary_cell(e: &Evidence) -> Option<String> {
    match (&e.canary, &e.encoding) {
        (None, None) => None,
        (Some(c), None) => Some(code(c)),
        (None, Some(enc)) => Some(format!("<span class=\"muted\">as</span> {}", code(enc))),
        (Some(c), Some(enc)) => Some(format!(
            "{}<div><span class=\"muted\">as</span> {}</div>",
            code(c),
            code(enc)
        )),
    }
}

fn process_cell(e: &Evidence) -> Option<String> {
    match (&e.process, e.pid) {
        (None, None) => None,
        (Some(p), Some(pid)) => Some(format!(
            "<code>{}</code> <span class=\"muted\">(pid {pid})</span>",
            esc(p)
        )),
        (Some(p), None) => Some(code(p)),
        (None, Some(pid)) => Some(format!("pid {pid}")),
    }
}

pub(super) fn findings(h: &mut String, r: &Report) {
    let with: Vec<&CheckResult> = ordered(&r.checks)
        .into_iter()
        .filter(|c| !c.findings.is_empty())
        .collect();
    if with.is_empty() {
        return;
    }
    h.push_str("<section>\n<h2>Findings</h2>\n");
    for c in with {
        let _ = writeln!(
            h,
            "<article class=\"check\" id=\"{}\">\n<h3>{} <code class=\"id\">{}</code></h3>\n\
             <p class=\"muted\">{} · examined: {}</p>",
            anchor(&c.id),
            esc(&c.title),
            esc(&c.id),
            esc(&plural(c.findings.len(), "finding", "findings")),
            esc(&c.examined)
        );
        if let Some(n) = &c.counts {
            counts_note(h, n);
        }
        let mut findings: Vec<&Finding> = c.findings.iter().collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let cols: Vec<&Column> = COLUMNS
            .iter()
            .filter(|(_, cell)| findings.iter().any(|f| cell(&f.evidence).is_some()))
            .collect();
        h.push_str("<table class=\"findings\">\n<thead><tr><th class=\"num\">#</th><th>Severity</th><th>Finding</th>");
        for (name, _) in &cols {
            let _ = write!(h, "<th>{name}</th>");
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for (i, f) in findings.iter().enumerate() {
            let _ = write!(
                h,
                "<tr><td class=\"num muted\">{}</td><td>{}</td><td class=\"summary\">{}{}</td>",
                i + 1,
                severity_label(f.severity),
                esc(&f.summary),
                f.evidence
                    .detail
                    .as_deref()
                    .map(|d| format!("<div class=\"detail\">{}</div>", esc(d)))
                    .unwrap_or_default()
            );
            for (_, cell) in &cols {
                let _ = write!(
                    h,
                    "<td>{}</td>",
                    cell(&f.evidence).unwrap_or_else(|| "<span class=\"muted\">—</span>".into())
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>\n</article>\n");
    }
    h.push_str("</section>\n");
}

/// Every finding counted, per canary and per file, when the list is
/// grouped or capped.
fn counts_note(h: &mut String, n: &Counts) {
    let listed = n.findings - n.unlisted;
    let _ = write!(
        h,
        "<p class=\"note counts\">{} in all; the rows below stand for {}{}.",
        esc(&plural(n.findings as usize, "occurrence", "occurrences")),
        listed,
        if n.unlisted > 0 {
            format!(", {} are not listed (the list is capped)", n.unlisted)
        } else {
            String::new()
        }
    );
    if !n.per_canary.is_empty() {
        let per: Vec<String> = n
            .per_canary
            .iter()
            .map(|(c, k)| format!("<code>{}</code> {k}", esc(c)))
            .collect();
        let _ = write!(h, " Per canary: {}.", per.join(", "));
    }
    h.push_str("</p>\n");
    if n.unlisted > 0 && !n.per_file.is_empty() {
        h.push_str("<details class=\"per-file\"><summary>Every file with a finding</summary><table class=\"findings\">\n<thead><tr><th>File</th><th class=\"num\">Occurrences</th></tr></thead>\n<tbody>\n");
        for (f, k) in &n.per_file {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td class=\"num\">{k}</td></tr>",
                esc(f)
            );
        }
        h.push_str("</tbody>\n</table></details>\n");
    }
}
