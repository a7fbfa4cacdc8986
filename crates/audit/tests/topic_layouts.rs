//! A compliant rig passes the verifier in either payload format
//! (`broker.payload`: zstd with the shipped dictionary, or plain JSON) and
//! under the default topic prefix or another one (`broker.topic_prefix`):
//! `vitrine-audit mqtt --expect vitrine`, told the prefix with
//! `--topic-prefix` (`vitrine` unless told), and `vitrine-audit self`, which
//! reads it from the rig's configuration; `tail` prints its summaries under
//! that prefix too. Told another prefix, each audit hears nothing and does
//! not pass.
//!
//! The rig is the daemon's own pipeline (the simulator's store traffic
//! through `vitrined::run`, published by `vitrined::publishing` with the
//! settings of the configuration file `self` reads). Its process is not a
//! daemon under a systemd unit here, so `self` is told a daemon name no
//! process has: its memory and confinement checks are skipped (the verdict
//! is then `incomplete`, exit 3), and every other check must pass.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use vitrine_config::{Overrides, Settings};
use vitrine_testkit::{Broker, hex_lines};

const SITE: &str = "store-4";
const RIG: &str = "rig-2";
/// A prefix of several levels, as a fleet's broker would have it.
const FLEET: &str = "fleet/eu";
/// The daemon name `self` is told: no process has it.
const NO_DAEMON: &str = "vitrined-absent";
/// How long every audit watches the stream.
const WATCH_S: &str = "8";
const NOTHING: &str = "nothing was published during the audit window";

/// The rig's windows: five minutes of a quiet store, one-minute windows.
fn summaries() -> Vec<vitrine_schema::Summary> {
    use vitrine_sim::{SimConfig, Simulator};
    let (frames, _) = Simulator::new(SimConfig {
        duration_s: 300,
        ..SimConfig::quiet_store()
    })
    .run();
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

/// A rig configuration publishing to `broker` in `payload` under `prefix`
/// (`None`: the key left out, the default).
fn rig_config(
    dir: &Path,
    name: &str,
    broker: &Broker,
    payload: &str,
    prefix: Option<&str>,
) -> PathBuf {
    let prefix = prefix.map_or(String::new(), |p| format!("topic_prefix = \"{p}\"\n"));
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "site = \"{SITE}\"\nrig = \"{RIG}\"\n\n[broker]\nurl = \"{}\"\npayload = \"{payload}\"\n\
             {prefix}\n[spool]\ndir = \"{}\"\n",
            broker.url(),
            dir.join("spool").display()
        ),
    )
    .unwrap();
    path
}

/// Publishes `summaries` as the daemon does with the configuration
/// `config`, and waits for the broker's acknowledgements.
fn publish(config: &Path, summaries: &[vitrine_schema::Summary]) {
    let rig = Settings::load(Some(config), &Overrides::default()).unwrap();
    let b = rig.broker.as_ref().unwrap();
    let cfg = vitrine_publish::BrokerConfig::new(
        vitrine_publish::Broker::load(&b.client).unwrap(),
        &b.site,
        &b.rig,
        "b0a7",
    )
    .unwrap()
    .with_prefix(&b.topic_prefix)
    .with_payload(b.payload);
    let mut publishing = vitrined::publishing::Publishing::start(
        cfg,
        &rig.spool.dir,
        vitrine_publish::SpoolPolicy::default(),
    )
    .unwrap();
    for s in summaries {
        publishing.push(s.clone()).unwrap();
    }
    let stats = publishing.finish(Duration::from_secs(10));
    assert_eq!(
        stats.acknowledged,
        summaries.len() as u64,
        "the broker acknowledged every summary"
    );
}

/// An audit running: its stdout (the signed report) and stderr, read as
/// they come.
struct Running {
    what: String,
    child: Child,
    stdout: JoinHandle<String>,
    stderr: Arc<Mutex<String>>,
}

/// Starts `vitrine-audit ARGS` and returns once it has subscribed.
fn start(dir: &Path, what: &str, args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"))
        .env("STATE_DIRECTORY", dir.join(format!("state-{what}")))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        text
    });
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let stderr = Arc::new(Mutex::new(String::new()));
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{what} subscribes: {}", stderr.lock().unwrap()))
            .unwrap();
        *stderr.lock().unwrap() += &format!("{line}\n");
        if line.contains("subscribed") {
            break;
        }
    }
    let kept = stderr.clone();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            *kept.lock().unwrap() += &format!("{l}\n");
        }
    });
    Running {
        what: what.to_string(),
        child,
        stdout,
        stderr,
    }
}

