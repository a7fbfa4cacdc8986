//! The human-readable view of summaries: one row per window.

use std::fmt::Write as _;

use vitrine_schema::Summary;

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
/// show as `<k`.
pub fn row(s: &Summary) -> String {
    let w = &s.wifi;
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
    let start = s
        .window_start
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string();
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

/// How summaries are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON summary per line (docs/schema.md).
    Jsonl,
    /// A readable table, its header repeated every 40 rows.
    Table,
}

/// The `index`-th summary of a run, as printed, with its line ending.
pub fn render(s: &Summary, index: u64, format: Format) -> String {
    match format {
        Format::Jsonl => s.to_json_line() + "\n",
        Format::Table if index.is_multiple_of(40) => format!("{}\n{}\n", header(), row(s)),
        Format::Table => row(s) + "\n",
    }
}
