//! `vitrine-audit collect`: a fleet's summaries and statuses into a
//! database, for dashboards and history (docs/fleet.md).
//!
//! Several collectors split a fleet's load with a shared subscription
//! (`$share/<group>/<prefix>/+/+/wifi` and `…/camera`): the broker hands
//! each summary to one of them. Statuses and dictionaries are retained and
//! every collector needs all of them, so those are plain subscriptions.
//! Duplicates (QoS 1 redelivery, a broker restart, a rig re-sending its
//! spool) are dropped twice: in memory per stream, and by the database's
//! key (site, rig, boot, seq, sensor), which also holds across collectors
//! and restarts. Payloads that cannot be decoded are counted, never stored.
//!
//! Nothing is acknowledged to the broker before it is committed: messages
//! are gathered and written in one transaction when the broker pauses (a
//! few milliseconds without a message) or when [`BATCH`] are gathered, and
//! only then acknowledged. A collector that dies loses nothing: its
//! persistent session gets the unacknowledged messages again.

pub mod metrics;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vitrine_publish::Broker;
use vitrine_publish::consume::{
    self, Dedup, Dictionaries, Incoming, PAYLOAD_LIMIT, Step, printable, subscribe_held,
};
use vitrine_schema::Status;

use metrics::Metrics;
use store::{Batch, StatusRow, Store, SummaryRow};

/// What a collector subscribes to and as whom.
#[derive(Debug, Clone)]
pub struct Collect {
    /// The rigs' topic prefix (`vitrine` unless configured).
    pub prefix: String,
    /// The shared-subscription group: collectors of one group split the
    /// summaries between them.
    pub group: String,
    /// Instead of the group: this collector's part (K of N) of the fleet's
    /// rigs, on a plain subscription ([`in_partition`]).
    pub partition: Option<(u32, u32)>,
    pub client_id: String,
    /// Summaries older than this (by window start) are deleted.
    pub retention_days: u64,
}

/// Messages written before a commit at the latest.
const BATCH: usize = 500;

/// The sensors whose summaries are collected, by topic suffix.
const SENSORS: [&str; 2] = ["wifi", "camera"];

impl Collect {
    /// The subscriptions: summaries shared in the group, statuses and
    /// dictionaries to every collector.
    pub fn filters(&self) -> Vec<String> {
        let p = &self.prefix;
        let mut f: Vec<String> = SENSORS
            .iter()
            .map(|s| match self.partition {
                Some(_) => format!("{p}/+/+/{s}"),
                None => format!("$share/{}/{p}/+/+/{s}", self.group),
            })
            .collect();
        f.push(format!("{p}/+/+/status"));
        f.push(format!("{p}/+/+/dict"));
        f
    }
}

