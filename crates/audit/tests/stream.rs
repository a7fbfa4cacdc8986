//! The stream check and the consumers against what a device really
//! publishes, through a real mosquitto: fields the schema does not have,
//! and messages larger than the consumers' bounds (docs/audit.md, "The
//! stream check's bounds"; docs/publishing.md, "Consuming").

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use vitrine_canary::Registry;
use vitrine_publish::{Codec, Envelope};
use vitrine_testkit::Broker;

fn registry(dir: &Path) -> (Registry, PathBuf) {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut reg = Registry::generate(2, 1, &[[0x3c, 0x22, 0xfb], [0xf0, 0x18, 0x98]], &mut rng);
    reg.mark_emitted(OffsetDateTime::now_utc() - time::Duration::seconds(10));
    let path = dir.join("canaries.json");
    reg.save(&path).unwrap();
    (reg, path)
}

fn mac(reg: &Registry) -> String {
    let (_, mac) = reg.macs().next().unwrap();
    vitrine_canary::encoding::spelled(
        &mac,
        vitrine_canary::Spelling::Colon,
        vitrine_canary::Case::Lower,
    )
}

fn envelope(seq: u64) -> Envelope {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/schema/summary-v1.example.json"
    );
    Envelope {
        site: "store-3".into(),
        rig: "rig-a".into(),
        boot: "b00f".into(),
        seq,
        summary: serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap(),
    }
}

/// A summary as the rig's publisher sends it, with `extra` merged into
/// `summary.wifi.devices`.
fn payload(seq: u64, extra: Option<(&str, &str)>) -> Vec<u8> {
    let mut json = serde_json::to_value(envelope(seq)).unwrap();
    if let Some((k, v)) = extra {
        json["summary"]["wifi"]["devices"][k] = v.into();
    }
    Codec::shipped().compress(&serde_json::to_vec(&json).unwrap())
}

