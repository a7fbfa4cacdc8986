//! System packages: installed when running as root on Debian, otherwise the
//! exact command is printed.

use anyhow::bail;

/// (command that must exist, Debian package that provides it)
pub const TEST_PACKAGES: &[(&str, &str)] = &[
    ("tshark", "tshark"),
    ("editcap", "wireshark-common"),
    ("tcpdump", "tcpdump"),
    ("zstd", "zstd"),
    ("mosquitto", "mosquitto"),
    ("mosquitto_sub", "mosquitto-clients"),
    ("openssl", "openssl"),
];
pub const BENCH_PACKAGES: &[(&str, &str)] = &[
    ("tshark", "tshark"),
    ("tcpdump", "tcpdump"),
    ("taskset", "util-linux"),
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
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
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
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}
