//! Accuracy of the device estimate against labelled captures.

use std::path::{Path, PathBuf};

use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_schema::Summary;
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::{CaptureStage, FrameSource, PcapFile, SourceError};

/// Why the accuracy could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A capture could not be read (the error names the file).
    #[error(transparent)]
    Capture(#[from] SourceError),
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no column {column}", path.display())]
    NoColumn { path: PathBuf, column: &'static str },
    #[error("{}:{line}: column {column}: {value:?} is not a number", path.display())]
    Number {
        path: PathBuf,
        line: usize,
        column: &'static str,
        value: String,
    },
    #[error("{}: a summary's window_start {value:?} is not an RFC 3339 time", pcap.display())]
    WindowStart { pcap: PathBuf, value: String },
}

/// Replays a capture file into summaries.
pub fn replay(pcap: &Path, cfg: Config, ignore: IgnoreList) -> Result<Vec<Summary>, SourceError> {
    let mut stage = CaptureStage::new(RotationPolicy::default(), ignore);
    let mut source = PcapFile::open(pcap)?;
    let mut out = Vec::new();
    let (_, result) = crate::run(&mut source, &mut stage, cfg, &mut |s| out.push(s));
    result?;
    Ok(out)
}

/// The lab computers listed in the dataset's README.
pub const LAB_MACHINES: &str = "dc:fb:48:68:be:e4\ndc:fb:48:8c:71:fc\ndc:fb:48:2a:52:e0\ndc:fb:48:f5:c6:c2\n\
    dc:fb:48:e3:ab:78\ndc:fb:48:00:51:90\ndc:fb:48:75:d8:42\ndc:fb:48:de:86:8d\ndc:fb:48:dd:c6:0b\n\
    dc:fb:48:55:d5:78\ndc:fb:48:c2:1d:64\n40:ec:99:f9:34:a6\n40:ec:99:8e:3f:63\n40:ec:99:1f:3e:75\n";

/// Median absolute percentage error of `devices.estimated` (and of the naive
/// distinct-MAC count) against the lab's occupancy, over 5-minute windows
/// with people present, the way `../shared/tools/occupancy_eval.py` defines it.
pub fn occupancy_mape(dir: &Path, cfg: Config) -> Result<(f64, f64, usize), EvalError> {
    let ignore = IgnoreList::parse(LAB_MACHINES).expect("the list is valid");
    let mut est_err = Vec::new();
    let mut naive_err = Vec::new();
    for day in [
        "sc6-61_2022-10-19",
        "sc6-61_2023-02-08",
        "sc6-61_2023-04-13",
    ] {
        let pcap = dir.join(format!("{day}_anonymized.pcap"));
        let csv_path = dir.join(format!("{day}_ver-99.csv"));
        let csv = std::fs::read_to_string(&csv_path).map_err(|source| EvalError::Read {
            path: csv_path.clone(),
            source,
        })?;
        // Packet index -> capture time.
        let mut times = Vec::new();
        let mut src = PcapFile::open(&pcap)?;
        while let Some(p) = src.next_packet()? {
            times.push(p.ts_us);
        }
        let mut lines = csv.lines();
        let header: Vec<_> = lines.next().unwrap_or_default().split(';').collect();
        let col = |column: &'static str| {
            header
                .iter()
                .position(|h| *h == column)
                .map(|at| (column, at))
                .ok_or_else(|| EvalError::NoColumn {
                    path: csv_path.clone(),
                    column,
                })
        };
        let (src_col, idx_col, occ_col) = (col("src")?, col("idx")?, col("occupancy")?);
        let mut occ_at = Vec::new();
        // The header is line 1.
        for (line, text) in (2..).zip(lines) {
            let f: Vec<_> = text.split(';').collect();
            // Fields past the end of a short line read as empty.
            let field = |(_, at): (&str, usize)| f.get(at).copied().unwrap_or_default();
            let number = |col: (&'static str, usize)| EvalError::Number {
                path: csv_path.clone(),
                line,
                column: col.0,
                value: field(col).to_owned(),
            };
            if LAB_MACHINES.contains(field(src_col)) || field(occ_col).is_empty() {
                continue;
            }
            let idx: usize = field(idx_col).parse().map_err(|_| number(idx_col))?;
            if let Some(&t) = times.get(idx) {
                let occupancy: f64 = field(occ_col).parse().map_err(|_| number(occ_col))?;
                occ_at.push((t, occupancy));
            }
        }
        for s in replay(&pcap, cfg, ignore.clone())? {
            let start =
                crate::demo::time_of(&s.window_start).ok_or_else(|| EvalError::WindowStart {
                    pcap: pcap.clone(),
                    value: s.window_start.clone(),
                })? * 1_000_000;
            let end = start + i64::from(s.window_s) * 1_000_000;
            let mut occ: Vec<f64> = occ_at
                .iter()
                .filter(|(t, _)| *t >= start && *t < end)
                .map(|(_, o)| *o)
                .collect();
            if occ.is_empty() {
                continue;
            }
            let o = median(&mut occ);
            if o <= 0.0 {
                continue;
            }
            let Some(wifi) = &s.wifi else { continue };
            est_err.push((wifi.devices.estimated as f64 - o).abs() / o);
            naive_err.push((wifi.devices.distinct_macs as f64 - o).abs() / o);
        }
    }
    let n = est_err.len();
    Ok((median(&mut est_err), median(&mut naive_err), n))
}

/// Python's statistics.median (mean of the two middle values).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
