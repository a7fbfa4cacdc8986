//! Every leaky vendor fixture is caught by the right check, with evidence;
//! a compliant Vitrine rig (the real pipeline and publisher, a real
//! mosquitto) passes with no finding. The table of these results is in
//! docs/audit.md.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use vitrine_canary::Registry;
use vitrine_hil_tests::fixtures::{self, FIXTURES, Kind};
use vitrine_testkit::Broker;

/// Canaries emitted ten seconds ago.
fn registry(dir: &Path) -> (Registry, PathBuf) {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut reg = Registry::generate(4, 1, &[[0x3c, 0x22, 0xfb], [0xf0, 0x18, 0x98]], &mut rng);
    reg.mark_emitted(OffsetDateTime::now_utc() - time::Duration::seconds(10));
    let path = dir.join("canaries.json");
    reg.save(&path).unwrap();
    (reg, path)
}

fn audit(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"));
    cmd.args(args)
        .arg("--key")
        .arg(dir.join("report-key"))
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--json");
    cmd
}

/// Exit code and the report (the signed envelope's `report`).
fn outcome(out: std::process::Output) -> (i32, Value) {
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v["report"].clone())
}

/// `vitrine-audit scan ROOT EXTRA...` with the registry and policy;
/// its exit code and report.
fn scan(dir: &Path, root: &Path, extra: &[&str], registry: &Path, policy: &Path) -> (i32, Value) {
    let mut args = vec!["scan", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = audit(dir, &args)
        .arg("--registry")
        .arg(registry)
        .arg("--policy")
        .arg(policy)
        .output()
        .unwrap();
    outcome(out)
}

fn failing_checks(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["findings"].as_array().unwrap().is_empty())
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    ids.dedup();
    ids
}

fn findings(report: &Value) -> Vec<Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap().clone())
        .collect()
}

fn policy_file(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join("policy.toml");
    std::fs::write(&p, fixtures::policy(name)).unwrap();
    p
}

/// The report never carries a canary in clear.
fn assert_no_canary_value(report: &Value, reg: &Registry) {
    let text = report.to_string().to_ascii_lowercase();
    for (_, mac) in reg.macs() {
        for s in vitrine_canary::Spelling::ALL {
            let spelled = vitrine_canary::encoding::spelled(&mac, s, vitrine_canary::Case::Lower);
            assert!(!text.contains(&spelled), "the report shows a canary value");
        }
    }
}

#[test]
fn every_leaky_file_tree_is_caught_by_its_check() {
    for f in FIXTURES.iter().filter(|f| f.kind == Kind::Files) {
        let dir = tempfile::tempdir().unwrap();
        let (reg, reg_path) = registry(dir.path());
        let root = dir.path().join("device");
        let data = fixtures::plant_files(f.name, &root, &reg).unwrap();
        let policy = policy_file(dir.path(), f.name);
        let (code, report) = scan(
            dir.path(),
            &root,
            &["--data-root", data.to_str().unwrap()],
            &reg_path,
            &policy,
        );
        assert_eq!(code, 1, "{}: a finding exits 1", f.name);
        assert_eq!(report["verdict"], "fail");
        assert_eq!(
            failing_checks(&report),
            vec![f.check.to_string()],
            "{}",
            f.name
        );
        for finding in findings(&report) {
            let path = finding["evidence"]["path"].as_str().unwrap();
            assert!(
                path.starts_with(root.to_str().unwrap()),
                "{}: {path}",
                f.name
            );
        }
        let ev: Vec<Value> = findings(&report)
            .into_iter()
            .map(|f| f["evidence"].clone())
            .collect();
        match f.name {
            "raw-mac-log" => assert!(
                ev.iter()
                    .all(|e| e["encoding"] == "clear(colon-upper)" && e["offset"].is_u64())
            ),
            "sqlite-sha256" => {
                assert_eq!(ev.len(), 4, "one per canary: {ev:?}");
                assert!(
                    ev.iter()
                        .all(|e| e["encoding"] == "sha256(colon-lower)/hex-lower"
                            && e["path"].as_str().unwrap().ends_with("visits.db"))
                );
            }
            "truncated-sha256" => assert!(ev.iter().all(|e| e["encoding"]
                == "sha256(raw)/hex-lower truncated to 12 hex digits"
                && e["container"] == "gzip")),
            "jpeg-frames" => assert_eq!(ev.len(), 3),
            "stale-summaries" => {
                assert!(ev[0]["path"].as_str().unwrap().ends_with("2026-10-01.json"))
            }
            "salt-on-disk" => assert!(ev[0]["path"].as_str().unwrap().ends_with("hash.salt")),
            _ => {}
        }
        assert_no_canary_value(&report, &reg);
    }
}

