//! The consumer side: subscribe, decode (zstd with the dictionary the payload
//! names), drop duplicates per stream: by topic, site, rig, boot and
//! sequence number. Used by `vitrine-audit tail`, `mqtt` and `self`, the
//! hil-tests and the demo, each connecting to a [`Broker`] (TLS and
//! credentials as the publisher has them).
//!
//! Consumers read other devices' streams, so every resource is bounded
//! (docs/publishing.md, "Consuming"): a packet is read up to [`READ_LIMIT`],
//! a payload is decoded up to [`PAYLOAD_LIMIT`] (larger ones are reported,
//! not decoded), decompression stops at [`DECODED_LIMIT`], and at most
//! [`MAX_DICTIONARIES`] published dictionaries are kept.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::ops::ControlFlow;
use std::time::Duration;

use rumqttc::{Client, ConnectionError, Event, Packet, QoS, StateError};
use serde_json::Value;

use crate::broker::Broker;
use crate::payload::{Codec, Envelope, dictionary_id, frame_dictionary_id};

/// The largest MQTT packet read. rumqttc drops the connection on a larger
/// one before reading it, and a broker re-sends a retained message at every
/// subscription, so this is set well above [`PAYLOAD_LIMIT`]: a large
/// message is then read, reported and skipped while the connection lives.
pub const READ_LIMIT: usize = 16 << 20;

/// The largest payload decoded. A summary is about a kilobyte and a
/// dictionary 16 KiB; anything over this is reported as oversized.
pub const PAYLOAD_LIMIT: usize = 1 << 20;

/// The most bytes one payload may decompress to.
pub const DECODED_LIMIT: usize = 4 << 20;

/// Dictionaries learnt from `…/dict` topics kept at once (least recently
/// used goes first); the shipped one is always kept.
pub const MAX_DICTIONARIES: usize = 4;

/// Why a consumer stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("cannot subscribe to {filter}: {source}")]
    Subscribe {
        filter: String,
        source: rumqttc::ClientError,
    },
    /// The broker answered and said no (a wrong user name or password, a
    /// client it does not allow): retrying would not change its answer.
    #[error("the broker {url} refused the connection: {code:?}")]
    Refused {
        url: String,
        code: rumqttc::ConnectReturnCode,
    },
    /// TLS failed: the broker's certificate is not signed by the CA given,
    /// names another host, or the broker wants a client certificate.
    #[error("TLS with the broker {url} failed: {reason}")]
    Tls { url: String, reason: String },
}

/// Why a payload was not decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("needs dictionary {0}, not published (or no longer kept)")]
    UnknownDictionary(u32),
    #[error("does not decompress: {0}")]
    Decompress(std::io::Error),
    #[error("decompresses to more than {} MiB", DECODED_LIMIT >> 20)]
    TooLarge,
    #[error("neither a zstd frame nor JSON")]
    NotZstd,
    #[error("not a summary envelope: {0}")]
    Json(serde_json::Error),
}

/// What names one delivery of a stream: topic, site, rig, boot, sequence
/// number. Each stream (a topic) of a rig counts its own sequence, so two
/// streams of one rig never collide.
type StreamKey = (String, String, String, String, u64);

/// Drops QoS 1 duplicates per stream: by (topic, site, rig, boot, seq),
/// remembering a bounded number.
#[derive(Debug, Default)]
pub struct Dedup {
    seen: HashSet<StreamKey>,
    order: VecDeque<StreamKey>,
}

impl Dedup {
    const CAPACITY: usize = 100_000;

