//! How the running daemon is confined: what `/proc/PID/status` and
//! `/proc/PID/limits` say, and the sandbox of its systemd unit.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use super::{
    HARDENING_CAPABILITIES, HARDENING_CORE_DUMPS, HARDENING_DUMPABLE, HARDENING_NO_NEW_PRIVS,
    HARDENING_SANDBOX, HARDENING_SECCOMP, Outcome,
};
use crate::report::{CheckResult, Evidence};

/// CAP_NET_ADMIN (12) and CAP_NET_RAW (13): creating a monitor interface
/// and capturing on it.
pub const CAPTURE_CAPABILITIES: u64 = (1 << 12) | (1 << 13);

/// What is read about one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFacts {
    pub pid: u32,
    pub uid: u32,
    pub cap_eff: u64,
    pub no_new_privs: bool,
    pub seccomp: u8,
    /// Soft core-size limit in bytes (`None`: unlimited).
    pub core_soft: Option<u64>,
    /// Owner of `/proc/PID/mem`: root for a process that is not dumpable.
    pub proc_owner: u32,
    /// The systemd unit the process runs in, if any.
    pub unit: Option<String>,
}

impl ProcessFacts {
    /// Reads the facts of `pid` from `proc_root` (normally `/proc`).
    pub fn read(proc_root: &Path, pid: u32) -> std::io::Result<ProcessFacts> {
        let dir = proc_root.join(pid.to_string());
        let status = std::fs::read_to_string(dir.join("status"))?;
        let limits = std::fs::read_to_string(dir.join("limits"))?;
        let cgroup = std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
        };
        let core = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .and_then(|l| {
                l.trim_start_matches("Max core file size")
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
            });
        Ok(ProcessFacts {
            pid,
            uid: field("Uid")
                .and_then(|u| u.split_whitespace().nth(1)?.parse().ok())
                .unwrap_or(0),
            cap_eff: field("CapEff")
                .and_then(|c| u64::from_str_radix(c, 16).ok())
                .unwrap_or(u64::MAX),
            no_new_privs: field("NoNewPrivs") == Some("1"),
            seccomp: field("Seccomp").and_then(|s| s.parse().ok()).unwrap_or(0),
            core_soft: match core.as_deref() {
                Some("unlimited") | None => None,
                Some(n) => n.parse().ok(),
            },
            proc_owner: std::fs::metadata(dir.join("mem"))
                .map(|m| m.uid())
                .unwrap_or(0),
            unit: cgroup.lines().find_map(|l| {
                l.rsplit('/')
                    .next()
                    .filter(|u| u.ends_with(".service"))
                    .map(str::to_string)
            }),
        })
    }
}

