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
    #[error("{}: no NAME_anonymized.pcap with its NAME_ver-99.csv", dir.display())]
    NoDays { dir: PathBuf },
    #[error("{}: {message}", tool.display())]
    Tool { tool: PathBuf, message: String },
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

/// One window's device figures: its start (Unix seconds), the estimate,
/// the naive distinct-address count and the probe requests heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowDevices {
    pub start_s: i64,
    pub estimated: u64,
    pub distinct: u64,
    pub probes: u64,
}

/// The device figures of every window of a replay.
pub fn window_devices(pcap: &Path, cfg: Config) -> Result<Vec<WindowDevices>, EvalError> {
    replay(pcap, cfg, IgnoreList::default())?
        .iter()
        .filter_map(|s| Some((s, s.wifi.as_ref()?)))
        .map(|(s, w)| {
            let start_s =
                crate::demo::time_of(&s.window_start).ok_or_else(|| EvalError::WindowStart {
                    pcap: pcap.to_path_buf(),
                    value: s.window_start.clone(),
                })?;
            Ok(WindowDevices {
                start_s,
                estimated: w.devices.estimated,
                distinct: w.devices.distinct_macs,
                probes: w.frames.probe_req,
            })
        })
        .collect()
}

/// The ground truth `mix_phones.py` prints for the capture it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedPhones {
    /// Phones in the mix.
    pub phones: usize,
    /// Phones that sent probe requests, per window start (Unix seconds).
    pub per_window: std::collections::BTreeMap<i64, usize>,
}

/// Runs `../shared/tools/mix_phones.py` (`tool`) on the phone captures of
/// `src`, writing the mixed capture to `out` (windows of `window_s`).
pub fn mix_phones(
    tool: &Path,
    src: &Path,
    out: &Path,
    seed: u64,
    window_s: u32,
) -> Result<MixedPhones, EvalError> {
    let fail = |message: String| EvalError::Tool {
        tool: tool.to_path_buf(),
        message,
    };
    let run = std::process::Command::new("python3")
        .arg(tool)
        .arg(src)
        .arg(out)
        .args([
            "--seed",
            &seed.to_string(),
            "--window",
            &window_s.to_string(),
        ])
        .output()
        .map_err(|e| fail(format!("running python3: {e}")))?;
    if !run.status.success() {
        return Err(fail(String::from_utf8_lossy(&run.stderr).trim().to_owned()));
    }
    let truth: serde_json::Value = serde_json::from_slice(&run.stdout)
        .map_err(|e| fail(format!("its ground truth is not JSON: {e}")))?;
    let per_window = truth["phones_per_window"]
        .as_object()
        .ok_or_else(|| fail("no phones_per_window in its ground truth".into()))?
        .iter()
        .map(|(k, v)| Some((k.parse().ok()?, usize::try_from(v.as_u64()?).ok()?)))
        .collect::<Option<_>>()
        .ok_or_else(|| fail("phones_per_window is not windows and counts".into()))?;
    Ok(MixedPhones {
        phones: truth["phones"].as_u64().unwrap_or(0) as usize,
        per_window,
    })
}

/// The lab computers listed in the dataset's README.
pub const LAB_MACHINES: &str = "dc:fb:48:68:be:e4\ndc:fb:48:8c:71:fc\ndc:fb:48:2a:52:e0\ndc:fb:48:f5:c6:c2\n\
    dc:fb:48:e3:ab:78\ndc:fb:48:00:51:90\ndc:fb:48:75:d8:42\ndc:fb:48:de:86:8d\ndc:fb:48:dd:c6:0b\n\
    dc:fb:48:55:d5:78\ndc:fb:48:c2:1d:64\n40:ec:99:f9:34:a6\n40:ec:99:8e:3f:63\n40:ec:99:1f:3e:75\n";

/// Median absolute percentage error of `devices.estimated` (and of the naive
/// distinct-MAC count) against the lab's occupancy, over 5-minute windows
/// with people present, the way `../shared/tools/occupancy_eval.py` defines it,
/// on the three days of `dir` (`lab-occupancy`).
pub fn occupancy_mape(dir: &Path, cfg: Config) -> Result<(f64, f64, usize), EvalError> {
    let a = occupancy_accuracy(&[dir], cfg)?;
    Ok((a.pooled.estimate, a.pooled.naive, a.pooled.windows))
}

/// The errors of one day, or of all days pooled: medians of the absolute
/// percentage errors over the windows with people present (NaN without any).
#[derive(Debug, Clone, PartialEq)]
pub struct DayAccuracy {
    pub day: String,
    pub windows: usize,
    pub estimate: f64,
    pub naive: f64,
}

/// Per day and pooled, as `occupancy_eval.py` prints them.
#[derive(Debug, Clone, PartialEq)]
pub struct Accuracy {
    pub days: Vec<DayAccuracy>,
    pub pooled: DayAccuracy,
}

impl Accuracy {
    /// The median of the per-day estimate errors, over days with windows:
    /// one long day does not outweigh the others.
    pub fn median_of_days(&self) -> f64 {
        let mut v: Vec<f64> = self
            .days
            .iter()
            .filter(|d| d.windows > 0)
            .map(|d| d.estimate)
            .collect();
        median(&mut v)
    }
}

/// The days of the dataset in `dirs` (each `NAME_anonymized.pcap` with its
/// `NAME_ver-99.csv`), in name order per folder.
pub fn lab_days(dir: &Path) -> Result<Vec<String>, EvalError> {
    let entries = std::fs::read_dir(dir).map_err(|source| EvalError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut days = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(day) = name.strip_suffix("_anonymized.pcap") else {
            continue;
        };
        // A capture without its labels is an incomplete dataset, not a day
        // to pass over in silence.
        let csv = dir.join(format!("{day}_ver-99.csv"));
        if !csv.is_file() {
            return Err(EvalError::Read {
                path: csv,
                source: std::io::ErrorKind::NotFound.into(),
            });
        }
        days.push(day.to_owned());
    }
    if days.is_empty() {
        return Err(EvalError::NoDays {
            dir: dir.to_path_buf(),
        });
    }
    days.sort();
    Ok(days)
}

/// [`occupancy_mape`] per day and pooled over every day of `dirs`.
pub fn occupancy_accuracy(dirs: &[&Path], cfg: Config) -> Result<Accuracy, EvalError> {
    let mut days = Vec::new();
    let mut all_est = Vec::new();
    let mut all_naive = Vec::new();
    for dir in dirs {
        for day in lab_days(dir)? {
            let (mut est, mut naive) = day_errors(dir, &day, cfg)?;
            all_est.extend_from_slice(&est);
            all_naive.extend_from_slice(&naive);
            days.push(DayAccuracy {
                windows: est.len(),
                estimate: median(&mut est),
                naive: median(&mut naive),
                day,
            });
        }
    }
    Ok(Accuracy {
        days,
        pooled: DayAccuracy {
            day: "pooled".into(),
            windows: all_est.len(),
            estimate: median(&mut all_est),
            naive: median(&mut all_naive),
        },
    })
}

/// The absolute percentage errors of one day's windows with people present:
/// of the estimate, and of the naive count.
fn day_errors(dir: &Path, day: &str, cfg: Config) -> Result<(Vec<f64>, Vec<f64>), EvalError> {
    let ignore = IgnoreList::parse(LAB_MACHINES).expect("the list is valid");
    let mut est_err = Vec::new();
    let mut naive_err = Vec::new();
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
    Ok((est_err, naive_err))
}

/// Python's statistics.median (mean of the two middle values).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
