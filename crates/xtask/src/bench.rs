//! The benchmark: frames per second on one core next to tshark and tcpdump on
//! the same file, and peak memory with a million distinct MACs in one epoch.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use vitrine_dot11::build::probe_request;
use vitrine_sim::{PcapWriter, SimConfig, SimFrame, Simulator, models};

pub fn run(root: &Path, frames: u64, distinct_macs: u32, with_tshark: bool) -> anyhow::Result<()> {
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    super::step(
        "build",
        super::cargo(&["build", "--release", "-p", "vitrined"]),
    )?;
    let vitrined = root.join("target/release/vitrined");

    let busy = dir.join(format!("busy-store-{frames}.pcap"));
    let n = ensure_busy_capture(&busy, frames)?;
    let size_mb = std::fs::metadata(&busy)?.len() as f64 / 1e6;
    eprintln!("xtask: {} has {n} frames ({size_mb:.0} MB)", busy.display());

    let mut rows = Vec::new();
    let replay = |window: &str, file: &Path| {
        let mut c = pinned(&vitrined);
        c.args([
            "--log-format",
            "json",
            "replay",
            "--format",
            "jsonl",
            "--window",
            window,
            "--pcap",
        ])
        .arg(file);
        c
    };
    let (secs, rss) = best_of(3, || replay("60", &busy))?;
    rows.push((
        "vitrined replay --format jsonl (60 s windows)".to_string(),
        secs,
        rss,
    ));
    let (secs, _) = best_of(3, || {
        let mut c = pinned(Path::new("tcpdump"));
        c.args(["-r"]).arg(&busy).args(["-w", "/dev/null"]);
        c
    })?;
    rows.push(("tcpdump -r FILE -w /dev/null".to_string(), secs, None));
    if with_tshark {
        let (secs, _) = best_of(1, || {
            let mut c = pinned(Path::new("tshark"));
            c.arg("-r")
                .arg(&busy)
                .args(["-T", "fields", "-e", "wlan.sa"]);
            c
        })?;
        rows.push((
            "tshark -r FILE -T fields -e wlan.sa".to_string(),
            secs,
            None,
        ));
    }

    let flood = dir.join(format!("distinct-{distinct_macs}.pcap"));
    ensure_distinct_capture(&flood, distinct_macs)?;
    let mut memory = Vec::new();
    for window in ["60", "3600"] {
        let (secs, rss) = best_of(1, || replay(window, &flood))?;
        memory.push((
            window,
            secs,
            rss.context("vitrined reported no peak memory")?,
        ));
    }

    let cpu = cpu_model();
    let mut report = String::new();
    writeln!(
        report,
        "Machine: {cpu}, one core (`taskset -c 0`); best of 3 runs (tshark: 1).\n"
    )?;
    writeln!(
        report,
        "Throughput on `{}` ({n} frames, {size_mb:.0} MB, simulated busy store):\n",
        busy.file_name().unwrap_or_default().to_string_lossy()
    )?;
    writeln!(report, "| command | seconds | frames/s | peak RSS |")?;
    writeln!(report, "|---|---|---|---|")?;
    for (name, secs, rss) in &rows {
        let rss = rss.map_or("".to_string(), |k| format!("{:.1} MB", k as f64 / 1024.0));
        writeln!(
            report,
            "| `{name}` | {secs:.2} | {:.0} | {rss} |",
            n as f64 / secs
        )?;
    }
    writeln!(
        report,
        "\nMemory with {distinct_macs} distinct MACs in one key epoch (one probe request each, over one hour):\n"
    )?;
    writeln!(report, "| window | seconds | peak RSS |")?;
    writeln!(report, "|---|---|---|")?;
    for (window, secs, rss) in &memory {
        writeln!(
            report,
            "| {window} s | {secs:.2} | {:.1} MB |",
            *rss as f64 / 1024.0
        )?;
    }
    writeln!(report, "\nPayload sizes per rig (`vitrine-publish`):\n")?;
    report += &crate::payloads::bytes_per_day();
    std::fs::write(dir.join("report.md"), &report)?;
    println!("{report}");
    Ok(())
}

/// A command pinned to CPU 0 so that every tool gets exactly one core.
/// The CPU's model name, for benchmark reports.
pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default()
}

/// `12345678` as `12,345,678`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn pinned(program: &Path) -> Command {
    let mut c = Command::new("taskset");
    c.args(["-c", "0"]).arg(program);
    c
}

/// Runs `make()` `runs` times; the best wall time and vitrined's reported peak RSS (KiB).
fn best_of(runs: u32, make: impl Fn() -> Command) -> anyhow::Result<(f64, Option<u64>)> {
    let mut best = f64::INFINITY;
    let mut rss = None;
    for _ in 0..runs {
        let mut cmd = make();
        let started = Instant::now();
        let out = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("{cmd:?}"))?;
        let secs = started.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        best = best.min(secs);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(kib) = stderr
            .split("\"peak_rss_kib\":")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        {
            rss = Some(kib);
        }
    }
    Ok((best, rss))
}

/// The busy-store capture, simulated long enough for `frames` frames.
fn ensure_busy_capture(path: &PathBuf, frames: u64) -> anyhow::Result<u64> {
    let cached = std::fs::read_to_string(path.with_extension("frames"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    if let Some(n) = cached.filter(|_| path.exists()) {
        return Ok(n);
    }
    // About 76,000 frames per simulated hour in a busy store.
    let hours = frames.div_ceil(70_000) as u32;
    let sim = SimConfig {
        duration_s: hours * 3600,
        ..SimConfig::busy_store()
    };
    let tmp = path.with_extension("tmp");
    let mut writer = PcapWriter::create(&tmp)?;
    let mut err = None;
    let truth = Simulator::new(sim).run_with(|f| {
        if err.is_none() {
            err = writer.write(f).err();
        }
    });
    if let Some(e) = err {
        return Err(e.into());
    }
    writer.finish()?;
    std::fs::rename(&tmp, path)?;
    std::fs::write(path.with_extension("frames"), truth.frames.to_string())?;
    Ok(truth.frames)
}

/// One probe request from each of `n` distinct randomized MACs over an hour.
fn ensure_distinct_capture(path: &PathBuf, n: u32) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    let mut writer = PcapWriter::create(&tmp)?;
    let start_us = 1_717_236_000_000_000i64;
    let models = models();
    for i in 0..n {
        let b = i.to_be_bytes();
        let mac = [0x02, 0x5e, b[0], b[1], b[2], b[3]];
        let model = &models[i as usize % models.len()];
        let bytes = probe_request(
            mac,
            (i % 4096) as u16,
            None,
            model.ies,
            6,
            -40 - (i % 40) as i8,
        );
        let ts_us = start_us + i64::from(i) * 3_600_000_000 / i64::from(n.max(1));
        writer.write(&SimFrame { ts_us, bytes })?;
    }
    writer.finish()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
