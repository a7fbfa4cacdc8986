//! The pipeline against real captures with ground truth, read from
//! `../shared/captures` beside the repository (never copied into it).

use std::path::{Path, PathBuf};

use vitrine_aggregate::Config;
use vitrine_capture::{CaptureStage, FrameSource, PcapFile};
use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_schema::Summary;

fn captures() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures");
    assert!(dir.is_dir(), "the shared captures are expected at {} (beside the repository)", dir.display());
    dir
}

fn replay(pcap: &Path, cfg: Config, ignore: IgnoreList) -> Vec<Summary> {
    let mut stage = CaptureStage::new(RotationPolicy::default(), ignore);
    let mut source = PcapFile::open(pcap).unwrap();
    let mut out = Vec::new();
    let (_, result) = vitrined::run(&mut source, &mut stage, cfg, &mut |s| out.push(s));
    result.unwrap();
    out
}

#[test]
fn one_iphone_behind_11176_random_macs_is_estimated_as_at_most_3_devices() {
    let pcap = captures().join("probe-generator/out_file.pcap");
    // One window covering the whole two-day file (a week, aligned on the
    // Unix epoch); the default 24 h key rotation happens inside it.
    let s = replay(&pcap, Config { window_s: 7 * 86_400, ..Config::default() }, IgnoreList::default());
    assert_eq!(s.len(), 1);
    let w = &s[0].wifi;
    assert_eq!(w.frames.probe_req, 20_456);
    assert_eq!(w.frames.malformed, 0);
    assert_eq!(w.devices.distinct_macs, 11_176);
    assert_eq!(w.devices.randomized_macs, 11_176);
    assert_eq!(w.devices.global_macs, 0);
    assert!(w.devices.estimated >= 1 && w.devices.estimated <= 3, "estimated {}", w.devices.estimated);
    assert_eq!(s[0].epoch, 1, "the file spans more than one 24 h key epoch");
}

#[test]
fn the_per_minute_estimate_of_the_single_iphone_stays_at_one() {
    let pcap = captures().join("probe-generator/out_file.pcap");
    let s = replay(&pcap, Config::default(), IgnoreList::default());
    let busy: Vec<_> = s.iter().filter(|s| s.wifi.frames.probe_req > 0).collect();
    assert!(busy.len() > 100);
    assert!(busy.iter().all(|s| s.wifi.devices.estimated == 1), "a window estimated more than one device");
    let total: u64 = s.iter().map(|s| s.wifi.frames.probe_req).sum();
    assert_eq!(total, 20_456);
}

/// The lab computers listed in the dataset's README.
const LAB_MACHINES: &str = "dc:fb:48:68:be:e4\ndc:fb:48:8c:71:fc\ndc:fb:48:2a:52:e0\ndc:fb:48:f5:c6:c2\n\
    dc:fb:48:e3:ab:78\ndc:fb:48:00:51:90\ndc:fb:48:75:d8:42\ndc:fb:48:de:86:8d\ndc:fb:48:dd:c6:0b\n\
    dc:fb:48:55:d5:78\ndc:fb:48:c2:1d:64\n40:ec:99:f9:34:a6\n40:ec:99:8e:3f:63\n40:ec:99:1f:3e:75\n";

/// Median absolute percentage error of `devices.estimated` (and of the naive
/// distinct-MAC count) against the lab's occupancy, over 5-minute windows
/// with people present, the way `../shared/tools/occupancy_eval.py` defines it.
pub fn occupancy_mape(dir: &Path, cfg: Config) -> (f64, f64, usize) {
    let ignore = IgnoreList::parse(LAB_MACHINES).unwrap();
    let mut est_err = Vec::new();
    let mut naive_err = Vec::new();
    for day in ["sc6-61_2022-10-19", "sc6-61_2023-02-08", "sc6-61_2023-04-13"] {
        let pcap = dir.join(format!("{day}_anonymized.pcap"));
        let csv = std::fs::read_to_string(dir.join(format!("{day}_ver-99.csv"))).unwrap();
        // Packet index -> capture time.
        let mut times = Vec::new();
        let mut src = PcapFile::open(&pcap).unwrap();
        while let Some(p) = src.next_packet().unwrap() {
            times.push(p.ts_us);
        }
        let mut lines = csv.lines();
        let header: Vec<_> = lines.next().unwrap().split(';').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (src_col, idx_col, occ_col) = (col("src"), col("idx"), col("occupancy"));
        let mut occ_at = Vec::new();
        for line in lines {
            let f: Vec<_> = line.split(';').collect();
            if LAB_MACHINES.contains(f[src_col]) || f[occ_col].is_empty() {
                continue;
            }
            let idx: usize = f[idx_col].parse().unwrap();
            if let Some(&t) = times.get(idx) {
                occ_at.push((t, f[occ_col].parse::<f64>().unwrap()));
            }
        }
        for s in replay(&pcap, cfg, ignore.clone()) {
            let start = vitrined::demo::time_of(&s.window_start).unwrap() * 1_000_000;
            let end = start + i64::from(s.window_s) * 1_000_000;
            let mut occ: Vec<f64> = occ_at.iter().filter(|(t, _)| *t >= start && *t < end).map(|(_, o)| *o).collect();
            if occ.is_empty() {
                continue;
            }
            let o = median(&mut occ);
            if o <= 0.0 {
                continue;
            }
            est_err.push((s.wifi.devices.estimated as f64 - o).abs() / o);
            naive_err.push((s.wifi.devices.distinct_macs as f64 - o).abs() / o);
        }
    }
    let n = est_err.len();
    (median(&mut est_err), median(&mut naive_err), n)
}

/// Python's statistics.median (mean of the two middle values).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

#[test]
fn device_estimate_follows_the_lab_occupancy() {
    let dir = captures().join("lab-occupancy");
    let (est, naive, windows) = occupancy_mape(&dir, Config { window_s: 300, ..Config::default() });
    eprintln!("lab occupancy: windows={windows} mape_estimate={est:.3} mape_naive={naive:.3}");
    assert_eq!(windows, 46);
    // The must is 1.00 and its goal 0.35; hold the goal.
    assert!(est <= 0.35, "median absolute percentage error {est:.3}");
    assert!(naive > 4.0, "the naive count should be far off ({naive:.3}): the test would not discriminate");
}

#[test]
fn the_ignore_list_drops_exactly_the_listed_machines() {
    let dir = captures().join("lab-occupancy");
    let ignore = IgnoreList::parse(LAB_MACHINES).unwrap();
    for day in ["sc6-61_2022-10-19", "sc6-61_2023-04-13"] {
        let csv = std::fs::read_to_string(dir.join(format!("{day}_ver-99.csv"))).unwrap();
        let listed = csv.lines().skip(1).filter(|l| LAB_MACHINES.contains(l.split(';').nth(2).unwrap())).count() as u64;
        let s = replay(&dir.join(format!("{day}_anonymized.pcap")), Config { window_s: 300, ..Config::default() }, ignore.clone());
        let ignored: u64 = s.iter().map(|s| s.wifi.frames.ignored).sum();
        let probes: u64 = s.iter().map(|s| s.wifi.frames.probe_req).sum();
        assert_eq!(probes, csv.lines().count() as u64 - 1, "{day}");
        assert!(listed > 0);
        assert_eq!(ignored, listed, "{day}");
    }
}
