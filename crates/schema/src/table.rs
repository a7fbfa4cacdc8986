//! The human-readable view of summaries: one row per window.

use std::fmt::Write as _;

use crate::Summary;

/// The column header, with a legend line.
pub fn header() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<20} {:>8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7}  addresses by signal (dBm)",
        "window (UTC)", "frames", "probes", "bad", "addresses", "random", "devices", "naming"
    );
    let _ = write!(
        s,
        "{:<20} {:>8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7}  -90 -80 -70 -60 -50 -40 -30",
        "", "", "", "", "(MACs)", "MACs", "(est.)", "a net"
    );
    s
}

/// One window as a table row. Suppressed figures (fewer than k devices)
/// show as `<k`; a window without a Wi-Fi section shows dashes.
pub fn row(s: &Summary) -> String {
    let start = s
        .window_start
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string();
    let Some(w) = &s.wifi else {
        return format!(
            "{:<20} {:>8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7}",
            start, "-", "-", "-", "-", "-", "-", "-"
        );
    };
    let d = &w.devices;
    let hidden = format!("<{}", s.k);
    let opt = |v: Option<u64>| v.map_or(hidden.clone(), |v| v.to_string());
    let bars: String = w
        .rssi_dbm
        .counts
        .iter()
        .skip(1)
        .map(|c| match c {
            None => " ░░ ".to_string(),
            Some(0) => "  · ".to_string(),
            Some(n) => format!("{:>3} ", n),
        })
        .collect();
    format!(
        "{:<20} {:>8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7}  {}",
        start,
        w.frames.total,
        w.frames.probe_req,
        w.frames.malformed,
        d.distinct_macs,
        opt(d.randomized_macs),
        d.estimated,
        opt(d.ssid_leaking),
        bars.trim_end()
    )
}
