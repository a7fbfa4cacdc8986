//! Debian packages of the binaries and units, assembled with `dpkg-deb`
//! the way debhelper would (without a source package to build):
//! `vitrined` (daemon, unit, sysusers, tmpfiles, configuration) and
//! `vitrine-audit` (verifier and injector). Each carries its man pages and
//! bash/zsh completions (written by the binary itself from its clap
//! definitions), the DEP-5 copyright, changelog.Debian.gz and md5sums; its
//! shared-library Depends are computed by `dpkg-shlibdeps`. The maintainer
//! scripts in packaging/ are the ones dh_installsystemd generates.
//! `lintian` checks the result (`cargo xtask package --lintian`).

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
    // The Debian revision makes it a non-native package (changelog.Debian.gz).
    let version = format!("{}-1", env!("CARGO_PKG_VERSION"));
    let docs = out.join(format!("docs_{arch}"));
    for binary in ["vitrined", "vitrine-audit"] {
        write_docs(&bin.join(binary), arch, &docs.join(binary))?;
    }
    let daemon = Package {
        name: "vitrined",
        description: "Vitrine sensing daemon: anonymous Wi-Fi footfall summaries\n \
            Captures 802.11 management frames from a monitor-mode adapter, turns\n \
            them into per-window aggregate counts on the device under a rotating\n \
            in-memory key, and publishes them zstd-compressed over MQTT.",
        binary: "vitrined",
        // Besides the shared libraries: systemd-sysusers, systemd-tmpfiles.
        depends: "systemd",
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
                root.join("packaging/60-vitrine-gpio.rules"),
                "lib/udev/rules.d/60-vitrine-gpio.rules",
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
        binary: "vitrine-audit",
        // Besides the shared libraries: the OUI registry, the units.
        depends: "ieee-data, systemd",
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
        debs.push(p.build(root, &out, &docs, &version, arch)?);
    }
    lintian(&debs)?;
    Ok(debs)
}

/// `lintian` on the packages: any error fails the build; warnings are
/// printed. Overrides, with their reasons, are in packaging/*.lintian-overrides.
fn lintian(debs: &[PathBuf]) -> anyhow::Result<()> {
    crate::step("lintian", {
        let mut cmd = Command::new("lintian");
        cmd.args(["--fail-on", "error"]).args(debs);
        cmd
    })
}

/// Runs `binary` (under qemu-user when it is arm64 on another host) with
/// `VITRINE_GENERATE_DOCS`: it writes its man pages to `dir/man` and its
/// completions to `dir/completions` from its own clap definitions.
fn write_docs(binary: &Path, arch: &str, dir: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    let mut cmd = if arch == "arm64" && std::env::consts::ARCH != "aarch64" {
        let mut c = Command::new("qemu-aarch64-static");
        c.arg(binary);
        c
    } else {
        Command::new(binary)
    };
    cmd.env("VITRINE_GENERATE_DOCS", dir);
    crate::run(&mut cmd).with_context(|| format!("man pages of {}", binary.display()))
}

struct Package {
    name: &'static str,
    /// The executable in usr/bin, whose man pages and completions go in.
    binary: &'static str,
    description: &'static str,
    depends: &'static str,
    files: Vec<(PathBuf, &'static str, u32)>,
    conffiles: &'static [&'static str],
    scripts: &'static [&'static str],
}

