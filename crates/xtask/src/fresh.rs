//! `cargo xtask fresh-machine`: the dependency step on a machine where
//! nothing was installed by hand. mmdebstrap builds a bare Debian bookworm
//! amd64 root (variant `apt`: Essential packages and apt, nothing else)
//! from the host's Debian sources; this very xtask binary is copied in and
//! runs `deps --debian-only` there, then `doctor --debian-only`, which
//! fails if any item the table lists as coming from Debian is missing.
//! Nothing is cached: each run starts from an empty root, which mmdebstrap
//! removes at the end (its target is /dev/null).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::deps::{self, Routine};

/// The suite of the root: the Debian release CI machines run.
const SUITE: &str = "bookworm";

pub fn run(root: &Path, routines: &[Routine]) -> anyhow::Result<()> {
    deps::ensure(&[Routine::FreshMachine])?;
    if !deps::is_root() {
        bail!("the fresh-machine check builds a root with mmdebstrap --mode=root: run it as root");
    }
    let started = Instant::now();
    let dir = root.join("target/fresh-machine");
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    // A previous run leaves only logs (mmdebstrap removed its root), unless
    // it was killed with the root's /proc and /dev still mounted.
    refuse_mounts_under(&dir)?;
    std::fs::remove_dir_all(&dir)?;
    std::fs::create_dir_all(&dir)?;
    let sources = host_sources(SUITE)?;
    if sources.is_empty() {
        bail!("no Debian {SUITE} entry in the host's apt sources");
    }
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let names: Vec<&str> = routines.iter().map(|r| r.name()).collect();
    let names = names.join(" ");
    let bin = format!(
        "/usr/local/bin/{}",
        exe.file_name().unwrap_or_default().to_string_lossy()
    );
    let doctor_log = dir.join("doctor.txt");
    let deps_log = dir.join("deps.log");
    // Inside, a plain PATH: nothing of the host's (rustup, pyenv) leaks in.
    let inside = "chroot \"$1\" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root";
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--mode=root", "--variant=apt", "--arch=amd64", "--quiet"])
        .arg(format!(
            "--customize-hook=copy-in {} /usr/local/bin",
            exe.display()
        ))
        // The dependency step, as the test command runs it (the Debian part:
        // the root has no rustup). apt's output is kept in the log, shown
        // whole only when the step fails.
        .arg(format!(
            "--customize-hook=if {inside} {bin} deps --debian-only {names} > {log} 2>&1; \
             then grep '^xtask:' {log} || true; else cat {log}; exit 1; fi",
            log = deps_log.display()
        ))
        .arg(format!(
            "--customize-hook={inside} {bin} doctor --debian-only {names} > {log} 2>&1; s=$?; cat {log}; exit $s",
            log = doctor_log.display()
        ))
        .arg(SUITE)
        // Built, checked by the hooks, then thrown away by mmdebstrap.
        .arg("/dev/null")
        // The host's Debian sources, as apt on a new machine would have them.
        .args(&sources)
        // mmdebstrap's temporary root goes under target/, not /tmp.
        .env("TMPDIR", &dir);
    eprintln!("xtask: fresh machine: Debian {SUITE} amd64 root, dependency step for {names}");
    let result = crate::step("fresh machine (mmdebstrap)", cmd);
    refuse_mounts_under(&dir)?;
    // Keep the logs, drop anything else mmdebstrap may have left.
    for e in std::fs::read_dir(&dir)?.flatten() {
        let p = e.path();
        if p != doctor_log && p != deps_log {
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
    let took = started.elapsed().as_secs_f64();
    result.with_context(|| format!("see {} and {}", deps_log.display(), doctor_log.display()))?;
    // The step's own figure, from its log.
    let step_took = std::fs::read_to_string(&deps_log)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("xtask: dependency step done in "))
        .unwrap_or("?")
        .to_string();
    eprintln!(
        "xtask: fresh machine passed in {took:.0} s, of which the dependency step {step_took} ({} and {})",
        deps_log.display(),
        doctor_log.display()
    );
    Ok(())
}

/// Fails if anything is mounted at or below `dir` (/proc/self/mountinfo):
/// removing a root with /proc or /dev still bound inside would remove the
/// host's.
fn refuse_mounts_under(dir: &Path) -> anyhow::Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let left = mounts_under(&info, dir);
    if !left.is_empty() {
        bail!(
            "mounts left under {}: {}; unmount them first",
            dir.display(),
            left.join(", ")
        );
    }
    Ok(())
}

