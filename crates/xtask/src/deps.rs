//! What every routine needs from outside the repository, in one table
//! ([`REQUIREMENTS`]), and the dependency step that installs it: Debian
//! packages (as root; otherwise the exact command is printed), rustup
//! components and targets, cargo-installed tools. `cargo xtask doctor`
//! reports on the same table (`doctor.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A project routine: a group of requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Routine {
    /// Compiling the workspace (every routine below).
    Build,
    /// `cargo xtask demo`.
    Demo,
    /// Formatting, lints, host tests and the unit's hardening score.
    TestHost,
    /// arm64 packages for the board and for rigs (`cargo xtask package`).
    Cross,
    /// The emulated board: image build, boot, hil-tests.
    Board,
    /// The Raspberry Pi SD-card image and its boot check (`cargo xtask rpi-image`).
    Rpi,
    /// `cargo xtask fresh-machine`.
    FreshMachine,
    /// `cargo xtask bench`.
    Bench,
    /// `cargo xtask bench-reverse`.
    BenchReverse,
    /// `cargo xtask bench-scan`.
    BenchScan,
    /// `cargo xtask bench-camera`.
    BenchCamera,
    /// `cargo xtask bench-fleet`.
    BenchFleet,
    /// HTML report pages to PNG (bench-scan, documentation).
    Report,
    /// `cargo xtask occupancy`.
    Occupancy,
    /// `cargo xtask fuzz`.
    Fuzz,
}

impl Routine {
    pub const ALL: &[Routine] = &[
        Routine::Build,
        Routine::Demo,
        Routine::TestHost,
        Routine::Cross,
        Routine::Board,
        Routine::Rpi,
        Routine::FreshMachine,
        Routine::Bench,
        Routine::BenchReverse,
        Routine::BenchScan,
        Routine::BenchCamera,
        Routine::BenchFleet,
        Routine::Report,
        Routine::Occupancy,
        Routine::Fuzz,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Routine::Build => "build",
            Routine::Demo => "demo",
            Routine::TestHost => "test-host",
            Routine::Cross => "cross",
            Routine::Board => "board",
            Routine::Rpi => "rpi",
            Routine::FreshMachine => "fresh-machine",
            Routine::Bench => "bench",
            Routine::BenchReverse => "bench-reverse",
            Routine::BenchScan => "bench-scan",
            Routine::BenchCamera => "bench-camera",
            Routine::BenchFleet => "bench-fleet",
            Routine::Report => "report",
            Routine::Occupancy => "occupancy",
            Routine::Fuzz => "fuzz",
        }
    }
}

/// What `cargo xtask test` runs: the dependency step installs these, and
/// `doctor` fails when one of their items is missing.
pub const TEST_COMMAND: &[Routine] = &[
    Routine::Build,
    Routine::TestHost,
    Routine::Cross,
    Routine::Board,
    Routine::Rpi,
    Routine::FreshMachine,
];

/// What `cargo xtask test --no-board` runs.
pub const HOST_CHECKS: &[Routine] = &[Routine::Build, Routine::TestHost];

