//! `cargo xtask`: every project routine from one command, so CI and a person
//! run the same thing.

mod advisories;
mod bench;
mod bench_camera;
mod bench_fleet;
mod bench_reverse;
mod bench_scan;
mod board;
mod deps;
mod doctor;
mod fresh;
mod fuzz;
mod package;
mod payloads;
mod pictures;
mod render;
mod rpi;
mod rpi_virt;
mod tidy;

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
    /// The dependency step: install what the routines need (Debian packages
    /// as root, else the command is printed; rustup components and targets;
    /// cargo tools). Without routines, what `cargo xtask test` needs.
    Deps {
        /// Routines to install for (default: the test command's).
        #[arg(value_enum)]
        routines: Vec<deps::Routine>,
        /// Every routine, the optional ones too.
        #[arg(long, conflicts_with = "routines")]
        all: bool,
        /// Only apt and dpkg (what a bare Debian root can get).
        #[arg(long)]
        debian_only: bool,
    },
    /// List every tool, file and kernel feature the routines need, where
    /// each comes from, and whether it is here; fails when one the given
    /// routines need is missing (default: the test command's).
    Doctor {
        #[arg(value_enum)]
        routines: Vec<deps::Routine>,
        /// Every routine must be complete, the optional ones too.
        #[arg(long, conflicts_with = "routines")]
        all: bool,
        /// Check only what apt and dpkg provide; list the rest as outside.
        #[arg(long)]
        debian_only: bool,
    },
    /// Prove the dependency step on a fresh machine: a bare Debian bookworm
    /// root (mmdebstrap), the same step run inside it, then `doctor` there.
    /// Needs root; the root is removed afterwards.
    FreshMachine {
        /// Routines to prove (default: the test command's).
        #[arg(value_enum)]
        routines: Vec<deps::Routine>,
        /// Every routine, the optional ones too.
        #[arg(long, conflicts_with = "routines")]
        all: bool,
    },
    /// The whole test suite, as CI runs it: set-up, formatting, lints, host
    /// tests, the unit's hardening score, the set-up proven on a bare Debian
    /// root (fresh-machine), then the hil-tests on the emulated board
    /// (cross-build, packages, image, boot).
    Test {
        /// Host checks only: skip the emulated board.
        #[arg(long)]
        no_board: bool,
    },
    /// The architecture invariants (docs/dependencies.md): no serde before
    /// the summary, no anyhow, clap or printing in libraries, the verifier
    /// apart from the daemon, every crate in the code map, unsafe only where
    /// listed. Fails naming each broken one.
    Tidy,
    /// Debian packages (vitrined, vitrine-audit) into target/debian/.
    Package {
        #[arg(long, default_value = "arm64", value_parser = ["arm64", "amd64"])]
        arch: String,
    },
    /// The emulated arm64 board: build its image, or boot it by hand.
    Board {
        #[command(subcommand)]
        command: BoardCmd,
    },
    /// The Raspberry Pi SD-card image (Pi 3, 4, Zero 2 W; arm64) into
    /// target/rpi/vitrine-rpi-arm64.img, cached by its inputs
    /// (docs/rpi-image.md).
    RpiImage {
        /// Also write target/rpi/vitrine-rpi-arm64.img.xz.
        #[arg(long)]
        xz: bool,
        /// Then boot a copy under `qemu-system-aarch64 -M raspi3b` until
        /// systemd has started vitrined, and one under `-M virt` until its
        /// self-audit passed (software emulation: minutes).
        #[arg(long)]
        boot_check: bool,
        /// Longest wait for the boot check, in minutes.
        #[arg(long, default_value_t = 15)]
        boot_timeout_min: u64,
    },
    /// The hil-tests: on the emulated board (built and booted here), or on a
    /// real rig described by a rig file (hil-tests/README.md).
    Hil {
        /// A real rig's file; without it, the emulated board.
        #[arg(long, value_name = "FILE")]
        rig: Option<PathBuf>,
        /// Only scenarios whose name contains this.
        filter: Option<String>,
    },
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
    /// Hash reversal: candidates/s per core of vitrine-reverse next to
    /// `openssl speed`, and the time to exhaust the most common OUIs; writes
    /// target/bench/reverse.md.
    BenchReverse {
        /// OUIs of hashcat's one-mask-per-OUI run (1 to 100); its time is
        /// scaled to 100. At 4 to 8 minutes per digest for all 100, the
        /// default runs the first 10.
        #[arg(long, default_value_t = bench_reverse::HCMASK_OUIS)]
        hcmask_ouis: usize,
    },
    /// Camera: frames/s of the camera stage on one core next to the same
    /// pipeline with OpenCV (PyPI, one thread), on the same 640x480 gray
    /// frames of the dense benchmark scene; writes target/bench/camera.json.
    BenchCamera {
        /// Frames in the clip (written to target/bench, removed after).
        #[arg(long, default_value_t = 2000)]
        frames: u32,
        /// Runs of each side; the fastest counts.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Keep target/bench/camera-bench.y4m.
        #[arg(long)]
        keep_clip: bool,
    },
    /// Fleet: N simulated rigs (the daemon's publishing path, real
    /// summaries, an accelerated clock) through a real mosquitto, restarted
    /// halfway, into PostgreSQL by `vitrine-audit collect` (one partition of
    /// the rigs each): summaries/s, delay, CPU and memory, and nothing lost;
    /// writes target/bench/fleet.md.
    BenchFleet {
        #[arg(long, default_value_t = 1000)]
        rigs: usize,
        /// Windows each rig publishes.
        #[arg(long, default_value_t = 20)]
        windows: u32,
        /// Milliseconds between a rig's windows (each is 5 minutes long).
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        #[arg(long, default_value_t = 2)]
        collectors: u32,
        /// Leave the broker running throughout.
        #[arg(long)]
        no_restart: bool,
        /// Collectors of the debug build (as the test suite leaves it).
        #[arg(long)]
        debug: bool,
        /// Fail unless every summary was stored once and no spool kept any.
        #[arg(long)]
        check: bool,
    },
    /// Canary scan: GB/s of `vitrine-audit scan` (100 canaries, every
    /// encoding) next to `rg -F` with their clear and hex forms, over a
    /// mixed tree; writes target/bench/scan.md.
    BenchScan {
        /// Size of the tree searched, in GB (written once, then reused).
        #[arg(long, default_value_t = 2.2)]
        gb: f64,
    },
    /// The pictures of docs/handbook.md, into docs/handbook/: a real scan
    /// report's page (headless Chromium) and `vitrine-audit tail` beside a
    /// publishing replay (a mosquitto on loopback).
    HandbookPictures,
    /// Device-estimate accuracy against every ground truth at hand: each real
    /// phone alone and the four mixed, the seven lab days per day and pooled
    /// (and per presence threshold), the simulated shops; the naive count
    /// beside each.
    Occupancy,
    /// Train the zstd dictionary shipped for payloads, on simulated summaries only.
    TrainDict,
    /// Bytes per day per rig for plain JSON, zstd, and zstd with the dictionary.
    PayloadSize,
    /// Fuzz a target (cargo fuzz, nightly), seeded from the shared captures:
    /// `frame_parser` (one packet) or `capture_file` (whole pcap and pcapng
    /// files through the pipeline).
    Fuzz {
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        #[arg(long, default_value = "frame_parser", value_parser = ["frame_parser", "capture_file"])]
        target: String,
    },
}