fn mounts_under(mountinfo: &str, dir: &Path) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| Path::new(m).starts_with(dir))
        .map(str::to_string)
        .collect()
}

/// The host's apt sources for `suite` and its updates and security suites,
/// as one-line entries for mmdebstrap. Third-party sources (other suites)
/// stay out: the root is a Debian machine.
fn host_sources(suite: &str) -> anyhow::Result<Vec<String>> {
    let mut files: Vec<PathBuf> = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let entries = match f.extension().and_then(|e| e.to_str()) {
            Some("sources") => deb822_entries(&text),
            Some("list") => one_line_entries(&text),
            _ => continue,
        };
        for e in entries {
            if e.suite == suite || e.suite.starts_with(&format!("{suite}-")) {
                let line = e.line();
                if !out.contains(&line) {
                    out.push(line);
                }
            }
        }
    }
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    options: Vec<String>,
    uri: String,
    suite: String,
    components: Vec<String>,
}

impl Entry {
    fn line(&self) -> String {
        let opts = if self.options.is_empty() {
            String::new()
        } else {
            format!("[{}] ", self.options.join(" "))
        };
        format!(
            "deb {opts}{} {} {}",
            self.uri,
            self.suite,
            self.components.join(" ")
        )
    }
}

/// `deb [opts] uri suite components` lines (binary entries only).
fn one_line_entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let (options, rest) = match rest.trim_start().strip_prefix('[') {
            Some(r) => match r.split_once(']') {
                Some((o, r)) => (o.split_whitespace().map(str::to_string).collect(), r),
                None => continue,
            },
            None => (Vec::new(), rest),
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(Entry {
            options,
            uri: uri.to_string(),
            suite: suite.to_string(),
            components: words.map(str::to_string).collect(),
        });
    }
    out
}

/// deb822 stanzas (`Types: deb`), one entry per URI and suite.
fn deb822_entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza.lines() {
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        if !get("types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"))
            || get("enabled").is_some_and(|e| e == "no")
        {
            continue;
        }
        let mut options = Vec::new();
        if let Some(k) = get("signed-by") {
            // An inline key cannot go on one line; apt's keyrings then apply.
            if !k.contains("BEGIN PGP") {
                options.push(format!("signed-by={k}"));
            }
        }
        if let Some(a) = get("architectures") {
            options.push(format!(
                "arch={}",
                a.split_whitespace().collect::<Vec<_>>().join(",")
            ));
        }
        let components: Vec<String> = get("components")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for uri in get("uris").unwrap_or("").split_whitespace() {
            for suite in get("suites").unwrap_or("").split_whitespace() {
                out.push(Entry {
                    options: options.clone(),
                    uri: uri.to_string(),
                    suite: suite.to_string(),
                    components: components.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_deb822_and_one_line_sources() {
        let deb822 = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\n\
            URIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
            Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n\n\
            Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n\
            Architectures: amd64\n";
        let e = deb822_entries(deb822);
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[1].line(),
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main"
        );
        assert_eq!(
            e[2].line(),
            "deb [arch=amd64] https://deb.nodesource.com/node_20.x nodistro main"
        );
        let one = "# comment\ndeb http://deb.debian.org/debian-security bookworm-security main contrib\n\
            deb-src http://deb.debian.org/debian bookworm main\n\
            deb [arch=amd64 signed-by=/k.gpg] https://packages.example.com/apt cloud-sdk-bookworm main\n";
        let e = one_line_entries(one);
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0].line(),
            "deb http://deb.debian.org/debian-security bookworm-security main contrib"
        );
        assert_eq!(e[1].options, ["arch=amd64", "signed-by=/k.gpg"]);
        // Third-party suites that merely contain the name are not Debian's.
        assert_eq!(e[1].suite, "cloud-sdk-bookworm");
    }

    #[test]
    fn finds_mounts_left_under_the_root() {
        let info = "22 1 0:21 / /proc rw - proc proc rw\n\
            90 30 0:5 / /work/main/target/fresh-machine/mmdebstrap.x/dev rw - devtmpfs udev rw\n\
            91 30 0:5 / /work/main/target/fresh-machine-other rw - tmpfs t rw\n";
        assert_eq!(
            mounts_under(info, Path::new("/work/main/target/fresh-machine")),
            ["/work/main/target/fresh-machine/mmdebstrap.x/dev"]
        );
    }
}
