//! System packages: installed when running as root on Debian, otherwise the
//! exact command is printed.

use anyhow::bail;

/// (command that must exist, or absolute path of a file, Debian package
/// that provides it)
pub const TEST_PACKAGES: &[(&str, &str)] = &[
    ("/usr/include/pcap/pcap.h", "libpcap-dev"),
    ("pkg-config", "pkg-config"),
    ("systemd-analyze", "systemd"),
    ("tshark", "tshark"),
    ("editcap", "wireshark-common"),
    ("tcpdump", "tcpdump"),
    ("zstd", "zstd"),
    ("mosquitto", "mosquitto"),
    ("mosquitto_sub", "mosquitto-clients"),
    ("openssl", "openssl"),
    ("/usr/share/ieee-data/oui.csv", "ieee-data"),
];
pub const BENCH_PACKAGES: &[(&str, &str)] = &[
    ("tshark", "tshark"),
    ("tcpdump", "tcpdump"),
    ("taskset", "util-linux"),
];

/// The canary-scan benchmark: ripgrep to compare with, taskset to pin, GNU
/// time for peak memory.
pub const BENCH_SCAN_PACKAGES: &[(&str, &str)] = &[
    ("rg", "ripgrep"),
    ("taskset", "util-linux"),
    ("/usr/bin/time", "time"),
];

/// Cross-building for the Pi (arm64 libpcap needs the arm64 architecture).
pub const CROSS_PACKAGES: &[(&str, &str)] = &[
    ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
    (
        "/usr/aarch64-linux-gnu/include/stdio.h",
        "libc6-dev-arm64-cross",
    ),
    ("/usr/lib/aarch64-linux-gnu/libpcap.so", "libpcap-dev:arm64"),
    ("dpkg-deb", "dpkg"),
];

/// Building and booting the emulated board.
pub const BOARD_PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-aarch64", "qemu-system-arm"),
    ("/usr/lib/binfmt.d/qemu-aarch64.conf", "qemu-user-static"),
    ("mmdebstrap", "mmdebstrap"),
    ("mke2fs", "e2fsprogs"),
    ("qemu-img", "qemu-utils"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
];

/// Adds a foreign Debian architecture (for `-dev:arm64` packages) when root.
pub fn ensure_arch(arch: &str) -> anyhow::Result<()> {
    let out = std::process::Command::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l == arch)
    {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "the {arch} architecture is needed; add it with:\n  sudo dpkg --add-architecture {arch} && sudo apt-get update"
        );
    }
    let ok = std::process::Command::new("dpkg")
        .args(["--add-architecture", arch])
        .status()?
        .success()
        && std::process::Command::new("apt-get")
            .args(["update", "-q"])
            .status()?
            .success();
    if !ok {
        bail!("adding the {arch} architecture failed");
    }
    Ok(())
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// What building the daemon needs (libpcap for live capture).
pub const BUILD_PACKAGES: &[(&str, &str)] = &[
    ("/usr/include/pcap/pcap.h", "libpcap-dev"),
    ("pkg-config", "pkg-config"),
];

/// What the demo uses when it can: a broker to publish to.
pub const DEMO_PACKAGES: &[(&str, &str)] = &[("mosquitto", "mosquitto")];

/// Like [`ensure`], but a failure only prints the hint: the demo also runs
/// without these.
pub fn offer(wanted: &[(&str, &str)]) {
    if let Err(e) = ensure(wanted) {
        eprintln!("xtask: {e}\nxtask: going on without them");
    }
}

pub fn ensure(needed: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(cmd, _)| !on_path(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = is_root();
    let install = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root {
        bail!(
            "missing packages; install them with:\n  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive {install}"
        );
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let sh = |c: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(c)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
    };
    // A fresh machine may have no package lists yet: update once and retry.
    let installed =
        sh(&install)?.success() || (sh("apt-get update")?.success() && sh(&install)?.success());
    if !installed {
        bail!("`{install}` failed");
    }
    Ok(())
}

fn on_path(cmd: &str) -> bool {
    if cmd.starts_with('/') {
        return std::path::Path::new(cmd).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

/// Rendering the audit report's HTML page to PNG (`render.rs`): headless
/// Chromium, and a font for it to draw text with.
pub const REPORT_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "chromium"),
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "fonts-dejavu-core",
    ),
];
