//! `vitrine-audit collect` against a real broker (mosquitto): two
//! collectors on one shared subscription into one database (SQLite, and a
//! real PostgreSQL server), fed by the project's publisher (two rigs, both
//! payload formats, duplicates, a broker restart, a collector killed).

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vitrine_config::PayloadFormat;
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

/// A collector process, killed if the test ends without stopping it.
struct Collector(Option<Child>);

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A collector, started and subscribed (its four subscriptions acknowledged).
fn collector(
    broker: &Broker,
    db: impl AsRef<std::ffi::OsStr>,
    id: &str,
    metrics_port: u16,
) -> Collector {
    collector_with(broker, db, id, metrics_port, &[])
}

fn collector_with(
    broker: &Broker,
    db: impl AsRef<std::ffi::OsStr>,
    id: &str,
    metrics_port: u16,
    extra: &[&str],
) -> Collector {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"))
        .args(["collect", "--broker", &broker.url(), "--client-id", id])
        .args(extra)
        .arg("--db")
        .arg(db.as_ref())
        .args(["--metrics", &format!("127.0.0.1:{metrics_port}")])
        // The example summary's window is from 2024: kept.
        .args(["--retention-days", "36500"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let mut acks = 0;
    while acks < 4 {
        let line = lines
            .next()
            .expect("the collector logs its subscriptions")
            .unwrap();
        acks += usize::from(line.contains("subscribed"));
    }
    // The collector's log goes with the test's output (shown on failure).
    let id = id.to_owned();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            eprintln!("{id}: {line}");
        }
    });
    Collector(Some(child))
}

/// `GET /metrics` on loopback, the body.
fn scrape(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(text.contains("application/openmetrics-text"), "{text}");
    text.split_once("\r\n\r\n").unwrap().1.to_owned()
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// Publishes `seqs` of one rig's Wi-Fi summaries through the project's
/// publisher, in `format`.
fn publish(broker: &Broker, dir: &Path, rig: &str, format: PayloadFormat, seqs: &[u64]) {
    publish_as(broker, dir, rig, format, seqs, "wifi", summary());
}

/// The v3 example's camera part, as a camera summary.
fn camera_summary() -> Summary {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/schema/summary-v3.example.json"
    );
    let mut s: Summary = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    s.wifi = None;
    assert!(s.camera.is_some());
    s
}

fn publish_as(
    broker: &Broker,
    dir: &Path,
    rig: &str,
    format: PayloadFormat,
    seqs: &[u64],
    sensor: &str,
    summary: Summary,
) {
    let cfg = BrokerConfig::new(
        vitrine_publish::Broker::from_url(&broker.url()).unwrap(),
        "store-7",
        rig,
        "b007",
    )
    .unwrap()
    .with_payload(format);
    let spool = Arc::new(Mutex::new(
        Spool::open(&dir.join(format!("spool-{rig}")), SpoolPolicy::default()).unwrap(),
    ));
    let codec = Codec::shipped();
    for &seq in seqs {
        let e = Envelope {
            site: cfg.site.clone(),
            rig: cfg.rig.clone(),
            boot: cfg.boot.clone(),
            seq,
            summary: summary.clone(),
        };
        spool
            .lock()
            .unwrap()
            .push(
                1_700_000_000,
                &cfg.topic(sensor),
                &codec.encode_as(format, &e),
            )
            .unwrap();
    }
    let publisher = Publisher::start(&cfg, spool, codec.dictionary().to_vec()).unwrap();
    assert!(
        publisher.drain(Duration::from_secs(30)),
        "the broker acknowledged everything"
    );
    publisher.finish();
}