#[derive(Debug, Subcommand)]
enum BoardCmd {
    /// Build (or find cached) the image under target/board/.
    Build,
    /// Boot it with the console on this terminal (log in as root, no
    /// password; Ctrl-A X quits). Installs the arm64 packages first.
    Boot,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The dependency step and the doctor run where no workspace is (a bare
    // root in `fresh-machine`): everything else works in the workspace.
    match cli.command {
        Cmd::Deps {
            routines,
            all,
            debian_only,
        } => {
            let started = std::time::Instant::now();
            deps::install(
                &chosen(&routines, all),
                scope(debian_only),
                workspace().as_deref(),
            )?;
            eprintln!(
                "xtask: dependency step done in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        Cmd::Doctor {
            routines,
            all,
            debian_only,
        } => {
            let report = doctor::report(
                scope(debian_only),
                &chosen(&routines, all),
                workspace().as_deref(),
            );
            print!("{}", report.text);
            if !report.missing.is_empty() {
                bail!("{} required items missing", report.missing.len());
            }
            return Ok(());
        }
        _ => {}
    }
    let root = workspace().context("run from the workspace (cargo xtask ...)")?;
    std::env::set_current_dir(&root)?;
    match cli.command {
        Cmd::Deps { .. } | Cmd::Doctor { .. } => unreachable!("handled above"),
        Cmd::FreshMachine { routines, all } => fresh::run(&root, &chosen(&routines, all)),
        Cmd::Test { no_board } => test(&root, !no_board),
        Cmd::Tidy => tidy::run(&root),
        Cmd::Package { arch } => {
            for deb in package::packages(&root, &arch)? {
                println!("{}", deb.display());
            }
            Ok(())
        }
        Cmd::Board {
            command: BoardCmd::Build,
        } => board::image(&root).map(|i| println!("{}", i.dir.display())),
        Cmd::Board {
            command: BoardCmd::Boot,
        } => {
            let image = board::image(&root)?;
            let board = board::Board::boot(&image, &root.join("target/board/manual"), true)?;
            eprintln!(
                "xtask: booting; from another terminal: ssh {} root@127.0.0.1 (MQTT on 127.0.0.1:{})",
                board::ssh_options(&board.key, board.ssh_port).join(" "),
                board.mqtt_port
            );
            board.wait_exit()
        }
        Cmd::RpiImage {
            xz,
            boot_check,
            boot_timeout_min,
        } => {
            let image = rpi::image(&root, xz)?;
            if boot_check {
                rpi::boot_check(
                    &root,
                    &image,
                    std::time::Duration::from_secs(boot_timeout_min * 60),
                )?;
            }
            println!("{}", image.display());
            Ok(())
        }
        Cmd::Hil { rig, filter } => hil(&root, rig, filter),
        Cmd::Demo { args } => {
            deps::ensure(&[deps::Routine::Build])?;
            deps::offer(&[deps::Routine::Demo]);
            let mut cmd = cargo(&[
                "run",
                "--quiet",
                "--release",
                "-p",
                "vitrined",
                // rumqttd, where mosquitto is not installed.
                "--features",
                "embedded-broker",
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
            deps::ensure(&[deps::Routine::Build, deps::Routine::Bench])?;
            bench::run(&root, frames, distinct_macs, tshark)
        }
        Cmd::BenchReverse { hcmask_ouis } => {
            deps::ensure(&[deps::Routine::Build, deps::Routine::BenchReverse])?;
            bench_reverse::run(&root, hcmask_ouis)
        }
        Cmd::BenchCamera {
            frames,
            runs,
            keep_clip,
        } => {
            deps::ensure(&[deps::Routine::Build, deps::Routine::BenchCamera])?;
            bench_camera::run(&root, frames, runs, keep_clip)
        }
        Cmd::BenchFleet {
            rigs,
            windows,
            interval_ms,
            collectors,
            no_restart,
            debug,
            check,
        } => {
            deps::ensure(&[deps::Routine::Build, deps::Routine::BenchFleet])?;
            let outcome = bench_fleet::run(
                &root,
                &bench_fleet::Options {
                    rigs,
                    windows,
                    interval: std::time::Duration::from_millis(interval_ms),
                    collectors,
                    restart: !no_restart,
                    release: !debug,
                },
            )?;
            if check {
                bench_fleet::check(&outcome)?;
            }
            Ok(())
        }
        Cmd::BenchScan { gb } => {
            deps::ensure(&[deps::Routine::Build, deps::Routine::BenchScan])?;
            bench_scan::run(&root, gb)
        }
        Cmd::HandbookPictures => {
            deps::ensure(&[
                deps::Routine::Build,
                deps::Routine::Demo,
                deps::Routine::Report,
            ])?;
            pictures::run(&root)
        }
        Cmd::Occupancy => occupancy(&root),
        Cmd::Fuzz { seconds, target } => {
            deps::ensure(&[deps::Routine::Fuzz])?;
            fuzz::run(&root, &target, seconds)
        }
        Cmd::TrainDict => payloads::train_dict(&root),
        Cmd::PayloadSize => {
            println!("{}", payloads::bytes_per_day());
            Ok(())
        }
    }
}

fn test(root: &Path, with_board: bool) -> anyhow::Result<()> {
    deps::ensure(if with_board {
        deps::TEST_COMMAND
    } else {
        deps::HOST_CHECKS
    })?;
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
    eprintln!("xtask: advisories (Cargo.lock against crates/xtask/src/advisories.rs)");
    advisories::check(root)?;
    eprintln!("xtask: tidy (architecture invariants, crates/xtask/src/tidy.rs)");
    tidy::run(root)?;
    step("tests", cargo(&["test", "--workspace"]))?;
    // The fleet benchmark, small: 50 rigs, two collectors, PostgreSQL, a
    // broker restart; every summary must be stored once.
    eprintln!("xtask: bench-fleet, small (crates/xtask/src/bench_fleet.rs)");
    bench_fleet::check(&bench_fleet::run(
        root,
        &bench_fleet::Options {
            rigs: 50,
            windows: 6,
            interval: std::time::Duration::from_secs(1),
            collectors: 2,
            restart: true,
            release: false,
        },
    )?)?;
    unit_security(root)?;
    if with_board {
        // The step above, proven again on a bare Debian root (about 1.5 min).
        fresh::run(root, deps::TEST_COMMAND)?;
        hil(root, None, None)?;
        // The Raspberry Pi image under -M raspi3b: a refused first boot,
        // then a good one; then under -M virt with simulated radios, where
        // its self-audit must pass.
        let image = rpi::image(root, false)?;
        rpi::boot_check(root, &image, std::time::Duration::from_secs(15 * 60))?;
    }
    eprintln!("xtask: all checks passed");
    Ok(())
}

/// Most exposure `systemd-analyze security` may give the daemon's unit
/// (0 best, 10 worst).
const UNIT_EXPOSURE_MAX: &str = "2.0";

fn unit_security(root: &Path) -> anyhow::Result<()> {
    let unit = root.join("systemd/vitrined.service");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        // The threshold is in tenths.
        .arg(format!(
            "--threshold={}",
            UNIT_EXPOSURE_MAX.replace('.', "")
        ))
        .arg(&unit)
        .output()
        .context("running systemd-analyze")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let score = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("no score");
    eprintln!(
        "xtask: unit hardening: {}",
        score.trim_start_matches('→').trim()
    );
    if !out.status.success() {
        bail!(
            "{} scores above {UNIT_EXPOSURE_MAX}:\n{text}",
            unit.display()
        );
    }
    Ok(())
}

/// Runs the hil-tests on `rig`, or on the emulated board.
fn hil(root: &Path, rig: Option<PathBuf>, filter: Option<String>) -> anyhow::Result<()> {
    let debs = package::packages(root, "arm64")?;
    let mut board = None;
    let rig = match rig {
        Some(r) => r
            .canonicalize()
            .with_context(|| format!("rig file {}", r.display()))?,
        None => {
            let image = board::image(root)?;
            let work = root.join("target/board/run");
            let mut b = board::Board::boot(&image, &work, false)?;
            let up = b.wait_ready(std::time::Duration::from_secs(600))?;
            eprintln!(
                "xtask: board up in {:.0} s (console: {})",
                up.as_secs_f64(),
                b.console.display()
            );
            let file = work.join("rig.toml");
            b.rig_file(&file)?;
            board = Some(b);
            file
        }
    };
    let mut cmd = cargo(&[
        "test",
        "-p",
        "vitrine-hil-tests",
        "--",
        "--ignored",
        "--test-threads=1",
        "--nocapture",
    ]);
    if let Some(f) = filter {
        cmd.arg(f);
    }
    cmd.env("VITRINE_RIG", &rig).env(
        "VITRINE_DEBS",
        debs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":"),
    );
    let result = step("hil-tests", cmd);
    if let Some(b) = board {
        b.shutdown()?;
    }
    result
}

/// The device estimate against every ground truth at hand, the naive
/// address count beside it: each real phone alone and the four mixed into
/// one room, the seven lab days per day and pooled (and how the presence
/// threshold matters there), and the simulated shops. Markdown on stdout,
/// as docs/estimator.md quotes it.
fn occupancy(root: &Path) -> anyhow::Result<()> {
    use vitrine_wifi_aggregate::Config;
    use vitrined::eval;
    let shared = shared(root)?;
    let captures = shared.join("captures");
    let tool = shared.join("tools/mix_phones.py");
    let work = root.join("target/occupancy");
    std::fs::create_dir_all(&work)?;
    let cfg = |window_s| Config {
        window_s,
        ..Config::default()
    };
    let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");

    println!("## Each phone alone (`mix_phones.py` on its file only)\n");
    println!("| phone | per 5 min: estimate (naive) | whole capture: estimate (naive) |");
    println!("|---|---|---|");
    let mut phones: Vec<PathBuf> = std::fs::read_dir(captures.join("phones"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    phones.sort();
    for phone in &phones {
        let name = phone.file_stem().unwrap_or_default().to_string_lossy();
        let name = name.split('_').next().unwrap_or_default().to_owned();
        let src = work.join(&name);
        let _ = std::fs::remove_dir_all(&src);
        std::fs::create_dir_all(&src)?;
        std::os::unix::fs::symlink(phone, src.join(phone.file_name().unwrap_or_default()))?;
        let mut cells = Vec::new();
        for window_s in [300, 86_400] {
            let out = work.join(format!("{name}-{window_s}.pcap"));
            eval::mix_phones(&tool, &src, &out, 7, window_s)?;
            let w: Vec<_> = eval::window_devices(&out, cfg(window_s))?
                .into_iter()
                .filter(|w| w.probes > 0)
                .collect();
            let est: Vec<u64> = w.iter().map(|w| w.estimated).collect();
            let naive: Vec<u64> = w.iter().map(|w| w.distinct).collect();
            cells.push(format!("{} ({})", list(&est), list(&naive)));
        }
        println!("| {name} | {} | {} |", cells[0], cells[1]);
    }

    println!("\n## The four phones in one room (`mix_phones.py`, seed 7)\n");
    println!("| window | phones probing | estimate | naive |");
    println!("|---|---|---|---|");
    for window_s in [300, 86_400] {
        let out = work.join(format!("mix-{window_s}.pcap"));
        let truth = eval::mix_phones(&tool, &captures.join("phones"), &out, 7, window_s)?;
        for w in eval::window_devices(&out, cfg(window_s))?
            .iter()
            .filter(|w| w.probes > 0)
        {
            let label = if window_s == 300 {
                format!("{} (5 min)", w.start_s)
            } else {
                "whole mix (one window)".to_owned()
            };
            let phones = if window_s == 300 {
                truth.per_window.get(&w.start_s).copied().unwrap_or(0)
            } else {
                truth.phones
            };
            println!("| {label} | {phones} | {} | {} |", w.estimated, w.distinct);
        }
    }

    println!("\n## Lab days (occupancy, 5-minute windows, defaults)\n");
    let three = captures.join("lab-occupancy");
    let four = captures.join("lab-occupancy-more");
    let a = eval::occupancy_accuracy(&[&three, &four], cfg(300))?;
    println!("| day | windows | MAPE devices.estimated | MAPE distinct MACs |");
    println!("|---|---|---|---|");
    let pct = |v: f64| {
        if v.is_nan() {
            "-".to_owned()
        } else {
            format!("{:.0} %", v * 100.0)
        }
    };
    for d in a.days.iter().chain([&a.pooled]) {
        println!(
            "| {} | {} | {} | {} |",
            d.day,
            d.windows,
            pct(d.estimate),
            pct(d.naive)
        );
    }
    println!("| median of the days | | {} | |", pct(a.median_of_days()));

    println!("\n### The presence threshold (seven days pooled)\n");
    println!(
        "| presence threshold (dBm) | windows | MAPE devices.estimated | median of the days | MAPE distinct MACs |"
    );
    println!("|---|---|---|---|---|");
    for thr in [-128i8, -95, -90, -88, -85, -82, -80, -75, -70] {
        let a = eval::occupancy_accuracy(
            &[&three, &four],
            Config {
                presence_rssi_dbm: thr,
                ..cfg(300)
            },
        )?;
        let label = match thr {
            -128 => "none".to_string(),
            t if t == Config::default().presence_rssi_dbm => format!("**{t} (default)**"),
            t => t.to_string(),
        };
        println!(
            "| {label} | {} | {} | {} | {} |",
            a.pooled.windows,
            pct(a.pooled.estimate),
            pct(a.median_of_days()),
            pct(a.pooled.naive)
        );
    }

    println!("\n## Simulated shops (30 minutes, 5-minute windows)\n");
    println!("| shop | probe variants | MAPE devices.estimated | MAPE distinct MACs |");
    println!("|---|---|---|---|");
    for (name, sim) in [
        ("quiet", vitrine_sim::SimConfig::quiet_store()),
        ("busy", vitrine_sim::SimConfig::busy_store()),
    ] {
        for variants in [false, true] {
            let sim = vitrine_sim::SimConfig {
                duration_s: 30 * 60,
                ..sim.clone()
            };
            let mut simulator = vitrine_sim::Simulator::new(sim);
            if variants {
                simulator = simulator.with_probe_variants();
            }
            let (frames, truth) = simulator.run();
            let mut stage = vitrine_wifi_capture::CaptureStage::new(
                vitrine_privacy::RotationPolicy::default(),
                vitrine_privacy::IgnoreList::default(),
            );
            let mut summaries = Vec::new();
            let (_, result) = vitrined::run(
                &mut vitrined::demo::SimSource::new(frames),
                &mut stage,
                cfg(300),
                &mut |s| summaries.push(s),
            );
            result?;
            let (est, naive) = vitrined::demo::estimate_error(&summaries, &truth, 300);
            let v = if variants { "yes" } else { "no" };
            println!("| {name} | {v} | {} | {} |", pct(est), pct(naive));
        }
    }
    Ok(())
}

/// The workspace root, where it was built; `None` where the binary was
/// copied to a machine without it.
fn workspace() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .ok()
        .filter(|root| root.join("Cargo.toml").is_file())
}

/// The routines a command was given, or by default the test command's.
fn chosen(routines: &[deps::Routine], all: bool) -> Vec<deps::Routine> {
    if all {
        deps::Routine::ALL.to_vec()
    } else if routines.is_empty() {
        deps::TEST_COMMAND.to_vec()
    } else {
        routines.to_vec()
    }
}

fn scope(debian_only: bool) -> deps::Scope {
    if debian_only {
        deps::Scope::Debian
    } else {
        deps::Scope::All
    }
}

/// `../shared` beside the repository: test data that stays outside it.
fn shared(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("../shared");
    if !dir.is_dir() {
        bail!("the shared test data is expected at {}", dir.display());
    }
    Ok(dir)
}

/// The cargo that runs the xtask, else the one on PATH.
fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(cargo_program());
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
