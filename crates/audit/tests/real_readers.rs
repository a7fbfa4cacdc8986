//! The process checks through their real reader: `scan --process` on real
//! processes, read from their `/proc/PID/status`, `/proc/PID/limits` and
//! `/proc/PID/mem`, each weakness failing its check and its absence
//! passing it. (The fixtures in fixtures.rs fail `hardening.capabilities`,
//! `hardening.no_new_privs`, `hardening.core_dumps`, `hardening.seccomp`,
//! `memory.canary` and `journal.canary` the same way; docs/audit.md lists
//! where every check fails through its real reader.)

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;
use vitrine_canary::Registry;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `scan EMPTY --process NAME`: exit code and report.
fn scan_process(dir: &Path, name: &str) -> (i32, Value) {
    let reg = dir.join("canaries.json");
    if !reg.exists() {
        Registry::from_seed(2, 0, &[[0x60, 0x8b, 0x0e]], 5)
            .save(&reg)
            .unwrap();
    }
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"))
        .arg("scan")
        .arg(&empty)
        .args(["--process", name, "--registry"])
        .arg(&reg)
        .arg("--key")
        .arg(dir.join("report-key"))
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--json")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v["report"].clone())
}

/// Findings of check `id` as (pid, detail).
fn found(report: &Value, id: &str) -> Vec<(u64, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#}"))["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["evidence"]["pid"].as_u64().unwrap(),
                f["evidence"]["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A copy of `/bin/sh` named `name`, started through `setpriv` with
/// `setpriv_args`, running `script`.
fn start(dir: &Path, name: &str, setpriv_args: &[&str], script: &str) -> Child {
    let bin = dir.join(name);
    std::fs::copy("/bin/sh", &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for p in [dir, bin.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let child = Command::new("setpriv")
        .args(setpriv_args)
        .arg(&bin)
        .args(["-c", script])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child
}

/// Two real processes, one with each weakness the kernel reports and one
/// without: each check fails on the first, by pid and with what /proc
/// said, and passes on the second.
#[test]
fn each_process_weakness_fails_its_check_through_proc_and_its_absence_passes() {
    if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to start processes of another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Weak: root's capabilities, no no_new_privs, core dumps unlimited.
    let mut weak = start(
        dir.path(),
        "weakd",
        &[],
        "ulimit -c unlimited; while :; do sleep 1; done",
    );
    // Dumpable: a process of another user, which that user's other
    // processes may read (its /proc/PID/mem is owned by it).
    let mut dumpable = start(
        dir.path(),
        "dumpd",
        &["--reuid=nobody", "--regid=nogroup", "--clear-groups"],
        "ulimit -c 0; while :; do sleep 1; done",
    );
    // Without the first three: another user (no capabilities), no new
    // privileges, no core dumps.
    let mut tight = start(
        dir.path(),
        "tightd",
        &[
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--no-new-privs",
        ],
        "ulimit -c 0; while :; do sleep 1; done",
    );
    let (code_weak, weak_report) = scan_process(dir.path(), "weakd");
    let (code_dump, dump_report) = scan_process(dir.path(), "dumpd");
    let (_, tight_report) = scan_process(dir.path(), "tightd");
    let (weak_pid, dump_pid, tight_pid) = (
        u64::from(weak.id()),
        u64::from(dumpable.id()),
        u64::from(tight.id()),
    );
    for c in [&mut weak, &mut dumpable, &mut tight] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    assert_eq!(code_weak, 1);
    assert_eq!(code_dump, 1);

    let caps = found(&weak_report, "hardening.capabilities");
    assert_eq!(caps.len(), 1, "{caps:?}");
    assert_eq!(caps[0].0, weak_pid);
    assert!(caps[0].1.starts_with("CapEff 0x"), "{caps:?}");
    assert_eq!(
        found(&weak_report, "hardening.no_new_privs"),
        vec![(weak_pid, "NoNewPrivs: 0".to_string())]
    );
    assert_eq!(
        found(&weak_report, "hardening.core_dumps"),
        vec![(weak_pid, "core file size limit: unlimited".to_string())]
    );
    // Root's process: /proc/PID/mem is root's, not dumpable to a user.
    assert_eq!(found(&weak_report, "hardening.dumpable"), vec![]);

    assert_eq!(
        found(&dump_report, "hardening.dumpable"),
        vec![(
            dump_pid,
            format!("/proc/{dump_pid}/mem is owned by uid 65534, the process's own")
        )]
    );
    assert_eq!(found(&dump_report, "hardening.capabilities"), vec![]);
    assert_eq!(found(&dump_report, "hardening.core_dumps"), vec![]);

    assert_eq!(found(&tight_report, "hardening.no_new_privs"), vec![]);
    assert_eq!(found(&tight_report, "hardening.capabilities"), vec![]);
    assert_eq!(found(&tight_report, "hardening.core_dumps"), vec![]);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    if status.contains("Seccomp:\t0") {
        // No filter here, none in the children: the check fails on each.
        for (report, pid) in [(&weak_report, weak_pid), (&tight_report, tight_pid)] {
            assert_eq!(
                found(report, "hardening.seccomp"),
                vec![(pid, "Seccomp: 0".to_string())]
            );
        }
    }
    // Not under a systemd service: the sandbox check says so, never passes.
    let sandbox = weak_report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "hardening.sandbox")
        .unwrap();
    assert_eq!(sandbox["status"], "skipped", "{sandbox:#}");
    assert_eq!(
        sandbox["reason"],
        "weakd does not run under a systemd service"
    );
}
