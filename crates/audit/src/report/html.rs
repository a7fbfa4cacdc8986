//! The report as one self-contained HTML page, for people: inline CSS and
//! SVG, no scripts, no external resources, printable. The page is a view;
//! it carries the signed record itself in a
//! `<script type="application/json" id="vitrine-report">` element, which
//! `vitrine-audit verify-report` reads.
//!
//! Every piece of text from the report goes through [`esc`]: evidence comes
//! from the device under audit (file names, process names, topics) and must
//! not be able to add markup to the page.

use crate::checks::thousands;
use std::fmt::Write as _;

use time::OffsetDateTime;
use time::macros::format_description;

use super::model::{
    CanaryRecord, CheckResult, Counts, Evidence, Finding, PolicyRecord, Report, Severity, Status,
    Verdict, WindowPoint,
};
use super::plain::{self, Reversible};
use super::sign::{EMBED_ID, SignedReport, script_safe_json};
use std::collections::{BTreeMap, BTreeSet};

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
    h.push_str("<style>\n");
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

// ---------------------------------------------------------------- header

fn header(h: &mut String, signed: &SignedReport) {
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

fn verdict_word(v: Verdict) -> &'static str {
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

// ---------------------------------------------------------------- to complete

/// For an incomplete audit: each check that did not run or did not read
/// everything, what it lacks and what completes it.
fn to_complete(h: &mut String, r: &Report) {
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

// ---------------------------------------------------------------- canaries found

/// What the findings say of one canary.
#[derive(Default)]
struct CanarySeen {
    occurrences: u64,
    /// Files, topics and processes it was seen in.
    files: BTreeSet<String>,
    topics: BTreeSet<String>,
    processes: BTreeSet<String>,
    encodings: BTreeSet<String>,
    checks: BTreeSet<String>,
}

/// Per canary id, from every check's counts (which count unlisted findings
/// too) and from the listed findings (which say where and how).
fn canaries_seen(r: &Report) -> BTreeMap<String, CanarySeen> {
    let mut seen: BTreeMap<String, CanarySeen> = BTreeMap::new();
    for c in &r.checks {
        let counted = c.counts.as_ref().filter(|n| !n.per_canary.is_empty());
        if let Some(n) = counted {
            for (id, k) in &n.per_canary {
                seen.entry(id.clone()).or_default().occurrences += k;
            }
        }
        for f in &c.findings {
            let e = &f.evidence;
            let Some(id) = &e.canary else { continue };
            let s = seen.entry(id.clone()).or_default();
            if counted.is_none() {
                s.occurrences += e.count.unwrap_or(1);
            }
            s.checks.insert(c.id.clone());
            if let Some(p) = &e.path {
                s.files.insert(match &e.member {
                    Some(m) => format!("{p} ({m})"),
                    None => p.clone(),
                });
            }
            if let Some(t) = &e.topic {
                s.topics.insert(t.clone());
            }
            if let Some(p) = &e.process {
                s.processes.insert(match e.pid {
                    Some(pid) => format!("{p} (pid {pid})"),
                    None => p.clone(),
                });
            }
            if let Some(enc) = &e.encoding {
                s.encodings.insert(enc.clone());
            }
        }
    }
    seen
}

fn kind_word(kind: &str, n: usize) -> String {
    match (kind, n == 1) {
        ("mac", true) => "MAC address canary".to_owned(),
        ("mac", false) => "MAC address canaries".to_owned(),
        ("ssid", true) => "network name canary".to_owned(),
        ("ssid", false) => "network name canaries".to_owned(),
        (k, true) => format!("{k} canary"),
        (k, false) => format!("{k} canaries"),
    }
}

/// Up to `max` names, then "and N more".
fn some_of(names: &BTreeSet<String>, max: usize) -> String {
    let mut v: Vec<String> = names.iter().take(max).map(|n| code(n)).collect();
    if names.len() > max {
        v.push(format!("and {} more", names.len() - max));
    }
    v.join(", ")
}

/// One line per canary, found or not, where and in which forms.
fn canary_summary(h: &mut String, r: &Report) {
    let seen = canaries_seen(r);
    // Canaries the findings name but the list lacks still get their line.
    let mut rows: Vec<(String, String)> = r
        .canaries
        .iter()
        .map(|c| (c.id.clone(), c.kind.clone()))
        .collect();
    for id in seen.keys() {
        if !rows.iter().any(|(i, _)| i == id) {
            rows.push((id.clone(), String::new()));
        }
    }
    if rows.is_empty() {
        return;
    }
    let mut kinds: Vec<&str> = rows.iter().map(|(_, k)| k.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let tally: Vec<String> = kinds
        .iter()
        .map(|k| {
            let of: Vec<&(String, String)> = rows.iter().filter(|(_, kk)| kk == k).collect();
            let found = of.iter().filter(|(id, _)| seen.contains_key(id)).count();
            let name = if k.is_empty() { "other" } else { k };
            format!(
                "{found} of {} {} found",
                of.len(),
                kind_word(name, of.len())
            )
        })
        .collect();
    let _ = writeln!(
        h,
        "<section id=\"canaries-found\">\n<h2>Canaries: found or not</h2>\n\
         <p class=\"tally\"><strong>{}</strong></p>\n\
         <table class=\"canary-summary\">\n<thead><tr><th>Canary</th><th>Result</th>\
         <th>Where</th><th>In which forms</th></tr></thead>\n<tbody>",
        esc(&tally.join("; "))
    );
    for (id, kind) in &rows {
        let kind_cell = match kind.as_str() {
            "mac" => "MAC address",
            "ssid" => "network name",
            "" => "not in the canary list",
            k => k,
        };
        let Some(s) = seen.get(id) else {
            let _ = writeln!(
                h,
                "<tr class=\"not-found\"><td><code>{}</code><div class=\"muted\">{}</div></td>\
                 <td><span class=\"pill passed\">Not found</span></td>\
                 <td colspan=\"2\" class=\"muted\">in nothing the checks read, in any form searched</td></tr>",
                esc(id),
                esc(kind_cell)
            );
            continue;
        };
        let mut places = Vec::new();
        if !s.files.is_empty() {
            places.push(format!(
                "in {}: {}",
                plural(s.files.len(), "file", "files"),
                some_of(&s.files, 6)
            ));
        }
        if !s.topics.is_empty() {
            places.push(format!(
                "published on {}: {}",
                plural(s.topics.len(), "topic", "topics"),
                some_of(&s.topics, 4)
            ));
        }
        if !s.processes.is_empty() {
            places.push(format!("in the memory of {}", some_of(&s.processes, 4)));
        }
        if places.is_empty() {
            places.push(format!("by {}", some_of(&s.checks, 4)));
        }
        let forms: Vec<String> = s
            .encodings
            .iter()
            .map(|e| {
                format!(
                    "<li>{} <span class=\"muted\">({})</span></li>",
                    esc(&plain::describe(e).words),
                    code(e)
                )
            })
            .collect();
        let _ = writeln!(
            h,
            "<tr class=\"found\"><td><code>{}</code><div class=\"muted\">{}</div></td>\
             <td><span class=\"pill failed\">Found</span><div class=\"muted\">{}</div></td>\
             <td>{}</td><td>{}</td></tr>",
            esc(id),
            esc(kind_cell),
            esc(&plural(s.occurrences as usize, "time", "times")),
            places.join("<br>"),
            if forms.is_empty() {
                "<span class=\"muted\">not named</span>".to_owned()
            } else {
                format!("<ul class=\"forms\">{}</ul>", forms.join(""))
            }
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

/// Every encoding the findings name, in plain words, with whether it can be
/// undone and at what cost.
fn forms(h: &mut String, r: &Report) {
    let used: BTreeSet<&str> = r
        .checks
        .iter()
        .flat_map(|c| &c.findings)
        .filter_map(|f| f.evidence.encoding.as_deref())
        .collect();
    if used.is_empty() {
        return;
    }
    h.push_str(
        "<section id=\"forms\">\n<h2>What the forms mean</h2>\n\
         <p>Each form a canary was found in, in plain words, and whether someone who reads the \
         data can get the original back.</p>\n\
         <table class=\"forms\">\n<thead><tr><th>Form</th><th>What it is</th>\
         <th>Reversible?</th></tr></thead>\n<tbody>\n",
    );
    for e in used {
        let p = plain::describe(e);
        let class = match p.reversible {
            Reversible::Unknown => "unknown",
            _ => "yes",
        };
        let _ = writeln!(
            h,
            "<tr class=\"form\"><td>{}</td><td class=\"plain\">{}</td>\
             <td class=\"reversible\"><strong class=\"rev {class}\">{}</strong>\
             <div>{}</div></td></tr>",
            code(e),
            esc(&upper_first(&p.words)),
            esc(&upper_first(p.reversible.word())),
            esc(&p.reversibility)
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------- checks

/// Failed checks first (most severe finding first), then skipped, then
/// passed; otherwise in the report's order.
fn ordered(checks: &[CheckResult]) -> Vec<&CheckResult> {
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

fn checks_table(h: &mut String, r: &Report) {
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

fn anchor(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("check-{s}")
}

// ---------------------------------------------------------------- findings

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

/// Monospaced text that may wrap after a `/` (paths, topics, encodings).
fn code(s: &str) -> String {
    format!("<code>{}</code>", slashes(s))
}

fn slashes(s: &str) -> String {
    esc(s).replace('/', "/<wbr>")
}

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

fn findings(h: &mut String, r: &Report) {
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

/// Places not read (they make a check incomplete) and places set aside.
fn places(h: &mut String, r: &Report) {
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

// ---------------------------------------------------------------- charts

const BLUE: &str = "#2563eb";
const ORANGE: &str = "#d97706";
const GREY_BAR: &str = "#64748b";

fn charts(h: &mut String, windows: &[WindowPoint]) {
    h.push_str("<section>\n<h2>What the device published during the audit</h2>\n");
    if windows.is_empty() {
        h.push_str(
            "<p class=\"note\">No published windows were watched in this audit, so there are \
             no charts. An audit that subscribes to the device's broker shows here the counts \
             it published per window.</p>\n</section>\n",
        );
        return;
    }
    let mut topics: Vec<&str> = windows.iter().map(|w| w.topic.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    for topic in topics {
        let mut ws: Vec<&WindowPoint> = windows.iter().filter(|w| w.topic == topic).collect();
        ws.sort_by(|a, b| a.start.cmp(&b.start));
        let xs = x_positions(&ws);
        let span = match (ws.first(), ws.last()) {
            (Some(a), Some(b)) => format!(
                "{} windows, {} to {}",
                ws.len(),
                short_time(&a.start),
                short_time(&b.start)
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            h,
            "<h3>Topic <code>{}</code> <span class=\"muted\">{}</span></h3>",
            esc(topic),
            esc(&span)
        );
        let probes: Vec<f64> = ws.iter().map(|w| w.probe_requests as f64).collect();
        let macs: Vec<f64> = ws.iter().map(|w| w.distinct_macs as f64).collect();
        let devices: Vec<f64> = ws.iter().map(|w| w.devices_estimate).collect();
        h.push_str("<div class=\"charts\">\n");
        h.push_str(&chart(
            "Probe requests per window",
            "frames",
            &xs,
            &[Series {
                name: "probe requests",
                color: GREY_BAR,
                values: &probes,
                bars: true,
            }],
        ));
        h.push_str(&chart(
            "Addresses and estimated devices per window",
            "count",
            &xs,
            &[
                Series {
                    name: "distinct MAC addresses",
                    color: ORANGE,
                    values: &macs,
                    bars: false,
                },
                Series {
                    name: "estimated devices",
                    color: BLUE,
                    values: &devices,
                    bars: false,
                },
            ],
        ));
        h.push_str("</div>\n");
        // The numbers behind the charts, for those who want them.
        let _ = writeln!(
            h,
            "<details><summary>The {} published windows as numbers</summary>\n\
             <table class=\"numbers\"><thead><tr><th>Window start</th><th class=\"num\">Probe requests</th>\
             <th class=\"num\">Distinct MAC addresses</th><th class=\"num\">Estimated devices</th></tr></thead><tbody>",
            ws.len()
        );
        for w in &ws {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&w.start),
                thousands(w.probe_requests),
                thousands(w.distinct_macs),
                esc(&one_decimal(w.devices_estimate))
            );
        }
        h.push_str("</tbody></table></details>\n");
    }
    h.push_str(
        "<p class=\"note\">Distinct MAC addresses overcount people: phones change their \
         address while probing. The device estimate links changing addresses back together; \
         it is the number a sensing device reports.</p>\n</section>\n",
    );
}

/// Where each window sits on the x axis, in seconds: its start time, or its
/// index (in window lengths) when a start time cannot be read.
struct Axis {
    xs: Vec<f64>,
    /// One window's length, in the same unit.
    step: f64,
    /// Label per x tick: (x, text).
    ticks: Vec<(f64, String)>,
}

fn x_positions(ws: &[&WindowPoint]) -> Axis {
    let parsed: Option<Vec<OffsetDateTime>> = ws.iter().map(|w| parse_time(&w.start)).collect();
    let Some(times) = parsed else {
        let xs: Vec<f64> = (0..ws.len()).map(|i| i as f64).collect();
        let every = ws.len().div_ceil(8).max(1);
        let ticks = (0..ws.len())
            .step_by(every)
            .map(|i| (i as f64, format!("#{}", i + 1)))
            .collect();
        return Axis {
            xs,
            step: 1.0,
            ticks,
        };
    };
    let xs: Vec<f64> = times.iter().map(|t| t.unix_timestamp() as f64).collect();
    let mut gaps: Vec<f64> = xs
        .windows(2)
        .map(|p| p[1] - p[0])
        .filter(|g| *g > 0.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    let step = gaps.first().copied().unwrap_or(60.0);
    let (lo, hi) = (xs[0], xs[xs.len() - 1]);
    let multi_day = times[0].date() != times[times.len() - 1].date();
    // Ticks on round times: the smallest "nice" interval giving at most 8.
    const NICE: &[f64] = &[
        60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0,
        86400.0, 172800.0, 604800.0,
    ];
    let range = (hi - lo).max(step);
    let every = NICE
        .iter()
        .copied()
        .find(|n| range / n <= 8.0)
        .unwrap_or(range / 6.0);
    let offset = times[0].offset().whole_seconds() as f64;
    let mut t = ((lo + offset) / every).ceil() * every - offset;
    let mut ticks = Vec::new();
    while t <= hi + 1e-9 {
        if let Ok(dt) = OffsetDateTime::from_unix_timestamp(t as i64) {
            let dt = dt.to_offset(times[0].offset());
            let label = if multi_day {
                dt.format(format_description!(
                    "[day] [month repr:short] [hour]:[minute]"
                ))
            } else {
                dt.format(format_description!("[hour]:[minute]"))
            };
            ticks.push((t, label.unwrap_or_default()));
        }
        t += every;
    }
    Axis { xs, step, ticks }
}

struct Series<'a> {
    name: &'a str,
    color: &'a str,
    values: &'a [f64],
    bars: bool,
}

/// One chart as inline SVG: axes with ticks and labels, a legend.
fn chart(title: &str, y_label: &str, axis: &Axis, series: &[Series<'_>]) -> String {
    const W: f64 = 510.0;
    const H: f64 = 260.0;
    const L: f64 = 58.0; // left margin (y tick labels)
    const R: f64 = 12.0;
    const T: f64 = 40.0; // top margin (legend)
    const B: f64 = 42.0; // bottom margin (x tick labels, axis title)
    let (pw, ph) = (W - L - R, H - T - B);

    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let (y_max, y_step) = nice_scale(max);
    let lo = axis.xs.first().copied().unwrap_or(0.0) - axis.step / 2.0;
    let hi = axis.xs.last().copied().unwrap_or(0.0) + axis.step / 2.0;
    let sx = |x: f64| L + (x - lo) / (hi - lo) * pw;
    let sy = |y: f64| T + ph - (y / y_max) * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<figure class=\"chart\"><figcaption>{}</figcaption>\n\
         <svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"inherit\" font-size=\"12\">",
        esc(title),
        esc(title)
    );
    // Horizontal grid and y ticks.
    let mut y = 0.0;
    while y <= y_max + y_step / 1e6 {
        let py = sy(y);
        let _ = writeln!(
            s,
            "<line x1=\"{L}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"{}\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#475569\">{}</text>",
            L + pw,
            if y == 0.0 { "#94a3b8" } else { "#e2e8f0" },
            L - 6.0,
            py + 4.0,
            esc(&tick_label(y))
        );
        y += y_step;
    }
    // X ticks.
    for (x, label) in &axis.ticks {
        let px = sx(*x);
        let _ = writeln!(
            s,
            "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#94a3b8\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#475569\">{}</text>",
            T + ph,
            T + ph + 5.0,
            T + ph + 18.0,
            esc(label)
        );
    }
    // Axis titles.
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#475569\">window start</text>\
         <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#475569\">{}</text>",
        L + pw / 2.0,
        H - 6.0,
        T + ph / 2.0,
        esc(y_label)
    );
    // Data.
    let bar_w = (axis.step / (hi - lo) * pw * 0.72).clamp(1.0, 40.0);
    for se in series {
        let points: Vec<(f64, f64)> = axis
            .xs
            .iter()
            .zip(se.values)
            .filter(|(_, v)| v.is_finite())
            .map(|(x, v)| (sx(*x), sy(*v)))
            .collect();
        if se.bars {
            for (px, py) in &points {
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{py:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
                    px - bar_w / 2.0,
                    (T + ph - py).max(0.0),
                    se.color
                );
            }
        } else {
            let d: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.2\" stroke-linejoin=\"round\"/>",
                d.join(" "),
                se.color
            );
            if points.len() <= 60 {
                for (px, py) in &points {
                    let _ = writeln!(
                        s,
                        "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"2.6\" fill=\"{}\"/>",
                        se.color
                    );
                }
            }
        }
    }
    // Legend, top left, one entry per series.
    let mut lx = L;
    for se in series {
        let swatch = if se.bars {
            format!(
                "<rect x=\"{lx:.1}\" y=\"12\" width=\"14\" height=\"12\" fill=\"{}\"/>",
                se.color
            )
        } else {
            format!(
                "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"18\" y2=\"18\" stroke=\"{}\" stroke-width=\"3\"/>",
                lx + 16.0,
                se.color
            )
        };
        let _ = writeln!(
            s,
            "{swatch}<text x=\"{:.1}\" y=\"22\" fill=\"#1e293b\">{}</text>",
            lx + 21.0,
            esc(se.name)
        );
        lx += 21.0 + 7.0 * se.name.len() as f64 + 22.0;
    }
    s.push_str("</svg></figure>\n");
    s
}

/// Axis top and tick step: 1, 2 or 5 times a power of ten, about 5 ticks.
fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn tick_label(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        thousands(v as u64)
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

fn one_decimal(v: f64) -> String {
    format!("{v:.1}")
}

// ---------------------------------------------------------------- policy

fn policy(h: &mut String, p: &PolicyRecord) {
    let _ = writeln!(
        h,
        "<section>\n<h2>The policy this audit measured against</h2>\n\
         <p>From <code>{}</code>. Each check compares what it finds with these limits.</p>\n\
         <table class=\"policy\"><tbody>",
        esc(&p.source)
    );
    let rows: [(&str, String); 8] = [
        (
            "Raw radio frames kept on the device at most",
            if p.raw_frames_s == 0 {
                "never stored".to_owned()
            } else {
                duration_words(p.raw_frames_s)
            },
        ),
        (
            "Per-device state (pseudonyms, fingerprints) kept in memory at most",
            duration_words(p.device_state_s),
        ),
        (
            "Key that makes pseudonyms replaced at least every",
            duration_words(p.key_epoch_s),
        ),
        (
            "Summaries kept on the device at most",
            duration_words(p.summaries_s),
        ),
        (
            "Smallest group published (k-anonymity)",
            format!(
                "{} — any count of fewer devices is withheld",
                plural(p.k as usize, "device", "devices")
            ),
        ),
        (
            "Pseudonyms may leave the device",
            yes_no(p.pseudonyms_leave_device),
        ),
        (
            "Network names (SSIDs) may leave the device",
            yes_no(p.ssids_leave_device),
        ),
        ("Camera images may be stored", yes_no(p.images_persisted)),
    ];
    for (label, value) in rows {
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            esc(label),
            esc(&value)
        );
    }
    h.push_str("</tbody></table>\n</section>\n");
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

// ---------------------------------------------------------------- canaries

fn canaries(h: &mut String, cs: &[CanaryRecord]) {
    h.push_str("<section>\n<h2>Canaries</h2>\n");
    if cs.is_empty() {
        h.push_str("<p class=\"note\">No canaries were used in this audit.</p>\n</section>\n");
        return;
    }
    h.push_str(
        "<p>Canaries are identifiers that only the auditor used: sent over the air during the \
         audit, then searched for in everything the device keeps and publishes. Finding one \
         proves that data from the air was kept. This page names them by id; their values \
         stay with the auditor.</p>\n\
         <table class=\"canaries\"><thead><tr><th>Canary</th><th>Kind</th><th>Emitted</th></tr></thead><tbody>\n",
    );
    for c in cs {
        let kind = match c.kind.as_str() {
            "mac" => "transmitter (MAC) address".to_owned(),
            "ssid" => "network name (SSID) probed for".to_owned(),
            k => k.to_owned(),
        };
        let emitted = match c.emitted.as_slice() {
            [] => "<span class=\"muted\">not recorded</span>".to_owned(),
            [one] => esc(&short_time(one)),
            [first, .., last] => format!(
                "{} times, {} to {}",
                c.emitted.len(),
                esc(&short_time(first)),
                esc(&short_time(last))
            ),
        };
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{emitted}</td></tr>",
            esc(&c.id),
            esc(&kind)
        );
    }
    h.push_str("</tbody></table>\n</section>\n");
}

// ---------------------------------------------------------------- verification

fn verification(h: &mut String, signed: &SignedReport) {
    let _ = writeln!(
        h,
        "<section id=\"verify\">\n<h2>How to check this report</h2>\n\
         <p>This page is a view of a signed record: the JSON file written with it, also carried \
         inside this page. The auditing device signed the record with its Ed25519 key:</p>\n\
         <dl class=\"keys\"><div><dt>Key fingerprint</dt><dd><code class=\"fp\">{}</code></dd></div>\n\
         <div><dt>Public key (base64)</dt><dd><code>{}</code></dd></div></dl>\n\
         <p>Compare the fingerprint with the one the auditor gave you by another way (in person, \
         on paper). Then check the signature, on the JSON file or on this page:</p>\n\
         <pre>vitrine-audit verify-report report.json --public-key {}</pre>\n\
         <p>It prints the verdict when the signature is valid and the key is the expected one, \
         and refuses the file if anything in the report was changed after signing. The signed \
         bytes are defined in the project's <code>docs/report.md</code>, so other tools can \
         check them too.</p>\n</section>",
        esc(&group4(&signed.fingerprint())),
        esc(&signed.signature.public_key),
        esc(&signed.signature.public_key)
    );
}

// ---------------------------------------------------------------- words and numbers

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "ab12 cd34 ef56 7890": easier to read aloud.
fn group4(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// "7 days", "1 day", "6 hours", "90 seconds".
fn duration_words(s: u64) -> String {
    if s == 0 {
        "0 seconds".to_owned()
    } else if s.is_multiple_of(86_400) {
        plural((s / 86_400) as usize, "day", "days")
    } else if s.is_multiple_of(3600) {
        plural((s / 3600) as usize, "hour", "hours")
    } else if s.is_multiple_of(60) {
        plural((s / 60) as usize, "minute", "minutes")
    } else {
        plural(s as usize, "second", "seconds")
    }
}

fn duration_between(a: OffsetDateTime, b: OffsetDateTime) -> String {
    let s = (b - a).whole_seconds().max(0) as u64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => plural(s as usize, "second", "seconds"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m:02} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn offset_words(t: OffsetDateTime) -> String {
    let o = t.offset();
    if o.is_utc() {
        "UTC".to_owned()
    } else {
        let (h, m, _) = o.as_hms();
        format!(
            "UTC{}{:02}:{:02}",
            if o.is_negative() { '-' } else { '+' },
            h.abs(),
            m.abs()
        )
    }
}

fn date_time(t: OffsetDateTime) -> String {
    let s = t
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    format!("{s} {}", offset_words(t))
}

/// The end of a span: the time only when it is the same day as the start.
fn same_day_time(start: OffsetDateTime, end: OffsetDateTime) -> String {
    let end = end.to_offset(start.offset());
    if end.date() == start.date() {
        let s = end
            .format(format_description!("[hour]:[minute]:[second]"))
            .unwrap_or_default();
        format!("{s} {}", offset_words(end))
    } else {
        date_time(end)
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// An RFC 3339 time as "2026-03-14 09:12:05 UTC", or as given if unreadable.
fn long_time(s: &str) -> String {
    parse_time(s).map(date_time).unwrap_or_else(|| s.to_owned())
}

/// An RFC 3339 time as "2026-03-14 09:12 UTC", or as given if unreadable.
fn short_time(s: &str) -> String {
    match parse_time(s) {
        Some(t) => {
            let f = t
                .format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
                .unwrap_or_default();
            format!("{f} {}", offset_words(t))
        }
        None => s.to_owned(),
    }
}

const CSS: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: #f4f5f7; color: #1e293b;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Liberation Sans", "DejaVu Sans", Arial, sans-serif;
  font-size: 16px; line-height: 1.5;
}
main { max-width: 1120px; margin: 0 auto; padding: 28px 36px 40px; background: #fff; }
h2 { font-size: 22px; margin: 40px 0 12px; padding-bottom: 6px; border-bottom: 2px solid #e2e8f0; }
h3 { font-size: 17px; margin: 24px 0 6px; }
p { margin: 8px 0; }
code, pre { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 0.88em; }
pre { background: #f1f5f9; border: 1px solid #e2e8f0; border-radius: 6px; padding: 10px 14px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
a { color: #1d4ed8; }
.muted { color: #64748b; }
.note { color: #475569; background: #f8fafc; border-left: 4px solid #cbd5e1; padding: 8px 14px; }
.kicker { margin: 0 0 10px; text-transform: uppercase; letter-spacing: 0.08em; font-size: 13px; font-weight: 600; color: #64748b; }

.verdict { display: flex; align-items: center; gap: 28px; padding: 22px 28px; border-radius: 10px; color: #fff; }
.verdict .word { font-size: 56px; font-weight: 800; letter-spacing: 0.02em; line-height: 1; }
.verdict .headline { font-size: 24px; font-weight: 700; line-height: 1.25; }
.verdict p { margin: 6px 0 0; font-size: 16px; opacity: 0.95; }
.verdict.fail { background: #b91c1c; }
.verdict.pass { background: #15803d; }
.verdict.incomplete { background: #b45309; }

.facts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 14px 28px; margin: 22px 0 0; }
.facts div { min-width: 0; }
.facts dt, .keys dt { font-size: 12px; text-transform: uppercase; letter-spacing: 0.06em; color: #64748b; font-weight: 600; }
.facts dd, .keys dd { margin: 2px 0 0; overflow-wrap: anywhere; }
.keys { display: grid; grid-template-columns: 1fr 2fr; gap: 8px 24px; margin: 12px 0; }
.fp { font-size: 1em; font-weight: 600; letter-spacing: 0.03em; }

table { width: 100%; border-collapse: collapse; margin: 8px 0 4px; font-size: 15px; }
th, td { text-align: left; vertical-align: top; padding: 8px 10px; border-bottom: 1px solid #e2e8f0; }
thead th { background: #f1f5f9; font-size: 13px; text-transform: uppercase; letter-spacing: 0.04em; color: #475569; border-bottom: 2px solid #cbd5e1; }
td.num, th.num { text-align: right; white-space: nowrap; }
td code { overflow-wrap: anywhere; }
table.checks .title { font-weight: 600; }
table.checks code.id { color: #64748b; font-size: 13px; }
table.checks td.examined { color: #334155; font-size: 14px; }
table.findings td { font-size: 14px; }
table.findings td.summary { width: 40%; }
table.findings .detail { color: #475569; font-size: 13px; margin-top: 4px; }
table.policy th { font-weight: 500; width: 62%; background: none; }
table.numbers { font-size: 14px; max-width: 720px; }
table.numbers td { padding: 3px 10px; }
tbody tr:nth-child(even) td { background: #fafbfc; }

.pill { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 13px; font-weight: 700; white-space: nowrap; }
.pill.failed { background: #b91c1c; color: #fff; }
.pill.passed { background: #dcfce7; color: #166534; }
.pill.skipped { background: #e2e8f0; color: #334155; }
.sev { display: inline-block; padding: 1px 8px; border-radius: 4px; font-size: 13px; font-weight: 600; white-space: nowrap; }
.sev.critical { background: #7f1d1d; color: #fff; }
.sev.high { background: #fee2e2; color: #991b1b; }
.sev.medium { background: #fef3c7; color: #92400e; }
.sev.low { background: #f1f5f9; color: #475569; }

.check h3 code.id { font-weight: 400; color: #64748b; font-size: 14px; }
.check > p { margin-top: 0; font-size: 14px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 28px; }
figure.chart { margin: 0; }
figure.chart figcaption { font-weight: 600; font-size: 15px; margin: 4px 0 0; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
details { margin: 10px 0; }
summary { cursor: pointer; color: #1d4ed8; }
footer { margin-top: 40px; padding-top: 12px; border-top: 1px solid #e2e8f0; font-size: 13px; color: #64748b; }

table.canary-summary td { font-size: 14px; }
table.canary-summary ul.forms, table.canary-summary ul.forms li { margin: 0; padding: 0; list-style: none; }
table.canary-summary ul.forms li + li { margin-top: 4px; }
.tally { font-size: 18px; }
table.forms td:first-child { width: 24%; }
table.forms td.plain { width: 34%; }
table.forms td.reversible { font-size: 14px; }
.rev.yes { color: #b91c1c; }
.rev.unknown { color: #475569; }
table.complete td { font-size: 14px; }

@media print {
  @page { margin: 16mm 14mm; }
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  .verdict, .pill, .sev, thead th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, h3 { break-after: avoid; }
  tr, figure, .verdict, .facts { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"#;
