//! What a device publishes, watched for the length of the audit: every
//! message is decoded (zstd with the dictionary it names, or gzip, then
//! JSON) and checked as a whole, every field of it, for the schema, for
//! bins under k, for canaries in any encoding (in the payload as it came
//! and in its decoded bytes), for per-device identifiers, and for
//! identifiers that survive a key rotation.
//!
//! Bounds (docs/audit.md, "The stream check's bounds"): messages are
//! recorded to an unlinked temporary file while the audit watches, not
//! kept in memory; a payload over [`PAYLOAD_LIMIT`] or one that decodes to
//! more than [`JSON_LIMIT`] is searched for canaries only (its first
//! [`SCAN_LIMIT`] decoded bytes), and the checks it could not reach are
//! then not a pass.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use vitrine_publish::Broker;
use vitrine_publish::consume::{
    self, ConsumeError, DecodeError, Dictionaries, Incoming, READ_LIMIT, read_bounded,
};

use super::{
    Context, Outcome, STREAM_CANARY, STREAM_K_ANONYMITY, STREAM_LINKABLE, STREAM_PSEUDONYMS,
    STREAM_SCHEMA, thousands,
};
use crate::report::{CheckResult, Evidence, Status, WindowPoint};

/// Payloads larger than this are not parsed: searched for canaries only.
pub const PAYLOAD_LIMIT: usize = consume::PAYLOAD_LIMIT;
/// Decoded JSON larger than this is not parsed (a parsed document takes
/// several times its size in memory).
pub const JSON_LIMIT: usize = consume::DECODED_LIMIT;
/// Decoded bytes of one message searched for canaries when it is not parsed.
pub const SCAN_LIMIT: usize = 16 << 20;
/// The most the recording of one audit holds on disk.
const RECORDING_FILE_LIMIT: u64 = 4 << 30;
/// ...and in memory, when no temporary file can be made.
const RECORDING_MEMORY_LIMIT: u64 = 64 << 20;
/// Distinct identifier-like values remembered for the linkability check.
const MAX_TOKENS: usize = 1_000_000;

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub received: OffsetDateTime,
}

/// What the stream is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Vitrine summaries (`docs/schema/summary-v3.schema.json`, or an
    /// earlier version).
    Vitrine,
    /// Any JSON: a vendor's stream, checked by its content.
    Json,
}

/// The messages of one audit, in order of arrival, kept in an unlinked
/// temporary file (payloads hold the canaries in clear: owner-only, gone
/// when the audit ends) or, when none can be made, in memory. Both bounded:
/// what does not fit is counted, and the stream checks are then not a pass.
#[derive(Debug, Clone)]
pub struct Recording {
    store: Store,
    /// Bytes of complete records.
    bytes: u64,
    messages: u64,
    /// Messages not kept: the recording was full or could not be written.
    dropped: u64,
    /// Packets over the read bound that broke the connection: how many, the largest.
    refused: (u64, usize),
}

#[derive(Debug, Clone)]
enum Store {
    File(Arc<std::fs::File>),
    Memory(Vec<u8>),
}

impl Recording {
    /// A recording in a temporary file under `dir`, or in memory if none
    /// can be made there.
    pub fn in_dir(dir: &Path) -> Recording {
        let name = dir.join(format!(
            ".vitrine-audit-stream-{}-{}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&name);
        match file {
            Ok(file) => {
                // Unlinked at once: nothing to clean up, nothing for a
                // scan of the same tree to find.
                let _ = std::fs::remove_file(&name);
                Recording::with(Store::File(Arc::new(file)))
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "messages are recorded in memory");
                Recording::in_memory()
            }
        }
    }

    pub fn in_memory() -> Recording {
        Recording::with(Store::Memory(Vec::new()))
    }

    fn with(store: Store) -> Recording {
        Recording {
            store,
            bytes: 0,
            messages: 0,
            dropped: 0,
            refused: (0, 0),
        }
    }

    /// Messages recorded.
    pub fn len(&self) -> u64 {
        self.messages
    }

    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }

    pub fn push(&mut self, msg: &Message) {
        let mut record = Vec::with_capacity(msg.topic.len() + msg.payload.len() + 24);
        record.extend_from_slice(&(msg.topic.len() as u32).to_le_bytes());
        record.extend_from_slice(msg.topic.as_bytes());
        record.extend_from_slice(&msg.received.unix_timestamp_nanos().to_le_bytes());
        record.extend_from_slice(&(msg.payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&msg.payload);
        let limit = match self.store {
            Store::File(_) => RECORDING_FILE_LIMIT,
            Store::Memory(_) => RECORDING_MEMORY_LIMIT,
        };
        if self.bytes + record.len() as u64 > limit {
            self.dropped += 1;
            return;
        }
        let written = match &mut self.store {
            // At the end of the complete records: a failed write leaves
            // nothing that a later one does not overwrite.
            Store::File(f) => f.write_all_at(&record, self.bytes),
            Store::Memory(v) => v.write_all(&record),
        };
        match written {
            Ok(()) => {
                self.bytes += record.len() as u64;
                self.messages += 1;
            }
            Err(e) => {
                if self.dropped == 0 {
                    tracing::warn!(error = %e, "cannot record a message");
                }
                self.dropped += 1;
            }
        }
    }

    /// A packet of `size` bytes was over the read bound.
    pub fn refused(&mut self, size: usize) {
        self.refused.0 += 1;
        self.refused.1 = self.refused.1.max(size);
    }

    fn read_at(&self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match &self.store {
            Store::File(f) => f.read_exact_at(buf, at),
            Store::Memory(v) => {
                let start = usize::try_from(at).unwrap_or(usize::MAX);
                let src = v
                    .get(start..start.saturating_add(buf.len()))
                    .ok_or(std::io::ErrorKind::UnexpectedEof)?;
                buf.copy_from_slice(src);
                Ok(())
            }
        }
    }

    /// The recorded messages, in order, one at a time.
    fn messages(&self) -> impl Iterator<Item = std::io::Result<Message>> + '_ {
        let mut at = 0u64;
        std::iter::from_fn(move || {
            if at >= self.bytes {
                return None;
            }
            let mut next = || -> std::io::Result<Message> {
                let mut n = [0u8; 4];
                self.read_at(at, &mut n)?;
                let mut topic = vec![0u8; u32::from_le_bytes(n) as usize];
                self.read_at(at + 4, &mut topic)?;
                let mut t = [0u8; 16];
                let mut p = at + 4 + topic.len() as u64;
                self.read_at(p, &mut t)?;
                self.read_at(p + 16, &mut n)?;
                let mut payload = vec![0u8; u32::from_le_bytes(n) as usize];
                p += 20;
                self.read_at(p, &mut payload)?;
                at = p + payload.len() as u64;
                let received = OffsetDateTime::from_unix_timestamp_nanos(i128::from_le_bytes(t))
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                Ok(Message {
                    topic: String::from_utf8_lossy(&topic).into_owned(),
                    payload,
                    received,
                })
            };
            let r = next();
            if r.is_err() {
                at = u64::MAX;
            }
            Some(r)
        })
    }
}

