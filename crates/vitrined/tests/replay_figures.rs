//! The Wi-Fi figures `vitrined replay --format jsonl` prints for every real
//! capture in `../shared/captures`, pinned window by window in
//! `tests/replay-figures/<capture folder>/<capture file>.jsonl`, so that a
//! change of the aggregation code that should change no figure can be shown
//! to change none.
//!
//! Compared per window: `window_start`, `window_s`, `epoch`, `k`,
//! `suppressed` and the whole `wifi` object, as JSON values, by their JSON
//! paths; `schema_version` and any other top-level field are not.
//!
//! The expected files are written from the binary's own output, which by
//! itself proves nothing, so each one is also held against tshark's reading
//! of the same capture: per window, the packets and probe requests, the
//! ignored ones, the distinct transmitters, their global/randomized split,
//! the frames per channel and the strongest-signal histogram.
//!
//! `VITRINE_BLESS=1 cargo test -p vitrined --test replay_figures` rewrites
//! the expected files (after the same checks); without it a missing or
//! different file fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use vitrined::eval::LAB_MACHINES;

/// The top-level fields compared, besides `wifi`.
const COMMON: [&str; 5] = ["window_start", "window_s", "epoch", "k", "suppressed"];

/// How one capture folder is replayed. Every option that has a default is
/// given, so that a change of a default does not pass for a change of the
/// figures; the key is the only thing left to chance (a new one per run).
struct Setup {
    folder: &'static str,
    window_s: u32,
    /// The lab's own machines, as the occupancy yardstick replays them.
    ignore_lab_machines: bool,
}

fn expected_dir(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/replay-figures")
        .join(folder)
}

fn bless() -> bool {
    std::env::var("VITRINE_BLESS").is_ok_and(|v| v == "1")
}

/// The capture files of a folder, in name order.
fn pcaps(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the shared captures at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no capture in {}", dir.display());
    files
}

/// One run of the binary: each window's compared fields.
fn replay(setup: &Setup, pcap: &Path, ignore_file: &Path) -> Vec<Value> {
    let window = setup.window_s.to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitrined"));
    cmd.args(["replay", "--pcap"])
        .arg(pcap)
        .args(["--format", "jsonl", "--window", &window])
        .args(["--k", "5", "--presence-rssi", "-85", "--epoch-hours", "24"])
        .args(["--max-devices", "200000"])
        .env_remove("VITRINE_LOG")
        .stdin(Stdio::null());
    if setup.ignore_lab_machines {
        cmd.arg("--ignore").arg(ignore_file);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "vitrined replay {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let full: Value = serde_json::from_str(line).unwrap();
            let mut kept = serde_json::Map::new();
            for key in COMMON.iter().chain(&["wifi"]) {
                if let Some(v) = full.get(*key) {
                    kept.insert((*key).to_owned(), v.clone());
                }
            }
            Value::Object(kept)
        })
        .collect()
}

/// Every difference between two JSON values, by JSON path.
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let keys: BTreeSet<&String> = e.keys().chain(a.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (e.get(k), a.get(k)) {
                    (Some(ev), Some(av)) => diff(&p, ev, av, out),
                    (Some(ev), None) => out.push(format!("{p}: expected {ev}, missing")),
                    (None, Some(av)) => out.push(format!("{p}: not expected, got {av}")),
                    (None, None) => unreachable!(),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), ev, av, out);
            }
        }
        _ if expected != actual => out.push(format!("{path}: expected {expected}, got {actual}")),
        _ => {}
    }
}

/// The differences between two runs' windows, each naming its window.
fn compare(expected: &[Value], actual: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    if expected.len() != actual.len() {
        out.push(format!(
            "{} windows expected, {} printed",
            expected.len(),
            actual.len()
        ));
    }
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        let mut d = Vec::new();
        diff("", e, a, &mut d);
        let start = e["window_start"].as_str().unwrap_or("?");
        out.extend(d.into_iter().map(|d| format!("window {i} ({start}): {d}")));
    }
    out
}

fn report(what: &str, diffs: &[String]) -> String {
    let mut s = format!("{what}: {} differences\n", diffs.len());
    for d in diffs.iter().take(30) {
        let _ = writeln!(s, "  {d}");
    }
    if diffs.len() > 30 {
        let _ = writeln!(s, "  ... and {} more", diffs.len() - 30);
    }
    s
}

// ---- tshark's reading of a capture ----

