//! `cargo xtask`: every project routine from one command, so CI and a person
//! run the same thing.

mod bench;
mod deps;
mod fuzz;
mod payloads;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Vitrine's project automation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Install what the tests need (Debian packages), or print the command.
    Deps,
    /// The whole test suite, as CI runs it: set-up, formatting, lints, tests.
    Test,
    /// The demo: simulated store traffic through the real pipeline.
    Demo {
        /// Arguments passed on to `vitrined demo`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Throughput and memory next to tshark and tcpdump; writes target/bench/report.md.
    Bench {
        /// Frames in the throughput capture (built from the simulator).
        #[arg(long, default_value_t = 1_200_000)]
        frames: u64,
        /// Distinct MACs in the memory capture (one key epoch).
        #[arg(long, default_value_t = 1_000_000)]
        distinct_macs: u32,
        /// Also time tshark, which takes a minute on a million frames.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        tshark: bool,
    },
    /// Device-estimate accuracy on the lab-occupancy captures, for several presence thresholds.
    Occupancy,
    /// Train the zstd dictionary shipped for payloads, on simulated summaries only.
    TrainDict,
    /// Bytes per day per rig for plain JSON, zstd, and zstd with the dictionary.
    PayloadSize,
    /// Fuzz the frame parser (cargo fuzz, nightly), seeded with the shared captures.
    Fuzz {
        #[arg(long, default_value_t = 600)]
        seconds: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = root();
    std::env::set_current_dir(&root)?;
    match cli.command {
        Cmd::Deps => deps::ensure(deps::TEST_PACKAGES),
        Cmd::Test => test(),
        Cmd::Demo { args } => {
            deps::offer(deps::DEMO_PACKAGES);
            let mut cmd = cargo(&[
                "run",
                "--quiet",
                "--release",
                "-p",
                "vitrined",
                "--",
                "demo",
            ]);
            cmd.args(args);
            run(&mut cmd)
        }
        Cmd::Bench {
            frames,
            distinct_macs,
            tshark,
        } => {
            deps::ensure(deps::BENCH_PACKAGES)?;
            bench::run(&root, frames, distinct_macs, tshark)
        }
        Cmd::Occupancy => occupancy(&root),
        Cmd::Fuzz { seconds } => fuzz::run(&root, seconds),
        Cmd::TrainDict => payloads::train_dict(&root),
        Cmd::PayloadSize => {
            println!("{}", payloads::bytes_per_day());
            Ok(())
        }
    }
}

fn test() -> anyhow::Result<()> {
    deps::ensure(deps::TEST_PACKAGES)?;
    step("formatting", cargo(&["fmt", "--all", "--check"]))?;
    step(
        "lints",
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step("tests", cargo(&["test", "--workspace"]))?;
    eprintln!("xtask: all checks passed");
    Ok(())
}

fn occupancy(root: &Path) -> anyhow::Result<()> {
    let dir = shared(root)?.join("captures/lab-occupancy");
    println!(
        "| presence threshold (dBm) | windows | MAPE devices.estimated | MAPE distinct MACs |"
    );
    println!("|---|---|---|---|");
    for thr in [-128i8, -90, -85, -80, -75, -70] {
        let cfg = vitrine_aggregate::Config {
            window_s: 300,
            presence_rssi_dbm: thr,
            ..Default::default()
        };
        let (est, naive, n) = vitrined::eval::occupancy_mape(&dir, cfg)?;
        let label = if thr == -128 {
            "none".to_string()
        } else {
            thr.to_string()
        };
        println!(
            "| {label} | {n} | {:.0} % | {:.0} % |",
            est * 100.0,
            naive * 100.0
        );
    }
    Ok(())
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace exists")
}

/// `../shared` beside the repository: test data that stays outside it.
fn shared(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("../shared");
    if !dir.is_dir() {
        bail!("the shared test data is expected at {}", dir.display());
    }
    Ok(dir)
}

fn on_path_cargo_fuzz() -> bool {
    Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args);
    cmd
}

fn step(name: &str, mut cmd: Command) -> anyhow::Result<()> {
    eprintln!("xtask: {name}: {cmd:?}");
    run(&mut cmd).with_context(|| format!("{name} failed"))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} exited with {status}");
    }
    Ok(())
}