impl FromIterator<Message> for Recording {
    fn from_iter<I: IntoIterator<Item = Message>>(iter: I) -> Self {
        let mut r = Recording::in_memory();
        for m in iter {
            r.push(&m);
        }
        r
    }
}

/// The broker the self-audit watches: the one the rig's configuration
/// publishes to (`broker.url`, with its CA, client certificate and
/// credentials, files read), or `mqtt://localhost` when it names none.
pub fn rig_broker(rig: &vitrine_config::Settings) -> Result<Broker, vitrine_config::ConfigError> {
    match &rig.broker {
        Some(b) => Broker::load(&b.client),
        None => Broker::from_url("mqtt://localhost:1883"),
    }
}

/// Subscribes to `topics` on `broker` for `duration` and records every
/// message into `into`, in order of arrival. `on_message` sees each as it
/// comes.
pub fn collect(
    broker: &Broker,
    topics: &[String],
    duration: Duration,
    mut into: Recording,
    mut on_message: impl FnMut(&Message),
) -> Result<Recording, ConsumeError> {
    let until = Instant::now() + duration;
    let client_id = format!("vitrine-audit-{}", std::process::id());
    consume::subscribe_raw(broker, &client_id, topics, false, |m| {
        match m {
            Incoming::Message { topic, payload } => {
                let msg = Message {
                    topic: topic.to_string(),
                    payload: payload.to_vec(),
                    received: OffsetDateTime::now_utc(),
                };
                on_message(&msg);
                into.push(&msg);
            }
            Incoming::Refused { size } => {
                if into.refused.0 == 0 {
                    tracing::warn!(
                        size,
                        limit = READ_LIMIT,
                        "a packet over the read bound broke the connection; reconnecting"
                    );
                }
                into.refused(size);
            }
            Incoming::Idle => {}
        }
        if Instant::now() >= until {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(into)
}

/// A decoded message.
#[derive(Debug)]
enum Decoded {
    /// A Vitrine envelope: the typed reading, the decoded JSON as a whole
    /// and the fields the schema does not have.
    Summary(Box<vitrine_publish::Envelope>, Value, Vec<u8>, Vec<String>),
    Json(Value, Vec<u8>),
    /// A rig's retained status (docs/publishing.md): its own state, no
    /// shopper's.
    Status(Value, Vec<u8>),
    /// A rig's availability (docs/publishing.md): `online`, or `offline`
    /// (a clean stop, or the broker's last will for a rig that vanished).
    Availability,
    /// One of a rig's main figures on its own topic, a plain number: a
    /// window's total, no bin.
    Figure,
    Dictionary,
    /// Too large to parse: its first [`SCAN_LIMIT`] decoded bytes, and
    /// why.
    TooLarge(Vec<u8>, String),
    Undecodable(String),
}

/// Identifier-like values of one (topic, path).
#[derive(Debug, Clone, Copy)]
struct Seen {
    first: OffsetDateTime,
    last: OffsetDateTime,
    n: u64,
}

/// The stream checks, fed one message at a time; what it keeps is a
/// summary (findings, identifier values, window points), not the messages.
struct Analysis<'a> {
    ctx: &'a Context<'a>,
    expect: Expect,
    schema: Outcome,
    k_anon: Outcome,
    canary: Outcome,
    pseudo: Outcome,
    windows: Vec<WindowPoint>,
    dicts: Dictionaries,
    seen_canaries: BTreeSet<(String, usize, String)>,
    tokens: HashMap<(String, String, String), Seen>,
    tokens_dropped: u64,
    /// The first message's key epoch and every change after it.
    epochs: Vec<(OffsetDateTime, u64)>,
    per_topic: HashMap<String, u64>,
    data_messages: u64,
    /// Messages only searched for canaries: how many, the largest, its topic.
    unparsed: (u64, usize, String),
    /// Messages whose decoded bytes were searched only up to SCAN_LIMIT.
    cut: u64,
}

/// Every stream check over what was recorded, and the windows for the
/// charts. `rotation`: when the device's key rotated during the audit, if
/// known otherwise (Vitrine summaries carry their key epoch).
pub fn analyze(
    ctx: &Context<'_>,
    recording: &Recording,
    expect: Expect,
    rotation: Option<OffsetDateTime>,
) -> (Vec<CheckResult>, Vec<WindowPoint>) {
    let mut a = Analysis {
        ctx,
        expect,
        schema: Outcome::new(STREAM_SCHEMA),
        k_anon: Outcome::new(STREAM_K_ANONYMITY),
        canary: Outcome::new(STREAM_CANARY),
        pseudo: Outcome::new(STREAM_PSEUDONYMS),
        windows: Vec::new(),
        dicts: Dictionaries::default(),
        seen_canaries: BTreeSet::new(),
        tokens: HashMap::new(),
        tokens_dropped: 0,
        epochs: Vec::new(),
        per_topic: HashMap::new(),
        data_messages: 0,
        unparsed: (0, 0, String::new()),
        cut: 0,
    };
    let mut read_error = None;
    for msg in recording.messages() {
        match msg {
            Ok(msg) => a.message(&msg),
            Err(e) => read_error = Some(e.to_string()),
        }
    }
    a.finish(recording, read_error, rotation)
}

impl Analysis<'_> {
    fn message(&mut self, msg: &Message) {
        let ctx = self.ctx;
        let when = Some(super::rfc3339(msg.received));
        *self.per_topic.entry(msg.topic.clone()).or_default() += 1;
        // The payload as it came, whatever it turns out to be.
        self.scan(msg, &msg.payload);
        let (json, text) = match decode(msg, &mut self.dicts) {
            Decoded::Dictionary | Decoded::Availability | Decoded::Figure => return,
            Decoded::Status(json, text) => {
                self.scan_decoded(msg, &json, &text);
                return;
            }
            Decoded::TooLarge(prefix, why) => {
                self.scan(msg, &prefix);
                if prefix.len() >= SCAN_LIMIT {
                    self.cut += 1;
                }
                self.data_messages += 1;
                let size = msg.payload.len().max(prefix.len());
                self.unparsed.0 += 1;
                if size > self.unparsed.1 {
                    self.unparsed.1 = size;
                    self.unparsed.2 = msg.topic.clone();
                }
                if self.expect == Expect::Vitrine {
                    self.schema.find(
                        format!(
                            "A message on {} is larger than any Vitrine summary.",
                            msg.topic
                        ),
                        Evidence {
                            topic: Some(msg.topic.clone()),
                            timestamp: when,
                            detail: Some(why),
                            ..Evidence::default()
                        },
                    );
                }
                return;
            }
            Decoded::Undecodable(reason) => {
                self.schema.find(
                    format!(
                        "A message on {} is not {}.",
                        msg.topic,
                        match self.expect {
                            Expect::Vitrine => "a Vitrine summary",
                            Expect::Json => "JSON",
                        }
                    ),
                    Evidence {
                        topic: Some(msg.topic.clone()),
                        timestamp: when,
                        detail: Some(reason),
                        ..Evidence::default()
                    },
                );
                self.data_messages += 1;
                return;
            }
            Decoded::Summary(envelope, json, text, unknown) => {
                let s = &envelope.summary;
                // Charted per window: the Wi-Fi figures, when the rig has Wi-Fi.
                if let Some(wifi) = &s.wifi {
                    self.windows.push(WindowPoint {
                        start: s.window_start.clone(),
                        topic: msg.topic.clone(),
                        probe_requests: wifi.frames.probe_req,
                        distinct_macs: wifi.devices.distinct_macs,
                        devices_estimate: wifi.devices.estimated as f64,
                    });
                }
                if self.epochs.last().is_none_or(|e| e.1 != s.epoch) {
                    self.epochs.push((msg.received, s.epoch));
                }
                if !unknown.is_empty() {
                    let mut named: Vec<String> =
                        unknown.iter().take(10).map(|p| label(ctx, p)).collect();
                    if unknown.len() > 10 {
                        named.push(format!("and {} more", unknown.len() - 10));
                    }
                    self.schema.find(
                        format!(
                            "A summary on {} has {} fields its schema does not have.",
                            msg.topic,
                            unknown.len()
                        ),
                        Evidence {
                            topic: Some(msg.topic.clone()),
                            timestamp: when.clone(),
                            detail: Some(named.join(", ")),
                            ..Evidence::default()
                        },
                    );
                }
                // The rig's own name, boot and sequence number are typed
                // and the same in all its messages; everything else, the
                // unknown fields too, is examined.
                let mut json = json;
                if let Value::Object(map) = &mut json {
                    for k in ["site", "rig", "boot", "seq"] {
                        map.remove(k);
                    }
                }
                (json, text)
            }
            Decoded::Json(json, text) => {
                if self.expect == Expect::Vitrine {
                    self.schema.find(
                        format!(
                            "A message on {} is JSON but not a Vitrine summary.",
                            msg.topic
                        ),
                        Evidence {
                            topic: Some(msg.topic.clone()),
                            timestamp: when.clone(),
                            ..Evidence::default()
                        },
                    );
                }
                (json, text)
            }
        };
        self.data_messages += 1;
        self.scan_decoded(msg, &json, &text);
        let mut small = Vec::new();
        under_k(&json, "", ctx.policy.k, &mut small);
        for (path, v) in small {
            self.k_anon.find(
                format!("A published count of {v} is below k = {}.", ctx.policy.k),
                Evidence {
                    topic: Some(msg.topic.clone()),
                    timestamp: when.clone(),
                    detail: Some(format!("{} = {v}", label(ctx, &path))),
                    ..Evidence::default()
                },
            );
        }
        let mut found = Vec::new();
        identifiers(&json, "", &mut found);
        for (path, value) in found {
            let key = (msg.topic.clone(), path, value);
            if let Some(seen) = self.tokens.get_mut(&key) {
                seen.last = msg.received;
                seen.n += 1;
            } else if self.tokens.len() < MAX_TOKENS {
                self.tokens.insert(
                    key,
                    Seen {
                        first: msg.received,
                        last: msg.received,
                        n: 1,
                    },
                );
            } else {
                self.tokens_dropped += 1;
            }
        }
    }

    /// Canaries in the decoded bytes, and in the JSON written back out,
    /// where `\u` escapes no longer hide them.
    fn scan_decoded(&mut self, msg: &Message, json: &Value, text: &[u8]) {
        if text != msg.payload.as_slice() {
            self.scan(msg, text);
        }
        let plain = serde_json::to_vec(json).unwrap_or_default();
        if plain != text {
            self.scan(msg, &plain);
        }
    }

    fn scan(&mut self, msg: &Message, data: &[u8]) {
        let ctx = self.ctx;
        let (seen, out) = (&mut self.seen_canaries, &mut self.canary);
        ctx.scanner.scan(data, &mut |m| {
            let mut evidence = ctx.canary_evidence(&m);
            evidence.topic = Some(msg.topic.clone());
            evidence.timestamp = Some(super::rfc3339(msg.received));
            evidence.offset = None;
            let encoding = evidence.encoding.clone().unwrap_or_default();
            if seen.insert((msg.topic.clone(), m.canary, encoding.clone())) {
                out.find(
                    format!(
                        "Canary {} is published as {encoding}.",
                        ctx.registry.canaries[m.canary].id
                    ),
                    evidence,
                );
            }
        });
    }

    fn finish(
        self,
        recording: &Recording,
        read_error: Option<String>,
        rotation: Option<OffsetDateTime>,
    ) -> (Vec<CheckResult>, Vec<WindowPoint>) {
        let Analysis {
            ctx,
            mut schema,
            mut k_anon,
            mut canary,
            mut pseudo,
            windows,
            tokens,
            tokens_dropped,
            epochs,
            per_topic,
            data_messages,
            unparsed,
            cut,
            ..
        } = self;
        // Values that are the same in every message of a topic are the
        // device's own name or boot id, not a shopper's. Inside a list, a
        // value is one of many things counted: never the device's own name.
        let tokens: Vec<((String, String, String), Seen)> = tokens
            .into_iter()
            .filter(|((topic, path, _), seen)| {
                path.contains("[]") || !(seen.n >= 2 && seen.n == per_topic[topic])
            })
            .collect();
        if !ctx.policy.pseudonyms_leave_device {
            let mut by_path: BTreeMap<(&str, &str), (u64, OffsetDateTime)> = BTreeMap::new();
            for ((topic, path, _), seen) in &tokens {
                let e = by_path.entry((topic, path)).or_insert((0, seen.first));
                e.0 += 1;
                e.1 = e.1.min(seen.first);
            }
            for ((topic, path), (values, first)) in by_path {
                pseudo.find(
                    format!("Per-device identifiers are published ({values} distinct values)."),
                    Evidence {
                        topic: Some(topic.to_string()),
                        timestamp: Some(super::rfc3339(first)),
                        detail: Some(format!("at {}", label(ctx, path))),
                        ..Evidence::default()
                    },
                );
            }
        }
        let rotation = rotation.or_else(|| epochs.get(1).map(|e| e.0));
        let linkable = match rotation {
            _ if tokens.is_empty() && tokens_dropped == 0 => {
                let mut o = Outcome::new(STREAM_LINKABLE);
                o.examined(
                    "no identifier is published: nothing can link devices across a key rotation",
                );
                o.finish()
            }
            None => Outcome::skipped(STREAM_LINKABLE, "no key rotation during the audit window"),
            Some(at) => linkage(ctx, &tokens, at),
        };
        // What the bounds left out, stated in the report.
        let mut limits = Vec::new();
        let mut everything_parsed = true;
        let mut everything_searched = true;
        if unparsed.0 > 0 {
            everything_parsed = false;
            limits.push(format!(
                "{} over the bounds of {} MiB a payload and {} MiB decoded searched for canaries only (the largest {} bytes, on {})",
                thousands(unparsed.0),
                PAYLOAD_LIMIT >> 20,
                JSON_LIMIT >> 20,
                thousands(unparsed.1 as u64),
                unparsed.2
            ));
        }
        if cut > 0 {
            everything_searched = false;
            limits.push(format!(
                "{} searched for canaries in their first {} MiB decoded only",
                thousands(cut),
                SCAN_LIMIT >> 20
            ));
        }
        if recording.refused.0 > 0 {
            everything_searched = false;
            everything_parsed = false;
            limits.push(format!(
                "{} packets over the {} MiB read bound (the largest {} bytes) not read: each broke the connection, and messages sent meanwhile may be missing",
                thousands(recording.refused.0),
                READ_LIMIT >> 20,
                thousands(recording.refused.1 as u64)
            ));
        }
        if recording.dropped > 0 {
            everything_searched = false;
            everything_parsed = false;
            limits.push(format!(
                "{} not recorded (the recording's bound is {} GiB on disk, {} MiB in memory)",
                thousands(recording.dropped),
                RECORDING_FILE_LIMIT >> 30,
                RECORDING_MEMORY_LIMIT >> 20
            ));
        }
        if let Some(e) = read_error {
            everything_searched = false;
            everything_parsed = false;
            limits.push(format!("the recording could not be read back: {e}"));
        }
        if tokens_dropped > 0 {
            limits.push(format!(
                "identifier values past the first {} not kept for the rotation check",
                thousands(MAX_TOKENS as u64)
            ));
        }
        let mut examined = format!(
            "{} messages on {} topics",
            thousands(data_messages),
            per_topic.len()
        );
        if !limits.is_empty() {
            examined += &format!("; messages {}", limits.join("; "));
        }
        for o in [&mut schema, &mut k_anon, &mut canary, &mut pseudo] {
            o.examined(examined.clone());
        }
        if data_messages == 0 {
            let why = if recording.refused.0 > 0 {
                format!(
                    "nothing could be read: {} packets over the {} MiB read bound (the largest {} bytes) broke every connection",
                    thousands(recording.refused.0),
                    READ_LIMIT >> 20,
                    thousands(recording.refused.1 as u64)
                )
            } else {
                "nothing was published during the audit window".to_string()
            };
            return (
                [
                    STREAM_SCHEMA,
                    STREAM_K_ANONYMITY,
                    STREAM_CANARY,
                    STREAM_PSEUDONYMS,
                    STREAM_LINKABLE,
                ]
                .into_iter()
                .map(|c| Outcome::skipped(c, why.clone()))
                .collect(),
                windows,
            );
        }
        let mut results = vec![
            schema.finish(),
            k_anon.finish(),
            canary.finish(),
            pseudo.finish(),
            linkable,
        ];
        // A check that did not see everything is not a pass.
        for r in &mut results {
            let complete = if r.id == STREAM_CANARY.id {
                everything_searched
            } else if r.id == STREAM_LINKABLE.id {
                everything_parsed && tokens_dropped == 0
            } else {
                everything_parsed
            };
            if !complete && r.status == Status::Passed {
                r.status = Status::Skipped {
                    reason: format!("not every message was examined: {}", limits.join("; ")),
                };
            }
        }
        (results, windows)
    }
}

/// A JSON path for the report: a key that holds an identifier or a canary
/// (a vendor may key its counts by device) is shown as `<key>`, never its
/// value.
fn label(ctx: &Context<'_>, path: &str) -> String {
    let mut leaks = false;
    ctx.scanner.scan(path.as_bytes(), &mut |_| leaks = true);
    if leaks {
        return "<a path naming a canary>".into();
    }
    path.split('.')
        .map(|part| {
            let key = part.split('[').next().unwrap_or(part);
            if is_identifier(key) {
                part.replacen(key, "<key>", 1)
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Identifiers published both before and after the key rotation: whoever
/// receives the stream links the device across epochs.
fn linkage(
    ctx: &Context<'_>,
    tokens: &[((String, String, String), Seen)],
    rotation: OffsetDateTime,
) -> CheckResult {
    let mut out = Outcome::new(STREAM_LINKABLE);
    let mut before: HashMap<(&str, &str), OffsetDateTime> = HashMap::new();
    for ((topic, _, value), seen) in tokens.iter().filter(|t| t.1.first < rotation) {
        let e = before.entry((topic, value)).or_insert(seen.first);
        *e = (*e).min(seen.first);
    }
    // Per (topic, path): values seen again after the rotation, when first
    // seen before it and when last seen after.
    let mut again: BTreeMap<(&str, &str), (BTreeSet<&str>, OffsetDateTime, OffsetDateTime)> =
        BTreeMap::new();
    for ((topic, path, value), seen) in tokens.iter().filter(|t| t.1.last >= rotation) {
        if let Some(first) = before.get(&(topic.as_str(), value.as_str())) {
            let e = again
                .entry((topic, path))
                .or_insert((BTreeSet::new(), *first, seen.last));
            e.0.insert(value);
            e.1 = e.1.min(*first);
            e.2 = e.2.max(seen.last);
        }
    }
    for ((topic, path), (values, first, last)) in again {
        out.find(
            format!(
                "{} identifiers published before the key rotation are published again after it.",
                values.len()
            ),
            Evidence {
                topic: Some(topic.to_string()),
                timestamp: Some(super::rfc3339(first)),
                detail: Some(format!(
                    "at {}; seen again until {}; rotation at {}",
                    label(ctx, path),
                    super::rfc3339(last),
                    super::rfc3339(rotation)
                )),
                ..Evidence::default()
            },
        );
    }
    out.examined(format!(
        "{} identifier-like values around the rotation at {}",
        thousands(tokens.len() as u64),
        super::rfc3339(rotation)
    ));
    out.finish()
}

fn decode(msg: &Message, dicts: &mut Dictionaries) -> Decoded {
    let p = &msg.payload;
    if p.len() > PAYLOAD_LIMIT {
        let why = format!(
            "{} bytes, over the {} MiB payload bound",
            thousands(p.len() as u64),
            PAYLOAD_LIMIT >> 20
        );
        return Decoded::TooLarge(prefix(p, dicts), why);
    }
    if msg.topic.ends_with("/dict") && dicts.learn(p).is_some() {
        return Decoded::Dictionary;
    }
    if msg.topic.ends_with("/availability") && matches!(&p[..], b"online" | b"offline") {
        return Decoded::Availability;
    }
    if is_figure(&msg.topic, p) {
        return Decoded::Figure;
    }
    let plain = if p.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        dicts.decompress(p, JSON_LIMIT)
    } else if p.starts_with(&[0x1f, 0x8b]) {
        read_bounded(flate2::read::MultiGzDecoder::new(&p[..]), JSON_LIMIT)
    } else {
        Ok(p.clone())
    };
    let plain = match plain {
        Ok(plain) => plain,
        Err(DecodeError::TooLarge) => {
            let why = format!("decodes to more than {} MiB", JSON_LIMIT >> 20);
            return Decoded::TooLarge(prefix(p, dicts), why);
        }
        Err(e) => return Decoded::Undecodable(format!("compressed, but {e}")),
    };
    match serde_json::from_slice::<Value>(&plain) {
        Ok(json) => {
            // A Vitrine envelope, compressed or not.
            if let Ok(envelope) = serde_json::from_value::<vitrine_publish::Envelope>(json.clone())
            {
                let mut unknown = Vec::new();
                if let Ok(typed) = serde_json::to_value(envelope.described()) {
                    consume::unknown_fields(&json, &typed, "", &mut unknown);
                }
                return Decoded::Summary(Box::new(envelope), json, plain, unknown);
            }
            if msg.topic.ends_with("/status") && is_vitrine_status(&json) {
                return Decoded::Status(json, plain);
            }
            Decoded::Json(json, plain)
        }
        Err(e) => Decoded::Undecodable(format!("not JSON: {e}")),
    }
}

/// The first [`SCAN_LIMIT`] decoded bytes of a compressed payload (for the
/// canary search of a message too large to parse); nothing for others,
/// whose raw bytes are searched anyway.
fn prefix(p: &[u8], dicts: &mut Dictionaries) -> Vec<u8> {
    if p.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        // With the dictionary it names; without it, only the raw bytes.
        return dicts.decompress_prefix(p, SCAN_LIMIT).unwrap_or_default();
    }
    let mut out = Vec::new();
    if p.starts_with(&[0x1f, 0x8b]) {
        let _ = flate2::read::MultiGzDecoder::new(p)
            .take(SCAN_LIMIT as u64)
            .read_to_end(&mut out);
    }
    out
}

/// A rig's figure on its own topic (`…/wifi/devices/estimated`): a
/// topic of [`vitrine_publish::figures::FIGURES`] holding a plain,
/// non-negative number.
fn is_figure(topic: &str, payload: &[u8]) -> bool {
    let known = vitrine_publish::figures::FIGURES
        .iter()
        .any(|f| topic.ends_with(&format!("/{}/{}", f.sensor, f.leaf)));
    known
        && payload.len() <= 24
        && std::str::from_utf8(payload)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .is_some_and(|v| v.is_finite() && v >= 0.0)
        && payload.iter().all(|b| b.is_ascii_digit() || *b == b'.')
}

/// `{"state":"online"|"offline","version":..,"boot":..,"spool":{..}}`
/// A rig's retained status as the schema describes it
/// (`docs/schema/status-v1.schema.json`): every field known, none missing.
fn is_vitrine_status(v: &Value) -> bool {
    serde_json::from_value::<vitrine_schema::Status>(v.clone()).is_ok()
}

/// Keys whose numbers count people or devices (in a vendor's JSON as in
/// Vitrine's summary).
fn counts_people(path: &str) -> bool {
    let key = path
        .rsplit('.')
        .next()
        .unwrap_or(path)
        .trim_end_matches("[]")
        .to_ascii_lowercase();
    const WORDS: [&str; 12] = [
        "count",
        "counts",
        "visitors",
        "devices",
        "people",
        "shoppers",
        "footfall",
        "macs",
        "new",
        "returning",
        "leaking",
        "occupancy",
    ];
    WORDS
        .iter()
        .any(|w| key == *w || key.ends_with(&format!("_{w}")) || key.starts_with(&format!("{w}_")))
        || path.ends_with("channels[].frames")
}

/// Counts of people or devices that are above zero and below `k`.
fn under_k(v: &Value, path: &str, k: u32, out: &mut Vec<(String, u64)>) {
    match v {
        Value::Object(map) => {
            for (key, v) in map {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                // Totals of a window are not bins.
                if matches!(key.as_str(), "distinct_macs" | "estimated" | "total" | "frames" if !p.contains("channels"))
                {
                    continue;
                }
                under_k(v, &p, k, out);
            }
        }
        Value::Array(items) => {
            let p = format!("{path}[]");
            for item in items {
                under_k(item, &p, k, out);
            }
        }
        Value::Number(n) if counts_people(path) => {
            if let Some(n) = n.as_u64()
                && n > 0
                && n < u64::from(k)
            {
                out.push((path.to_string(), n));
            }
        }
        _ => {}
    }
}

/// Strings that look like one device's identifier: a MAC, or hex of at
/// least 8 digits (a hash or pseudonym), or a long base64 token.
pub fn is_identifier(s: &str) -> bool {
    let stripped: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    let hexlike = stripped.len() >= 8
        && stripped.chars().all(|c| c.is_ascii_hexdigit())
        && stripped.chars().any(|c| c.is_ascii_digit());
    let b64like = s.len() >= 16
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_'))
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_uppercase())
        && s.chars().any(|c| c.is_ascii_lowercase());
    hexlike || b64like
}

fn identifiers(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (key, v) in map {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if is_identifier(key) {
                    out.push((format!("{path}.<key>"), key.clone()));
                }
                identifiers(v, &p, out);
            }
        }
        Value::Array(items) => {
            let p = format!("{path}[]");
            for item in items {
                identifiers(item, &p, out);
            }
        }
        Value::String(s) if is_identifier(s) => out.push((path.to_string(), s.clone())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_told_from_other_strings() {
        for s in [
            "3c:22:fb:12:34:56",
            "a3f9c2e1",
            "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
            "dGhpcyBpcyBhIHRva2VuMTI=",
        ] {
            assert!(is_identifier(s), "{s}");
        }
        for s in [
            "2026-11-24T10:00:00Z",
            "2.4GHz",
            "deadbeef".get(..6).unwrap(),
            "bad_fcs",
            "abcdefab",
            "entrance",
        ] {
            assert!(!is_identifier(s), "{s}");
        }
    }

    #[test]
    fn small_counts_are_found_by_their_path() {
        let v: Value = serde_json::json!({
            "site": "shop", "window": {"visitors": 3, "total": 2},
            "zones": [{"name": "a", "count": 7}, {"name": "b", "count": 1}],
            "wifi": {"rssi_dbm": {"counts": [0, 6, null, 2]}, "devices": {"distinct_macs": 1, "new": 4}}
        });
        let mut out = Vec::new();
        under_k(&v, "", 5, &mut out);
        out.sort();
        assert_eq!(
            out,
            vec![
                ("wifi.devices.new".to_string(), 4),
                ("wifi.rssi_dbm.counts[]".to_string(), 2),
                ("window.visitors".to_string(), 3),
                ("zones[].count".to_string(), 1),
            ]
        );
    }
}

#[cfg(test)]
mod analyze_tests {
    use super::*;
    use vitrine_canary::{Registry, Scanner};

    fn msg(topic: &str, payload: &[u8]) -> Message {
        Message {
            topic: topic.into(),
            payload: payload.to_vec(),
            received: OffsetDateTime::now_utc(),
        }
    }

    fn registry() -> Registry {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        Registry::generate(2, 1, &[[0x3c, 0x22, 0xfb]], &mut rng)
    }

    /// The checks' results over `messages`, by id.
    fn run(
        reg: &Registry,
        messages: Vec<Message>,
        expect: Expect,
    ) -> (BTreeMap<String, CheckResult>, Vec<WindowPoint>) {
        let scanner = Scanner::new(reg);
        let policy = vitrine_config::policy::Policy::default();
        let ctx = Context {
            policy: &policy,
            registry: reg,
            scanner: &scanner,
            now: OffsetDateTime::now_utc(),
        };
        let recording: Recording = messages.into_iter().collect();
        let (results, windows) = analyze(&ctx, &recording, expect, None);
        (
            results.into_iter().map(|r| (r.id.clone(), r)).collect(),
            windows,
        )
    }

    fn envelope() -> vitrine_publish::Envelope {
        let example = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schema/summary-v1.example.json"
        ))
        .unwrap();
        vitrine_publish::Envelope {
            site: "s".into(),
            rig: "r".into(),
            boot: "b".into(),
            seq: 0,
            summary: serde_json::from_str(&example).unwrap(),
        }
    }

    fn mac(reg: &Registry) -> String {
        let (_, mac) = reg.macs().next().unwrap();
        vitrine_canary::encoding::spelled(
            &mac,
            vitrine_canary::Spelling::Colon,
            vitrine_canary::Case::Lower,
        )
    }

    const STATUS: &[u8] =
        br#"{"state":"online","version":"0.1.0","boot":"6f1c2a9e4b7d4e21","spool":{"held":0,"acknowledged":3,"expired":0,"dropped_full":0,"quarantined":0}}"#;

    #[test]
    fn messages_that_are_not_summaries_fail_the_schema_check() {
        let reg = Registry::default();
        let good = Codec::shipped().encode(&envelope());
        let ok = vec![
            msg("vitrine/s/r/wifi", &good),
            msg("vitrine/s/r/status", STATUS),
        ];
        let (results, windows) = run(&reg, ok, Expect::Vitrine);
        assert_eq!(windows.len(), 1);
        assert!(
            results
                .values()
                .all(|r| r.findings.is_empty() && r.status == Status::Passed),
            "{results:?}"
        );

        let bad = vec![
            msg("vitrine/s/r/wifi", &good),
            msg("vitrine/s/r/wifi", b"\x00garbage"),
            msg("vitrine/s/r/wifi", br#"{"visitors":40}"#),
        ];
        let (results, _) = run(&reg, bad.clone(), Expect::Vitrine);
        assert_eq!(results["stream.schema"].findings.len(), 2);
        // The same JSON is fine from a vendor's stream, the garbage is not.
        let (results, _) = run(&reg, bad[1..].to_vec(), Expect::Json);
        assert_eq!(results["stream.schema"].findings.len(), 1);

        // A status that is not the schema's (a counter missing) is no
        // Vitrine status.
        let partial = br#"{"state":"online","version":"0.1.0","boot":"b","spool":{"held":0}}"#;
        let (results, _) = run(
            &reg,
            vec![
                msg("vitrine/s/r/wifi", &good),
                msg("vitrine/s/r/status", partial),
            ],
            Expect::Vitrine,
        );
        assert_eq!(results["stream.schema"].findings.len(), 1, "{results:?}");
    }

    /// The rig's availability (`online`, `offline`: its last will) and its
    /// figures on topics of their own (plain numbers) are the rig's own
    /// messages; anything else on those topics is not.
    #[test]
    fn availability_and_figures_are_the_rigs_own_and_nothing_else_is() {
        let reg = Registry::default();
        let good = Codec::shipped().encode(&envelope());
        let ok = vec![
            msg("vitrine/s/r/wifi", &good),
            msg("vitrine/s/r/availability", b"online"),
            msg("vitrine/s/r/wifi/devices/estimated", b"3"),
            msg("vitrine/s/r/camera/occupancy/mean", b"0.25"),
            msg("vitrine/s/r/status/spool/held", b"0"),
            msg("vitrine/s/r/availability", b"offline"),
        ];
        let (results, windows) = run(&reg, ok, Expect::Vitrine);
        assert_eq!(windows.len(), 1);
        assert!(
            results
                .values()
                .all(|r| r.findings.is_empty() && r.status == Status::Passed),
            "{results:?}"
        );
        for (topic, payload) in [
            ("vitrine/s/r/availability", &b"gone"[..]),
            ("vitrine/s/r/wifi/devices/estimated", b"three"),
            ("vitrine/s/r/wifi/devices/estimated", b"-1"),
            ("vitrine/s/r/wifi/visitors", b"3"),
        ] {
            let (results, _) = run(
                &reg,
                vec![msg("vitrine/s/r/wifi", &good), msg(topic, payload)],
                Expect::Vitrine,
            );
            assert_eq!(
                results["stream.schema"].findings.len(),
                1,
                "{topic} {payload:?}"
            );
        }
    }

    /// Version 3 adds the camera's section: each sensor's part of the
    /// example, on its own topic, is a known summary, and the heat grid is
    /// held to k like any count.
    #[test]
    fn a_version_3_summary_with_a_camera_section_passes() {
        let reg = Registry::default();
        let example = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schema/summary-v3.example.json"
        ))
        .unwrap();
        let summary: vitrine_schema::Summary = serde_json::from_str(&example).unwrap();
        assert_eq!(summary.schema_version, 3);
        let parts = summary.per_sensor();
        let names: Vec<&str> = parts.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["wifi", "camera"]);
        let envelopes: Vec<(String, vitrine_publish::Envelope)> = parts
            .into_iter()
            .map(|(name, summary)| {
                let e = vitrine_publish::Envelope {
                    summary,
                    ..envelope()
                };
                (format!("vitrine/s/r/{name}"), e)
            })
            .collect();
        let messages = envelopes
            .iter()
            .map(|(topic, e)| msg(topic, &Codec::shipped().encode(e)))
            .collect();
        let (results, _) = run(&reg, messages, Expect::Vitrine);
        assert!(
            results
                .values()
                .all(|r| r.findings.is_empty() && r.status == Status::Passed),
            "{results:?}"
        );
        // A heat cell published below k is a finding.
        let (topic, camera) = &envelopes[1];
        let mut json = serde_json::to_value(camera).unwrap();
        json["summary"]["camera"]["heat"]["counts"][2] = 2.into();
        let small = Codec::shipped().compress(&serde_json::to_vec(&json).unwrap());
        let (results, _) = run(&reg, vec![msg(topic, &small)], Expect::Vitrine);
        assert_eq!(results["stream.k_anonymity"].status, Status::Failed);
        assert_eq!(results["stream.schema"].status, Status::Passed);
    }

    use vitrine_publish::Codec;

    /// A summary with one field its schema does not have.
    fn with_extra(field: &str, value: Value) -> Vec<u8> {
        let mut json = serde_json::to_value(envelope()).unwrap();
        json["summary"]["wifi"]["devices"][field] = value;
        Codec::shipped().compress(&serde_json::to_vec(&json).unwrap())
    }

    #[test]
    fn a_canary_in_an_unknown_field_fails_the_canary_and_schema_checks() {
        let reg = registry();
        let leaky = with_extra("last_seen", mac(&reg).into());
        for expect in [Expect::Vitrine, Expect::Json] {
            let (results, _) = run(&reg, vec![msg("vitrine/s/r/wifi", &leaky)], expect);
            let canary = &results["stream.canary"];
            assert_eq!(canary.status, Status::Failed, "{expect:?}");
            assert_eq!(
                canary.findings[0].evidence.encoding.as_deref(),
                Some("clear(colon-lower)")
            );
            let schema = &results["stream.schema"].findings;
            assert_eq!(schema.len(), 1, "{expect:?}: {schema:?}");
            assert_eq!(
                schema[0].evidence.detail.as_deref(),
                Some("summary.wifi.devices.last_seen")
            );
            // The MAC is also an identifier, wherever it is.
            assert_eq!(results["stream.pseudonyms"].status, Status::Failed);
        }
        // A harmless extra field is a schema finding only.
        let extra = with_extra("note", "hello".into());
        let (results, _) = run(&reg, vec![msg("vitrine/s/r/wifi", &extra)], Expect::Vitrine);
        assert_eq!(results["stream.schema"].status, Status::Failed);
        assert_eq!(results["stream.canary"].status, Status::Passed);
    }

    #[test]
    fn canaries_are_found_behind_json_escapes_and_never_named_in_paths() {
        let reg = registry();
        let m = mac(&reg);
        let escaped: String = m.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        let body = format!(r#"{{"zone":"a","tag":"{escaped}"}}"#);
        let (results, _) = run(&reg, vec![msg("vendor/x", body.as_bytes())], Expect::Json);
        assert_eq!(results["stream.canary"].status, Status::Failed);

        // A canary as a key of an unknown object: reported, not repeated.
        let keyed = with_extra("by_mac", serde_json::json!({ m.clone(): {"count": 2} }));
        let (results, _) = run(&reg, vec![msg("vitrine/s/r/wifi", &keyed)], Expect::Vitrine);
        assert_eq!(results["stream.canary"].status, Status::Failed);
        assert_eq!(results["stream.k_anonymity"].status, Status::Failed);
        let text = format!("{results:?}");
        assert!(!text.contains(&m), "{text}");
    }

    #[test]
    fn a_message_over_the_payload_bound_is_searched_and_stated_never_passed() {
        let reg = registry();
        let good = Codec::shipped().encode(&envelope());
        // 2 MB of vendor JSON, compressed and not: searched for canaries.
        let big = format!(
            r#"{{"pad":"{}","tag":"{}"}}"#,
            "x".repeat(2 << 20),
            mac(&reg)
        );
        let zstd_big = zstd::bulk::compress(big.as_bytes(), 3).unwrap();
        assert!(
            zstd_big.len() < PAYLOAD_LIMIT,
            "decodes past the JSON bound"
        );
        for payload in [big.as_bytes(), &zstd_big] {
            let (results, _) = run(
                &reg,
                vec![msg("vendor/x/dict", payload), msg("vendor/x", b"{}")],
                Expect::Json,
            );
            assert_eq!(results["stream.canary"].status, Status::Failed);
        }
        // Without a canary: the checks that need the parsed JSON are not a
        // pass, and the report states the bound.
        let clean = vec![0u8; 2 << 20];
        let (results, _) = run(
            &reg,
            vec![
                msg("vitrine/s/r/dict", &clean),
                msg("vitrine/s/r/wifi", &good),
            ],
            Expect::Json,
        );
        for id in ["stream.schema", "stream.k_anonymity", "stream.pseudonyms"] {
            let Status::Skipped { reason } = &results[id].status else {
                panic!("{id}: {:?}", results[id]);
            };
            assert!(reason.contains("1 MiB"), "{reason}");
        }
        assert_eq!(results["stream.canary"].status, Status::Passed);
        assert!(
            results["stream.canary"]
                .examined
                .contains("2,097,152 bytes")
        );
        // A Vitrine stream never has such a message.
        let (results, windows) = run(
            &reg,
            vec![
                msg("vitrine/s/r/dict", &clean),
                msg("vitrine/s/r/wifi", &good),
            ],
            Expect::Vitrine,
        );
        assert_eq!(results["stream.schema"].status, Status::Failed);
        assert_eq!(windows.len(), 1, "the summary after it is read");
    }

    #[test]
    fn a_refused_packet_is_stated_and_the_audit_is_not_a_pass() {
        let reg = Registry::default();
        let scanner = Scanner::new(&reg);
        let policy = vitrine_config::policy::Policy::default();
        let ctx = Context {
            policy: &policy,
            registry: &reg,
            scanner: &scanner,
            now: OffsetDateTime::now_utc(),
        };
        let mut recording = Recording::in_memory();
        recording.refused(40 << 20);
        let (results, _) = analyze(&ctx, &recording, Expect::Vitrine, None);
        let Status::Skipped { reason } = &results[0].status else {
            panic!("{results:?}")
        };
        assert!(reason.contains("41,943,040 bytes"), "{reason}");
        recording.push(&msg(
            "vitrine/s/r/wifi",
            &Codec::shipped().encode(&envelope()),
        ));
        let (results, _) = analyze(&ctx, &recording, Expect::Vitrine, None);
        assert!(
            results
                .iter()
                .all(|r| matches!(r.status, Status::Skipped { .. })),
            "{results:?}"
        );
    }

    #[test]
    fn the_recording_is_on_disk_and_reads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recording::in_dir(dir.path());
        assert!(matches!(r.store, Store::File(_)));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "unlinked at once"
        );
        let sent: Vec<Message> = (0..50)
            .map(|i| msg(&format!("t/{i}"), &vec![i as u8; i * 1000]))
            .collect();
        for m in &sent {
            r.push(m);
        }
        let back: Vec<Message> = r.messages().map(Result::unwrap).collect();
        assert_eq!(back.len(), 50);
        for (a, b) in sent.iter().zip(&back) {
            assert_eq!(
                (&a.topic, &a.payload, a.received),
                (&b.topic, &b.payload, b.received)
            );
        }
        // No directory to write in: in memory, bounded.
        let mut m = Recording::in_dir(&dir.path().join("missing"));
        assert!(matches!(m.store, Store::Memory(_)));
        let big = msg("t", &vec![0; 16 << 20]);
        for _ in 0..5 {
            m.push(&big);
        }
        assert_eq!((m.len(), m.dropped), (3, 2));
    }
}
