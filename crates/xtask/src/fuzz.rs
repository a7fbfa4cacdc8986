//! `cargo fuzz` on the frame parser, seeded with every packet of the shared captures.

use std::path::Path;

use anyhow::Context;
use vitrine_capture::{FrameSource, PcapFile};

pub fn run(root: &Path, seconds: u64) -> anyhow::Result<()> {
    if !super::on_path_cargo_fuzz() {
        eprintln!("xtask: installing cargo-fuzz");
        super::run(super::cargo(&["install", "cargo-fuzz", "--locked"]).current_dir("/"))?;
    }
    let corpus = root.join("fuzz/corpus/frame_parser");
    std::fs::create_dir_all(&corpus)?;
    let mut seeds = 0;
    for entry in walk(&super::shared(root)?.join("captures"))? {
        if entry.extension().is_some_and(|e| e == "pcap") {
            let mut src = PcapFile::open(&entry)?;
            // A sample is enough to seed every structure the captures hold.
            let mut i = 0u32;
            while let Some(p) = src.next_packet()? {
                if i.is_multiple_of(50) {
                    let name = format!(
                        "{}-{i}",
                        entry.file_stem().unwrap_or_default().to_string_lossy()
                    );
                    std::fs::write(corpus.join(name), p.data)?;
                    seeds += 1;
                }
                i += 1;
            }
        }
    }
    eprintln!("xtask: {seeds} seeds from the shared captures; fuzzing for {seconds} s");
    let mut cmd = std::process::Command::new("cargo");
    cmd.current_dir(root.join("fuzz"))
        .args([
            "+nightly",
            "fuzz",
            "run",
            "frame_parser",
            "corpus/frame_parser",
            "--",
        ])
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1");
    super::run(&mut cmd).context("fuzzing found a failure (see fuzz/artifacts/)")
}

fn walk(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
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
