//! Every leaky vendor fixture is caught by the right check, with evidence;
//! a compliant Vitrine rig (the real pipeline and publisher, a real
//! mosquitto) passes with no finding. The table of these results is in
//! docs/audit.md.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use vitrine_canary::Registry;
use vitrine_hil_tests::fixtures::{self, FIXTURES, Kind};
use vitrine_testkit::Broker;

/// Four MAC canaries and one SSID canary, emitted ten seconds ago. Their
/// OUIs each have an octet below 0x10, so that spellings without leading
/// zeros differ from the padded ones (`netaddr-log`).
fn registry(dir: &Path) -> (Registry, PathBuf) {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut reg = Registry::generate(4, 1, &[[0x60, 0x8b, 0x0e], [0x00, 0x1b, 0x63]], &mut rng);
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

/// The check `id` of a report.
fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#}"))
}

/// The evidence of every finding of check `id`.
fn evidence_of(report: &Value, id: &str) -> Vec<Value> {
    check(report, id)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["evidence"].clone())
        .collect()
}

/// The ids of the registry's MAC canaries (the fixtures plant these).
fn mac_ids(reg: &Registry) -> Vec<String> {
    reg.macs().map(|(c, _)| c.id.clone()).collect()
}

/// Asserts that every MAC canary has a finding of check `id` whose
/// evidence satisfies `want`, and that the check's per-canary count names
/// every one of them (and no other canary).
fn every_canary(
    report: &Value,
    reg: &Registry,
    id: &str,
    what: &str,
    want: impl Fn(&Value) -> bool,
) {
    let ev = evidence_of(report, id);
    for canary in mac_ids(reg) {
        assert!(
            ev.iter().any(|e| e["canary"] == canary.as_str() && want(e)),
            "{what}: no {id} finding for {canary}: {ev:#?}"
        );
    }
    let counted: BTreeSet<String> = check(report, id)["counts"]["per_canary"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no per-canary count: {report:#}"))
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        counted,
        mac_ids(reg).into_iter().collect::<BTreeSet<_>>(),
        "{what}: canaries counted"
    );
}

/// The bytes an encoding name stands for, for canary `id`: the form's
/// bytes, cut when the name says the value was truncated.
fn form_bytes(reg: &Registry, id: &str, encoding: &str) -> Vec<u8> {
    let (name, cut) = match encoding.split_once(" truncated to ") {
        Some((name, rest)) => (
            name,
            Some(rest.split(' ').next().unwrap().parse::<usize>().unwrap()),
        ),
        None => (encoding, None),
    };
    let form = reg
        .get(id)
        .unwrap()
        .forms()
        .into_iter()
        .find(|f| f.encoding.to_string() == name)
        .unwrap_or_else(|| panic!("{id} has no form {name}"));
    let mut bytes = form.bytes;
    if let Some(n) = cut {
        bytes.truncate(n);
    }
    bytes
}

/// Asserts a storage finding's byte offset points at the canary in the
/// encoding named, in `content` (the file, or its decompressed stream).
fn offset_points_at_canary(e: &Value, content: &[u8], reg: &Registry) {
    let want = form_bytes(
        reg,
        e["canary"].as_str().unwrap(),
        e["encoding"].as_str().unwrap(),
    );
    let at = e["offset"].as_u64().unwrap() as usize;
    assert_eq!(
        content.get(at..at + want.len()),
        Some(want.as_slice()),
        "{e}: the offset does not point at the canary"
    );
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn file_name(e: &Value) -> String {
    Path::new(e["path"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The documented evidence of each file fixture (docs/audit.md, "evidence
/// asserted"), per canary where the fixture planted canaries.
fn assert_file_evidence(name: &str, root: &Path, reg: &Registry, report: &Value) {
    let ev = |id: &str| evidence_of(report, id);
    match name {
        "raw-mac-log" => {
            let log = root.join("var/log/vendor/tracker.log");
            every_canary(report, reg, "storage.canary", name, |e| {
                e["path"] == log.to_str().unwrap() && e["encoding"] == "clear(colon-upper)"
            });
            let content = std::fs::read(&log).unwrap();
            for e in ev("storage.canary") {
                offset_points_at_canary(&e, &content, reg);
            }
        }
        "sqlite-sha256" => {
            let db = root.join("var/lib/vendor/visits.db");
            every_canary(report, reg, "storage.canary", name, |e| {
                e["path"] == db.to_str().unwrap()
                    && e["encoding"] == "sha256(colon-lower)/hex-lower"
            });
            assert_eq!(ev("storage.canary").len(), 4, "one per canary");
            let content = std::fs::read(&db).unwrap();
            for e in ev("storage.canary") {
                offset_points_at_canary(&e, &content, reg);
            }
        }
        "truncated-sha256" => {
            let gz = root.join("var/lib/vendor/export-2026-11-23.csv.gz");
            every_canary(report, reg, "storage.canary", name, |e| {
                e["path"] == gz.to_str().unwrap()
                    && e["container"] == "gzip"
                    && e["encoding"] == "sha256(raw)/hex-lower truncated to 12 hex digits"
            });
            // The offset is in the decompressed stream.
            let content = gunzip(&std::fs::read(&gz).unwrap());
            for e in ev("storage.canary") {
                offset_points_at_canary(&e, &content, reg);
            }
        }
        "orm-sqlite-truncated" => {
            let db = root.join("var/lib/vendor/tracker.db");
            for digits in [12, 16] {
                let enc = format!("sha256(colon-lower)/hex-lower truncated to {digits} hex digits");
                every_canary(report, reg, "storage.canary", name, |e| {
                    e["path"] == db.to_str().unwrap() && e["encoding"] == enc.as_str()
                });
            }
            let content = std::fs::read(&db).unwrap();
            for e in ev("storage.canary") {
                assert!(e["container"].is_null(), "{e}");
                offset_points_at_canary(&e, &content, reg);
            }
        }
        "netaddr-log" => {
            let log = root.join("var/log/vendor/presence.log");
            for enc in ["clear(colon-unpadded-lower)", "clear(colon6-lower)"] {
                every_canary(report, reg, "storage.canary", name, |e| {
                    e["path"] == log.to_str().unwrap() && e["encoding"] == enc
                });
            }
            let content = std::fs::read(&log).unwrap();
            for e in ev("storage.canary") {
                offset_points_at_canary(&e, &content, reg);
            }
        }
        "rotated-logs" => {
            let text = fixtures::rotated_log_text(reg);
            for (file, chain, member) in fixtures::ROTATED {
                every_canary(report, reg, "storage.canary", name, |e| {
                    file_name(e) == *file
                        && e["container"] == *chain
                        && e["member"].as_str() == *member
                        && e["encoding"] == "clear(colon-lower)"
                });
            }
            for e in ev("storage.canary") {
                if e["container"].is_null() {
                    // Small lz4 and zstd frames keep text as literals: the
                    // canary is in the file's own bytes too.
                    let raw = std::fs::read(e["path"].as_str().unwrap()).unwrap();
                    offset_points_at_canary(&e, &raw, reg);
                } else {
                    // The offset is in the decompressed log.
                    offset_points_at_canary(&e, text.as_bytes(), reg);
                }
            }
            let per_file = check(report, "storage.canary")["counts"]["per_file"]
                .as_object()
                .unwrap()
                .clone();
            assert_eq!(per_file.len(), fixtures::ROTATED.len(), "{per_file:?}");
            assert!(!per_file.keys().any(|p| p.ends_with("/probes.log")));
        }
        "salted-csv-with-config" => {
            let keys = ev("keys.on_disk");
            assert_eq!(keys.len(), 1, "{keys:#?}");
            let config = root.join("opt/vendor/config.ini");
            assert_eq!(keys[0]["path"], config.to_str().unwrap());
            let detail = keys[0]["detail"].as_str().unwrap();
            assert!(
                detail.starts_with(&format!("config.ini:{}: ", fixtures::VENDOR_SALT_LINE)),
                "{detail}"
            );
            assert!(detail.contains("`[privacy] salt`"), "{detail}");
            assert!(
                !report.to_string().contains(fixtures::VENDOR_SALT),
                "the salt's value is in the report"
            );
        }
        "package-root-with-frame" => {
            let media = check(report, "storage.media");
            let found = media["findings"].as_array().unwrap();
            assert_eq!(found.len(), 1, "only the frame: {found:#?}");
            assert_eq!(found[0]["severity"], "high");
            assert_eq!(
                found[0]["evidence"]["path"],
                root.join(fixtures::LEAKED_FRAME).to_str().unwrap()
            );
            assert_eq!(
                found[0]["evidence"]["detail"],
                "JPEG image, 1280x720, with EXIF (as cameras write)"
            );
            let aside: Vec<(String, String)> = media["set_aside"]["listed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["path"].as_str().unwrap().to_string(),
                        p["reason"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(aside.len(), fixtures::package_images().len(), "{aside:#?}");
            for (rel, _) in fixtures::package_images() {
                let path = root.join(rel);
                assert!(
                    aside.iter().any(|(p, r)| p == path.to_str().unwrap()
                        && r.ends_with("owned by package camviewer, unchanged (dpkg md5sums)")),
                    "{rel}: {aside:#?}"
                );
            }
        }
        "jpeg-frames" => {
            let mut files: Vec<String> = ev("storage.media")
                .iter()
                .map(|e| {
                    assert_eq!(e["detail"], "JPEG image");
                    file_name(e)
                })
                .collect();
            files.sort();
            assert_eq!(
                files,
                ["frame-00000.jpg", "frame-00001.jpg", "frame-00002.jpg"]
            );
        }
        "stale-summaries" => {
            let found = ev("storage.retention");
            assert_eq!(found.len(), 1);
            let path = root.join("var/lib/vendor/summaries/2026-10-01.json");
            assert_eq!(found[0]["path"], path.to_str().unwrap());
            // The timestamp is the file's modification time.
            let mtime: OffsetDateTime =
                std::fs::metadata(&path).unwrap().modified().unwrap().into();
            let shown = OffsetDateTime::parse(
                found[0]["timestamp"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            assert_eq!(shown, mtime);
            let summary = check(report, "storage.retention")["findings"][0]["summary"]
                .as_str()
                .unwrap();
            assert!(
                summary.contains("40.0 days ago") && summary.contains("at most 7 days"),
                "{summary}"
            );
        }
        "salt-on-disk" => {
            let found = ev("keys.on_disk");
            assert_eq!(found.len(), 1);
            assert_eq!(
                found[0]["path"],
                root.join("var/lib/vendor/hash.salt").to_str().unwrap()
            );
            assert_eq!(
                found[0]["detail"],
                "named like a salt; 32 bytes of key material as raw bytes"
            );
        }
        other => panic!("no evidence asserted for {other}"),
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
        // Nothing was left unread.
        for c in report["checks"].as_array().unwrap() {
            assert!(
                c["status"] == "passed" || c["status"] == "failed",
                "{}: {c:#}",
                f.name
            );
        }
        for finding in findings(&report) {
            let path = finding["evidence"]["path"].as_str().unwrap();
            assert!(
                path.starts_with(root.to_str().unwrap()),
                "{}: {path}",
                f.name
            );
        }
        assert_file_evidence(f.name, &root, &reg, &report);
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
        assert_stream_evidence(f.name, &reg, &report, rotation);
        assert_no_canary_value(&report, &reg);
    }
}

fn time_of(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

/// The one finding of check `id`, with its summary.
fn only_finding(report: &Value, id: &str) -> (String, Value) {
    let found = check(report, id)["findings"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{id}: {found:#?}");
    (
        found[0]["summary"].as_str().unwrap().to_string(),
        found[0]["evidence"].clone(),
    )
}

/// The documented evidence of each stream fixture.
fn assert_stream_evidence(name: &str, reg: &Registry, report: &Value, rotation: OffsetDateTime) {
    let n = mac_ids(reg).len();
    match name {
        "pseudonyms-published" => {
            let (summary, e) = only_finding(report, "stream.pseudonyms");
            // The JSON path of the identifiers.
            assert_eq!(e["detail"], "at visitors[].id");
            // One pseudonym per canary under each of the two salts.
            assert!(
                summary.contains(&format!("({} distinct values)", 2 * n)),
                "{summary}"
            );
        }
        "static-salt" => {
            let (summary, e) = only_finding(report, "stream.linkable");
            // First seen before the rotation, seen again after it.
            let detail = e["detail"].as_str().unwrap();
            let (path, rest) = detail.split_once("; seen again until ").unwrap();
            assert_eq!(path, "at visitors[].id");
            let (again, claimed) = rest.split_once("; rotation at ").unwrap();
            let before = time_of(&e["timestamp"]);
            let after = time_of(&Value::from(again));
            let claimed = time_of(&Value::from(claimed));
            assert_eq!(claimed, rotation, "the claimed rotation");
            assert!(before < rotation && rotation < after, "{detail}");
            // Every canary's pseudonym links across it.
            assert!(
                summary.starts_with(&format!("{n} identifiers published before")),
                "{summary}"
            );
        }
        "bin-below-k" => {
            let (summary, e) = only_finding(report, "stream.k_anonymity");
            assert_eq!(e["detail"], "count = 2");
            assert!(summary.contains("below k = 5"), "{summary}");
        }
        "mac-in-stream" => {
            every_canary(report, reg, "stream.canary", name, |e| {
                e["encoding"] == "clear(dash-lower)" && e["topic"] == "vendor/store-1/occupancy"
            });
            let (summary, e) = only_finding(report, "stream.pseudonyms");
            assert_eq!(e["detail"], "at last_device");
            assert!(
                summary.contains(&format!("({n} distinct values)")),
                "{summary}"
            );
        }
        other => panic!("no evidence asserted for {other}"),
    }
}

/// The hardening checks a process fails by what the kernel says of it in
/// `/proc/PID/status` and `/proc/PID/limits`, read here on their own.
fn hardening_failures_of(pid: u32) -> BTreeSet<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap()
            .trim()
            .to_string()
    };
    let mut out = BTreeSet::new();
    let cap_eff = u64::from_str_radix(&field("CapEff"), 16).unwrap();
    if cap_eff & !vitrine_audit::checks::hardening::CAPTURE_CAPABILITIES != 0 {
        out.insert("hardening.capabilities".to_string());
    }
    if field("NoNewPrivs") != "1" {
        out.insert("hardening.no_new_privs".to_string());
    }
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    if core.split_whitespace().nth(4) != Some("0") {
        out.insert("hardening.core_dumps".to_string());
    }
    if field("Seccomp") != "2" {
        out.insert("hardening.seccomp".to_string());
    }
    // Run as root here: not dumpable by another user (hardening.dumpable
    // needs a process of a user other than root; see real_readers.rs).
    assert_eq!(field("Uid").split_whitespace().nth(1), Some("0"));
    out
}

/// `[heap]`, the file, or "" for an anonymous mapping holding `address`.
fn mapping_of(maps: &str, address: u64) -> Option<String> {
    maps.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (a, b) = f.next()?.split_once('-')?;
        let (a, b) = (
            u64::from_str_radix(a, 16).ok()?,
            u64::from_str_radix(b, 16).ok()?,
        );
        (a <= address && address < b).then(|| f.nth(4).unwrap_or("").to_string())
    })
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
        let pid = child.id();
        let hardening = hardening_failures_of(pid);
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let (code, report) = scan(
            dir.path(),
            &empty,
            &["--process", "vendord"],
            &reg_path,
            &policy,
        );
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(code, 1, "{}", f.name);
        let failing: BTreeSet<String> = failing_checks(&report).into_iter().collect();
        assert!(failing.contains(f.check), "{}: {failing:?}", f.name);
        // Beside its own check, exactly the hardening checks this process
        // fails where the test runs.
        let mut expected = hardening.clone();
        expected.insert(f.check.to_string());
        assert_eq!(failing, expected, "{}", f.name);
        for finding in findings(&report) {
            assert_eq!(finding["evidence"]["pid"], pid, "{}", f.name);
            assert_eq!(finding["evidence"]["process"], "vendord");
        }
        match f.name {
            "core-dumps" => {
                let (_, e) = only_finding(&report, "hardening.core_dumps");
                assert_eq!(e["detail"], "core file size limit: unlimited");
                // No canary in this one's memory.
                assert_eq!(check(&report, "memory.canary")["status"], "passed");
            }
            "macs-in-memory" => {
                // Core dumps off in this one.
                assert!(!failing.contains("hardening.core_dumps"), "{failing:?}");
                every_canary(&report, &reg, "memory.canary", f.name, |e| {
                    e["encoding"] == "clear(colon-lower)"
                });
                for e in evidence_of(&report, "memory.canary") {
                    // The address is in the mapping the detail names.
                    let address = e["offset"].as_u64().unwrap();
                    let mapping = mapping_of(&maps, address)
                        .unwrap_or_else(|| panic!("{address:#x} is in no mapping: {maps}"));
                    let named = if mapping.is_empty() {
                        "in an anonymous mapping".to_string()
                    } else {
                        format!("in {mapping}")
                    };
                    assert_eq!(e["detail"], named.as_str(), "{e}");
                    // When the canary was emitted.
                    let canary = reg.get(e["canary"].as_str().unwrap()).unwrap();
                    assert_eq!(time_of(&e["timestamp"]), canary.first_emitted().unwrap());
                }
            }
            other => panic!("no evidence asserted for {other}"),
        }
        assert_no_canary_value(&report, &reg);
    }
}

/// A private journald: in a mount namespace of its own, `/run` is `run`
/// (its sockets and its volatile journal); `command` runs beside it with
/// its standard output connected to the journal by `systemd-cat`. Returns
/// the journal directory, or why this machine cannot run one.
fn with_private_journald(
    run: &Path,
    identifier: &str,
    command: &[&str],
) -> Result<PathBuf, String> {
    let journald = [
        "/lib/systemd/systemd-journald",
        "/usr/lib/systemd/systemd-journald",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .ok_or("no systemd-journald")?;
    for tool in ["unshare", "systemd-cat", "journalctl"] {
        Command::new(tool)
            .arg("--version")
            .output()
            .map_err(|e| format!("no {tool}: {e}"))?;
    }
    let private = Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .output()
        .map_err(|e| e.to_string())?;
    if !private.status.success() {
        return Err(format!(
            "cannot make a mount namespace: {}",
            String::from_utf8_lossy(&private.stderr).trim()
        ));
    }
    std::fs::create_dir_all(run).unwrap();
    let script = r#"
set -e
mount --bind "$1" /run
journald="$2"; identifier="$3"; shift 3
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d /run/log/journal
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n' \
    > /run/systemd/journald.conf.d/private.conf
"$journald" & j=$!
i=0
until [ -S /run/systemd/journal/stdout ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { kill $j; exit 7; }
    sleep 0.1
done
systemd-cat -t "$identifier" "$@"
sleep 0.5
kill $j
wait $j || true
"#;
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(run)
        .arg(journald)
        .arg(identifier)
        .args(command)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "private journald: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(run.join("log/journal"))
}

#[test]
fn leaky_journal_is_caught_through_journald_and_journalctl() {
    for f in FIXTURES.iter().filter(|f| f.kind == Kind::Journal) {
        let dir = tempfile::tempdir().unwrap();
        let (reg, reg_path) = registry(dir.path());
        let policy = policy_file(dir.path(), f.name);
        let vendord = fixtures::vendord(dir.path()).unwrap();
        let pid_file = dir.path().join("vendord.pid");
        // The lines go through a file, not the command line: journald also
        // records the sender's _CMDLINE when it reads it in time.
        let lines_file = dir.path().join("lines");
        let mut lines = String::new();
        for line in fixtures::journal_lines(f.name, &reg) {
            lines += &line;
            lines.push('\n');
        }
        std::fs::write(&lines_file, lines).unwrap();
        let script = format!(
            "echo $$ > '{}'; while IFS= read -r l; do printf '%s\\n' \"$l\"; done < '{}'",
            pid_file.display(),
            lines_file.display()
        );
        let before = OffsetDateTime::now_utc();
        let journal = match with_private_journald(
            &dir.path().join("run"),
            "vendord",
            &[vendord.to_str().unwrap(), "-c", &script],
        ) {
            Ok(j) => j,
            Err(why) => {
                eprintln!("skipped {}: {why}", f.name);
                return;
            }
        };
        let after = OffsetDateTime::now_utc();
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let (code, report) = scan(
            dir.path(),
            &empty,
            &["--journal-dir", journal.to_str().unwrap()],
            &reg_path,
            &policy,
        );
        assert_eq!(code, 1, "{}", f.name);
        assert_eq!(failing_checks(&report), vec![f.check.to_string()]);
        every_canary(&report, &reg, f.check, f.name, |e| {
            e["encoding"] == "clear(colon-lower)" && e["process"] == "vendord" && e["pid"] == pid
        });
        for e in evidence_of(&report, f.check) {
            let when = time_of(&e["timestamp"]);
            assert!(before <= when && when <= after, "{e}");
            assert!(
                e["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("field MESSAGE; cursor s="),
                "{e}"
            );
        }
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
        let mut bytes = frames[0].bytes[..vitrine_dot11::build::RADIOTAP_LEN].to_vec();
        bytes.extend_from_slice(&frame);
        frames.push(SimFrame {
            ts_us: start_us + 90_000_000 + i as i64 * 50_000,
            bytes,
        });
    }
    frames.sort_by_key(|f| f.ts_us);
    let mut stage = vitrine_wifi_capture::CaptureStage::new(
        vitrine_privacy::RotationPolicy::default(),
        vitrine_privacy::IgnoreList::default(),
    );
    let mut out = Vec::new();
    let (_, result) = vitrined::run(
        &mut vitrined::demo::SimSource::new(frames),
        &mut stage,
        vitrine_wifi_aggregate::Config::default(),
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
        .find(|s| s.wifi.as_ref().unwrap().devices.distinct_macs > 4)
        .expect("canaries are counted");
    assert!(canary_window.wifi.as_ref().unwrap().frames.probe_req > 0);

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
