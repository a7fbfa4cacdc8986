//! The report as one self-contained HTML page, for people: inline CSS and
//! SVG, no scripts, no external resources, printable. The page is a view;
//! it carries the signed record itself in a
//! `<script type="application/json" id="vitrine-report">` element, which
//! `vitrine-audit verify-report` reads.
//!
//! Every piece of text from the report goes through [`esc`]: evidence comes
//! from the device under audit (file names, process names, topics) and must
//! not be able to add markup to the page.

mod canaries;
mod chart;
mod checks;
mod findings;
mod policy;
mod published;
mod verdict;
mod verification;
mod wording;

use std::fmt::Write as _;

use super::model::{Severity, Verdict};
use super::sign::{EMBED_ID, SignedReport, script_safe_json};
use canaries::{canaries, canary_summary, forms};
use checks::{checks_table, places, to_complete};
use findings::findings;
use policy::policy;
use published::charts;
use verdict::{header, verdict_word};
use verification::verification;
use wording::date_time;

/// The page's style sheet, inlined in its head.
const CSS: &str = include_str!("style.css");

/// The page for a signed report.
pub fn render_html(signed: &SignedReport) -> String {
    let r = &signed.report;
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        h,
        "<title>{} — audit of {} — {}</title>",
        verdict_word(r.verdict),
        esc(&r.subject),
        esc(&date_time(r.started))
    );
    h.push_str("<style>\n\n");
    h.push_str(CSS);
    h.push_str("</style>\n</head>\n<body>\n<main>\n");

    header(&mut h, signed);
    // What an incomplete audit lacks comes first when it is the verdict.
    if r.verdict == Verdict::Incomplete {
        to_complete(&mut h, r);
    }
    canary_summary(&mut h, r);
    forms(&mut h, r);
    if r.verdict != Verdict::Incomplete {
        to_complete(&mut h, r);
    }
    checks_table(&mut h, r);
    findings(&mut h, r);
    places(&mut h, r);
    charts(&mut h, &r.windows);
    policy(&mut h, &r.policy);
    canaries(&mut h, &r.canaries);
    verification(&mut h, signed);

    let _ = writeln!(
        h,
        "<footer>Report schema <code>{}</code> · written by {} · this page is a view of the signed record it carries.</footer>",
        esc(&r.schema),
        esc(&r.tool)
    );
    h.push_str("</main>\n");
    let _ = writeln!(
        h,
        "<script type=\"application/json\" id=\"{EMBED_ID}\">{}</script>",
        script_safe_json(signed)
    );
    h.push_str("</body>\n</html>\n");
    h
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Monospaced text that may wrap after a `/` (paths, topics, encodings).
fn code(s: &str) -> String {
    format!("<code>{}</code>", slashes(s))
}

fn slashes(s: &str) -> String {
    esc(s).replace('/', "/<wbr>")
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

fn severity_label(s: Severity) -> String {
    let w = severity_word(s);
    format!("<span class=\"sev {w}\">{w}</span>")
}