/// Starts `vitrine-audit mqtt` on `broker` and waits for its subscription.
fn watch(
    dir: &Path,
    broker: &Broker,
    reg_path: &Path,
    policy: &Path,
    seconds: u64,
    extra: &[&str],
) -> std::process::Child {
    let mut child = audit(
        dir,
        &[
            "mqtt",
            "--broker",
            &broker.url(),
            "--duration",
            &seconds.to_string(),
        ],
    )
    .arg("--registry")
    .arg(reg_path)
    .arg("--policy")
    .arg(policy)
    .args(extra)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    while !lines
        .next()
        .expect("the audit logs its subscription")
        .unwrap()
        .contains("subscribed")
    {}
    std::thread::spawn(move || for _ in lines {});
    child
}

fn publish(broker: &Broker, topic: &str, payload: &[u8]) {
    let mut child = Command::new("mosquitto_pub")
        .args([
            "-p",
            &broker.port.to_string(),
            "-h",
            "127.0.0.1",
            "-q",
            "1",
            "-t",
            topic,
            "-s",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(payload).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn every_leaky_stream_is_caught_by_its_check() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    for f in FIXTURES.iter().filter(|f| f.kind == Kind::Stream) {
        let dir = tempfile::tempdir().unwrap();
        let (reg, reg_path) = registry(dir.path());
        let policy = policy_file(dir.path(), f.name);
        let rotation = OffsetDateTime::now_utc() + time::Duration::seconds(2);
        let at = rotation
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let child = watch(
            dir.path(),
            &broker,
            &reg_path,
            &policy,
            5,
            &["--topic", "vendor/#", "--rotation-at", &at],
        );
        let (before, after) = fixtures::stream_messages(f.name, &reg);
        for (topic, body) in before {
            publish(&broker, &topic, body.as_bytes());
        }
        std::thread::sleep(
            (rotation - OffsetDateTime::now_utc())
                .try_into()
                .unwrap_or_default(),
        );
        std::thread::sleep(Duration::from_millis(300));
        for (topic, body) in after {
            publish(&broker, &topic, body.as_bytes());
        }
        let (code, report) = outcome(child.wait_with_output().unwrap());
        assert_eq!(code, 1, "{}", f.name);
        let mut expected: Vec<String> = f
            .also
            .iter()
            .chain([&f.check])
            .map(|c| c.to_string())
            .collect();
        expected.sort();
        let mut failing = failing_checks(&report);
        failing.sort();
        assert_eq!(failing, expected, "{}", f.name);
        for finding in findings(&report) {
            assert_eq!(finding["evidence"]["topic"], "vendor/store-1/occupancy");
            assert!(finding["evidence"]["timestamp"].is_string());
        }
        assert_no_canary_value(&report, &reg);
    }
}

#[test]
fn leaky_processes_are_caught_by_their_checks() {
    for f in FIXTURES.iter().filter(|f| f.kind == Kind::Process) {
        let dir = tempfile::tempdir().unwrap();
        let (reg, reg_path) = registry(dir.path());
        let policy = policy_file(dir.path(), f.name);
        let vendord = fixtures::vendord(dir.path()).unwrap();
        let mut child = Command::new(&vendord)
            .arg("-c")
            .arg(fixtures::process_script(f.name, &reg))
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let (code, report) = scan(
            dir.path(),
            &empty,
            &["--process", "vendord"],
            &reg_path,
            &policy,
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(code, 1, "{}", f.name);
        let failing = failing_checks(&report);
        assert!(
            failing.contains(&f.check.to_string()),
            "{}: {failing:?}",
            f.name
        );
        for finding in findings(&report).iter().filter(|x| x["check"] == f.check) {
            assert_eq!(finding["evidence"]["pid"], child.id());
            assert_eq!(finding["evidence"]["process"], "vendord");
        }
        // The other fixture's rule holds in each: core limit 0 for the
        // memory fixture, no canary in the core-dump fixture's memory.
        let other = if f.name == "core-dumps" {
            "memory.canary"
        } else {
            "hardening.core_dumps"
        };
        assert!(
            !failing.contains(&other.to_string()),
            "{}: {failing:?}",
            f.name
        );
        assert_no_canary_value(&report, &reg);
    }
}

/// A rig's windows: simulated store traffic with the canaries probing in it.
fn rig_summaries(reg: &Registry) -> Vec<vitrine_schema::Summary> {
    use vitrine_sim::{SimConfig, SimFrame, Simulator};
    let sim = SimConfig {
        duration_s: 300,
        ..SimConfig::quiet_store()
    };
    let start_us = sim.start_unix_s * 1_000_000;
    let (mut frames, _) = Simulator::new(sim).run();
    for (i, frame) in vitrine_audit::emit::frames(reg, 6, 3)
        .into_iter()
        .enumerate()
    {
        let mut bytes = frames[0].bytes[..vitrine_sim::RADIOTAP_LEN].to_vec();
        bytes.extend_from_slice(&frame);
        frames.push(SimFrame {
            ts_us: start_us + 90_000_000 + i as i64 * 50_000,
            bytes,
        });
    }
    frames.sort_by_key(|f| f.ts_us);
    let mut stage = vitrine_capture::CaptureStage::new(
        vitrine_privacy::RotationPolicy::default(),
        vitrine_privacy::IgnoreList::default(),
    );
    let mut out = Vec::new();
    let (_, result) = vitrined::run(
        &mut vitrined::demo::SimSource::new(frames),
        &mut stage,
        vitrine_aggregate::Config::default(),
        &mut |s| out.push(s),
    );
    result.unwrap();
    out
}

#[test]
fn a_compliant_vitrine_rig_passes_with_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (reg, reg_path) = registry(dir.path());
    let policy = policy_file(dir.path(), "");
    let summaries = rig_summaries(&reg);
    assert!(summaries.len() >= 5);
    let canary_window = summaries
        .iter()
        .find(|s| s.wifi.devices.distinct_macs > 4)
        .expect("canaries are counted");
    assert!(canary_window.wifi.frames.probe_req > 0);

    let child = watch(
        dir.path(),
        &broker,
        &reg_path,
        &policy,
        6,
        &["--topic", "vitrine/#", "--expect", "vitrine"],
    );
    let spool = dir.path().join("rig/var/lib/vitrine/spool");
    let cfg = vitrined::publishing::new_broker(&broker.url(), "store-9", "rig-1").unwrap();
    let mut publishing = vitrined::publishing::Publishing::start(
        cfg,
        &spool,
        vitrine_publish::SpoolPolicy::default(),
    )
    .unwrap();
    for s in summaries.clone() {
        publishing.push(s).unwrap();
    }
    let stats = publishing.finish(Duration::from_secs(5));
    assert_eq!(
        stats.acknowledged,
        summaries.len() as u64,
        "everything was published"
    );
    let (code, report) = outcome(child.wait_with_output().unwrap());
    assert_eq!(findings(&report), Vec::<Value>::new());
    assert_eq!(
        report["windows"].as_array().unwrap().len(),
        summaries.len(),
        "every window was watched"
    );
    let stream: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("stream."))
        .collect();
    assert_eq!(stream.len(), 5);
    // No identifier is published, so nothing can link across a rotation.
    assert!(stream.iter().all(|c| c["status"] == "passed"), "{stream:?}");
    assert_eq!(code, 0);

    // The rig's own files: the spool, and a log of what it did.
    let root = dir.path().join("rig");
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::write(
        root.join("var/log/vitrined.log"),
        "window closed: 57 addresses, 31 devices\n",
    )
    .unwrap();
    let (code, report) = scan(
        dir.path(),
        &root,
        &["--data-root", spool.to_str().unwrap()],
        &reg_path,
        &policy,
    );
    assert_eq!(findings(&report), Vec::<Value>::new());
    assert_eq!(code, 0);
    assert_eq!(report["verdict"], "pass");
}