impl Package {
    fn build(
        &self,
        root: &Path,
        out: &Path,
        docs: &Path,
        version: &str,
        arch: &str,
    ) -> anyhow::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let stage = out.join(format!("{}_{arch}", self.name));
        let _ = std::fs::remove_dir_all(&stage);
        for (from, to, mode) in &self.files {
            let dest = stage.join(to);
            std::fs::create_dir_all(dest.parent().unwrap())?;
            std::fs::copy(from, &dest).with_context(|| format!("copying {}", from.display()))?;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(*mode))?;
        }
        strip(&stage.join("usr/bin").join(self.binary), arch)?;
        self.add_docs(root, &stage, &docs.join(self.binary), version)?;
        set_directory_modes(&stage)?;
        let size = installed_size(&stage)?;
        let depends = format!(
            "{}, {}",
            shlibdeps(
                out,
                self.name,
                arch,
                &stage.join("usr/bin").join(self.binary)
            )?,
            self.depends
        );
        let debian = stage.join("DEBIAN");
        std::fs::create_dir_all(&debian)?;
        std::fs::write(
            debian.join("control"),
            format!(
                "Package: {}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: Vitrine <vitrine@example.org>\n\
                 Installed-Size: {}\nDepends: {}\nSection: net\nPriority: optional\n\
                 Homepage: https://github.com/vitrine-audit/vitrine\nDescription: {}\n",
                self.name, size, depends, self.description
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
        std::fs::write(debian.join("md5sums"), md5sums(&stage, self.conffiles)?)?;
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

impl Package {
    /// Man pages, completions, copyright and changelog, where debhelper
    /// puts them.
    fn add_docs(
        &self,
        root: &Path,
        stage: &Path,
        docs: &Path,
        version: &str,
    ) -> anyhow::Result<()> {
        let man1 = stage.join("usr/share/man/man1");
        std::fs::create_dir_all(&man1)?;
        let mut pages: Vec<_> = std::fs::read_dir(docs.join("man"))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        pages.sort();
        for page in pages {
            let dest = man1.join(page.file_name().context("a man page without a name")?);
            std::fs::copy(&page, &dest)?;
            gzip(&dest)?;
        }
        let completions = docs.join("completions");
        for (from, to) in [
            (
                format!("{}.bash", self.binary),
                format!("usr/share/bash-completion/completions/{}", self.binary),
            ),
            (
                format!("_{}", self.binary),
                format!("usr/share/zsh/vendor-completions/_{}", self.binary),
            ),
        ] {
            let dest = stage.join(to);
            std::fs::create_dir_all(dest.parent().unwrap())?;
            std::fs::copy(completions.join(&from), &dest)
                .with_context(|| format!("completion {from}"))?;
        }
        let doc = stage.join("usr/share/doc").join(self.name);
        std::fs::create_dir_all(&doc)?;
        std::fs::copy(root.join("packaging/copyright"), doc.join("copyright"))?;
        let overrides = stage.join("usr/share/lintian/overrides");
        std::fs::create_dir_all(&overrides)?;
        std::fs::copy(
            root.join(format!("packaging/{}.lintian-overrides", self.name)),
            overrides.join(self.name),
        )?;
        let changelog = doc.join("changelog.Debian");
        std::fs::write(
            &changelog,
            changelog_text(self.name, version, &release_date(root)?),
        )?;
        gzip(&changelog)?;
        for file in walk(stage)? {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(&file)?;
            if meta.permissions().mode() & 0o111 == 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
            }
        }
        Ok(())
    }
}

/// The one changelog entry: the packaging follows the workspace's version.
fn changelog_text(name: &str, version: &str, date: &str) -> String {
    format!(
        "{name} ({version}) unstable; urgency=medium\n\n  \
         * Vitrine {upstream}, packaged by cargo xtask package.\n\n \
         -- Vitrine <vitrine@example.org>  {date}\n",
        upstream = version.split('-').next().unwrap_or(version),
    )
}

/// The date of the last commit (or `SOURCE_DATE_EPOCH`), in the RFC 2822
/// form changelogs use: the same tree gives the same packages.
fn release_date(root: &Path) -> anyhow::Result<String> {
    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(e) => e,
        Err(_) => {
            let out = Command::new("git")
                .args(["log", "-1", "--format=%ct"])
                .current_dir(root)
                .output()
                .context("running git log")?;
            String::from_utf8(out.stdout)?.trim().to_string()
        }
    };
    let out = Command::new("date")
        .args(["-u", "-R", "-d"])
        .arg(format!("@{epoch}"))
        .output()
        .context("running date")?;
    if !out.status.success() {
        bail!("date -R -d @{epoch} failed");
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// Strips the staged binary as dh_strip does (the build keeps the symbol
/// table, which Debian ships in -dbgsym packages, not in the binary).
fn strip(binary: &Path, arch: &str) -> anyhow::Result<()> {
    let program = if arch == "arm64" && std::env::consts::ARCH != "aarch64" {
        "aarch64-linux-gnu-strip"
    } else {
        "strip"
    };
    crate::run(
        Command::new(program)
            .args(["--remove-section=.comment", "--remove-section=.note"])
            .arg(binary),
    )
}

/// `gzip -9n` in place, as dh_compress does (no name or time inside).
fn gzip(file: &Path) -> anyhow::Result<()> {
    crate::run(Command::new("gzip").args(["-9nf"]).arg(file))
}

/// Every regular file under `dir`, sorted.
fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                todo.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Directories 0755 whatever the umask.
fn set_directory_modes(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            set_directory_modes(&entry.path())?;
        }
    }
    Ok(())
}

