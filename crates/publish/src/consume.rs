//! The consumer side: subscribe, decode (zstd with the dictionary the payload
//! names), drop duplicates by (rig, boot, seq). Used by `vitrine-audit tail`
//! and the demo.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::ControlFlow;
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use crate::payload::{Codec, Envelope, dictionary_id, frame_dictionary_id};

/// Drops QoS 1 duplicates by (rig, boot, seq), remembering a bounded number.
#[derive(Debug, Default)]
pub struct Dedup {
    seen: HashSet<(String, String, u64)>,
    order: VecDeque<(String, String, u64)>,
}

impl Dedup {
    const CAPACITY: usize = 100_000;

    /// True the first time an envelope is seen.
    pub fn first(&mut self, e: &Envelope) -> bool {
        let key = (e.rig.clone(), e.boot.clone(), e.seq);
        if !self.seen.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > Self::CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

/// What a subscription yields.
#[derive(Debug)]
pub enum Received {
    /// A summary, first delivery only.
    Summary {
        topic: String,
        envelope: Box<Envelope>,
    },
    /// A payload that could not be decoded (named, never printed).
    Undecodable { topic: String, reason: String },
    /// Nothing arrived for a moment: a chance for the caller to stop.
    Idle,
}

/// Subscribes to `filter` (e.g. `vitrine/+/+/wifi`) on `host:port` and calls
/// `on` for each summary until it returns `Break`. Dictionaries published on
/// `…/dict` are picked up; the shipped one is always known.
pub fn subscribe(
    host: &str,
    port: u16,
    client_id: &str,
    filter: &str,
    on: impl FnMut(Received) -> ControlFlow<()>,
) -> Result<(), String> {
    subscribe_session(host, port, client_id, filter, false, on)
}

/// Like [`subscribe`]; with `persistent`, the broker keeps the subscription
/// and queues QoS 1 summaries while this client is away (same `client_id`
/// to collect them), even across a broker restart when it persists state.
pub fn subscribe_session(
    host: &str,
    port: u16,
    client_id: &str,
    filter: &str,
    persistent: bool,
    mut on: impl FnMut(Received) -> ControlFlow<()>,
) -> Result<(), String> {
    let dict_filter = dict_topic_of(filter);
    let shipped = Codec::shipped();
    let mut codecs: HashMap<u32, Codec> = HashMap::new();
    codecs.insert(shipped.dict_id(), shipped);
    codecs.insert(0, Codec::plain());
    let mut dedup = Dedup::default();
    let filters = [filter.to_string(), dict_filter];
    subscribe_raw(host, port, client_id, &filters, persistent, |message| {
        let Some((topic, payload)) = message else {
            return on(Received::Idle);
        };
        if topic.ends_with("/dict") {
            if let Some(id) = dictionary_id(payload) {
                codecs
                    .entry(id)
                    .or_insert_with(|| Codec::with_dictionary(payload.to_vec()));
            }
            return ControlFlow::Continue(());
        }
        let id = frame_dictionary_id(payload).unwrap_or(0);
        let received = match codecs.get(&id).map(|c| c.decode(payload)) {
            Some(Ok(envelope)) if dedup.first(&envelope) => Received::Summary {
                topic: topic.to_string(),
                envelope: Box::new(envelope),
            },
            Some(Ok(_)) => return ControlFlow::Continue(()),
            Some(Err(e)) => Received::Undecodable {
                topic: topic.to_string(),
                reason: e.to_string(),
            },
            None => Received::Undecodable {
                topic: topic.to_string(),
                reason: format!("needs dictionary {id}, not published yet"),
            },
        };
        on(received)
    })
}

/// Subscribes to `filters` and calls `on` with each message as it came
/// (topic, payload), or with `None` when nothing arrived for a moment,
/// until it returns `Break`. Reconnects and resubscribes on its own. For
/// consumers that read other devices' streams, whatever their format.
pub fn subscribe_raw(
    host: &str,
    port: u16,
    client_id: &str,
    filters: &[String],
    persistent: bool,
    mut on: impl FnMut(Option<(&str, &[u8])>) -> ControlFlow<()>,
) -> Result<(), String> {
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_clean_session(!persistent);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = Client::new(opts, 16);
    let mut failures = 0;
    loop {
        let event = match connection.recv_timeout(Duration::from_millis(200)) {
            Ok(event) => event,
            Err(_) => {
                if on(None).is_break() {
                    let _ = client.disconnect();
                    return Ok(());
                }
                continue;
            }
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                for filter in filters {
                    client
                        .subscribe(filter, QoS::AtLeastOnce)
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => tracing::info!("subscribed"),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if on(Some((&p.topic, &p.payload))).is_break() {
                    let _ = client.disconnect();
                    return Ok(());
                }
            }
            Ok(_) => {}
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(error = %e, "cannot reach the broker; retrying");
                }
                std::thread::sleep(Duration::from_millis(500));
                if on(None).is_break() {
                    return Ok(());
                }
            }
        }
    }
}

/// `vitrine/+/+/wifi` → `vitrine/+/+/dict`.
fn dict_topic_of(filter: &str) -> String {
    match filter.rsplit_once('/') {
        Some((base, _)) => format!("{base}/dict"),
        None => "vitrine/+/+/dict".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_dropped_by_rig_boot_and_seq() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schema/summary-v1.example.json"
        );
        let summary = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let e = |rig: &str, boot: &str, seq| Envelope {
            site: "s".into(),
            rig: rig.into(),
            boot: boot.into(),
            seq,
            summary: Clone::clone(&summary),
        };
        let mut d = Dedup::default();
        assert!(d.first(&e("r1", "b1", 0)));
        assert!(!d.first(&e("r1", "b1", 0)));
        assert!(
            d.first(&e("r1", "b2", 0)),
            "a new boot restarts the sequence"
        );
        assert!(d.first(&e("r2", "b1", 0)));
        assert_eq!(dict_topic_of("vitrine/+/+/wifi"), "vitrine/+/+/dict");
    }
}
