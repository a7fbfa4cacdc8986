//! Accuracy of the device estimate against labelled captures.

use std::path::Path;

use anyhow::Context;
use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_schema::Summary;
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::{CaptureStage, FrameSource, PcapFile};

/// Replays a capture file into summaries.
pub fn replay(pcap: &Path, cfg: Config, ignore: IgnoreList) -> anyhow::Result<Vec<Summary>> {
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
pub fn occupancy_mape(dir: &Path, cfg: Config) -> anyhow::Result<(f64, f64, usize)> {
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
        let csv = std::fs::read_to_string(&csv_path)
            .with_context(|| format!("reading {}", csv_path.display()))?;
        // Packet index -> capture time.
        let mut times = Vec::new();
        let mut src = PcapFile::open(&pcap)?;
        while let Some(p) = src.next_packet()? {
            times.push(p.ts_us);
        }
        let mut lines = csv.lines();
        let header: Vec<_> = lines.next().unwrap_or_default().split(';').collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .with_context(|| format!("{}: no column {name}", csv_path.display()))
        };
        let (src_col, idx_col, occ_col) = (col("src")?, col("idx")?, col("occupancy")?);
        let mut occ_at = Vec::new();
        for line in lines {
            let f: Vec<_> = line.split(';').collect();
            if LAB_MACHINES.contains(f[src_col]) || f[occ_col].is_empty() {
                continue;
            }
            let idx: usize = f[idx_col].parse()?;
            if let Some(&t) = times.get(idx) {
                occ_at.push((t, f[occ_col].parse::<f64>()?));
            }
        }
        for s in replay(&pcap, cfg, ignore.clone())? {
            let start = crate::demo::time_of(&s.window_start).context("window_start")? * 1_000_000;
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