impl Running {
    /// Waits for the end of the audit: its exit code, report and stderr.
    fn report(self) -> (i32, Value, String) {
        let what = self.what.clone();
        let (code, text, stderr) = self.output();
        let json: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}\n{stderr}"));
        (code, json["report"].clone(), stderr)
    }

    /// Waits for the end of the command: its exit code, stdout and stderr.
    fn output(mut self) -> (i32, String, String) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{} still running", self.what);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let text = self.stdout.join().unwrap();
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code().unwrap(), text, stderr)
    }
}

fn checks(report: &Value) -> &Vec<Value> {
    report["checks"].as_array().unwrap()
}

fn findings(report: &Value) -> Vec<Value> {
    checks(report)
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap().clone())
        .collect()
}

fn check<'r>(report: &'r Value, id: &str) -> &'r Value {
    checks(report)
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report}"))
}

const STREAM: [&str; 5] = [
    "stream.schema",
    "stream.k_anonymity",
    "stream.canary",
    "stream.pseudonyms",
    "stream.linkable",
];

/// The stream checks passed on `n` summaries (beside the rig's retained
/// status, dictionary and availability).
fn assert_stream_passed(what: &str, report: &Value, n: usize, stderr: &str) {
    for id in STREAM {
        let c = check(report, id);
        assert_eq!(c["status"], "passed", "{what}: {c}\n{stderr}");
    }
    assert_eq!(
        check(report, "stream.schema")["examined"],
        format!("{n} messages on 4 topics"),
        "{what}"
    );
    assert_eq!(
        report["windows"].as_array().unwrap().len(),
        n,
        "{what}: every window was watched"
    );
}

/// The stream checks heard nothing, and say so.
fn assert_nothing_heard(what: &str, code: i32, report: &Value, stderr: &str) {
    assert_eq!(
        (code, report["verdict"].as_str()),
        (3, Some("incomplete")),
        "{what}: {stderr}"
    );
    assert_eq!(findings(report), Vec::<Value>::new(), "{what}");
    for id in STREAM {
        let c = check(report, id);
        assert_eq!(
            (c["status"].as_str(), c["reason"].as_str()),
            (Some("skipped"), Some(NOTHING)),
            "{what}: {c}"
        );
    }
    assert!(stderr.contains(NOTHING), "{what}: {stderr}");
}

/// What `self` checks of a rig whose daemon it cannot see: every check
/// passed but those of the daemon's process, skipped for that reason.
fn assert_self_passed_but_the_process(what: &str, code: i32, report: &Value, stderr: &str) {
    assert_eq!(
        (code, report["verdict"].as_str()),
        (3, Some("incomplete")),
        "{what}: {stderr}"
    );
    assert_eq!(report["mode"], "self");
    let absent = format!("no process named {NO_DAEMON} is running");
    let mut process_checks = 0;
    for c in checks(report) {
        let id = c["id"].as_str().unwrap();
        if id == "memory.canary" || id.starts_with("hardening.") {
            process_checks += 1;
            assert_eq!(
                (c["status"].as_str(), c["reason"].as_str()),
                (Some("skipped"), Some(absent.as_str())),
                "{what}: {c}"
            );
        } else {
            assert_eq!(c["status"], "passed", "{what}: {c}\n{stderr}");
        }
    }
    assert_eq!(
        process_checks, 7,
        "{what}: memory.canary and six hardening checks"
    );
}

