//! `cargo fuzz` on the frame parser and on whole capture files, seeded from
//! the shared captures.

use std::path::{Path, PathBuf};

use anyhow::Context;
use vitrine_wifi_capture::{FrameSource, PcapFile};

/// Nightly, cargo-fuzz, a C++ compiler and editcap (for the whole-file
/// seeds) come from the dependency step (`Routine::Fuzz`).
pub fn run(root: &Path, target: &str, seconds: u64) -> anyhow::Result<()> {
    let corpus = root.join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    let captures = walk(&super::shared(root)?.join("captures"))?;
    let seeds = match target {
        "capture_file" => seed_files(&captures, &corpus)?,
        _ => seed_packets(&captures, &corpus)?,
    };
    eprintln!("xtask: {seeds} seeds from the shared captures; fuzzing {target} for {seconds} s");
    let mut cmd = std::process::Command::new("cargo");
    cmd.current_dir(root.join("fuzz"))
        .args(["+nightly", "fuzz", "run", target])
        .arg(format!("corpus/{target}"))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1");
    if target == "capture_file" {
        // Whole files: room for a header and a few dozen packets.
        cmd.arg("-max_len=16384");
    }
    super::run(&mut cmd).context("fuzzing found a failure (see fuzz/artifacts/)")
}

/// Every 50th packet, alone: a sample is enough to seed every structure.
fn seed_packets(captures: &[PathBuf], corpus: &Path) -> anyhow::Result<usize> {
    let mut seeds = 0;
    for entry in captures.iter().filter(|p| is_pcap(p)) {
        let mut src = PcapFile::open(entry)?;
        let mut i = 0u32;
        while let Some(p) = src.next_packet()? {
            if i.is_multiple_of(50) {
                std::fs::write(corpus.join(format!("{}-{i}", stem(entry))), p.data)?;
                seeds += 1;
            }
            i += 1;
        }
    }
    Ok(seeds)
}

/// The head of each capture (its header and first packets), as pcap and,
/// through editcap, as pcapng; and the same heads cut by a small snaplen.
fn seed_files(captures: &[PathBuf], corpus: &Path) -> anyhow::Result<usize> {
    let mut seeds = 0;
    let head = corpus.with_file_name(".head.pcap");
    for entry in captures.iter().filter(|p| is_pcap(p)) {
        // editcap -r keeps the packets in a range: the first 30.
        let ok = std::process::Command::new("editcap")
            .args(["-r"])
            .arg(entry)
            .arg(&head)
            .arg("1-30")
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            anyhow::bail!("editcap (wireshark-common) is needed to seed capture_file");
        }
        for (name, args) in [
            ("pcap", &[][..]),
            ("pcapng", &["-F", "pcapng"][..]),
            ("cut", &["-s", "80"][..]),
            ("pcapng-cut", &["-F", "pcapng", "-s", "80"][..]),
        ] {
            let out = corpus.join(format!("{}-{name}", stem(entry)));
            let status = std::process::Command::new("editcap")
                .args(args)
                .arg(&head)
                .arg(&out)
                .status()?;
            anyhow::ensure!(status.success(), "editcap failed on {}", entry.display());
            seeds += 1;
        }
    }
    std::fs::remove_file(&head)?;
    Ok(seeds)
}

fn is_pcap(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "pcap")
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            out.extend(walk(&p)?);
        } else {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}
