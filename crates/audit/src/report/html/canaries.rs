//! The canaries: which were found, where and in which forms; what those
//! forms mean; and the list of canaries the audit used.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::report::model::{CanaryRecord, Report};
use crate::report::plain::{self, Reversible};

use super::wording::{plural, short_time};
use super::{code, esc};

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
pub(super) fn canary_summary(h: &mut String, r: &Report) {
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
pub(super) fn forms(h: &mut String, r: &Report) {
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

pub(super) fn canaries(h: &mut String, cs: &[CanaryRecord]) {
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