/// Runs until `stop` is set (or the broker refuses the client).
pub fn run(
    broker: &Broker,
    cfg: &Collect,
    store: &mut dyn Store,
    metrics: &Metrics,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut dicts = Dictionaries::default();
    let mut dedup = Dedup::default();
    let retention_s = cfg.retention_days.saturating_mul(86_400);
    let mut next_expiry = Instant::now();
    let mut failed: Option<anyhow::Error> = None;
    // What was taken since the last commit, and how many messages.
    let mut batch = Batch::default();
    let mut pending = 0usize;
    subscribe_held(broker, &cfg.client_id, &cfg.filters(), true, |incoming| {
        let mut commit = |batch: &mut Batch, pending: &mut usize| match store.write(batch) {
            Ok(new) => {
                for (row, new) in batch.summaries.iter().zip(new) {
                    if new {
                        let end = row.window_unix + i64::from(row.window_s);
                        metrics.stored(&row.site, &row.rig, end);
                    } else {
                        metrics.duplicate();
                    }
                }
                *batch = Batch::default();
                *pending = 0;
                Step::Release
            }
            Err(e) => {
                failed = Some(e);
                Step::Stop
            }
        };
        match incoming {
            Incoming::Message { topic, payload } => {
                take(
                    topic,
                    payload,
                    cfg.partition,
                    &mut dicts,
                    &mut dedup,
                    &mut batch,
                    metrics,
                );
                pending += 1;
                if pending >= BATCH {
                    commit(&mut batch, &mut pending)
                } else {
                    Step::Hold
                }
            }
            Incoming::Refused { size } => {
                metrics.refused(&format!("packet of {size} bytes"));
                Step::Hold
            }
            Incoming::Idle if pending > 0 => {
                // The next pause stops, once this commit is acknowledged.
                commit(&mut batch, &mut pending)
            }
            Incoming::Idle => {
                if next_expiry <= Instant::now() {
                    next_expiry = Instant::now() + Duration::from_secs(3600);
                    match store.expire(now_unix() - retention_s as i64) {
                        Ok(n) if n > 0 => {
                            tracing::info!(deleted = n, "summaries past retention deleted")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "retention"),
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    Step::Stop
                } else {
                    Step::Release
                }
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One message: a dictionary learnt, a status or a summary added to the
/// batch, or a refusal counted.
fn take(
    topic: &str,
    payload: &[u8],
    partition: Option<(u32, u32)>,
    dicts: &mut Dictionaries,
    dedup: &mut Dedup,
    batch: &mut Batch,
    metrics: &Metrics,
) {
    let Some((site, rig, kind)) = parse_topic(topic) else {
        metrics.refused("topic");
        return;
    };
    if payload.len() > PAYLOAD_LIMIT {
        metrics.refused("oversized");
        return;
    }
    match kind {
        "dict" => {
            dicts.learn(payload);
        }
        "status" => match serde_json::from_slice::<Status>(payload) {
            Ok(status) => {
                batch
                    .statuses
                    .push(StatusRow::new(site, rig, &status, payload, now_unix()));
                metrics.status(site, rig, &status);
            }
            Err(e) => {
                tracing::warn!(topic = %printable(topic), error = %e, "status not understood");
                metrics.refused("status");
            }
        },
        _ if partition.is_some_and(|p| !in_partition(site, rig, p)) => {
            // Another collector's rig: acknowledged, not decoded.
        }
        sensor => match consume::decode(dicts, payload) {
            Ok(d) => {
                let e = &d.envelope;
                if (e.site.as_str(), e.rig.as_str()) != (site, rig) {
                    // A rig may only speak for itself.
                    tracing::warn!(topic = %printable(topic), "summary of another rig than its topic's");
                    metrics.refused("topic mismatch");
                    return;
                }
                if !dedup.first(topic, e) {
                    metrics.duplicate();
                    return;
                }
                batch
                    .summaries
                    .push(SummaryRow::new(sensor, e, &d.bytes, now_unix_ms()));
            }
            Err(e) => {
                tracing::warn!(topic = %printable(topic), error = %e, "payload not decoded");
                metrics.refused("undecodable");
            }
        },
    }
}

/// Whether a rig's summaries are partition `k` of `n`'s: FNV-1a (64 bits)
/// of `site/rig`, modulo `n`. Stable across versions and machines, so that
/// collectors started with `--partition 0/2` and `1/2` never both drop or
/// both keep a rig.
pub fn in_partition(site: &str, rig: &str, (k, n): (u32, u32)) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in site.bytes().chain([b'/']).chain(rig.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % u64::from(n) == u64::from(k)
}

/// `<prefix…>/<site>/<rig>/<kind>`: the last three levels.
fn parse_topic(topic: &str) -> Option<(&str, &str, &str)> {
    let mut levels = topic.rsplitn(4, '/');
    let kind = levels.next()?;
    let rig = levels.next()?;
    let site = levels.next()?;
    levels.next()?;
    Some((site, rig, kind))
}

fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::Sqlite;

    /// SQLite whose writes fail while `failing` is set.
    struct Flaky {
        db: Sqlite,
        failing: bool,
    }

    impl Store for Flaky {
        fn write(&mut self, batch: &Batch) -> anyhow::Result<Vec<bool>> {
            if self.failing && !batch.summaries.is_empty() {
                anyhow::bail!("disk full");
            }
            self.db.write(batch)
        }
        fn expire(&mut self, before_unix: i64) -> anyhow::Result<usize> {
            self.db.expire(before_unix)
        }
    }

    /// The acknowledgement waits for the commit: summaries whose commit
    /// failed are not lost, the broker gives them to the collector again.
    #[test]
    fn nothing_is_acknowledged_before_it_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let broker = vitrine_testkit::Broker::start(dir.path());
        let url = vitrine_publish::Broker::from_url(&broker.url()).unwrap();
        let cfg = Collect {
            prefix: "vitrine".into(),
            group: "g".into(),
            partition: None,
            client_id: "collector-flaky".into(),
            retention_days: 36_500,
        };
        let db_path = dir.path().join("fleet.db");
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schema/summary-v1.example.json"
        );
        let summary: vitrine_schema::Summary =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let codec = vitrine_publish::Codec::shipped();
        let publish = |seq: u64| {
            let e = vitrine_publish::Envelope {
                site: "store-7".into(),
                rig: "rig-a".into(),
                boot: "b1".into(),
                seq,
                summary: summary.clone(),
            };
            let json = codec.encode_as(vitrine_config::PayloadFormat::Json, &e);
            let status = std::process::Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
                .args(["-t", "vitrine/store-7/rig-a/wifi", "-s"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write;
                    child.stdin.take().unwrap().write_all(&json)?;
                    child.wait()
                })
                .unwrap();
            assert!(status.success());
        };

        // The collector's persistent session, subscribed before the rig
        // publishes (as a collector that ran before).
        let session = std::process::Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
            .args(["-i", "collector-flaky", "-c", "-E"])
            .args(["-t", "$share/g/vitrine/+/+/wifi"])
            .status()
            .unwrap();
        assert!(session.success());
        for seq in 0..5 {
            publish(seq);
        }
        // A first run: it takes the summaries, its commit fails, it stops.
        let mut flaky = Flaky {
            db: Sqlite::open(&db_path).unwrap(),
            failing: true,
        };
        let never = Arc::new(AtomicBool::new(false));
        let failed = run(&url, &cfg, &mut flaky, &Metrics::default(), &never);
        drop(flaky);
        let error = failed.expect_err("the commit failed");
        assert!(error.to_string().contains("disk full"), "{error}");
        let count = |p: &std::path::Path| -> i64 {
            rusqlite::Connection::open(p)
                .unwrap()
                .query_row("SELECT COUNT(*) FROM summaries", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(&db_path), 0, "the failed transaction left nothing");

        // The same collector again, with a working database: the broker
        // sends what was never acknowledged.
        let mut good = Flaky {
            db: Sqlite::open(&db_path).unwrap(),
            failing: false,
        };
        let metrics = Metrics::default();
        let stop = Arc::new(AtomicBool::new(false));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let started = Instant::now();
                while metrics.stored_total() < 5 && started.elapsed() < Duration::from_secs(30) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                stop.store(true, Ordering::Relaxed);
            });
            run(&url, &cfg, &mut good, &metrics, &stop).unwrap();
        });
        assert_eq!(metrics.stored_total(), 5);
        assert_eq!(count(&db_path), 5, "every summary, once");
    }

    #[test]
    fn topics_are_read_from_their_last_levels_whatever_the_prefix() {
        assert_eq!(
            parse_topic("vitrine/store-7/rig-a/wifi"),
            Some(("store-7", "rig-a", "wifi"))
        );
        assert_eq!(
            parse_topic("fleet/eu/store-7/rig-a/status"),
            Some(("store-7", "rig-a", "status"))
        );
        assert_eq!(parse_topic("store-7/rig-a/wifi"), None);
    }

    #[test]
    fn summaries_are_shared_and_statuses_are_not() {
        let c = Collect {
            prefix: "fleet/eu".into(),
            group: "g1".into(),
            partition: None,
            client_id: "c".into(),
            retention_days: 90,
        };
        assert_eq!(
            c.filters(),
            [
                "$share/g1/fleet/eu/+/+/wifi",
                "$share/g1/fleet/eu/+/+/camera",
                "fleet/eu/+/+/status",
                "fleet/eu/+/+/dict"
            ]
        );
        let p = Collect {
            partition: Some((1, 2)),
            ..c
        };
        assert_eq!(
            p.filters()[..2],
            ["fleet/eu/+/+/wifi", "fleet/eu/+/+/camera"]
        );
    }

    #[test]
    fn every_rig_is_in_exactly_one_partition_and_they_are_even() {
        let mut sizes = [0u32; 3];
        for i in 0..3000 {
            let rig = format!("rig-{i}");
            let parts: Vec<u32> = (0..3)
                .filter(|&k| in_partition("store-7", &rig, (k, 3)))
                .collect();
            assert_eq!(parts.len(), 1, "{rig}");
            sizes[parts[0] as usize] += 1;
        }
        assert!(sizes.iter().all(|&n| (900..1100).contains(&n)), "{sizes:?}");
        // The hash is fixed: a rig stays with its collector across versions.
        assert!(in_partition("store-7", "rig-a", (0, 1)));
        assert_eq!(
            (0..4).find(|&k| in_partition("store-7", "rig-a", (k, 4))),
            Some((fnv("store-7/rig-a") % 4) as u32)
        );
    }

    /// FNV-1a 64 as its reference defines it.
    fn fnv(text: &str) -> u64 {
        text.bytes().fold(0xcbf29ce484222325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        })
    }

    #[test]
    fn fnv_gives_the_reference_test_vectors() {
        // From the FNV reference's test suite.
        assert_eq!(fnv(""), 0xcbf29ce484222325);
        assert_eq!(fnv("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv("foobar"), 0x85944171f73967e8);
    }
}
