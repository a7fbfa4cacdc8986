//! `cargo xtask fresh-machine`: the dependency step on a machine where
//! nothing was installed by hand. mmdebstrap builds a bare Debian bookworm
//! amd64 root (variant `apt`: Essential packages and apt, nothing else)
//! from the host's Debian sources; this very xtask binary is copied in and
//! runs `deps --debian-only` there, then `doctor --debian-only`, which
//! fails if any item the table lists as coming from Debian is missing.
//! Nothing is cached: each run starts from an empty root, which mmdebstrap
//! removes at the end (its target is /dev/null).
//!
//! The same root then serves the verifier: a few packages that ship
//! documentation images are added, and `vitrine-audit scan` searches the
//! whole root from the host, as it would a mounted image of a device (its
//! dpkg database inside, /proc, /sys and /dev/pts mounted by mmdebstrap).
//! A machine that never saw a canary must give no High or Critical finding
//! and leave no place unread: a verifier that cries wolf on stock Debian
//! is not believed when it matters.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::deps::{self, Routine};

/// The suite of the root: the Debian release CI machines run.
const SUITE: &str = "bookworm";

/// Small packages whose files include images (PNG, GIF) in documentation
/// and web trees, added after the dependency step for the clean-root scan.
/// `wireshark-common` and `qemu-system-data`, pulled in by the step, ship
/// more.
const DOC_IMAGE_PACKAGES: &[&str] = &["libtasn1-doc", "vim-common", "git"];

pub fn run(root: &Path, routines: &[Routine]) -> anyhow::Result<()> {
    deps::ensure(&[Routine::FreshMachine])?;
    if !deps::is_root() {
        bail!("the fresh-machine check builds a root with mmdebstrap --mode=root: run it as root");
    }
    crate::step(
        "build (vitrine-audit, for the clean-root scan)",
        crate::cargo(&["build", "-p", "vitrine-audit"]),
    )?;
    let audit = root.join("target/debug/vitrine-audit");
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
    let scan_dir = dir.join("clean-root");
    std::fs::create_dir_all(&scan_dir)?;
    let registry = scan_dir.join("canaries.json");
    let made = Command::new(&audit)
        .args(["canaries", "--out"])
        .arg(&registry)
        .output()
        .context("running vitrine-audit canaries")?;
    if !made.status.success() {
        bail!(
            "vitrine-audit canaries: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    }
    let scan_json = scan_dir.join("report.json");
    let scan_log = scan_dir.join("scan.log");
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
        .arg(format!(
            "--customize-hook={inside} apt-get install -y -q --no-install-recommends {} >> {log} 2>&1 || {{ cat {log}; exit 1; }}",
            DOC_IMAGE_PACKAGES.join(" "),
            log = deps_log.display()
        ))
        // Exit 1 (findings) and 3 (incomplete) are judged below, from the report.
        .arg(format!(
            "--customize-hook={audit} scan \"$1\" --registry {registry} --out {out} --key {out}/key --subject 'Debian {SUITE} root' --json > {json} 2> {log}; \
             s=$?; if [ $s -gt 3 ] || [ $s -eq 2 ]; then cat {log}; exit 1; fi",
            audit = audit.display(),
            registry = registry.display(),
            out = scan_dir.display(),
            json = scan_json.display(),
            log = scan_log.display(),
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
        if p != doctor_log && p != deps_log && p != scan_dir {
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
    let report = std::fs::read_to_string(&scan_json)
        .with_context(|| format!("reading {}", scan_json.display()))?;
    let judged = judge_clean_scan(&report).with_context(|| {
        format!(
            "the clean Debian root's scan ({} and {})",
            scan_json.display(),
            scan_log.display()
        )
    })?;
    eprintln!("xtask: clean Debian root: {judged}");
    eprintln!(
        "xtask: fresh machine passed in {took:.0} s, of which the dependency step {step_took} ({} and {})",
        deps_log.display(),
        doctor_log.display()
    );
    Ok(())
}

/// The scan of a root that never saw a canary: no High or Critical finding,
/// and nothing it could not read. Its one medium check, retention, has no
/// data folder to look at and is not run, which alone keeps the verdict
/// from Pass. Returns a line saying what was examined.
fn judge_clean_scan(report: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_str(report).context("not a report")?;
    let checks = v["report"]["checks"]
        .as_array()
        .context("a report without checks")?;
    let mut wrong = Vec::new();
    let mut examined = String::new();
    let mut set_apart = 0;
    for c in checks {
        let id = c["id"].as_str().unwrap_or("?");
        let severity = c["severity"].as_str().unwrap_or("?");
        let status = c["status"].as_str().unwrap_or("?");
        let grave = matches!(severity, "high" | "critical");
        match status {
            "passed" => {}
            "skipped" if id == "storage.retention" => {}
            _ if grave || status != "failed" => wrong.push(format!(
                "{id} ({severity}) {status}: {}",
                c.get("reason")
                    .or(c.get("not_read"))
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| c["findings"].to_string())
            )),
            _ => {}
        }
        if id == "storage.canary" {
            examined = c["examined"].as_str().unwrap_or("").to_string();
        }
        if id == "storage.media" {
            set_apart = c["set_aside"]["total"].as_u64().unwrap_or(0);
        }
    }
    if !wrong.is_empty() {
        bail!(
            "a stock Debian root must give no such result:\n  {}",
            wrong.join("\n  ")
        );
    }
    Ok(format!(
        "no High or Critical finding, every place read ({examined}; {set_apart} package images set apart)"
    ))
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

    fn report(checks: serde_json::Value) -> String {
        serde_json::json!({ "report": { "checks": checks } }).to_string()
    }

    #[test]
    fn a_clean_root_scan_is_judged_by_severity_and_completeness() {
        let passed = |id: &str, sev: &str| serde_json::json!({"id": id, "severity": sev, "status": "passed", "examined": "3 files"});
        let retention = serde_json::json!({"id": "storage.retention", "severity": "medium",
            "status": "skipped", "reason": "no data directory given"});
        let ok = report(serde_json::json!([
            passed("storage.canary", "critical"),
            retention.clone()
        ]));
        assert!(judge_clean_scan(&ok).unwrap().contains("3 files"));
        // A High finding on stock Debian (an icon taken for a frame) fails.
        let icon = report(serde_json::json!([
            passed("storage.canary", "critical"),
            {"id": "storage.media", "severity": "high", "status": "failed", "findings": [{"path": "/usr/share/doc/x.png"}]},
        ]));
        assert!(
            judge_clean_scan(&icon)
                .unwrap_err()
                .to_string()
                .contains("storage.media")
        );
        // So does a place left unread, whatever the severity.
        let unread = report(serde_json::json!([
            {"id": "storage.canary", "severity": "critical", "status": "incomplete", "not_read": ["/x"]},
        ]));
        assert!(
            judge_clean_scan(&unread)
                .unwrap_err()
                .to_string()
                .contains("/x")
        );
        // A medium finding is allowed; a skipped check other than retention is not.
        let medium = report(serde_json::json!([
            {"id": "stream.k_anonymity", "severity": "medium", "status": "failed", "findings": []},
        ]));
        assert!(judge_clean_scan(&medium).is_ok());
        let skipped = report(serde_json::json!([
            {"id": "keys.on_disk", "severity": "critical", "status": "skipped", "reason": "r"},
        ]));
        assert!(judge_clean_scan(&skipped).is_err());
        assert!(judge_clean_scan("{}").is_err());
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
