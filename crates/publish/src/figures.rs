//! Each window's main figures on topics of their own, one plain number per
//! topic (`<prefix>/<site>/<rig>/wifi/devices/estimated`), for tools that
//! watch sensors one value at a time; and the Home Assistant MQTT discovery
//! messages that describe them (docs/publishing.md, "Home Assistant").
//!
//! Only totals are published this way, never a bin that k-anonymity can
//! withhold; a figure the summary lists as suppressed is left out all the
//! same.

use serde_json::{Value, json};
use vitrine_schema::Summary;

use crate::mqtt::BrokerConfig;

/// A figure: where it is in a summary (or the status), its topic under
/// the rig's, and how Home Assistant shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure {
    /// `wifi`, `camera` or `status`: the sensor (or the rig) it is about.
    pub sensor: &'static str,
    /// Its topic under `<prefix>/<site>/<rig>/<sensor>/`.
    pub leaf: &'static str,
    /// Home Assistant's entity name (the device's name goes in front).
    pub name: &'static str,
    pub unit: Option<&'static str>,
    /// Decimals to show (a mean).
    pub precision: Option<u8>,
    /// About the rig rather than the shop (Home Assistant's
    /// `entity_category: diagnostic`).
    pub diagnostic: bool,
}

impl Figure {
    /// The path in a summary (`wifi.devices.estimated`), as `suppressed`
    /// names paths.
    pub fn path(&self) -> String {
        format!("{}.{}", self.sensor, self.leaf.replace('/', "."))
    }

    /// Letters, digits and `_` only: Home Assistant's object id.
    pub fn object_id(&self) -> String {
        format!("{}_{}", self.sensor, self.leaf.replace('/', "_"))
    }
}

const fn figure(
    sensor: &'static str,
    leaf: &'static str,
    name: &'static str,
    unit: Option<&'static str>,
) -> Figure {
    Figure {
        sensor,
        leaf,
        name,
        unit,
        precision: None,
        diagnostic: false,
    }
}

/// Every figure published on a topic of its own.
pub const FIGURES: &[Figure] = &[
    figure(
        "wifi",
        "devices/estimated",
        "Devices estimated",
        Some("devices"),
    ),
    figure(
        "wifi",
        "devices/distinct_macs",
        "Distinct MAC addresses",
        Some("addresses"),
    ),
    figure(
        "wifi",
        "frames/probe_req",
        "Probe requests per window",
        Some("frames"),
    ),
    figure("camera", "crossings/inward", "Crossings in", Some("people")),
    figure(
        "camera",
        "crossings/outward",
        "Crossings out",
        Some("people"),
    ),
    Figure {
        precision: Some(1),
        ..figure("camera", "occupancy/mean", "Occupancy", Some("people"))
    },
    figure("camera", "occupancy/max", "Occupancy peak", Some("people")),
    Figure {
        diagnostic: true,
        ..figure("status", "spool/held", "Spool backlog", Some("summaries"))
    },
];

/// A figure's value in `summary`, as published: `None` when the summary
/// has no such section or withholds it.
fn value(summary: &Summary, f: &Figure) -> Option<String> {
    let path = f.path();
    if summary.suppressed.iter().any(|s| {
        s == &path || s.starts_with(&format!("{path}.")) || s.starts_with(&format!("{path}["))
    }) {
        return None;
    }
    let wifi = summary.wifi.as_ref();
    let camera = summary.camera.as_ref();
    let n = |v: Option<u64>| v.map(|v| v.to_string());
    match (f.sensor, f.leaf) {
        ("wifi", "devices/estimated") => n(wifi.map(|w| w.devices.estimated)),
        ("wifi", "devices/distinct_macs") => n(wifi.map(|w| w.devices.distinct_macs)),
        ("wifi", "frames/probe_req") => n(wifi.map(|w| w.frames.probe_req)),
        ("camera", "crossings/inward") => n(camera.map(|c| c.crossings.inward)),
        ("camera", "crossings/outward") => n(camera.map(|c| c.crossings.outward)),
        ("camera", "occupancy/mean") => camera
            .map(|c| c.occupancy.mean)
            .filter(|m| m.is_finite())
            .map(|m| format!("{:.2}", m)),
        ("camera", "occupancy/max") => n(camera.map(|c| c.occupancy.max)),
        _ => None,
    }
}

/// The window's figures as `(topic, number)`, on the rig's topics.
pub fn of_summary(cfg: &BrokerConfig, summary: &Summary) -> Vec<(String, String)> {
    FIGURES
        .iter()
        .filter_map(|f| Some((figure_topic(cfg, f), value(summary, f)?)))
        .collect()
}