    /// True the first time an envelope is seen on `topic`.
    pub fn first(&mut self, topic: &str, e: &Envelope) -> bool {
        let key = (
            topic.to_string(),
            e.site.clone(),
            e.rig.clone(),
            e.boot.clone(),
            e.seq,
        );
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

/// The zstd dictionaries a consumer knows: the shipped one, no dictionary,
/// and the last [`MAX_DICTIONARIES`] published ones used.
#[derive(Debug)]
pub struct Dictionaries {
    shipped: Codec,
    plain: Codec,
    /// Most recently used first.
    learnt: VecDeque<Codec>,
}

impl Default for Dictionaries {
    fn default() -> Self {
        Dictionaries {
            shipped: Codec::shipped(),
            plain: Codec::plain(),
            learnt: VecDeque::new(),
        }
    }
}

impl Dictionaries {
    /// Keeps `dict` if it is a zstd dictionary; its id.
    pub fn learn(&mut self, dict: &[u8]) -> Option<u32> {
        let id = dictionary_id(dict)?;
        if id == self.shipped.dict_id() {
            return Some(id);
        }
        self.learnt.retain(|c| c.dict_id() != id);
        self.learnt
            .push_front(Codec::with_dictionary(dict.to_vec()));
        self.learnt.truncate(MAX_DICTIONARIES);
        Some(id)
    }

    fn get(&mut self, id: u32) -> Option<&Codec> {
        if id == 0 {
            return Some(&self.plain);
        }
        if id == self.shipped.dict_id() {
            return Some(&self.shipped);
        }
        let at = self.learnt.iter().position(|c| c.dict_id() == id)?;
        let codec = self.learnt.remove(at)?;
        self.learnt.push_front(codec);
        self.learnt.front()
    }

    /// Decompresses one zstd frame with the dictionary it names, up to
    /// `limit` bytes; a plain JSON payload is returned as it is.
    pub fn decompress(&mut self, payload: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
        read_bounded(self.decoder(payload)?, limit)
    }

    /// The first `limit` bytes a zstd frame decompresses to, or as many as
    /// it gives before an error: for a search of what is too large to
    /// decode whole.
    pub fn decompress_prefix(
        &mut self,
        payload: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        let _ = self
            .decoder(payload)?
            .take(limit as u64)
            .read_to_end(&mut out);
        Ok(out)
    }

    /// A zstd frame's decoder, or a plain JSON payload (`broker.payload =
    /// "json"`) as it is: a rig may switch formats with payloads of the
    /// other still spooled, so each payload is told by its first byte.
    fn decoder<'p>(&mut self, payload: &'p [u8]) -> Result<Box<dyn Read + 'p>, DecodeError> {
        if payload.trim_ascii_start().starts_with(b"{") {
            return Ok(Box::new(payload));
        }
        if !payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return Err(DecodeError::NotZstd);
        }
        let id = frame_dictionary_id(payload).unwrap_or(0);
        let codec = self.get(id).ok_or(DecodeError::UnknownDictionary(id))?;
        zstd::stream::read::Decoder::with_dictionary(payload, codec.dictionary())
            .map(|d| Box::new(d) as Box<dyn Read + 'p>)
            .map_err(DecodeError::Decompress)
    }
}