fn publish(broker: &Broker, topic: &str, payload: &[u8], retain: bool) {
    let mut child = Command::new("mosquitto_pub")
        .args(["-p", &broker.port.to_string(), "-h", "127.0.0.1", "-q", "1"])
        .args(if retain { &["-r"][..] } else { &[] })
        .args(["-t", topic, "-s"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(payload).unwrap();
    assert!(child.wait().unwrap().success());
}

/// `vitrine-audit mqtt` on `vitrine/#`, once it has subscribed.
fn watch(dir: &Path, broker: &Broker, reg: &Path, seconds: u64, expect: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"))
        .args(["mqtt", "--broker", &broker.url(), "--topic", "vitrine/#"])
        .args(["--duration", &seconds.to_string(), "--expect", expect])
        .arg("--registry")
        .arg(reg)
        .arg("--key")
        .arg(dir.join("report-key"))
        .arg("--json")
        .env("TMPDIR", dir)
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

/// Exit code, and each check of the report by id.
fn outcome(child: Child) -> (i32, Value, String) {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let checks: serde_json::Map<String, Value> = v["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c.clone()))
        .collect();
    (out.status.code().unwrap(), Value::Object(checks), text)
}

fn findings(check: &Value) -> &Vec<Value> {
    check["findings"].as_array().unwrap()
}

#[test]
fn a_canary_in_a_field_the_schema_does_not_have_fails_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (reg, reg_path) = registry(dir.path());
    for expect in ["vitrine", "json"] {
        let child = watch(dir.path(), &broker, &reg_path, 3, expect);
        publish(
            &broker,
            "vitrine/store-3/rig-a/wifi",
            &payload(0, None),
            false,
        );
        let leak = payload(1, Some(("last_seen", &mac(&reg))));
        publish(&broker, "vitrine/store-3/rig-a/wifi", &leak, false);
        let (code, checks, text) = outcome(child);
        assert_eq!(code, 1, "{expect}: {checks:#}");
        let canary = findings(&checks["stream.canary"]);
        assert!(
            canary
                .iter()
                .any(|f| f["evidence"]["encoding"] == "clear(colon-lower)"),
            "{expect}: {canary:?}"
        );
        let schema = findings(&checks["stream.schema"]);
        assert_eq!(schema.len(), 1, "{expect}: {schema:?}");
        assert_eq!(
            schema[0]["evidence"]["detail"],
            "summary.wifi.devices.last_seen"
        );
        assert!(!text.contains(&mac(&reg)), "the report shows the canary");
    }
}

#[test]
fn summaries_without_unknown_fields_pass() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (_, reg_path) = registry(dir.path());
    let child = watch(dir.path(), &broker, &reg_path, 3, "vitrine");
    for seq in 0..3 {
        publish(
            &broker,
            "vitrine/store-3/rig-a/wifi",
            &payload(seq, None),
            false,
        );
    }
    let (code, checks, _) = outcome(child);
    assert_eq!(code, 0, "{checks:#}");
    assert!(
        checks
            .as_object()
            .unwrap()
            .values()
            .all(|c| c["status"] == "passed"),
        "{checks:#}"
    );
}

#[test]
fn a_retained_2_mb_message_does_not_hide_the_others_from_mqtt() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (reg, reg_path) = registry(dir.path());
    publish(
        &broker,
        "vitrine/store-3/rig-a/dict",
        &vec![b'x'; 2_000_000],
        true,
    );
    // A leak after it is seen.
    let child = watch(dir.path(), &broker, &reg_path, 3, "json");
    let leak = format!(r#"{{"zone":"door","device":"{}"}}"#, mac(&reg));
    publish(
        &broker,
        "vitrine/store-3/rig-a/wifi",
        leak.as_bytes(),
        false,
    );
    let (code, checks, _) = outcome(child);
    assert_eq!(code, 1, "{checks:#}");
    assert!(!findings(&checks["stream.canary"]).is_empty());
    let examined = checks["stream.canary"]["examined"].as_str().unwrap();
    assert!(
        examined.contains("2,000,000 bytes") && examined.contains("1 MiB"),
        "the bound is stated: {examined}"
    );

    // Clean summaries after it: never a pass, since the large message was
    // only searched for canaries.
    let child = watch(dir.path(), &broker, &reg_path, 3, "json");
    for seq in 0..2 {
        publish(
            &broker,
            "vitrine/store-3/rig-a/wifi",
            &payload(seq, None),
            false,
        );
    }
    let (code, checks, _) = outcome(child);
    assert_eq!(code, 3, "{checks:#}");
    assert_eq!(checks["stream.canary"]["status"], "passed");
    assert_eq!(checks["stream.schema"]["status"], "skipped");
    assert!(
        checks["stream.schema"]["reason"]
            .as_str()
            .unwrap()
            .contains("1 MiB"),
        "{checks:#}"
    );
    // No Vitrine rig publishes such a message.
    let child = watch(dir.path(), &broker, &reg_path, 2, "vitrine");
    publish(
        &broker,
        "vitrine/store-3/rig-a/wifi",
        &payload(9, None),
        false,
    );
    let (code, checks, _) = outcome(child);
    assert_eq!(code, 1);
    assert_eq!(findings(&checks["stream.schema"]).len(), 1, "{checks:#}");
}

#[test]
fn a_retained_message_over_the_read_bound_makes_the_audit_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (_, reg_path) = registry(dir.path());
    publish(
        &broker,
        "vitrine/store-3/rig-a/huge",
        &vec![b'x'; 17 << 20],
        true,
    );
    let child = watch(dir.path(), &broker, &reg_path, 3, "vitrine");
    let (code, checks, _) = outcome(child);
    assert_eq!(code, 3, "{checks:#}");
    let reason = checks["stream.canary"]["reason"].as_str().unwrap();
    assert!(
        // The packet's size: the payload, its topic and header.
        reason.contains("the largest 17,825,8") && reason.contains("16 MiB read bound"),
        "{reason}"
    );
}

/// `vitrine-audit tail`, once subscribed: its stdout lines and stderr.
fn tail(
    broker: &Broker,
    count: usize,
) -> (
    Child,
    std::sync::mpsc::Receiver<String>,
    std::sync::mpsc::Receiver<String>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"))
        .args(["tail", "--broker", &broker.url(), "--format", "jsonl"])
        .args(["--count", &count.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    while !lines
        .next()
        .expect("tail logs its subscription")
        .unwrap()
        .contains("subscribed")
    {}
    let (etx, erx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines {
            let _ = etx.send(l.unwrap());
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    (child, rx, erx)
}

fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("tail did not finish");
}

#[test]
fn tail_sees_past_a_retained_2_mb_dictionary_and_flags_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    // On a topic tail subscribes to for dictionaries.
    publish(
        &broker,
        "vitrine/store-3/rig-a/dict",
        &vec![b'x'; 2_000_000],
        true,
    );
    let (mut child, out, err) = tail(&broker, 3);
    publish(
        &broker,
        "vitrine/store-3/rig-a/wifi",
        &payload(0, None),
        false,
    );
    let leak = payload(1, Some(("last_seen", "\u{1b}]0;owned\u{7}")));
    publish(&broker, "vitrine/store-3/rig-a/wifi", &leak, false);
    let rig = serde_json::to_value(envelope(2)).unwrap();
    let mut rig = rig;
    rig["rig"] = "rig-\u{9b}2J".into();
    publish(
        &broker,
        "vitrine/store-3/rig-a/wifi",
        &Codec::shipped().compress(&serde_json::to_vec(&rig).unwrap()),
        false,
    );
    assert!(wait_for_exit(&mut child).success());
    let lines: Vec<String> = out.try_iter().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let seqs: Vec<u64> = lines
        .iter()
        .map(|l| serde_json::from_str::<Envelope>(l).unwrap().seq)
        .collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert!(
        lines.iter().all(|l| l.chars().all(|c| !c.is_control())),
        "no control character reaches the terminal: {lines:?}"
    );
    assert!(lines[2].contains(r"rig-\u009b2J"), "{}", lines[2]);
    std::thread::sleep(Duration::from_millis(200));
    let stderr: Vec<String> = err.try_iter().collect();
    let all = stderr.join("\n");
    assert!(
        all.contains("over the payload bound") && all.contains("2000000"),
        "{all}"
    );
    assert!(
        all.contains("schema does not have") && all.contains("summary.wifi.devices.last_seen"),
        "{all}"
    );
    // The value of the unknown field is never printed.
    assert!(!all.contains("owned"), "{all:?}");
}