/// What tshark reads in one window of a capture.
#[derive(Debug, Default)]
struct Seen {
    packets: u64,
    probe_req: u64,
    ignored: u64,
    /// Transmitters of the probe requests not ignored, and the strongest
    /// signal each was heard at (if any).
    macs: BTreeMap<String, Option<i64>>,
    /// Frames per (frequency, channel number).
    channels: BTreeMap<(u32, u64), u64>,
}

/// tshark's reading of `pcap`, per window of `window_s` aligned on the Unix
/// epoch, keyed by the window's start in Unix seconds.
fn tshark_windows(pcap: &Path, window_s: u32, ignore: &[String]) -> BTreeMap<i64, Seen> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args(["-T", "fields", "-E", "occurrence=f"])
        .args(["-e", "frame.time_epoch", "-e", "wlan.fc.type_subtype"])
        .args(["-e", "wlan.sa", "-e", "wlan_radio.frequency"])
        .args(["-e", "wlan_radio.channel", "-e", "wlan_radio.signal_dbm"])
        .output()
        .unwrap_or_else(|e| panic!("tshark is needed (cargo xtask deps installs it): {e}"));
    assert!(
        out.status.success(),
        "tshark {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut windows: BTreeMap<i64, Seen> = BTreeMap::new();
    // Windows close by the capture's clock, its latest time so far: a
    // packet older than one before it (channels merged into one file, as in
    // phones/OppoFindX3Neo-A) counts in the window already open.
    let mut clock = i64::MIN;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let secs: i64 = f[0].split('.').next().unwrap().parse().unwrap();
        clock = clock.max(secs);
        let w = windows
            .entry(clock - clock.rem_euclid(i64::from(window_s)))
            .or_default();
        w.packets += 1;
        if let (Ok(freq), Ok(ch)) = (f[3].parse(), f[4].parse()) {
            *w.channels.entry((freq, ch)).or_default() += 1;
        }
        if f[1] != "0x0004" {
            continue;
        }
        w.probe_req += 1;
        let sa = f[2].to_ascii_lowercase();
        if ignore.contains(&sa) {
            w.ignored += 1;
            continue;
        }
        let signal = f[5].parse::<i64>().ok();
        let best = w.macs.entry(sa).or_insert(signal);
        *best = (*best).max(signal);
    }
    windows
}

fn band(freq_mhz: u32) -> &'static str {
    match freq_mhz {
        2400..=2500 => "2.4GHz",
        5000..=5900 => "5GHz",
        _ => "6GHz",
    }
}