/// How the presence of a requirement is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check<'a> {
    /// A program on PATH (as the code runs it, by name).
    Command(&'a str),
    /// A file, by absolute path (as the code or a tool opens it).
    File(&'a str),
    /// A foreign dpkg architecture.
    Arch(&'a str),
    /// A file system the running kernel supports (/proc/filesystems).
    Filesystem(&'a str),
    /// `cargo SUB --version` succeeds (a rustup component's cargo command).
    CargoSubcommand(&'a str),
    /// The active toolchain has the standard library of this target.
    RustTarget(&'a str),
    /// rustup has this toolchain.
    RustupToolchain(&'a str),
    /// A directory of `../shared` beside the workspace.
    Shared(&'a str),
}

/// Where a requirement comes from, and so how the dependency step gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Debian package (`name:arch` for a foreign architecture).
    Deb(&'static str),
    /// `dpkg --add-architecture`.
    DpkgArch(&'static str),
    /// rustup itself with the stable toolchain (https://rustup.rs): the one
    /// thing installed by hand.
    Rustup,
    RustupComponent(&'static str),
    RustupTarget(&'static str),
    RustupToolchain(&'static str),
    /// `cargo install --locked`.
    CargoInstall(&'static str),
    /// The running kernel.
    Kernel,
    /// Test data kept beside the repository, never in it.
    SharedData,
}

impl Source {
    /// Installed with apt and dpkg: the part of the dependency step a bare
    /// Debian root can prove.
    pub fn is_debian(self) -> bool {
        matches!(self, Source::Deb(_) | Source::DpkgArch(_))
    }

    pub fn describe(self) -> String {
        match self {
            Source::Deb(p) => format!("deb {p}"),
            Source::DpkgArch(a) => format!("dpkg --add-architecture {a}"),
            Source::Rustup => "rustup (stable), by hand".into(),
            Source::RustupComponent(c) => format!("rustup component {c}"),
            Source::RustupTarget(t) => format!("rustup target {t}"),
            Source::RustupToolchain(t) => format!("rustup toolchain {t}"),
            Source::CargoInstall(c) => format!("cargo install {c}"),
            Source::Kernel => "kernel".into(),
            Source::SharedData => "../shared beside the repository".into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Requirement {
    pub check: Check<'static>,
    pub source: Source,
    pub routines: &'static [Routine],
    /// Who uses it, and for what.
    pub why: &'static str,
}

const fn req(
    check: Check<'static>,
    source: Source,
    routines: &'static [Routine],
    why: &'static str,
) -> Requirement {
    Requirement {
        check,
        source,
        routines,
        why,
    }
}

use Check::{Arch, CargoSubcommand, Command as Cmd, File, Filesystem, RustTarget, Shared};
use Routine::*;
use Source::{CargoInstall, Deb, DpkgArch, Kernel, RustupComponent, RustupTarget, SharedData};

/// Every tool, file and kernel feature the routines use, once. Packages are
/// installed with `--no-install-recommends`, so a Recommends the code
/// relies on is a row of its own (libc6-dev, libc6-dev-arm64-cross,
/// arch-test, ipxe-qemu).
pub const REQUIREMENTS: &[Requirement] = &[
    // Build.
    req(
        Cmd("cargo"),
        Source::Rustup,
        &[Build],
        "the stable toolchain (rustc, cargo)",
    ),
    req(
        Cmd("cc"),
        Deb("gcc"),
        &[Build],
        "links Rust programs; compiles the C in zstd, blake3, SQLite, ring",
    ),
    req(
        File("/usr/include/stdio.h"),
        Deb("libc6-dev"),
        &[Build],
        "C headers and start files (a Recommends of gcc)",
    ),
    req(
        File("/usr/include/pcap/pcap.h"),
        Deb("libpcap-dev"),
        &[Build],
        "live capture in vitrined and vitrine-audit",
    ),
    req(
        Cmd("pkg-config"),
        Deb("pkg-config"),
        &[Build],
        "finds libpcap (host and arm64)",
    ),
    req(
        File("/usr/lib/llvm-14/lib/libclang.so"),
        Deb("libclang-dev"),
        &[Build],
        "bindgen (through the v4l crate) generates the V4L2 bindings of vitrine-camera-capture",
    ),
    req(
        File("/usr/include/linux/videodev2.h"),
        Deb("linux-libc-dev"),
        &[Build],
        "the kernel's V4L2 header those bindings are generated from",
    ),
    req(
        File("/etc/ssl/certs/ca-certificates.crt"),
        Deb("ca-certificates"),
        &[Build],
        "cargo fetches crates over HTTPS",
    ),
    // Demo and host tests.
    req(
        File("/usr/sbin/mosquitto"),
        Deb("mosquitto"),
        &[Demo, TestHost, Rpi, BenchFleet],
        "the broker of MQTT tests; the demo's (else rumqttd, embedded); the Pi image's self-audit boot",
    ),
    req(
        // A package of dependencies only (the default server version):
        // its documentation link is its file.
        File("/usr/share/doc/postgresql"),
        Deb("postgresql"),
        &[TestHost, BenchFleet],
        "the fleet collector's PostgreSQL, a private server per test or benchmark \
         (testkit/src/postgres.rs; initdb and pg_ctl as user postgres under root)",
    ),
    req(
        Cmd("runuser"),
        Deb("util-linux"),
        &[TestHost, BenchFleet],
        "runs PostgreSQL's programs as user postgres (it refuses root)",
    ),
    req(
        Cmd("prlimit"),
        Deb("util-linux"),
        &[TestHost, BenchFleet],
        "raises bench-fleet's open-file limit (a socket per rig)",
    ),
    req(
        Cmd("mosquitto_passwd"),
        Deb("mosquitto"),
        &[TestHost],
        "a broker that requires a password",
    ),
    req(
        Cmd("mosquitto_sub"),
        Deb("mosquitto-clients"),
        &[TestHost, Rpi],
        "the subscriber of MQTT tests and of the Pi image's self-audit boot",
    ),
    req(
        Cmd("mosquitto_pub"),
        Deb("mosquitto-clients"),
        &[TestHost],
        "the leaky-vendor fixture's publisher",
    ),
    req(
        Cmd("tshark"),
        Deb("tshark"),
        &[TestHost, Bench],
        "counts compared with tshark's",
    ),
    req(
        Cmd("editcap"),
        Deb("wireshark-common"),
        &[TestHost, Fuzz],
        "pcapng and cut copies of real captures (tests, fuzzing seeds)",
    ),
    req(
        Cmd("zstd"),
        Deb("zstd"),
        &[TestHost],
        "payloads decoded by the reference tool",
    ),
    req(
        Cmd("ffmpeg"),
        Deb("ffmpeg"),
        &[TestHost],
        "the real camera clip decoded to YUV4MPEG2, as users do",
    ),
    req(
        Cmd("openssl"),
        Deb("openssl"),
        &[TestHost, BenchReverse],
        "certificates for TLS brokers; `openssl speed`",
    ),
    req(
        Cmd("systemd-analyze"),
        Deb("systemd"),
        &[TestHost],
        "the daemon unit's hardening score",
    ),
    req(
        File("/usr/share/ieee-data/oui.csv"),
        Deb("ieee-data"),
        &[TestHost, BenchReverse, Report],
        "vendor names and hash reversal; the handbook's canaries",
    ),
    req(
        Cmd("stdbuf"),
        Deb("coreutils"),
        &[TestHost],
        "line-buffered mosquitto_sub",
    ),
    req(
        Cmd("kill"),
        Deb("procps"),
        &[TestHost],
        "stops a broker as an administrator would",
    ),
    req(
        CargoSubcommand("fmt"),
        RustupComponent("rustfmt"),
        &[TestHost],
        "the formatting step",
    ),
    req(
        CargoSubcommand("clippy"),
        RustupComponent("clippy"),
        &[TestHost],
        "the lints step",
    ),
    req(
        Shared("captures"),
        SharedData,
        &[TestHost, Occupancy, Fuzz],
        "real captures: tests, accuracy, fuzzing seeds",
    ),
    // Cross-building for arm64.
    req(
        Cmd("rustup"),
        Source::Rustup,
        &[Cross, Fuzz],
        "adds the arm64 target, the nightly toolchain",
    ),
    req(
        RustTarget("aarch64-unknown-linux-gnu"),
        RustupTarget("aarch64-unknown-linux-gnu"),
        &[Cross],
        "the arm64 standard library",
    ),
    req(
        Arch("arm64"),
        DpkgArch("arm64"),
        &[Cross],
        "arm64 -dev packages beside the host's",
    ),
    req(
        Cmd("aarch64-linux-gnu-gcc"),
        Deb("gcc-aarch64-linux-gnu"),
        &[Cross],
        "arm64 linker and C compiler",
    ),
    req(
        File("/usr/aarch64-linux-gnu/include/stdio.h"),
        Deb("libc6-dev-arm64-cross"),
        &[Cross],
        "arm64 C library (a Recommends of gcc-aarch64-linux-gnu)",
    ),
    req(
        File("/usr/lib/aarch64-linux-gnu/libpcap.so"),
        Deb("libpcap-dev:arm64"),
        &[Cross],
        "arm64 libpcap to link against",
    ),
    req(
        File("/usr/aarch64-linux-gnu/include/linux/videodev2.h"),
        Deb("linux-libc-dev-arm64-cross"),
        &[Cross],
        "arm64 kernel headers: bindgen, given the target, finds them beside the cross gcc",
    ),
    req(
        Cmd("dpkg-deb"),
        Deb("dpkg"),
        &[Cross],
        "assembles the .deb packages",
    ),
    req(
        Cmd("dpkg-shlibdeps"),
        Deb("dpkg-dev"),
        &[Cross],
        "the packages' shared-library Depends",
    ),
    req(
        Cmd("aarch64-linux-gnu-objdump"),
        Deb("binutils-aarch64-linux-gnu"),
        &[Cross],
        "dpkg-shlibdeps reads arm64 binaries with it; strip",
    ),
    req(
        Cmd("qemu-aarch64-static"),
        Deb("qemu-user-static"),
        &[Cross],
        "runs the arm64 binaries to write their man pages and completions",
    ),
    req(
        Cmd("lintian"),
        Deb("lintian"),
        &[Cross],
        "checks the packages (errors fail `cargo xtask package`)",
    ),
    // The emulated board.
    req(
        Cmd("mmdebstrap"),
        Deb("mmdebstrap"),
        &[Board, Rpi, FreshMachine],
        "builds the board and Pi images; the fresh-machine root",
    ),
    req(
        Cmd("arch-test"),
        Deb("arch-test"),
        &[Board, Rpi],
        "mmdebstrap's foreign-architecture support (a Recommends)",
    ),
    req(
        File("/usr/lib/binfmt.d/qemu-aarch64.conf"),
        Deb("qemu-user-static"),
        &[Board, Rpi],
        "runs the image's arm64 maintainer scripts; its binfmt entry",
    ),
    req(
        Filesystem("binfmt_misc"),
        Kernel,
        &[Board, Rpi],
        "`board build` mounts it and registers qemu-aarch64 there",
    ),
    req(
        Cmd("mount"),
        Deb("mount"),
        &[Board, Rpi],
        "mounts binfmt_misc",
    ),
    req(
        Cmd("qemu-system-aarch64"),
        Deb("qemu-system-arm"),
        &[Board, Rpi],
        "boots the board; the Pi image's boot check (-M raspi3b)",
    ),
    req(
        File("/usr/lib/ipxe/qemu/efi-virtio.rom"),
        Deb("ipxe-qemu"),
        &[Board],
        "virtio-net-pci's ROM (a Recommends of qemu-system-arm)",
    ),
    req(
        Cmd("qemu-img"),
        Deb("qemu-utils"),
        &[Board],
        "the qcow2 disk and its overlays",
    ),
    req(
        Cmd("mke2fs"),
        Deb("e2fsprogs"),
        &[Board, Rpi],
        "the ext4 root disk; the Pi image's root and data partitions",
    ),
    req(
        Cmd("sfdisk"),
        Deb("fdisk"),
        &[Rpi],
        "the Pi image's partition table (MBR)",
    ),
    req(
        Cmd("mkfs.vfat"),
        Deb("dosfstools"),
        &[Rpi],
        "the Pi image's FAT32 boot partition",
    ),
    req(
        Cmd("mcopy"),
        Deb("mtools"),
        &[Rpi],
        "fills the FAT boot partition and reads it back, without mounting",
    ),
    req(
        Cmd("xz"),
        Deb("xz-utils"),
        &[Rpi],
        "the compressed image (`rpi-image --xz`)",
    ),
    req(
        Cmd("ssh"),
        Deb("openssh-client"),
        &[Board],
        "reaches the board (hil-tests)",
    ),
    req(
        Cmd("ssh-keygen"),
        Deb("openssh-client"),
        &[Board],
        "the board's login key",
    ),
    // Benchmarks.
    req(
        Cmd("tcpdump"),
        Deb("tcpdump"),
        &[Bench],
        "throughput compared with tcpdump's",
    ),
    req(
        Cmd("taskset"),
        Deb("util-linux"),
        &[Bench, BenchReverse, BenchScan, BenchCamera],
        "pins a run to one core",
    ),
    req(
        File("/usr/bin/python3"),
        Deb("python3"),
        &[BenchCamera],
        "runs OpenCV's side of the camera benchmark",
    ),
    req(
        // A package of dependencies only: its documentation link is its file.
        File("/usr/share/doc/python3-venv"),
        Deb("python3-venv"),
        &[BenchCamera],
        "the camera benchmark's venv (target/bench/camera-venv), where it pip-installs \
         opencv-python-headless==5.1.0.95 and numpy==2.4.6 from PyPI",
    ),
    req(
        Cmd("hashcat"),
        Deb("hashcat"),
        &[BenchReverse],
        "hash reversal compared with hashcat's",
    ),
    req(
        File("/etc/OpenCL/vendors/pocl.icd"),
        Deb("pocl-opencl-icd"),
        &[BenchReverse],
        "hashcat's OpenCL device on the CPU",
    ),
    req(
        File("/usr/lib/x86_64-linux-gnu/libOpenCL.so.1"),
        Deb("ocl-icd-libopencl1"),
        &[BenchReverse],
        "the OpenCL loader: hashcat finds no OpenCL platform without it, and neither it nor pocl-opencl-icd depends on it",
    ),
    req(
        Cmd("rg"),
        Deb("ripgrep"),
        &[BenchScan],
        "the scan compared with ripgrep",
    ),
    req(
        File("/usr/bin/time"),
        Deb("time"),
        &[BenchScan],
        "peak memory (GNU time)",
    ),
    // Report rendering.
    req(
        Cmd("chromium"),
        Deb("chromium"),
        &[Report, BenchScan],
        "headless screenshots of report pages",
    ),
    req(
        File("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Deb("fonts-dejavu-core"),
        &[Report, BenchScan],
        "a font for Chromium to draw text with",
    ),
    // Fuzzing.
    req(
        Check::RustupToolchain("nightly"),
        Source::RustupToolchain("nightly"),
        &[Fuzz],
        "cargo fuzz needs nightly",
    ),
    req(
        Cmd("cargo-fuzz"),
        CargoInstall("cargo-fuzz"),
        &[Fuzz],
        "runs the fuzz targets",
    ),
    req(
        Cmd("c++"),
        Deb("g++"),
        &[Fuzz],
        "compiles libFuzzer (libfuzzer-sys)",
    ),
];

/// The rows any of `routines` needs.
pub fn needed(routines: &[Routine]) -> impl Iterator<Item = &'static Requirement> + '_ {
    REQUIREMENTS
        .iter()
        .filter(move |r| r.routines.iter().any(|x| routines.contains(x)))
}

/// The answer of a presence check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    Present,
    Missing,
    /// Could not be checked here (no workspace to find `../shared` from).
    Unknown(&'static str),
}

/// Checks one requirement. `workspace` locates `../shared`.
pub fn presence(check: Check<'_>, workspace: Option<&Path>) -> Presence {
    let yes = |b: bool| {
        if b {
            Presence::Present
        } else {
            Presence::Missing
        }
    };
    match check {
        Check::Command(c) => yes(on_path(c)),
        Check::File(f) => yes(Path::new(f).exists()),
        Check::Arch(a) => yes(Command::new("dpkg")
            .arg("--print-foreign-architectures")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l == a))),
        Check::Filesystem(fs) => yes(std::fs::read_to_string("/proc/filesystems")
            .is_ok_and(|t| t.lines().any(|l| l.split_whitespace().last() == Some(fs)))),
        Check::CargoSubcommand(sub) => yes(Command::new(crate::cargo_program())
            .args([sub, "--version"])
            .output()
            .is_ok_and(|o| o.status.success())),
        Check::RustTarget(t) => yes(Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .is_some_and(|o| {
                let sysroot = String::from_utf8_lossy(&o.stdout).trim().to_string();
                Path::new(&sysroot)
                    .join("lib/rustlib")
                    .join(t)
                    .join("lib")
                    .is_dir()
            })),
        // Listed, not run: `cargo +nightly` would install it on recent rustup.
        Check::RustupToolchain(t) => yes(Command::new("rustup")
            .args(["toolchain", "list"])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.starts_with(t))
            })),
        Check::Shared(dir) => match workspace {
            Some(ws) => yes(shared_dir(ws).join(dir).is_dir()),
            None => Presence::Unknown("no workspace here to find ../shared from"),
        },
    }
}

pub fn shared_dir(workspace: &Path) -> PathBuf {
    workspace.join("../shared")
}

/// Which part of the dependency step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything that can be installed from here.
    All,
    /// Only apt and dpkg: a bare Debian root has no rustup or workspace.
    Debian,
}

impl Scope {
    pub fn covers(self, source: Source) -> bool {
        self == Scope::All || source.is_debian()
    }
}

/// The dependency step: installs what `routines` need and is missing.
pub fn ensure(routines: &[Routine]) -> anyhow::Result<()> {
    install(routines, Scope::All, crate::workspace().as_deref())
}

/// Like [`ensure`], but a failure only prints the hint: the demo also runs
/// without these.
pub fn offer(routines: &[Routine]) {
    if let Err(e) = ensure(routines) {
        eprintln!("xtask: {e}\nxtask: going on without them");
    }
}

pub fn install(routines: &[Routine], scope: Scope, workspace: Option<&Path>) -> anyhow::Result<()> {
    let missing = |debian: bool| -> Vec<&'static Requirement> {
        needed(routines)
            .filter(|r| scope.covers(r.source) && r.source.is_debian() == debian)
            .filter(|r| presence(r.check, workspace) == Presence::Missing)
            .collect()
    };
    // Two rounds: installing one package can remove another that conflicts
    // with it (qemu-system-arm removes a backported qemu-utils), and the
    // second round puts Debian's own version back.
    for _ in 0..2 {
        let debian = missing(true);
        if debian.is_empty() {
            break;
        }
        // Architectures first: `pkg:arm64` resolves only once arm64 is known.
        for r in &debian {
            if let Source::DpkgArch(a) = r.source {
                ensure_arch(a)?;
            }
        }
        let packages = packages_of(debian.iter().copied());
        if !packages.is_empty() {
            apt_install(&packages)?;
        }
    }
    let still = missing(true);
    if !still.is_empty() {
        bail!(
            "still missing after the install: {}",
            still
                .iter()
                .map(|r| format!("{} ({})", describe_check(r.check), r.source.describe()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for r in missing(false) {
        let cmd: Option<Vec<&str>> = match r.source {
            Source::RustupComponent(c) => Some(vec!["rustup", "component", "add", c]),
            Source::RustupTarget(t) => Some(vec!["rustup", "target", "add", t]),
            Source::RustupToolchain(t) => Some(vec![
                "rustup",
                "toolchain",
                "install",
                t,
                "--profile",
                "minimal",
            ]),
            Source::CargoInstall(c) => Some(vec!["cargo", "install", "--locked", c]),
            Source::Rustup => bail!(
                "{} is missing: install rustup and the stable toolchain (https://rustup.rs)",
                describe_check(r.check)
            ),
            Source::SharedData => bail!(
                "{} is missing: the shared test data belongs beside the repository",
                describe_check(r.check)
            ),
            Source::Kernel => bail!(
                "the running kernel lacks {} ({})",
                describe_check(r.check),
                r.why
            ),
            Source::Deb(_) | Source::DpkgArch(_) => None,
        };
        if let Some(cmd) = cmd {
            eprintln!("xtask: {}", cmd.join(" "));
            // Out of the workspace: `cargo install` must not see its lock
            // file or configuration.
            crate::run(Command::new(cmd[0]).args(&cmd[1..]).current_dir("/"))?;
        }
    }
    Ok(())
}

/// The Debian packages of `reqs`, once each, in table order.
pub fn packages_of<'a>(reqs: impl Iterator<Item = &'a Requirement>) -> Vec<&'static str> {
    let mut out = Vec::new();
    for r in reqs {
        if let Source::Deb(p) = r.source
            && !out.contains(&p)
        {
            out.push(p);
        }
    }
    out
}

pub fn describe_check(check: Check<'_>) -> String {
    match check {
        Check::Command(c) => c.to_string(),
        Check::File(f) => f.to_string(),
        Check::Arch(a) => format!("dpkg architecture {a}"),
        Check::Filesystem(fs) => format!("{fs} file system"),
        Check::CargoSubcommand(s) => format!("cargo {s}"),
        Check::RustTarget(t) => format!("target {t}"),
        Check::RustupToolchain(t) => format!("toolchain {t}"),
        Check::Shared(d) => format!("../shared/{d}"),
    }
}

/// How long an apt call waits for another apt or dpkg (unattended upgrades
/// on a real machine) before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(300);

/// `apt-get` with a bounded wait for the dpkg lock.
pub fn apt_get(args: &[&str]) -> Vec<String> {
    let mut cmd = vec![
        "apt-get".to_string(),
        "-o".into(),
        format!("DPkg::Lock::Timeout={}", LOCK_WAIT.as_secs()),
    ];
    cmd.extend(args.iter().map(|a| a.to_string()));
    cmd
}

/// The install command: no Recommends, so that only what the table names
/// comes in (and each one the code relies on is named).
pub fn apt_install_command(packages: &[&str]) -> Vec<String> {
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    apt_get(&args)
}

fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let install = apt_install_command(packages);
    if !is_root() {
        bail!(
            "missing packages; install them with:\n  sudo {} && sudo DEBIAN_FRONTEND=noninteractive {}",
            apt_get(&["update"]).join(" "),
            install.join(" ")
        );
    }
    eprintln!("xtask: installing {}", packages.join(" "));
    let started = Instant::now();
    // Package lists may be missing or stale (a fresh machine): update once
    // and retry.
    let ok = apt(&install)?.success() || (apt_update().is_ok() && apt(&install)?.success());
    if !ok {
        bail!("`{}` failed", install.join(" "));
    }
    eprintln!(
        "xtask: installed {} packages in {:.0} s",
        packages.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn apt(cmd: &[String]) -> anyhow::Result<std::process::ExitStatus> {
    Command::new(&cmd[0])
        .args(&cmd[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .with_context(|| format!("cannot start {}", cmd[0]))
}

/// `apt-get update`, waiting for the lists lock: DPkg::Lock::Timeout covers
/// the dpkg lock only, and `update` fails at once while another apt holds
/// /var/lib/apt/lists/lock.
pub fn apt_update() -> anyhow::Result<()> {
    let cmd = apt_get(&["update", "-q"]);
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        let out = Command::new(&cmd[0])
            .args(&cmd[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stderr(std::process::Stdio::piped())
            .output()
            .context("cannot start apt-get")?;
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            return Ok(());
        }
        if !is_lock_error(&String::from_utf8_lossy(&out.stderr)) || Instant::now() > deadline {
            bail!("`{}` failed", cmd.join(" "));
        }
        eprintln!("xtask: another apt holds the package lists; waiting");
        std::thread::sleep(Duration::from_secs(5));
    }
}

fn is_lock_error(stderr: &str) -> bool {
    stderr.contains("Could not get lock") || stderr.contains("Unable to lock")
}

/// Adds a foreign Debian architecture (for `-dev:arm64` packages) when root.
pub fn ensure_arch(arch: &str) -> anyhow::Result<()> {
    if presence(Check::Arch(arch), None) == Presence::Present {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "the {arch} architecture is needed; add it with:\n  sudo dpkg --add-architecture {arch} && sudo {}",
            apt_get(&["update"]).join(" ")
        );
    }
    eprintln!("xtask: dpkg --add-architecture {arch}");
    crate::run(Command::new("dpkg").args(["--add-architecture", arch]))?;
    apt_update().with_context(|| format!("adding the {arch} architecture"))
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

pub fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_requirement_once() {
        for (i, a) in REQUIREMENTS.iter().enumerate() {
            for b in &REQUIREMENTS[i + 1..] {
                assert_ne!(a.check, b.check, "{:?} listed twice", a.check);
            }
            assert!(!a.routines.is_empty(), "{:?} serves no routine", a.check);
        }
    }

    #[test]
    fn every_routine_is_listed_and_used() {
        for r in Routine::ALL {
            assert!(needed(&[*r]).next().is_some(), "{r:?} needs nothing");
        }
        for req in REQUIREMENTS {
            for r in req.routines {
                assert!(Routine::ALL.contains(r));
            }
        }
    }

    /// The Recommends that `--no-install-recommends` leaves out and the code
    /// relies on are installed by the test command's step.
    #[test]
    fn test_command_names_the_recommends_it_needs() {
        let pkgs = packages_of(needed(TEST_COMMAND));
        for p in [
            "arch-test",
            "ipxe-qemu",
            "libc6-dev",
            "libc6-dev-arm64-cross",
            "qemu-utils",
        ] {
            assert!(pkgs.contains(&p), "{p} missing from {pkgs:?}");
        }
        // The foreign architecture comes with its packages.
        assert!(needed(TEST_COMMAND).any(|r| r.source == DpkgArch("arm64")));
        for p in &pkgs {
            if let Some((_, arch)) = p.split_once(':') {
                assert!(needed(TEST_COMMAND).any(|r| r.source == DpkgArch(arch)));
            }
        }
    }

    #[test]
    fn installed_packages_all_come_from_the_table() {
        let table: Vec<&str> = REQUIREMENTS
            .iter()
            .filter_map(|r| match r.source {
                Deb(p) => Some(p),
                _ => None,
            })
            .collect();
        for routines in [TEST_COMMAND, Routine::ALL] {
            let cmd = apt_install_command(&packages_of(needed(routines)));
            let named = cmd
                .iter()
                .skip_while(|a| *a != "--no-install-recommends")
                .skip(1);
            for p in named {
                assert!(table.contains(&p.as_str()), "{p} is not in the table");
            }
        }
        // Each package once on the command line.
        let pkgs = packages_of(needed(Routine::ALL));
        let mut sorted = pkgs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), pkgs.len());
    }

    #[test]
    fn apt_waits_for_the_lock_and_skips_recommends() {
        let cmd = apt_install_command(&["tshark"]).join(" ");
        assert!(cmd.starts_with("apt-get -o DPkg::Lock::Timeout=300 install"));
        assert!(cmd.contains(" -y "));
        assert!(cmd.contains(" --no-install-recommends "));
        assert!(cmd.ends_with(" tshark"));
        assert!(
            apt_get(&["update"])
                .join(" ")
                .contains("DPkg::Lock::Timeout=300")
        );
        assert!(is_lock_error(
            "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1 (apt-get)"
        ));
        assert!(!is_lock_error("E: Unable to locate package nosuch"));
    }

    /// Root, network and python3: `cargo test -p xtask -- --ignored`.
    #[test]
    #[ignore = "runs apt-get update as root while python3 holds the lists lock"]
    fn apt_update_waits_for_another_apt() {
        let started = Instant::now();
        let mut holder = Command::new("python3")
            .args([
                "-c",
                "import fcntl,time\nf=open('/var/lib/apt/lists/lock','w')\n\
                 fcntl.lockf(f,fcntl.LOCK_EX)\nprint('held',flush=True)\ntime.sleep(12)",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "held");
        apt_update().unwrap();
        assert!(started.elapsed() >= Duration::from_secs(10));
        holder.wait().unwrap();
    }

    #[test]
    fn presence_finds_a_file_and_reports_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("xtask-presence-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("here");
        std::fs::write(&file, "").unwrap();
        let here = file.display().to_string();
        assert_eq!(presence(Check::File(&here), None), Presence::Present);
        let gone = dir.join("not-here").display().to_string();
        assert_eq!(presence(Check::File(&gone), None), Presence::Missing);
        assert_eq!(presence(Check::Command("sh"), None), Presence::Present);
        assert_eq!(
            presence(Check::Command("no-such-tool-vitrine"), None),
            Presence::Missing
        );
        // ../shared is found from the workspace, and only from it.
        std::fs::create_dir_all(dir.join("shared/captures")).unwrap();
        let ws = dir.join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        assert_eq!(
            presence(Check::Shared("captures"), Some(&ws)),
            Presence::Present
        );
        assert_eq!(
            presence(Check::Shared("phones"), Some(&ws)),
            Presence::Missing
        );
        assert!(matches!(
            presence(Check::Shared("captures"), None),
            Presence::Unknown(_)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debian_scope_leaves_out_what_a_root_cannot_have() {
        assert!(Scope::Debian.covers(Deb("tshark")));
        assert!(Scope::Debian.covers(DpkgArch("arm64")));
        for s in [
            Source::Rustup,
            RustupTarget("aarch64-unknown-linux-gnu"),
            CargoInstall("cargo-fuzz"),
            Kernel,
            SharedData,
        ] {
            assert!(!Scope::Debian.covers(s));
            assert!(Scope::All.covers(s));
        }
    }
}