/// Reads `r` to its end unless it holds more than `limit` bytes.
pub fn read_bounded(r: impl Read, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(DecodeError::Decompress)?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

/// A payload decoded as a summary envelope, with the decoded JSON as it
/// came (the typed envelope leaves unknown fields out).
#[derive(Debug)]
pub struct Decoded {
    pub envelope: Envelope,
    pub json: Value,
    /// The decompressed bytes.
    pub bytes: Vec<u8>,
    /// Paths of fields the schema does not have (`summary.wifi.extra`).
    pub unknown: Vec<String>,
}

/// Decodes `payload` as a Vitrine envelope.
pub fn decode(dicts: &mut Dictionaries, payload: &[u8]) -> Result<Decoded, DecodeError> {
    let bytes = dicts.decompress(payload, DECODED_LIMIT)?;
    let json: Value = serde_json::from_slice(&bytes).map_err(DecodeError::Json)?;
    let envelope: Envelope = serde_json::from_value(json.clone()).map_err(DecodeError::Json)?;
    let typed = serde_json::to_value(envelope.described()).map_err(DecodeError::Json)?;
    let mut unknown = Vec::new();
    unknown_fields(&json, &typed, "", &mut unknown);
    Ok(Decoded {
        envelope,
        json,
        bytes,
        unknown,
    })
}

/// Paths in `raw` that the typed reading `typed` of it does not have:
/// what serde left out.
pub fn unknown_fields(raw: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (raw, typed) {
        (Value::Object(r), Value::Object(t)) => {
            for (key, v) in r {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match t.get(key) {
                    Some(tv) => unknown_fields(v, tv, &p, out),
                    None => out.push(p),
                }
            }
        }
        (Value::Array(r), Value::Array(t)) => {
            for (i, (rv, tv)) in r.iter().zip(t).enumerate() {
                unknown_fields(rv, tv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with control characters (C0, DEL, C1) and other invisible
/// format characters escaped, for a terminal: names in payloads come from
/// other devices and must not move the cursor or retitle the window.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if hidden(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A line of JSON with the characters [`printable`] escapes written as
/// JSON escapes (`\u009b`), so that it stays the same JSON. serde_json
/// escapes C0 controls already; DEL, C1 and format characters it leaves.
pub fn printable_json(json: &str) -> Cow<'_, str> {
    if !json.chars().any(hidden) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if hidden(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out += &format!("\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What a subscription yields.
#[derive(Debug)]
pub enum Received {
    /// A summary, first delivery only.
    Summary {
        topic: String,
        envelope: Box<Envelope>,
        /// Fields the payload carried that the schema does not have (and
        /// `envelope` therefore leaves out).
        unknown: Vec<String>,
    },
    /// A payload that could not be decoded (named, never printed).
    Undecodable { topic: String, reason: String },
    /// A payload over [`PAYLOAD_LIMIT`]: not decoded.
    Oversized { topic: String, size: usize },
    /// A packet over [`READ_LIMIT`]: rumqttc refuses it and drops the
    /// connection, and the broker sends it again at the next one if it is
    /// retained.
    Refused { size: usize },
    /// Nothing arrived for a moment: a chance for the caller to stop.
    Idle,
}

/// Subscribes to `filter` (e.g. `vitrine/+/+/wifi`) on `broker` and calls
/// `on` for each summary until it returns `Break`. Dictionaries published on
/// `…/dict` are picked up; the shipped one is always known.
pub fn subscribe(
    broker: &Broker,
    client_id: &str,
    filter: &str,
    on: impl FnMut(Received) -> ControlFlow<()>,
) -> Result<(), ConsumeError> {
    subscribe_session(broker, client_id, filter, false, on)
}

/// Like [`subscribe`]; with `persistent`, the broker keeps the subscription
/// and queues QoS 1 summaries while this client is away (same `client_id`
/// to collect them), even across a broker restart when it persists state.
pub fn subscribe_session(
    broker: &Broker,
    client_id: &str,
    filter: &str,
    persistent: bool,
    mut on: impl FnMut(Received) -> ControlFlow<()>,
) -> Result<(), ConsumeError> {
    let dict_filter = dict_topic_of(filter);
    let mut dicts = Dictionaries::default();
    let mut dedup = Dedup::default();
    let filters = [filter.to_string(), dict_filter];
    subscribe_raw(broker, client_id, &filters, persistent, |incoming| {
        let (topic, payload) = match incoming {
            Incoming::Idle => return on(Received::Idle),
            Incoming::Refused { size } => return on(Received::Refused { size }),
            Incoming::Message { topic, payload } => (topic, payload),
        };
        if payload.len() > PAYLOAD_LIMIT {
            return on(Received::Oversized {
                topic: topic.to_string(),
                size: payload.len(),
            });
        }
        if topic.ends_with("/dict") {
            dicts.learn(payload);
            return ControlFlow::Continue(());
        }
        // The rig's availability (`online`/`offline`) is no summary.
        if topic.ends_with("/availability") {
            return ControlFlow::Continue(());
        }
        let received = match decode(&mut dicts, payload) {
            Ok(d) if dedup.first(topic, &d.envelope) => Received::Summary {
                topic: topic.to_string(),
                envelope: Box::new(d.envelope),
                unknown: d.unknown,
            },
            Ok(_) => return ControlFlow::Continue(()),
            Err(e) => Received::Undecodable {
                topic: topic.to_string(),
                reason: e.to_string(),
            },
        };
        on(received)
    })
}

/// What [`subscribe_raw`] passes on.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A message as it came (at most [`READ_LIMIT`] bytes).
    Message { topic: &'a str, payload: &'a [u8] },
    /// A packet of `size` bytes over [`READ_LIMIT`] broke the connection.
    Refused { size: usize },
    /// Nothing arrived for a moment.
    Idle,
}

/// Subscribes to `filters` and calls `on` with each message as it came,
/// until it returns `Break`. Reconnects and resubscribes on its own while
/// the broker cannot be reached; a broker that refuses the client (its
/// credentials, its certificate) or a TLS failure ends it with an error.
/// For consumers that read other devices' streams, whatever their format.
/// Each message is acknowledged once `on` has returned `Continue` for it.
pub fn subscribe_raw(
    broker: &Broker,
    client_id: &str,
    filters: &[String],
    persistent: bool,
    mut on: impl FnMut(Incoming<'_>) -> ControlFlow<()>,
) -> Result<(), ConsumeError> {
    subscribe_held(broker, client_id, filters, persistent, |m| match on(m) {
        ControlFlow::Continue(()) => Step::Release,
        ControlFlow::Break(()) => Step::Stop,
    })
}

/// What a consumer of [`subscribe_held`] says after each message or pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Taken, but not yet safe: its acknowledgement is held back.
    Hold,
    /// Everything taken so far is safe (written, committed): acknowledge it.
    Release,
    /// Stop, acknowledging nothing more: what is held is sent again to a
    /// persistent session.
    Stop,
}

/// How long a consumer holding acknowledgements waits for more before it
/// is told [`Incoming::Idle`], so that it commits: the broker sends only so
/// many unacknowledged messages (mosquitto's `max_inflight_messages`).
const HELD_PAUSE: Duration = Duration::from_millis(5);

/// Acknowledgements held at most: past this the consumer is told
/// [`Incoming::Idle`] so that it commits. The client's request queue holds
/// twice as many, because acknowledging happens on the thread that drives
/// the connection: a full queue would wait for itself.
const HELD_MAX: usize = 2048;

/// [`subscribe_raw`] for consumers that store what they get: the broker is
/// acknowledged only when `on` says [`Step::Release`], so that a message is
/// never acknowledged before it is safe. A persistent session gets again
/// whatever was held when the connection or the consumer stopped. After a
/// reconnection, the acknowledgements held from the broken connection are
/// forgotten (their packet ids belong to it): the broker sends those
/// messages again, and the consumer drops them as duplicates.
pub fn subscribe_held(
    broker: &Broker,
    client_id: &str,
    filters: &[String],
    persistent: bool,
    mut on: impl FnMut(Incoming<'_>) -> Step,
) -> Result<(), ConsumeError> {
    if broker.tls.as_ref().is_some_and(|t| t.ca.is_empty()) {
        return Err(ConsumeError::Tls {
            url: broker.url.clone(),
            reason: "mqtts:// needs a CA certificate".into(),
        });
    }
    let mut opts = broker.options(client_id);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_clean_session(!persistent);
    opts.set_manual_acks(true);
    // Incoming up to READ_LIMIT (see there); a consumer only sends
    // subscriptions.
    opts.set_max_packet_size(READ_LIMIT, 64 << 10);
    let (mut client, mut connection) = Client::new(opts.clone(), 2 * HELD_MAX);
    // Taken by the consumer, acknowledgement held back.
    let mut held: Vec<rumqttc::Publish> = Vec::new();
    // Released, waiting for room in the client's queue.
    let mut released: VecDeque<rumqttc::Publish> = VecDeque::new();
    let mut failures = 0;
    loop {
        queue_acks(&client, &mut released);
        let pause = if held.is_empty() {
            Duration::from_millis(200)
        } else {
            HELD_PAUSE
        };
        let event = connection.recv_timeout(pause);
        if event.is_err() || held.len() >= HELD_MAX {
            // A pause, or time the consumer committed anyway.
            match on(Incoming::Idle) {
                Step::Hold => {}
                Step::Release => released.extend(held.drain(..)),
                Step::Stop => return stop(&client, &mut connection, &mut released),
            }
        }
        let Ok(event) = event else {
            continue;
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                for filter in filters {
                    client
                        .subscribe(filter, QoS::AtLeastOnce)
                        .map_err(|source| ConsumeError::Subscribe {
                            filter: filter.clone(),
                            source,
                        })?;
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => tracing::info!("subscribed"),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let message = Incoming::Message {
                    topic: &p.topic,
                    payload: &p.payload,
                };
                let step = on(message);
                held.push(p);
                match step {
                    Step::Hold => {}
                    Step::Release => released.extend(held.drain(..)),
                    Step::Stop => return stop(&client, &mut connection, &mut released),
                }
            }
            Ok(_) => {}
            Err(e) => {
                failures += 1;
                // The packet ids of what is held, and of acknowledgements
                // queued and not yet sent, belong to the broken connection:
                // sent on the next one they would acknowledge other
                // messages. A new client drops them; the broker sends the
                // unacknowledged messages again.
                held.clear();
                released.clear();
                (client, connection) = Client::new(opts.clone(), 2 * HELD_MAX);
                if let Some(fatal) = fatal(broker, &e) {
                    return Err(fatal);
                }
                if let Some(size) = refused_size(&e) {
                    if on(Incoming::Refused { size }) == Step::Stop {
                        return Ok(());
                    }
                } else if failures == 1 {
                    tracing::warn!(error = %e, "cannot reach the broker; retrying");
                }
                std::thread::sleep(Duration::from_millis(500));
                if on(Incoming::Idle) == Step::Stop {
                    return Ok(());
                }
            }
        }
    }
}

/// Hands released acknowledgements to the client without blocking: its
/// queue is emptied by the event loop, which only this thread drives, so a
/// blocking send into a full queue would wait forever. What does not fit
/// waits for the next turn (the broker, meanwhile, sends no more than its
/// in-flight window).
fn queue_acks(client: &Client, released: &mut VecDeque<rumqttc::Publish>) {
    while let Some(p) = released.front() {
        if client.try_ack(p).is_err() {
            break;
        }
        released.pop_front();
    }
}

/// Ends a consumer's connection: the released acknowledgements, then the
/// DISCONNECT, sent by driving the event loop until it is out (2 s at
/// most). What is not acknowledged comes again to a persistent session.
fn stop(
    client: &Client,
    connection: &mut rumqttc::Connection,
    released: &mut VecDeque<rumqttc::Publish>,
) -> Result<(), ConsumeError> {
    let until = std::time::Instant::now() + Duration::from_secs(2);
    let mut asked = false;
    while std::time::Instant::now() < until {
        queue_acks(client, released);
        if released.is_empty() && !asked {
            asked = client.try_disconnect().is_ok();
        }
        match connection.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) | Ok(Err(_)) => break,
            _ => {}
        }
    }
    Ok(())
}

/// A connection error that retrying would only repeat: the broker's no,
/// or TLS that failed on certificates.
fn fatal(broker: &Broker, e: &ConnectionError) -> Option<ConsumeError> {
    let url = broker.url.clone();
    match e {
        ConnectionError::ConnectionRefused(code) => {
            Some(ConsumeError::Refused { url, code: *code })
        }
        ConnectionError::Tls(rumqttc::TlsError::Io(io)) => {
            // The handshake's own errors come wrapped in the stream's.
            let tls = io.get_ref()?.downcast_ref::<rustls::Error>()?;
            Some(ConsumeError::Tls {
                url,
                reason: tls.to_string(),
            })
        }
        ConnectionError::Tls(other) => Some(ConsumeError::Tls {
            url,
            reason: other.to_string(),
        }),
        _ => None,
    }
}

/// The size of the packet that broke the connection for being over
/// [`READ_LIMIT`].
fn refused_size(e: &ConnectionError) -> Option<usize> {
    match e {
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(size),
        )) => Some(*size),
        _ => None,
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

    fn example() -> vitrine_schema::Summary {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schema/summary-v1.example.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn envelope(rig: &str, boot: &str, seq: u64) -> Envelope {
        Envelope {
            site: "s".into(),
            rig: rig.into(),
            boot: boot.into(),
            seq,
            summary: example(),
        }
    }

    #[test]
    fn duplicates_are_dropped_per_stream() {
        let e = envelope;
        let wifi = "vitrine/s/r1/wifi";
        let mut d = Dedup::default();
        assert!(d.first(wifi, &e("r1", "b1", 0)));
        assert!(!d.first(wifi, &e("r1", "b1", 0)));
        assert!(
            d.first(wifi, &e("r1", "b2", 0)),
            "a new boot restarts the sequence"
        );
        assert!(d.first("vitrine/s/r2/wifi", &e("r2", "b1", 0)));
        // Another stream of the same rig counts its own sequence: its
        // first summary is not a duplicate of the first on wifi.
        assert!(d.first("vitrine/s/r1/ble", &e("r1", "b1", 0)));
        assert!(!d.first("vitrine/s/r1/ble", &e("r1", "b1", 0)));
        // Another site's rig of the same name is another stream.
        let mut other_site = e("r1", "b1", 0);
        other_site.site = "t".into();
        assert!(d.first(wifi, &other_site));
        assert_eq!(dict_topic_of("vitrine/+/+/wifi"), "vitrine/+/+/dict");
    }

    #[test]
    fn plain_json_payloads_decode_like_compressed_ones() {
        let mut dicts = Dictionaries::default();
        let e = envelope("r", "b", 3);
        let codec = Codec::shipped();
        let json = codec.encode_as(vitrine_config::PayloadFormat::Json, &e);
        assert_eq!(json, serde_json::to_vec(&e).unwrap());
        let zstd = codec.encode_as(vitrine_config::PayloadFormat::Zstd, &e);
        assert!(zstd.len() < json.len());
        let (a, b) = (
            decode(&mut dicts, &json).unwrap(),
            decode(&mut dicts, &zstd).unwrap(),
        );
        assert_eq!((a.envelope.seq, &a.json), (3, &b.json));
        // Leading white space is still JSON; anything else neither.
        let spaced = [b" \n".as_slice(), &json].concat();
        assert!(decode(&mut dicts, &spaced).is_ok());
        assert!(matches!(
            decode(&mut dicts, b"\x00garbage"),
            Err(DecodeError::NotZstd)
        ));
        // The bound holds for plain payloads too.
        assert!(matches!(
            dicts.decompress(&json, json.len() - 1),
            Err(DecodeError::TooLarge)
        ));
    }

    #[test]
    fn unknown_fields_are_named_and_known_ones_are_not() {
        let mut dicts = Dictionaries::default();
        let codec = Codec::shipped();
        let clean = decode(&mut dicts, &codec.encode(&envelope("r", "b", 1))).unwrap();
        assert_eq!(clean.unknown, Vec::<String>::new());

        let mut json = serde_json::to_value(envelope("r", "b", 1)).unwrap();
        json["summary"]["wifi"]["devices"]["seen"] = "60:8b:0e:2a:65:2b".into();
        json["note"] = 1.into();
        json["summary"]["wifi"]["channels"][0]["mac"] = "x".into();
        let payload = codec.compress(&serde_json::to_vec(&json).unwrap());
        let mut d = decode(&mut dicts, &payload).unwrap();
        d.unknown.sort();
        assert_eq!(
            d.unknown,
            [
                "note",
                "summary.wifi.channels[0].mac",
                "summary.wifi.devices.seen"
            ]
        );
        assert!(String::from_utf8_lossy(&d.bytes).contains("60:8b:0e:2a:65:2b"));
    }

    /// A dictionary with a given id: zstd's header, then arbitrary content.
    fn dict(id: u32) -> Vec<u8> {
        let samples: Vec<Vec<u8>> = (0..200)
            .map(|i| {
                format!(
                    "{{\"n\":{i},\"id\":{id},\"pad\":\"{}\"}}",
                    "ab".repeat(i % 40)
                )
                .into_bytes()
            })
            .collect();
        let mut d = crate::payload::train(&samples, 4096).unwrap();
        d[4..8].copy_from_slice(&id.to_le_bytes());
        d
    }

    #[test]
    fn only_the_last_dictionaries_used_are_kept() {
        let mut dicts = Dictionaries::default();
        for id in 1000..1010 {
            assert_eq!(dicts.learn(&dict(id)), Some(id));
        }
        assert_eq!(dicts.learnt.len(), MAX_DICTIONARIES);
        let frame = Codec::with_dictionary(dict(1006)).compress(b"{}");
        // Using 1006 keeps it when a new one comes.
        assert!(dicts.decompress(&frame, 100).is_ok());
        dicts.learn(&dict(2000));
        assert!(dicts.decompress(&frame, 100).is_ok());
        let old = Codec::with_dictionary(dict(1001)).compress(b"{}");
        assert!(matches!(
            dicts.decompress(&old, 100),
            Err(DecodeError::UnknownDictionary(1001))
        ));
        // The shipped dictionary is never dropped.
        let shipped = Codec::shipped().encode(&envelope("r", "b", 0));
        assert!(decode(&mut dicts, &shipped).is_ok());
    }

    #[test]
    fn decompression_stops_at_its_bound() {
        let bomb = Codec::plain().compress(&vec![b' '; 1 << 20]);
        let mut dicts = Dictionaries::default();
        assert!(matches!(
            dicts.decompress(&bomb, 1000),
            Err(DecodeError::TooLarge)
        ));
        assert_eq!(dicts.decompress(&bomb, 1 << 20).unwrap().len(), 1 << 20);
    }

    #[test]
    fn control_characters_are_escaped_for_terminals() {
        assert_eq!(printable("store-7/rig a"), "store-7/rig a");
        assert_eq!(
            printable("a\u{1b}]0;owned\u{7}b\u{9b}c\u{202e}"),
            "a\\u{1b}]0;owned\\u{7}b\\u{9b}c\\u{202e}"
        );
        let json =
            serde_json::to_string(&serde_json::json!({"rig": "a\u{1b}[2Jb\u{9b}c\u{7f}"})).unwrap();
        let shown = printable_json(&json);
        assert_eq!(shown, r#"{"rig":"a\u001b[2Jb\u009bc\u007f"}"#);
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["rig"], "a\u{1b}[2Jb\u{9b}c\u{7f}");
    }
}
