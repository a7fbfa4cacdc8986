//! `vitrine-audit tail` against a real broker (mosquitto), fed by the
//! project's publisher.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vitrine_publish::mqtt::BrokerConfig;
use vitrine_publish::{Codec, Envelope, Publisher, Spool, SpoolPolicy};
use vitrine_schema::Summary;
use vitrine_testkit::Broker;

fn summary() -> Summary {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/schema/summary-v1.example.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn tail(
    broker: &Broker,
    format: &str,
    count: usize,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    tail_topic(broker, "vitrine/+/+/wifi", format, count)
}

fn tail_topic(
    broker: &Broker,
    topic: &str,
    format: &str,
    count: usize,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"))
        .args([
            "tail",
            "--broker",
            &broker.url(),
            "--topic",
            topic,
            "--format",
            format,
            "--count",
            &count.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the subscription (logged on SUBACK) before anything is published.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    while !lines
        .next()
        .expect("tail logs its subscription")
        .unwrap()
        .contains("subscribed")
    {}
    std::thread::spawn(move || for _ in lines {});
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    (child, rx)
}

#[test]
fn tail_prints_each_summary_once_whatever_the_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (mut json_tail, json_lines) = tail(&broker, "jsonl", 5);
    let (mut table_tail, table_lines) = tail(&broker, "table", 5);

    // Five summaries, the third spooled twice: a duplicate as QoS 1 allows.
    // The first three compressed, the rest plain JSON: a rig switched to
    // `payload = "json"` with payloads of the other format still spooled.
    let cfg = BrokerConfig::new(
        vitrine_publish::Broker::from_url(&broker.url()).unwrap(),
        "store-7",
        "rig-a",
        "b007",
    )
    .unwrap();
    let spool = Arc::new(Mutex::new(
        Spool::open(&dir.path().join("spool"), SpoolPolicy::default()).unwrap(),
    ));
    let codec = Codec::shipped();
    for (i, seq) in [0, 1, 2, 2, 3, 4].into_iter().enumerate() {
        let format = if i < 3 {
            vitrine_config::PayloadFormat::Zstd
        } else {
            vitrine_config::PayloadFormat::Json
        };
        let e = Envelope {
            site: cfg.site.clone(),
            rig: cfg.rig.clone(),
            boot: cfg.boot.clone(),
            seq,
            summary: summary(),
        };
        spool
            .lock()
            .unwrap()
            .push(
                1_700_000_000,
                &cfg.topic("wifi"),
                &codec.encode_as(format, &e),
            )
            .unwrap();
    }
    let publisher = Publisher::start(&cfg, spool.clone(), codec.dictionary().to_vec()).unwrap();
    assert!(
        publisher.drain(Duration::from_secs(20)),
        "the broker acknowledged everything"
    );
    publisher.finish();

    assert!(json_tail.wait().unwrap().success());
    assert!(table_tail.wait().unwrap().success());
    let seqs: Vec<u64> = json_lines
        .try_iter()
        .map(|l| serde_json::from_str::<Envelope>(&l).unwrap())
        .inspect(|e| assert_eq!(e.summary, summary()))
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4]);
    let table: Vec<String> = table_lines.try_iter().collect();
    assert!(table[0].contains("window (UTC)"), "{table:?}");
    let rows: Vec<&String> = table
        .iter()
        .filter(|l| l.starts_with("store-7/rig-a"))
        .collect();
    assert_eq!(rows.len(), 5, "{table:?}");
    assert!(
        rows[4].contains("#4") && rows[4].contains("2024-01-06 15:52:00"),
        "{}",
        rows[4]
    );
}

#[test]
fn tail_shows_a_camera_summary_with_the_camera_columns() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (mut table_tail, table_lines) = tail_topic(&broker, "vitrine/+/+/camera", "table", 2);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/schema/summary-v3.example.json"
    );
    let whole: Summary = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (_, camera) = whole
        .per_sensor()
        .into_iter()
        .find(|(name, _)| name == "camera")
        .expect("the v3 example has a camera section");
    let cfg = BrokerConfig::new(
        vitrine_publish::Broker::from_url(&broker.url()).unwrap(),
        "store-7",
        "rig-a",
        "b007",
    )
    .unwrap();
    let spool = Arc::new(Mutex::new(
        Spool::open(&dir.path().join("spool"), SpoolPolicy::default()).unwrap(),
    ));
    let codec = Codec::shipped();
    for seq in [0, 1] {
        let e = Envelope {
            site: cfg.site.clone(),
            rig: cfg.rig.clone(),
            boot: cfg.boot.clone(),
            seq,
            summary: camera.clone(),
        };
        spool
            .lock()
            .unwrap()
            .push(1_700_000_000, &cfg.topic("camera"), &codec.encode(&e))
            .unwrap();
    }
    let publisher = Publisher::start(&cfg, spool.clone(), codec.dictionary().to_vec()).unwrap();
    assert!(publisher.drain(Duration::from_secs(20)));
    publisher.finish();
    assert!(table_tail.wait().unwrap().success());
    let table: Vec<String> = table_lines.try_iter().collect();
    assert!(
        table[0].contains("images") && table[0].contains("people"),
        "{table:?}"
    );
    assert!(!table[0].contains("probes"), "no Wi-Fi columns: {table:?}");
    let c = camera.camera.as_ref().unwrap();
    let rows: Vec<&String> = table
        .iter()
        .filter(|l| l.starts_with("store-7/rig-a"))
        .collect();
    assert_eq!(rows.len(), 2, "{table:?}");
    let expected = format!(
        "{:>6} {:>5} {:>5}",
        c.frames, c.crossings.inward, c.crossings.outward
    );
    assert!(
        rows[0].contains(&expected),
        "{} lacks {expected:?}",
        rows[0]
    );
}