/// Installed-Size in KiB, as dpkg-gencontrol counts it (each file rounded
/// up to a KiB).
fn installed_size(stage: &Path) -> anyhow::Result<u64> {
    let mut kib = 0;
    for file in walk(stage)? {
        kib += std::fs::metadata(&file)?.len().div_ceil(1024);
    }
    Ok(kib)
}

/// DEBIAN/md5sums: every file but the conffiles (dpkg keeps their sums
/// itself), as dh_md5sums writes it.
fn md5sums(stage: &Path, conffiles: &[&str]) -> anyhow::Result<String> {
    let mut files = Vec::new();
    for file in walk(stage)? {
        let rel = file.strip_prefix(stage)?.to_string_lossy().into_owned();
        if !rel.starts_with("DEBIAN/") && !conffiles.contains(&format!("/{rel}").as_str()) {
            files.push(rel);
        }
    }
    let out = Command::new("md5sum")
        .args(&files)
        .current_dir(stage)
        .output()
        .context("running md5sum")?;
    if !out.status.success() {
        bail!("md5sum failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The shared-library dependencies of `binary`, from `dpkg-shlibdeps` over
/// the installed libraries' symbols files (the arm64 ones for arm64: the
/// cross build links against the multiarch arm64 libc and libpcap). It
/// wants a debian/control, so it runs in a folder holding a minimal one.
fn shlibdeps(out: &Path, name: &str, arch: &str, binary: &Path) -> anyhow::Result<String> {
    let dir = out.join(format!("shlibdeps_{name}_{arch}"));
    std::fs::create_dir_all(dir.join("debian"))?;
    std::fs::write(
        dir.join("debian/control"),
        format!("Source: vitrine\n\nPackage: {name}\nArchitecture: any\n"),
    )?;
    let output = Command::new("dpkg-shlibdeps")
        .arg("-O")
        .arg(format!("-e{}", binary.display()))
        .env("DEB_HOST_ARCH", arch)
        .current_dir(&dir)
        .output()
        .context("running dpkg-shlibdeps")?;
    if !output.status.success() {
        bail!(
            "dpkg-shlibdeps on {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    text.lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .map(str::to_string)
        .with_context(|| format!("dpkg-shlibdeps printed no shlibs:Depends: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changelog_entry_is_in_the_debian_format() {
        let text = changelog_text("vitrined", "0.1.0-1", "Thu, 03 Dec 2026 07:54:32 +0000");
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("vitrined (0.1.0-1) unstable; urgency=medium")
        );
        assert_eq!(lines.next(), Some(""));
        assert_eq!(
            lines.next(),
            Some("  * Vitrine 0.1.0, packaged by cargo xtask package.")
        );
        assert_eq!(lines.next(), Some(""));
        // Two spaces between the address and the date.
        assert_eq!(
            lines.next(),
            Some(" -- Vitrine <vitrine@example.org>  Thu, 03 Dec 2026 07:54:32 +0000")
        );
    }
}
