//! The policy the audit measured against, its limits in words.

use std::fmt::Write as _;

use crate::report::model::PolicyRecord;

use super::esc;
use super::wording::{duration_words, plural};

pub(super) fn policy(h: &mut String, p: &PolicyRecord) {
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