/// The sandbox properties of a unit that must be set, with the value
/// `systemctl show` prints for them.
const SANDBOX: &[(&str, &str)] = &[
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("NoNewPrivileges", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectControlGroups", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
];

/// Runs every hardening check on the process `name` with `facts`.
/// `unit_properties` gives `systemctl show` output for a unit (a function
/// so tests need no systemd).
pub fn run(
    name: &str,
    facts: &[ProcessFacts],
    allowed_caps: u64,
    unit_properties: &dyn Fn(&str) -> Option<String>,
) -> Vec<CheckResult> {
    let ids = [
        HARDENING_CAPABILITIES,
        HARDENING_NO_NEW_PRIVS,
        HARDENING_DUMPABLE,
        HARDENING_CORE_DUMPS,
        HARDENING_SECCOMP,
        HARDENING_SANDBOX,
    ];
    if facts.is_empty() {
        return ids
            .iter()
            .map(|&c| Outcome::skipped(c, format!("no process named {name} is running")))
            .collect();
    }
    let mut outs: Vec<Outcome> = ids.iter().map(|&c| Outcome::new(c)).collect();
    let ev = |f: &ProcessFacts, detail: String| Evidence {
        pid: Some(f.pid),
        process: Some(name.to_string()),
        detail: Some(detail),
        ..Evidence::default()
    };
    let mut units = Vec::new();
    for f in facts {
        let extra = f.cap_eff & !allowed_caps;
        if extra != 0 {
            outs[0].find(
                format!("{name} holds capabilities it does not need for capture."),
                ev(
                    f,
                    format!(
                        "CapEff {:#x}; beyond {:#x}: {:#x}",
                        f.cap_eff, allowed_caps, extra
                    ),
                ),
            );
        }
        if !f.no_new_privs {
            outs[1].find(
                format!("{name} could gain privileges (no_new_privs is not set)."),
                ev(f, "NoNewPrivs: 0".into()),
            );
        }
        if f.uid != 0 && f.proc_owner == f.uid {
            outs[2].find(
                format!("{name} is dumpable: any process of its user can read its memory."),
                ev(
                    f,
                    format!(
                        "/proc/{}/mem is owned by uid {}, the process's own",
                        f.pid, f.uid
                    ),
                ),
            );
        }
        if f.core_soft != Some(0) {
            let limit = f
                .core_soft
                .map_or("unlimited".to_string(), |n| format!("{n} bytes"));
            outs[3].find(
                format!("{name} may write a core dump, which would put its memory (keys, state) on disk."),
                ev(f, format!("core file size limit: {limit}")),
            );
        }
        if f.seccomp != 2 {
            outs[4].find(
                format!("{name} runs without a seccomp filter."),
                ev(f, format!("Seccomp: {}", f.seccomp)),
            );
        }
        if let Some(unit) = &f.unit {
            units.push((f.clone(), unit.clone()));
        }
    }
    for o in &mut outs[..5] {
        o.examined(format!(
            "/proc status and limits of {name} (pid {})",
            facts
                .iter()
                .map(|f| f.pid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut results: Vec<CheckResult> = Vec::new();
    let sandbox = outs.pop().expect("six outcomes");
    results.extend(outs.into_iter().map(Outcome::finish));
    results.push(sandbox_check(sandbox, name, &units, unit_properties));
    results
}

fn sandbox_check(
    mut out: Outcome,
    name: &str,
    units: &[(ProcessFacts, String)],
    unit_properties: &dyn Fn(&str) -> Option<String>,
) -> CheckResult {
    let Some((facts, unit)) = units.first() else {
        return Outcome::skipped(
            HARDENING_SANDBOX,
            format!("{name} does not run under a systemd service"),
        );
    };
    let Some(shown) = unit_properties(unit) else {
        return Outcome::skipped(
            HARDENING_SANDBOX,
            format!("cannot read the properties of {unit}"),
        );
    };
    for (key, want) in SANDBOX {
        let got = shown
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("");
        if got != *want {
            out.find(
                format!("{unit} does not set {key}={want}."),
                Evidence {
                    pid: Some(facts.pid),
                    process: Some(name.to_string()),
                    detail: Some(format!("{key}={got}")),
                    ..Evidence::default()
                },
            );
        }
    }
    out.examined(format!("{} sandbox properties of {unit}", SANDBOX.len()));
    out.finish()
}

/// `systemctl show UNIT` for the sandbox properties.
pub fn systemctl_show(unit: &str) -> Option<String> {
    let keys: Vec<&str> = SANDBOX.iter().map(|(k, _)| *k).collect();
    let out = Command::new("systemctl")
        .args(["show", unit, "-p", &keys.join(",")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hardened() -> ProcessFacts {
        ProcessFacts {
            pid: 42,
            uid: 998,
            cap_eff: CAPTURE_CAPABILITIES,
            no_new_privs: true,
            seccomp: 2,
            core_soft: Some(0),
            proc_owner: 0,
            unit: Some("vitrined.service".into()),
        }
    }

    fn sandboxed(_: &str) -> Option<String> {
        Some(SANDBOX.iter().map(|(k, v)| format!("{k}={v}\n")).collect())
    }

    fn failing(results: &[CheckResult]) -> Vec<&str> {
        results
            .iter()
            .filter(|r| !r.findings.is_empty())
            .map(|r| r.id.as_str())
            .collect()
    }

    #[test]
    fn a_hardened_daemon_passes_every_check() {
        let r = run("vitrined", &[hardened()], CAPTURE_CAPABILITIES, &sandboxed);
        assert_eq!(r.len(), 6);
        assert_eq!(failing(&r), Vec::<&str>::new());
        assert!(
            r.iter().all(|c| c.status == crate::report::Status::Passed),
            "{r:?}"
        );
    }

    #[test]
    fn each_weakness_fails_its_own_check() {
        let cases: Vec<(&str, ProcessFacts)> = vec![
            (
                "hardening.capabilities",
                ProcessFacts {
                    cap_eff: CAPTURE_CAPABILITIES | (1 << 21),
                    ..hardened()
                },
            ),
            (
                "hardening.no_new_privs",
                ProcessFacts {
                    no_new_privs: false,
                    ..hardened()
                },
            ),
            (
                "hardening.dumpable",
                ProcessFacts {
                    proc_owner: 998,
                    ..hardened()
                },
            ),
            (
                "hardening.core_dumps",
                ProcessFacts {
                    core_soft: None,
                    ..hardened()
                },
            ),
            (
                "hardening.seccomp",
                ProcessFacts {
                    seccomp: 0,
                    ..hardened()
                },
            ),
        ];
        for (id, facts) in cases {
            let r = run("vitrined", &[facts], CAPTURE_CAPABILITIES, &sandboxed);
            assert_eq!(failing(&r), vec![id]);
        }
        let loose = |_: &str| Some("ProtectSystem=no\n".to_string());
        let r = run("vitrined", &[hardened()], CAPTURE_CAPABILITIES, &loose);
        assert_eq!(failing(&r), vec!["hardening.sandbox"]);
        assert_eq!(r[5].findings.len(), SANDBOX.len());
    }

    #[test]
    fn the_facts_of_a_real_process_are_read() {
        // This test process: not under seccomp (the harness sets none),
        // its limits as the shell left them.
        let me = std::process::id();
        let f = ProcessFacts::read(Path::new("/proc"), me).unwrap();
        assert_eq!(f.pid, me);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(
            status.contains(&format!("CapEff:\t{:016x}", f.cap_eff)),
            "{status}"
        );
        let limit = core_limit_of_this_process();
        assert_eq!(f.core_soft, limit);
    }

    fn core_limit_of_this_process() -> Option<u64> {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap();
        let soft = line.split_whitespace().nth(4).unwrap();
        soft.parse().ok()
    }
}