fn rows(db: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn stop(mut collector: Collector) {
    let mut child = collector.0.take().unwrap();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "a collector stops cleanly on SIGTERM: {status}"
            );
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the collector did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_collectors_share_a_fleet_and_store_every_summary_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let db = dir.path().join("fleet.db");
    let (port_a, port_b) = (vitrine_testkit::free_port(), vitrine_testkit::free_port());
    let a = collector(&broker, &db, "collector-a", port_a);
    let b = collector(&broker, &db, "collector-b", port_b);

    // Two rigs, 40 summaries each, each spooled twice over (a duplicate for
    // every one, as QoS 1 and a re-sent spool allow): one compressed, one
    // plain JSON.
    let seqs: Vec<u64> = (0..40).chain(0..40).collect();
    publish(&broker, dir.path(), "rig-a", PayloadFormat::Zstd, &seqs);
    publish(&broker, dir.path(), "rig-b", PayloadFormat::Json, &seqs);
    // A payload that is no summary: counted, never stored.
    let mut garbage = Command::new("mosquitto_pub")
        .args(["-p", &broker.port.to_string(), "-h", "127.0.0.1", "-q", "1"])
        .args(["-t", "vitrine/store-7/rig-c/wifi", "-m", "not a summary"])
        .spawn()
        .unwrap();
    assert!(garbage.wait().unwrap().success());

    let started = Instant::now();
    let all = "SELECT COUNT(*) FROM summaries";
    let handled = |text: &str| {
        metric(text, "vitrine_collector_payloads_total{result=\"stored\"}")
            + metric(
                text,
                "vitrine_collector_payloads_total{result=\"duplicate\"}",
            )
            + metric(
                text,
                "vitrine_collector_payloads_total{result=\"refused\",reason=\"undecodable\"}",
            )
    };
    // 160 summaries and the garbage, each handed to one collector.
    while handled(&scrape(port_a)) + handled(&scrape(port_b)) < 161 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} rows; a: {} b: {}",
            rows(&db, all),
            scrape(port_a),
            scrape(port_b)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Nothing more comes: each payload went to exactly one collector.
    std::thread::sleep(Duration::from_secs(1));
    let (ma, mb) = (scrape(port_a), scrape(port_b));
    assert_eq!(
        handled(&ma) + handled(&mb),
        161,
        "each payload to one collector"
    );
    eprintln!("collector a:\n{ma}\ncollector b:\n{mb}");
    assert_eq!(rows(&db, all), 80, "every summary once");
    for rig in ["rig-a", "rig-b"] {
        let q = format!(
            "SELECT COUNT(DISTINCT seq) FROM summaries WHERE rig = '{rig}' AND sensor = 'wifi' \
             AND devices_estimated = {}",
            summary().wifi.unwrap().devices.estimated
        );
        assert_eq!(rows(&db, &q), 40, "{rig}");
    }
    let stored = |t: &str| metric(t, "vitrine_collector_payloads_total{result=\"stored\"}");
    assert_eq!(stored(&ma) + stored(&mb), 80);
    assert!(
        stored(&ma) > 0 && stored(&mb) > 0,
        "the group split the load"
    );
    let refused = |t: &str| {
        metric(
            t,
            "vitrine_collector_payloads_total{result=\"refused\",reason=\"undecodable\"}",
        )
    };
    assert_eq!(refused(&ma) + refused(&mb), 1);
    // Statuses are not shared: each collector knows both rigs, the table
    // holds each rig once.
    assert_eq!(rows(&db, "SELECT COUNT(*) FROM rigs"), 2);
    for m in [&ma, &mb] {
        assert!(
            m.contains("vitrine_rig_last_window_end_seconds{site=\"store-7\",rig=\"rig-a\"}")
                || m.contains(
                    "vitrine_rig_last_window_end_seconds{site=\"store-7\",rig=\"rig-b\"}"
                )
        );
    }
    stop(a);
    stop(b);
}

#[test]
fn a_fleet_into_postgresql_loses_nothing_across_a_broker_restart_and_a_killed_collector() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path());
    let pg = vitrine_testkit::postgres::Postgres::start(Default::default()).unwrap();
    let db = pg.url();
    // Split by rig: mosquitto 2.0.11 loses what is published to a shared
    // subscription between its restart and the members' return.
    let part = |k: &'static str| ["--partition", k];
    let port = vitrine_testkit::free_port;
    let a = collector_with(&broker, &db, "collector-a", port(), &part("0/2"));
    let b = collector_with(&broker, &db, "collector-b", port(), &part("1/2"));
    let count = |sql: &str| -> i64 { pg.psql(sql).unwrap().trim().parse().unwrap() };

    let seqs: Vec<u64> = (0..30).chain(0..30).collect();
    publish(&broker, dir.path(), "rig-a", PayloadFormat::Zstd, &seqs);
    // The broker restarts as an administrator restarts it; one collector
    // dies without a word (SIGKILL) and comes back later under its own id.
    broker.restart_after(Duration::from_secs(1));
    let mut a = a;
    let mut killed = a.0.take().unwrap();
    killed.kill().unwrap();
    killed.wait().unwrap();
    publish(&broker, dir.path(), "rig-b", PayloadFormat::Json, &seqs);
    let a = collector_with(&broker, &db, "collector-a", port(), &part("0/2"));
    // And 5 camera summaries of rig-a, for the dashboard's camera panel.
    let camera = camera_summary();
    let crossings = camera.camera.as_ref().unwrap().crossings.inward;
    publish_as(
        &broker,
        dir.path(),
        "rig-a",
        PayloadFormat::Zstd,
        &[0, 1, 2, 3, 4],
        "camera",
        camera,
    );

    let all = "SELECT COUNT(*) FROM summaries WHERE sensor = 'wifi'";
    let started = Instant::now();
    while count(all) < 60 || count("SELECT COUNT(*) FROM summaries WHERE sensor = 'camera'") < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of 60 summaries in PostgreSQL: {}\n{}",
            count(all),
            pg.psql("SELECT rig, COUNT(*) FROM summaries GROUP BY rig")
                .unwrap(),
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count(all), 60, "every summary once, nothing more");
    assert_eq!(
        count(&format!(
            "SELECT COUNT(*) FROM summaries WHERE sensor = 'camera' AND crossings_in = {crossings}"
        )),
        5
    );
    let estimated = summary().wifi.unwrap().devices.estimated;
    for rig in ["rig-a", "rig-b"] {
        let q = format!(
            "SELECT COUNT(DISTINCT seq) FROM summaries WHERE site = 'store-7' AND rig = '{rig}' \
             AND sensor = 'wifi' AND devices_estimated = {estimated} AND delay_ms > 0"
        );
        assert_eq!(count(&q), 30, "{rig}");
    }
    // The whole envelope is kept: PostgreSQL reads it as JSON.
    assert_eq!(
        count(&format!(
            "SELECT COUNT(*) FROM summaries \
             WHERE (envelope::jsonb #>> '{{summary,wifi,devices,estimated}}')::bigint = {estimated}"
        )),
        60
    );
    assert_eq!(count("SELECT COUNT(*) FROM rigs"), 2);
    stop(a);
    stop(b);
    dashboard_reads(&db);
}

