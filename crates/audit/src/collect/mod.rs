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

pub mod metrics;
pub mod store;

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vitrine_publish::Broker;
use vitrine_publish::consume::{
    self, Dedup, Dictionaries, Incoming, PAYLOAD_LIMIT, printable, subscribe_raw,
};
use vitrine_schema::Status;

use metrics::Metrics;
use store::{Store, SummaryRow};

/// What a collector subscribes to and as whom.
#[derive(Debug, Clone)]
pub struct Collect {
    /// The rigs' topic prefix (`vitrine` unless configured).
    pub prefix: String,
    /// The shared-subscription group: collectors of one group split the
    /// summaries between them.
    pub group: String,
    pub client_id: String,
    /// Summaries older than this (by window start) are deleted.
    pub retention_days: u64,
}

/// The sensors whose summaries are collected, by topic suffix.
const SENSORS: [&str; 2] = ["wifi", "camera"];

impl Collect {
    /// The subscriptions: summaries shared in the group, statuses and
    /// dictionaries to every collector.
    pub fn filters(&self) -> Vec<String> {
        let p = &self.prefix;
        let mut f: Vec<String> = SENSORS
            .iter()
            .map(|s| format!("$share/{}/{p}/+/+/{s}", self.group))
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
    subscribe_raw(broker, &cfg.client_id, &cfg.filters(), true, |incoming| {
        if next_expiry <= Instant::now() {
            next_expiry = Instant::now() + Duration::from_secs(3600);
            match store.expire(now_unix() - retention_s as i64) {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "summaries past retention deleted"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention"),
            }
        }
        let (topic, payload) = match incoming {
            Incoming::Message { topic, payload } => (topic, payload),
            Incoming::Refused { size } => {
                metrics.refused(&format!("packet of {size} bytes"));
                return ControlFlow::Continue(());
            }
            Incoming::Idle => {
                return if stop.load(Ordering::Relaxed) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                };
            }
        };
        if let Err(e) = take(topic, payload, &mut dicts, &mut dedup, store, metrics) {
            failed = Some(e);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One message: a dictionary learnt, a status or a summary stored, or a
/// refusal counted. Errors are the database's only: they stop the
/// collector, so that nothing is acknowledged and then lost (the broker
/// keeps what the persistent session has not taken).
fn take(
    topic: &str,
    payload: &[u8],
    dicts: &mut Dictionaries,
    dedup: &mut Dedup,
    store: &mut dyn Store,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    let Some((site, rig, kind)) = parse_topic(topic) else {
        metrics.refused("topic");
        return Ok(());
    };
    if payload.len() > PAYLOAD_LIMIT {
        metrics.refused("oversized");
        return Ok(());
    }
    match kind {
        "dict" => {
            dicts.learn(payload);
        }
        "status" => match serde_json::from_slice::<Status>(payload) {
            Ok(status) => {
                store.status(site, rig, &status, payload, now_unix())?;
                metrics.status(site, rig, &status);
            }
            Err(e) => {
                tracing::warn!(topic = %printable(topic), error = %e, "status not understood");
                metrics.refused("status");
            }
        },
        sensor => match consume::decode(dicts, payload) {
            Ok(d) => {
                let e = &d.envelope;
                if (e.site.as_str(), e.rig.as_str()) != (site, rig) {
                    // A rig may only speak for itself.
                    tracing::warn!(topic = %printable(topic), "summary of another rig than its topic's");
                    metrics.refused("topic mismatch");
                    return Ok(());
                }
                if !dedup.first(topic, e) {
                    metrics.duplicate();
                    return Ok(());
                }
                let row = SummaryRow::new(sensor, e, &d.bytes, now_unix());
                if store.summary(&row)? {
                    metrics.stored(site, rig, row.window_unix + i64::from(row.window_s));
                } else {
                    metrics.duplicate();
                }
            }
            Err(e) => {
                tracing::warn!(topic = %printable(topic), error = %e, "payload not decoded");
                metrics.refused("undecodable");
            }
        },
    }
    Ok(())
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

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