/// The spool's backlog, as its figure's `(topic, number)`.
pub fn spool_held(cfg: &BrokerConfig, held: u64) -> (String, String) {
    let f = FIGURES
        .iter()
        .find(|f| f.sensor == "status")
        .expect("the spool's figure");
    (figure_topic(cfg, f), held.to_string())
}

/// `<prefix>/<site>/<rig>/<sensor>/<leaf>`.
pub fn figure_topic(cfg: &BrokerConfig, f: &Figure) -> String {
    cfg.topic(&format!("{}/{}", f.sensor, f.leaf))
}

/// `text` with what Home Assistant does not allow in an id
/// (`[a-zA-Z0-9_-]` only) written as `_xx` per byte, `_` included, so
/// that different ids stay different.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out += &format!("_{b:02x}");
        }
    }
    out
}

/// The rig's Home Assistant node id: `vitrine_<site>__<rig>`, each part
/// escaped (an escaped part never holds `__` nor ends with `_`, so the
/// pair is told apart from every other).
pub fn node_id(cfg: &BrokerConfig) -> String {
    format!("vitrine_{}__{}", escape(&cfg.site), escape(&cfg.rig))
}

/// Home Assistant's discovery messages for the rig: `(topic, config)`, one
/// sensor per figure of the sensors the rig has, retained by the
/// publisher. `None` unless discovery is on.
pub fn discovery(cfg: &BrokerConfig) -> Vec<(String, Vec<u8>)> {
    let Some(ha) = &cfg.home_assistant else {
        return Vec::new();
    };
    let node = node_id(cfg);
    let device = json!({
        "identifiers": [node],
        "name": format!("Vitrine {}/{}", cfg.site, cfg.rig),
        "manufacturer": "Vitrine",
        "model": "vitrined",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    FIGURES
        .iter()
        .filter(|f| match f.sensor {
            "wifi" => cfg.wifi,
            "camera" => cfg.camera,
            _ => true,
        })
        .map(|f| {
            let object = f.object_id();
            let mut c = json!({
                "name": f.name,
                "unique_id": format!("{node}_{object}"),
                "state_topic": figure_topic(cfg, f),
                "state_class": "measurement",
                "availability_topic": cfg.topic("availability"),
                "payload_available": crate::mqtt::ONLINE,
                "payload_not_available": crate::mqtt::OFFLINE,
                "qos": 1,
                "device": device,
            });
            let map = c.as_object_mut().expect("an object");
            if let Some(unit) = f.unit {
                map.insert("unit_of_measurement".into(), Value::from(unit));
            }
            if let Some(p) = f.precision {
                map.insert("suggested_display_precision".into(), Value::from(p));
            }
            if f.diagnostic {
                map.insert("entity_category".into(), Value::from("diagnostic"));
            }
            (
                format!("{ha}/sensor/{node}/{object}/config"),
                serde_json::to_vec(&c).expect("JSON serializes"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(site: &str, rig: &str) -> BrokerConfig {
        BrokerConfig::new(
            crate::Broker::from_url("mqtt://127.0.0.1:1883").unwrap(),
            site,
            rig,
            "b",
        )
        .unwrap()
        .with_home_assistant(Some("homeassistant"))
    }

    #[test]
    fn ids_hold_only_what_home_assistant_allows_and_stay_distinct() {
        let pairs = [
            ("store-7", "rig-a"),
            ("store_7", "rig-a"),
            ("store.7", "rig-a"),
            ("store", "7_rig-a"),
            ("store_", "7rig-a"),
            ("magasin-é", "r"),
        ];
        let ids: std::collections::BTreeSet<String> =
            pairs.iter().map(|(s, r)| node_id(&cfg(s, r))).collect();
        assert_eq!(ids.len(), pairs.len(), "{ids:?}");
        for id in &ids {
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "{id}"
            );
        }
        assert_eq!(node_id(&cfg("store-7", "rig-a")), "vitrine_store-7__rig-a");
    }

    #[test]
    fn a_withheld_or_missing_figure_is_not_published() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schema/summary-v1.example.json"
        );
        let mut s: Summary = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let c = cfg("s", "r");
        let all = of_summary(&c, &s);
        let topics: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
        assert!(
            topics.contains(&"vitrine/s/r/wifi/devices/estimated"),
            "{topics:?}"
        );
        assert!(all.iter().all(|(_, v)| v.parse::<f64>().is_ok()));
        s.suppressed.push("wifi.devices.estimated".into());
        let fewer = of_summary(&c, &s);
        assert_eq!(fewer.len(), all.len() - 1);
        assert!(fewer.iter().all(|(t, _)| !t.ends_with("devices/estimated")));
        s.wifi = None;
        assert!(
            of_summary(&c, &s)
                .iter()
                .all(|(t, _)| !t.contains("/wifi/"))
        );
    }
}