/// Unix seconds of a summary's `window_start` (`YYYY-MM-DDTHH:MM:SSZ`).
fn unix_seconds(rfc3339: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| rfc3339[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from the civil date (proleptic Gregorian), after H. Hinnant.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// Holds each window of `figures` against tshark's reading of `pcap`; the
/// differences, each naming its window and path.
fn against_tshark(figures: &[Value], pcap: &Path, window_s: u32, ignore: &[String]) -> Vec<String> {
    let seen = tshark_windows(pcap, window_s, ignore);
    let mut out = Vec::new();
    let mut check = |i: usize, start: &str, path: &str, ours: Value, theirs: Value| {
        if ours != theirs {
            out.push(format!(
                "window {i} ({start}): {path}: {ours} here, tshark reads {theirs}"
            ));
        }
    };
    let empty = Seen::default();
    let (mut packets, mut probes) = (0, 0);
    for (i, s) in figures.iter().enumerate() {
        let start = s["window_start"].as_str().unwrap();
        let t = seen.get(&unix_seconds(start)).unwrap_or(&empty);
        let w = &s["wifi"];
        let k = s["k"].as_u64().unwrap();
        packets += w["frames"]["total"].as_u64().unwrap();
        probes += w["frames"]["probe_req"].as_u64().unwrap();
        check(
            i,
            start,
            "wifi.frames.total",
            w["frames"]["total"].clone(),
            json!(t.packets),
        );
        check(
            i,
            start,
            "wifi.frames.probe_req",
            w["frames"]["probe_req"].clone(),
            json!(t.probe_req),
        );
        check(
            i,
            start,
            "wifi.frames.ignored",
            w["frames"]["ignored"].clone(),
            json!(t.ignored),
        );
        // A packet vitrined cannot parse may still have a type and address
        // for tshark: hold the rest only where every packet was parsed.
        if w["frames"]["malformed"] != json!(0) {
            continue;
        }
        let d = &w["devices"];
        if d["exact"] == json!(true) {
            check(
                i,
                start,
                "wifi.devices.distinct_macs",
                d["distinct_macs"].clone(),
                json!(t.macs.len()),
            );
        }
        if !d["randomized_macs"].is_null() {
            // The locally administered bit of the first octet.
            let randomized = t
                .macs
                .keys()
                .filter(|m| u8::from_str_radix(&m[..2], 16).unwrap() & 0x02 != 0)
                .count();
            check(
                i,
                start,
                "wifi.devices.randomized_macs",
                d["randomized_macs"].clone(),
                json!(randomized),
            );
            check(
                i,
                start,
                "wifi.devices.global_macs",
                d["global_macs"].clone(),
                json!(t.macs.len() - randomized),
            );
        }
        let channels: Vec<Value> = t
            .channels
            .iter()
            .filter(|(_, n)| **n >= k)
            .map(|((freq, ch), n)| json!({"band": band(*freq), "channel": ch, "frames": n}))
            .collect();
        check(
            i,
            start,
            "wifi.channels",
            w["channels"].clone(),
            Value::Array(channels),
        );
        let edges: Vec<i64> = w["rssi_dbm"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_i64().unwrap())
            .collect();
        for (b, count) in w["rssi_dbm"]["counts"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            if count.is_null() {
                continue;
            }
            let n = t
                .macs
                .values()
                .flatten()
                .filter(|&&dbm| dbm >= edges[b] && dbm < edges[b + 1])
                .count();
            check(
                i,
                start,
                &format!("wifi.rssi_dbm.counts[{b}]"),
                count.clone(),
                json!(n),
            );
        }
    }
    // The windows cover the whole capture: nothing tshark reads is missing.
    let t_packets: u64 = seen.values().map(|t| t.packets).sum();
    let t_probes: u64 = seen.values().map(|t| t.probe_req).sum();
    if (packets, probes) != (t_packets, t_probes) {
        out.push(format!(
            "over all windows: {packets} packets and {probes} probe requests here, tshark reads {t_packets} and {t_probes}"
        ));
    }
    out
}

// ---- the check of one capture folder ----

// ---- the expected files ----
//
// One line per window, each holding only what changed since the window
// before: leaves by their JSON path (`"wifi.devices.estimated": 1`; arrays
// and empty objects are leaves), and under `"-"` the paths that are gone.
// The first line holds every leaf. Most of a quiet window is the window
// before it, so the files stay small with every figure kept.

/// The leaves of `v` by JSON path.
fn flatten(v: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(x, &p, out);
            }
        }
        _ => {
            out.insert(path.to_owned(), v.clone());
        }
    }
}

fn unflatten(leaves: &BTreeMap<String, Value>) -> Value {
    let mut root = serde_json::Map::new();
    for (path, v) in leaves {
        let mut parts: Vec<&str> = path.split('.').collect();
        let last = parts.pop().unwrap();
        let mut node = &mut root;
        for p in parts {
            node = node
                .entry(p)
                .or_insert_with(|| Value::Object(serde_json::Map::new()))
                .as_object_mut()
                .unwrap_or_else(|| panic!("{path}: a leaf and an object at once"));
        }
        node.insert(last.to_owned(), v.clone());
    }
    Value::Object(root)
}

fn encode(windows: &[Value]) -> String {
    let mut text = String::new();
    let mut prev = BTreeMap::new();
    for w in windows {
        let mut leaves = BTreeMap::new();
        flatten(w, "", &mut leaves);
        let mut line = serde_json::Map::new();
        let gone: Vec<&String> = prev.keys().filter(|k| !leaves.contains_key(*k)).collect();
        if !gone.is_empty() {
            line.insert("-".to_owned(), json!(gone));
        }
        for (k, v) in &leaves {
            if prev.get(k) != Some(v) || k == "window_start" {
                line.insert(k.clone(), v.clone());
            }
        }
        text.push_str(&serde_json::to_string(&line).unwrap());
        text.push('\n');
        prev = leaves;
    }
    text
}

fn decode(text: &str, file: &Path) -> Vec<Value> {
    fn bad(file: &Path, n: usize, e: &dyn std::fmt::Display) -> ! {
        panic!("{} line {}: {e}", file.display(), n + 1)
    }
    let mut leaves: BTreeMap<String, Value> = BTreeMap::new();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let m = match serde_json::from_str(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => bad(file, n, &"not an object"),
            Err(e) => bad(file, n, &e),
        };
        for (k, v) in m {
            if k != "-" {
                leaves.insert(k, v);
                continue;
            }
            let Value::Array(gone) = v else {
                bad(file, n, &"`-` is not a list")
            };
            for p in gone {
                let Value::String(p) = p else {
                    bad(file, n, &"`-` holds a non-path")
                };
                leaves.remove(&p);
            }
        }
        out.push(unflatten(&leaves));
    }
    out
}

