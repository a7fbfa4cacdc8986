//! What a device publishes, watched for the length of the audit: every
//! message is decoded (a Vitrine summary: zstd with the dictionary it
//! names; anything else: zstd or gzip if compressed, then JSON) and checked
//! for the schema, for bins under k, for canaries in any encoding, for
//! per-device identifiers, and for identifiers that survive a key rotation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use vitrine_publish::Codec;
use vitrine_publish::payload::{dictionary_id, frame_dictionary_id};

use super::{
    Context, Outcome, STREAM_CANARY, STREAM_K_ANONYMITY, STREAM_LINKABLE, STREAM_PSEUDONYMS,
    STREAM_SCHEMA, thousands,
};
use crate::report::{CheckResult, Evidence, WindowPoint};

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
    /// Vitrine summaries (`docs/schema/summary-v1.schema.json`).
    Vitrine,
    /// Any JSON: a vendor's stream, checked by its content.
    Json,
}

/// Subscribes to `topics` on `host:port` for `duration` and returns every
/// message, in order of arrival. `on_message` sees each as it comes.
pub fn collect(
    host: &str,
    port: u16,
    topics: &[String],
    duration: Duration,
    mut on_message: impl FnMut(&Message),
) -> Result<Vec<Message>, String> {
    let until = Instant::now() + duration;
    let mut messages = Vec::new();
    let client_id = format!("vitrine-audit-{}", std::process::id());
    vitrine_publish::consume::subscribe_raw(host, port, &client_id, topics, false, |m| {
        if let Some((topic, payload)) = m {
            let msg = Message {
                topic: topic.to_string(),
                payload: payload.to_vec(),
                received: OffsetDateTime::now_utc(),
            };
            on_message(&msg);
            messages.push(msg);
        }
        if Instant::now() >= until {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(messages)
}

/// A decoded message.
#[derive(Debug)]
enum Decoded {
    Summary(Box<vitrine_publish::Envelope>, Value),
    Json(Value, Vec<u8>),
    /// A rig's retained status (docs/publishing.md): its own state, no
    /// shopper's.
    Status(Vec<u8>),
    Dictionary,
    Undecodable(String),
}

/// Every stream check over `messages`, and the windows for the charts.
/// `rotation`: when the device's key rotated during the audit, if known
/// otherwise (Vitrine summaries carry their key epoch).
pub fn analyze(
    ctx: &Context<'_>,
    messages: &[Message],
    expect: Expect,
    rotation: Option<OffsetDateTime>,
) -> (Vec<CheckResult>, Vec<WindowPoint>) {
    let mut schema = Outcome::new(STREAM_SCHEMA);
    let mut k_anon = Outcome::new(STREAM_K_ANONYMITY);
    let mut canary = Outcome::new(STREAM_CANARY);
    let mut pseudo = Outcome::new(STREAM_PSEUDONYMS);
    let mut windows = Vec::new();
    let shipped = Codec::shipped();
    let mut codecs: HashMap<u32, Codec> =
        HashMap::from([(shipped.dict_id(), shipped), (0, Codec::plain())]);
    let mut seen_canaries = BTreeSet::new();
    // Identifier-like values by (topic, path): when first seen, and epoch.
    let mut tokens: Vec<Token> = Vec::new();
    let mut epochs: Vec<(OffsetDateTime, u64)> = Vec::new();
    let mut data_messages = 0u64;
    for msg in messages {
        let when = Some(super::rfc3339(msg.received));
        let decoded = decode(msg, &mut codecs);
        let (json, text) = match decoded {
            Decoded::Dictionary => continue,
            Decoded::Status(text) => {
                scan(ctx, msg, &text, &mut seen_canaries, &mut canary);
                continue;
            }
            Decoded::Undecodable(reason) => {
                scan(ctx, msg, &msg.payload, &mut seen_canaries, &mut canary);
                schema.find(
                    format!(
                        "A message on {} is not {}.",
                        msg.topic,
                        match expect {
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
                data_messages += 1;
                continue;
            }
            Decoded::Summary(envelope, json) => {
                let s = &envelope.summary;
                windows.push(WindowPoint {
                    start: s.window_start.clone(),
                    topic: msg.topic.clone(),
                    probe_requests: s.wifi.frames.probe_req,
                    distinct_macs: s.wifi.devices.distinct_macs,
                    devices_estimate: s.wifi.devices.estimated as f64,
                });
                epochs.push((msg.received, s.epoch));
                let text = serde_json::to_vec(&json).unwrap_or_default();
                (json, text)
            }
            Decoded::Json(json, text) => {
                if expect == Expect::Vitrine {
                    schema.find(
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
        data_messages += 1;
        scan(ctx, msg, &msg.payload, &mut seen_canaries, &mut canary);
        scan(ctx, msg, &text, &mut seen_canaries, &mut canary);
        let mut small = Vec::new();
        under_k(&json, "", ctx.policy.k, &mut small);
        for (path, v) in small {
            k_anon.find(
                format!("A published count of {v} is below k = {}.", ctx.policy.k),
                Evidence {
                    topic: Some(msg.topic.clone()),
                    timestamp: when.clone(),
                    detail: Some(format!("{path} = {v}")),
                    ..Evidence::default()
                },
            );
        }
        let mut found = Vec::new();
        identifiers(&json, "", &mut found);
        for (path, value) in found {
            tokens.push(Token {
                topic: msg.topic.clone(),
                path,
                value,
                at: msg.received,
            });
        }
    }
    // Values that are the same in every message of a topic are the device's
    // own name or boot id, not a shopper's.
    let mut per_topic: HashMap<&str, u64> = HashMap::new();
    for m in messages {
        *per_topic.entry(m.topic.as_str()).or_default() += 1;
    }
    let mut occurrences: HashMap<(String, String, String), u64> = HashMap::new();
    for t in &tokens {
        *occurrences
            .entry((t.topic.clone(), t.path.clone(), t.value.clone()))
            .or_default() += 1;
    }
    tokens.retain(|t| {
        let n = occurrences[&(t.topic.clone(), t.path.clone(), t.value.clone())];
        // Inside a list, a value is one of many things counted: never the
        // device's own name.
        t.path.contains("[]") || !(n >= 2 && n == per_topic[t.topic.as_str()])
    });
    if !ctx.policy.pseudonyms_leave_device {
        let mut by_path: BTreeMap<(&str, &str), (BTreeSet<&str>, OffsetDateTime)> = BTreeMap::new();
        for t in &tokens {
            by_path
                .entry((&t.topic, &t.path))
                .or_insert_with(|| (BTreeSet::new(), t.at))
                .0
                .insert(&t.value);
        }
        for ((topic, path), (values, first)) in by_path {
            pseudo.find(
                format!(
                    "Per-device identifiers are published ({} distinct values).",
                    values.len()
                ),
                Evidence {
                    topic: Some(topic.to_string()),
                    timestamp: Some(super::rfc3339(first)),
                    detail: Some(format!("at {path}")),
                    ..Evidence::default()
                },
            );
        }
    }
    let rotation =
        rotation.or_else(|| epochs.windows(2).find(|w| w[0].1 != w[1].1).map(|w| w[1].0));
    let linkable = match rotation {
        _ if tokens.is_empty() => {
            let mut o = Outcome::new(STREAM_LINKABLE);
            o.examined(
                "no identifier is published: nothing can link devices across a key rotation",
            );
            o.finish()
        }
        None => Outcome::skipped(STREAM_LINKABLE, "no key rotation during the audit window"),
        Some(at) => linkage(&tokens, at),
    };
    let examined = format!(
        "{} messages on {} topics",
        thousands(data_messages),
        per_topic.len()
    );
    for o in [&mut schema, &mut k_anon, &mut canary, &mut pseudo] {
        o.examined(examined.clone());
    }
    if data_messages == 0 {
        let why = "nothing was published during the audit window";
        return (
            [
                STREAM_SCHEMA,
                STREAM_K_ANONYMITY,
                STREAM_CANARY,
                STREAM_PSEUDONYMS,
                STREAM_LINKABLE,
            ]
            .into_iter()
            .map(|c| Outcome::skipped(c, why))
            .collect(),
            windows,
        );
    }
    (
        vec![
            schema.finish(),
            k_anon.finish(),
            canary.finish(),
            pseudo.finish(),
            linkable,
        ],
        windows,
    )
}

#[derive(Debug)]
struct Token {
    topic: String,
    path: String,
    value: String,
    at: OffsetDateTime,
}

/// Identifiers published both before and after the key rotation: whoever
/// receives the stream links the device across epochs.
fn linkage(tokens: &[Token], rotation: OffsetDateTime) -> CheckResult {
    let mut out = Outcome::new(STREAM_LINKABLE);
    let before: HashMap<(&str, &str), OffsetDateTime> = tokens
        .iter()
        .filter(|t| t.at < rotation)
        .map(|t| ((t.topic.as_str(), t.value.as_str()), t.at))
        .collect();
    let mut reported = BTreeSet::new();
    for t in tokens.iter().filter(|t| t.at >= rotation) {
        if let Some(first) = before.get(&(t.topic.as_str(), t.value.as_str()))
            && reported.insert((t.topic.as_str(), t.path.as_str()))
        {
            let n = tokens
                .iter()
                .filter(|u| {
                    u.at >= rotation
                        && u.topic == t.topic
                        && before.contains_key(&(u.topic.as_str(), u.value.as_str()))
                })
                .map(|u| u.value.as_str())
                .collect::<BTreeSet<_>>()
                .len();
            out.find(
                format!("{n} identifiers published before the key rotation are published again after it."),
                Evidence {
                    topic: Some(t.topic.clone()),
                    timestamp: Some(super::rfc3339(*first)),
                    detail: Some(format!("at {}; seen again at {}; rotation at {}", t.path, super::rfc3339(t.at), super::rfc3339(rotation))),
                    ..Evidence::default()
                },
            );
        }
    }
    out.examined(format!(
        "{} identifier-like values around the rotation at {}",
        tokens.len(),
        super::rfc3339(rotation)
    ));
    out.finish()
}

fn scan(
    ctx: &Context<'_>,
    msg: &Message,
    data: &[u8],
    seen: &mut BTreeSet<(String, usize, String)>,
    out: &mut Outcome,
) {
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

fn decode(msg: &Message, codecs: &mut HashMap<u32, Codec>) -> Decoded {
    let p = &msg.payload;
    if msg.topic.ends_with("/dict")
        && let Some(id) = dictionary_id(p)
    {
        codecs
            .entry(id)
            .or_insert_with(|| Codec::with_dictionary(p.clone()));
        return Decoded::Dictionary;
    }
    if let Some(id) = frame_dictionary_id(p)
        && let Some(codec) = codecs.get(&id)
        && let Ok(envelope) = codec.decode(p)
    {
        let json = serde_json::to_value(&envelope.summary).unwrap_or(Value::Null);
        return Decoded::Summary(Box::new(envelope), json);
    }
    let plain = if p.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::stream::decode_all(&p[..]).ok()
    } else if p.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&p[..])
            .read_to_end(&mut out)
            .ok()
            .map(|_| out)
    } else {
        Some(p.clone())
    };
    let Some(plain) = plain else {
        return Decoded::Undecodable("compressed, but does not decompress".into());
    };
    match serde_json::from_slice::<Value>(&plain) {
        Ok(json) => {
            // A Vitrine envelope sent without compression.
            if let Ok(envelope) = serde_json::from_value::<vitrine_publish::Envelope>(json.clone())
            {
                let json = serde_json::to_value(&envelope.summary).unwrap_or(Value::Null);
                return Decoded::Summary(Box::new(envelope), json);
            }
            if msg.topic.ends_with("/status") && is_vitrine_status(&json) {
                return Decoded::Status(plain);
            }
            Decoded::Json(json, plain)
        }
        Err(e) => Decoded::Undecodable(format!("not JSON: {e}")),
    }
}

/// `{"state":"online"|"offline","version":..,"boot":..,"spool":{..}}`
fn is_vitrine_status(v: &Value) -> bool {
    let Value::Object(map) = v else { return false };
    matches!(
        map.get("state").and_then(Value::as_str),
        Some("online" | "offline")
    ) && map
        .keys()
        .all(|k| matches!(k.as_str(), "state" | "version" | "boot" | "spool"))
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

    #[test]
    fn messages_that_are_not_summaries_fail_the_schema_check() {
        let reg = Registry::default();
        let scanner = Scanner::new(&reg);
        let policy = vitrine_config::policy::Policy::default();
        let ctx = Context {
            policy: &policy,
            registry: &reg,
            scanner: &scanner,
            now: OffsetDateTime::now_utc(),
        };
        let example = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schema/summary-v1.example.json"
        ))
        .unwrap();
        let summary: vitrine_schema::Summary = serde_json::from_str(&example).unwrap();
        let envelope = vitrine_publish::Envelope {
            site: "s".into(),
            rig: "r".into(),
            boot: "b".into(),
            seq: 0,
            summary,
        };
        let good = Codec::shipped().encode(&envelope);
        let status =
            br#"{"state":"online","version":"0.1.0","boot":"6f1c2a9e4b7d4e21","spool":{"held":0}}"#;
        let ok = [
            msg("vitrine/s/r/wifi", &good),
            msg("vitrine/s/r/status", status),
        ];
        let (results, windows) = analyze(&ctx, &ok, Expect::Vitrine, None);
        assert_eq!(windows.len(), 1);
        assert!(results.iter().all(|r| r.findings.is_empty()), "{results:?}");

        let bad = [
            msg("vitrine/s/r/wifi", &good),
            msg("vitrine/s/r/wifi", b"\x00garbage"),
            msg("vitrine/s/r/wifi", br#"{"visitors":40}"#),
        ];
        let (results, _) = analyze(&ctx, &bad, Expect::Vitrine, None);
        let schema = results.iter().find(|r| r.id == "stream.schema").unwrap();
        assert_eq!(schema.findings.len(), 2, "{schema:?}");
        // The same JSON is fine from a vendor's stream, the garbage is not.
        let (results, _) = analyze(&ctx, &bad[1..], Expect::Json, None);
        assert_eq!(
            results
                .iter()
                .find(|r| r.id == "stream.schema")
                .unwrap()
                .findings
                .len(),
            1
        );
    }
}