/// The four audits of one layout, started before the rig publishes: `mqtt`
/// and `self` told the rig's prefix, and each told the other one.
fn audits_of_a_compliant_rig(payload: &str, prefix: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let broker = Broker::start(d);
    let summaries = summaries();
    assert!(summaries.len() >= 5, "{} windows", summaries.len());

    let (own, other) = match prefix {
        None => (vitrine_config::defaults::TOPIC_PREFIX, Some(FLEET)),
        Some(p) => (p, None),
    };
    let config = rig_config(d, "vitrine.toml", &broker, payload, prefix);
    let elsewhere = rig_config(d, "elsewhere.toml", &broker, payload, other);
    let registry = d.join("canaries.json");
    let mut reg = vitrine_canary::Registry::generate(2, 1, &[[0x3c, 0x22, 0xfb]], &mut rand::rng());
    reg.mark_emitted(time::OffsetDateTime::now_utc());
    reg.save(&registry).unwrap();
    let tree = d.join("tree");
    std::fs::create_dir_all(&tree).unwrap();

    let url = broker.url();
    let registry = registry.to_str().unwrap();
    let mqtt_args = |name: &str, prefix: Option<&str>| {
        let mut args = vec![
            "mqtt".to_string(),
            "--broker".into(),
            url.clone(),
            "--expect".into(),
            "vitrine".into(),
            "--duration".into(),
            WATCH_S.into(),
            "--registry".into(),
            registry.into(),
            "--key".into(),
            d.join(format!("key-{name}")).display().to_string(),
            "--json".into(),
        ];
        if let Some(p) = prefix {
            args.extend(["--topic-prefix".into(), p.to_string()]);
        }
        args
    };
    let self_args = |config: &Path| {
        [
            "self",
            "--config",
            config.to_str().unwrap(),
            "--watch",
            WATCH_S,
            "--canaries",
            "1",
            "--root",
            tree.to_str().unwrap(),
            "--process",
            NO_DAEMON,
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |what: &str, args: Vec<String>| {
        start(
            d,
            what,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let mqtt = run("mqtt", mqtt_args("mqtt", prefix));
    let mqtt_elsewhere = run("mqtt-elsewhere", mqtt_args("elsewhere", other));
    let self_audit = run("self", self_args(&config));
    let self_elsewhere = run("self-elsewhere", self_args(&elsewhere));
    let mut tail_args = vec!["tail".to_string(), "--broker".into(), url.clone()];
    if let Some(p) = prefix {
        tail_args.extend(["--topic-prefix".into(), p.to_string()]);
    }
    tail_args.extend(["--format", "jsonl", "--count"].map(String::from));
    tail_args.push(summaries.len().to_string());
    let tail = run("tail", tail_args);
    // What goes over the wire is the format asked for.
    let sub = broker.subscribe(&format!("{own}/{SITE}/{RIG}/wifi"), summaries.len());

    publish(&config, &summaries);

    let payloads: Vec<Vec<u8>> = hex_lines(sub);
    assert_eq!(payloads.len(), summaries.len());
    for p in &payloads {
        match payload {
            "json" => assert_eq!(p.first(), Some(&b'{'), "a plain JSON payload"),
            _ => assert!(p.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]), "a zstd frame"),
        }
    }

    // `tail` reads the rig's Wi-Fi topic under the prefix it is told.
    let (code, lines, stderr) = tail.output();
    assert_eq!(code, 0, "{stderr}");
    let seqs: Vec<u64> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<vitrine_publish::Envelope>(l)
                .unwrap()
                .seq
        })
        .collect();
    assert_eq!(seqs, (0..summaries.len() as u64).collect::<Vec<_>>());

    let (code, report, stderr) = mqtt.report();
    assert_eq!(findings(&report), Vec::<Value>::new(), "{stderr}");
    assert_stream_passed("mqtt", &report, summaries.len(), &stderr);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (0, Some("pass")),
        "{stderr}"
    );
    assert_eq!(report["subject"], format!("{url} {own}/#"));

    let (code, report, stderr) = self_audit.report();
    assert_self_passed_but_the_process("self", code, &report, &stderr);
    assert_stream_passed("self", &report, summaries.len(), &stderr);

    let (code, report, stderr) = mqtt_elsewhere.report();
    assert_nothing_heard("mqtt told another prefix", code, &report, &stderr);
    let (code, report, stderr) = self_elsewhere.report();
    assert_nothing_heard(
        "self configured with another prefix",
        code,
        &report,
        &stderr,
    );
}

#[test]
fn zstd_under_the_default_prefix_passes() {
    audits_of_a_compliant_rig("zstd", None);
}

#[test]
fn json_under_the_default_prefix_passes() {
    audits_of_a_compliant_rig("json", None);
}

#[test]
fn zstd_under_a_fleet_prefix_passes() {
    audits_of_a_compliant_rig("zstd", Some(FLEET));
}

#[test]
fn json_under_a_fleet_prefix_passes() {
    audits_of_a_compliant_rig("json", Some(FLEET));
}
