//! Debian packages of the binaries and units, assembled with `dpkg-deb`
//! (no packaging tool to install): `vitrined` (daemon, unit, sysusers,
//! tmpfiles, configuration) and `vitrine-audit` (verifier and injector).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Debian architecture to Rust target.
pub fn rust_target(arch: &str) -> anyhow::Result<&'static str> {
    Ok(match arch {
        "arm64" => "aarch64-unknown-linux-gnu",
        "amd64" => "x86_64-unknown-linux-gnu",
        other => bail!("unsupported architecture {other} (arm64 or amd64)"),
    })
}

/// Builds the release binaries for `arch`; returns the folder they are in.
/// Cross-building for arm64 uses Debian's cross gcc and arm64 libpcap.
pub fn build(root: &Path, arch: &str) -> anyhow::Result<PathBuf> {
    let target = rust_target(arch)?;
    if arch == "arm64" {
        // The arm64 architecture, cross gcc, arm64 libpcap, the Rust target.
        crate::deps::ensure(&[crate::deps::Routine::Build, crate::deps::Routine::Cross])?;
    }
    let mut cmd = crate::cargo(&[
        "build",
        "--release",
        "--locked",
        "--target",
        target,
        "-p",
        "vitrined",
        "-p",
        "vitrine-audit",
    ]);
    // Packages carry no debug information (a tenth of the size).
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    if arch == "arm64" {
        cmd.env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )
        .env("PKG_CONFIG_ALLOW_CROSS", "1")
        .env("PKG_CONFIG_PATH", "/usr/lib/aarch64-linux-gnu/pkgconfig")
        .env("LIBPCAP_LIBDIR", "/usr/lib/aarch64-linux-gnu");
    }
    crate::step(&format!("release build for {arch}"), cmd)?;
    Ok(root.join("target").join(target).join("release"))
}

/// Builds both packages for `arch` into target/debian/; returns their paths.
pub fn packages(root: &Path, arch: &str) -> anyhow::Result<Vec<PathBuf>> {
    let bin = build(root, arch)?;
    let out = root.join("target/debian");
    std::fs::create_dir_all(&out)?;
    let version = env!("CARGO_PKG_VERSION");
    let daemon = Package {
        name: "vitrined",
        description: "Vitrine sensing daemon: anonymous Wi-Fi footfall summaries\n \
            Captures 802.11 management frames from a monitor-mode adapter, turns\n \
            them into per-window aggregate counts on the device under a rotating\n \
            in-memory key, and publishes them zstd-compressed over MQTT.",
        depends: "libc6 (>= 2.36), libpcap0.8 (>= 1.10), systemd",
        files: vec![
            (bin.join("vitrined"), "usr/bin/vitrined", 0o755),
            (
                root.join("systemd/vitrined.service"),
                "lib/systemd/system/vitrined.service",
                0o644,
            ),
            (
                root.join("systemd/vitrine.sysusers"),
                "usr/lib/sysusers.d/vitrine.conf",
                0o644,
            ),
            (
                root.join("systemd/vitrine.tmpfiles"),
                "usr/lib/tmpfiles.d/vitrine.conf",
                0o644,
            ),
            (
                root.join("packaging/vitrine.toml"),
                "etc/vitrine/vitrine.toml",
                0o644,
            ),
        ],
        conffiles: &["/etc/vitrine/vitrine.toml"],
        scripts: &["postinst", "prerm", "postrm"],
    };
    let audit = Package {
        name: "vitrine-audit",
        description: "Vitrine verifier: proves what a sensing device keeps and publishes\n \
            Sends canary identifiers over the air, then searches storage, the\n \
            journal, the daemon's memory and the published stream for them in\n \
            every common encoding; checks k-anonymity and hardening; writes\n \
            signed reports. Includes a daily self-audit timer.",
        depends: "libc6 (>= 2.36), libpcap0.8 (>= 1.10), ieee-data, systemd",
        files: vec![
            (bin.join("vitrine-audit"), "usr/bin/vitrine-audit", 0o755),
            (
                root.join("systemd/vitrine-audit.service"),
                "lib/systemd/system/vitrine-audit.service",
                0o644,
            ),
            (
                root.join("systemd/vitrine-audit.timer"),
                "lib/systemd/system/vitrine-audit.timer",
                0o644,
            ),
            (
                root.join("packaging/vitrine-audit.default"),
                "etc/default/vitrine-audit",
                0o644,
            ),
        ],
        conffiles: &["/etc/default/vitrine-audit"],
        scripts: &["postinst", "prerm", "postrm"],
    };
    let mut debs = Vec::new();
    for p in [daemon, audit] {
        debs.push(p.build(root, &out, version, arch)?);
    }
    Ok(debs)
}

struct Package {
    name: &'static str,
    description: &'static str,
    depends: &'static str,
    files: Vec<(PathBuf, &'static str, u32)>,
    conffiles: &'static [&'static str],
    scripts: &'static [&'static str],
}

impl Package {
    fn build(&self, root: &Path, out: &Path, version: &str, arch: &str) -> anyhow::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let stage = out.join(format!("{}_{arch}", self.name));
        let _ = std::fs::remove_dir_all(&stage);
        let mut size = 0;
        for (from, to, mode) in &self.files {
            let dest = stage.join(to);
            std::fs::create_dir_all(dest.parent().unwrap())?;
            std::fs::copy(from, &dest).with_context(|| format!("copying {}", from.display()))?;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(*mode))?;
            size += std::fs::metadata(&dest)?.len();
        }
        let debian = stage.join("DEBIAN");
        std::fs::create_dir_all(&debian)?;
        std::fs::write(
            debian.join("control"),
            format!(
                "Package: {}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: Vitrine <vitrine@example.org>\n\
                 Installed-Size: {}\nDepends: {}\nSection: net\nPriority: optional\n\
                 Homepage: https://github.com/vitrine-audit/vitrine\nDescription: {}\n",
                self.name,
                size.div_ceil(1024),
                self.depends,
                self.description
            ),
        )?;
        if !self.conffiles.is_empty() {
            std::fs::write(debian.join("conffiles"), self.conffiles.join("\n") + "\n")?;
        }
        for script in self.scripts {
            let dest = debian.join(script);
            std::fs::copy(
                root.join(format!("packaging/{}.{script}", self.name)),
                &dest,
            )?;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
        }
        let deb = out.join(format!("{}_{version}_{arch}.deb", self.name));
        crate::run(
            Command::new("dpkg-deb")
                .args(["--root-owner-group", "-Zxz", "--build"])
                .arg(&stage)
                .arg(&deb),
        )?;
        Ok(deb)
    }
}