/// Grafana's macros of the PostgreSQL data source, as its documentation
/// expands them, over all time up to tomorrow; `$site` as a multi-value
/// variable (quoted, comma-separated).
fn expand(sql: &str, sites: &[String]) -> String {
    let to = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400;
    let mut out = sql.to_owned();
    while let Some(i) = out.find("$__unixEpochFilter(") {
        let end = i + out[i..].find(')').unwrap();
        let column = &out[i + "$__unixEpochFilter(".len()..end];
        let with = format!("{column} >= 0 AND {column} <= {to}");
        out.replace_range(i..=end, &with);
    }
    while let Some(i) = out.find("$__unixEpochGroupAlias(") {
        let end = i + out[i..].find(')').unwrap();
        let args = &out[i + "$__unixEpochGroupAlias(".len()..end];
        let (column, interval) = args.split_once(',').unwrap();
        let seconds = match interval.trim().trim_matches('\'') {
            "5m" => 300,
            "1h" => 3600,
            other => panic!("interval {other}"),
        };
        let with = format!("floor({column}/{seconds})*{seconds} AS \"time\"");
        out.replace_range(i..=end, &with);
    }
    let quoted: Vec<String> = sites.iter().map(|s| format!("'{s}'")).collect();
    out = out.replace("$site", &quoted.join(","));
    assert!(!out.contains('$'), "a macro or variable left: {out}");
    out
}

/// docs/grafana/fleet.json: every panel is well formed and reads the
/// PostgreSQL data source, and every query (its variable's, its panels')
/// runs against the collector's database and returns rows; time series
/// have their `time` column.
fn dashboard_reads(db: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana/fleet.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut client = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let source = "grafana-postgresql-datasource";
    assert_eq!(dash["__inputs"][0]["pluginId"], source);
    let variables = dash["templating"]["list"].as_array().unwrap();
    let mut sites = Vec::new();
    for v in variables {
        assert_eq!(v["datasource"]["type"], source);
        let rows = client.query(v["query"].as_str().unwrap(), &[]).unwrap();
        sites = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    }
    assert_eq!(sites, ["store-7"]);
    let panels = dash["panels"].as_array().unwrap();
    assert!(panels.len() >= 5);
    let mut ids = std::collections::HashSet::new();
    for p in panels {
        let title = p["title"].as_str().unwrap();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "{title}: id repeated"
        );
        assert!(
            ["stat", "bargauge", "timeseries", "table"].contains(&p["type"].as_str().unwrap()),
            "{title}"
        );
        for k in ["h", "w", "x", "y"] {
            assert!(p["gridPos"][k].is_u64(), "{title}: gridPos.{k}");
        }
        assert!(p["gridPos"]["x"].as_u64().unwrap() + p["gridPos"]["w"].as_u64().unwrap() <= 24);
        assert_eq!(p["datasource"]["type"], source, "{title}");
        for t in p["targets"].as_array().unwrap() {
            let sql = expand(t["rawSql"].as_str().unwrap(), &sites);
            let rows = client
                .query(sql.as_str(), &[])
                .unwrap_or_else(|e| panic!("{title}: {e}\n{sql}"));
            assert!(!rows.is_empty(), "{title}: no rows\n{sql}");
            match t["format"].as_str().unwrap() {
                "time_series" => {
                    let columns: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
                    assert_eq!(columns[0], "time", "{title}: {columns:?}");
                }
                "table" => {}
                other => panic!("{title}: format {other}"),
            }
        }
    }
}