fn read_expected(path: &Path) -> Option<Vec<Value>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(decode(&text, path))
}

fn check_folder(setup: Setup) {
    let dir = vitrine_testkit::captures_dir().join(setup.folder);
    let expected_dir = expected_dir(setup.folder);
    let tmp = tempfile::tempdir().unwrap();
    let ignore_file = tmp.path().join("lab-machines.txt");
    std::fs::write(&ignore_file, LAB_MACHINES).unwrap();
    let ignore: Vec<String> = if setup.ignore_lab_machines {
        LAB_MACHINES.lines().map(str::to_owned).collect()
    } else {
        Vec::new()
    };
    let bless = bless();
    let mut failures = String::new();
    let mut names = BTreeSet::new();
    for pcap in pcaps(&dir) {
        let stem = pcap.file_stem().unwrap().to_string_lossy().into_owned();
        let name = format!("{}/{stem}", setup.folder);
        let expected_path = expected_dir.join(format!("{stem}.jsonl"));
        names.insert(format!("{stem}.jsonl"));

        let first = replay(&setup, &pcap, &ignore_file);
        assert!(!first.is_empty(), "{name}: no window printed");
        // The pseudonym key is new in every run; no figure may depend on it.
        let second = replay(&setup, &pcap, &ignore_file);
        let unstable = compare(&first, &second);
        assert!(
            unstable.is_empty(),
            "{}",
            report(&format!("{name}: two runs (two keys) differ"), &unstable)
        );

        if bless {
            let bad = against_tshark(&first, &pcap, setup.window_s, &ignore);
            assert!(
                bad.is_empty(),
                "{}",
                report(&format!("{name} against tshark"), &bad)
            );
            std::fs::create_dir_all(&expected_dir).unwrap();
            let text = encode(&first);
            // What is written must read back as what was printed.
            assert!(
                decode(&text, &expected_path) == first,
                "{name}: the encoding of the expected file loses something"
            );
            std::fs::write(&expected_path, text).unwrap();
            eprintln!("wrote {}", expected_path.display());
            continue;
        }
        let Some(expected) = read_expected(&expected_path) else {
            let _ = writeln!(
                failures,
                "{name}: no expected figures at {} (VITRINE_BLESS=1 writes them)",
                expected_path.display()
            );
            continue;
        };
        let bad = against_tshark(&expected, &pcap, setup.window_s, &ignore);
        if !bad.is_empty() {
            failures.push_str(&report(
                &format!("{name}: the expected figures against tshark"),
                &bad,
            ));
        }
        let diffs = compare(&expected, &first);
        if !diffs.is_empty() {
            failures.push_str(&report(
                &format!("{name}: replay differs from {}", expected_path.display()),
                &diffs,
            ));
        }
    }
    // An expected file whose capture is gone pins nothing any more.
    if let Ok(entries) = std::fs::read_dir(&expected_dir) {
        for e in entries {
            let file = e.unwrap().file_name().to_string_lossy().into_owned();
            if !names.contains(&file) {
                let _ = writeln!(
                    failures,
                    "{}/{file}: expected figures of no capture in {}",
                    setup.folder,
                    dir.display()
                );
            }
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}

#[test]
fn lab_occupancy_figures_are_unchanged() {
    check_folder(Setup {
        folder: "lab-occupancy",
        window_s: 300,
        ignore_lab_machines: true,
    });
}

#[test]
fn lab_occupancy_more_figures_are_unchanged() {
    check_folder(Setup {
        folder: "lab-occupancy-more",
        window_s: 300,
        ignore_lab_machines: true,
    });
}

#[test]
fn phones_figures_are_unchanged() {
    check_folder(Setup {
        folder: "phones",
        window_s: 60,
        ignore_lab_machines: false,
    });
}

#[test]
fn probe_generator_figures_are_unchanged() {
    check_folder(Setup {
        folder: "probe-generator",
        // 300 s like the lab, not 60: per minute the two days would take
        // 2,561 windows, most of them empty, and a file of a few hundred kB.
        window_s: 300,
        ignore_lab_machines: false,
    });
}
