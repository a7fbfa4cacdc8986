//! Home Assistant MQTT discovery and the per-figure topics, against a real
//! broker (mosquitto) read with `mosquitto_sub`: every discovery message
//! is a sensor configuration Home Assistant accepts (its documented keys),
//! every state topic it names receives a number, and the availability
//! topic reads `online` while the rig runs and `offline` after a kill (the
//! broker's last will) and after a clean stop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use vitrine_testkit::{Broker, capture, wait_for};

/// Home Assistant's documented keys of an MQTT sensor
/// (integrations/sensor.mqtt), full names.
const SENSOR_KEYS: &[&str] = &[
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "default_entity_id",
    "device",
    "device_class",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "entity_picture",
    "expire_after",
    "force_update",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "last_reset_value_template",
    "name",
    "object_id",
    "options",
    "payload_available",
    "payload_not_available",
    "platform",
    "qos",
    "state_class",
    "state_topic",
    "suggested_display_precision",
    "unique_id",
    "unit_of_measurement",
    "value_template",
];

/// The keys a Vitrine sensor always has (Home Assistant itself requires
/// only `state_topic`; the rest make it a device's, available or not).
const REQUIRED: &[&str] = &[
    "name",
    "unique_id",
    "state_topic",
    "state_class",
    "availability_topic",
    "payload_available",
    "payload_not_available",
    "device",
];

/// Home Assistant's documented keys of an MQTT device.
const DEVICE_KEYS: &[&str] = &[
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
];

const STATE_CLASSES: &[&str] = &[
    "measurement",
    "measurement_angle",
    "total",
    "total_increasing",
];
const ENTITY_CATEGORIES: &[&str] = &["config", "diagnostic"];

fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks one discovery message (`topic`, JSON `config`) against Home
/// Assistant's rules; returns what is wrong.
fn discovery_errors(topic: &str, config: &[u8]) -> Vec<String> {
    let mut errors = Vec::new();
    let levels: Vec<&str> = topic.split('/').collect();
    if levels.len() != 5
        || levels[0] != "homeassistant"
        || levels[1] != "sensor"
        || levels[4] != "config"
        || !id_ok(levels[2])
        || !id_ok(levels[3])
    {
        errors.push(format!(
            "{topic}: not <prefix>/sensor/<node_id>/<object_id>/config"
        ));
    }
    let c: Value = match serde_json::from_slice(config) {
        Ok(c) => c,
        Err(e) => return vec![format!("{topic}: not JSON: {e}")],
    };
    let Some(map) = c.as_object() else {
        return vec![format!("{topic}: not an object")];
    };
    for key in map.keys() {
        if !SENSOR_KEYS.contains(&key.as_str()) {
            errors.push(format!("{topic}: {key} is no MQTT sensor key"));
        }
    }
    for key in REQUIRED {
        if !map.contains_key(*key) {
            errors.push(format!("{topic}: no {key}"));
        }
    }
    for key in [
        "name",
        "unique_id",
        "state_topic",
        "availability_topic",
        "payload_available",
        "payload_not_available",
        "unit_of_measurement",
        "state_class",
        "entity_category",
    ] {
        if let Some(v) = map.get(key)
            && !v.is_string()
        {
            errors.push(format!("{topic}: {key} is not a string"));
        }
    }
    for key in ["state_topic", "availability_topic"] {
        if let Some(t) = map.get(key).and_then(Value::as_str)
            && (t.is_empty() || t.contains(['+', '#']))
        {
            errors.push(format!("{topic}: {key} {t:?} is no topic to publish on"));
        }
    }
    if let Some(s) = map.get("state_class").and_then(Value::as_str)
        && !STATE_CLASSES.contains(&s)
    {
        errors.push(format!("{topic}: state_class {s}"));
    }
    if let Some(s) = map.get("entity_category").and_then(Value::as_str)
        && !ENTITY_CATEGORIES.contains(&s)
    {
        errors.push(format!("{topic}: entity_category {s}"));
    }
    if let Some(q) = map.get("qos")
        && q.as_u64().is_none_or(|q| q > 2)
    {
        errors.push(format!("{topic}: qos {q}"));
    }
    if let Some(p) = map.get("suggested_display_precision")
        && !p.is_u64()
    {
        errors.push(format!("{topic}: suggested_display_precision {p}"));
    }
    match map.get("device").and_then(Value::as_object) {
        None => errors.push(format!("{topic}: device is not an object")),
        Some(d) => {
            for key in d.keys() {
                if !DEVICE_KEYS.contains(&key.as_str()) {
                    errors.push(format!("{topic}: device.{key} is no device key"));
                }
            }
            match d.get("identifiers").and_then(Value::as_array) {
                Some(ids) if !ids.is_empty() && ids.iter().all(Value::is_string) => {}
                _ => errors.push(format!(
                    "{topic}: device.identifiers is not a list of strings"
                )),
            }
            for key in ["name", "manufacturer", "model", "sw_version"] {
                if !d.get(key).is_some_and(Value::is_string) {
                    errors.push(format!("{topic}: device.{key} is not a string"));
                }
            }
        }
    }
    errors
}

/// The retained discovery messages and figures after a run, and the
/// availability: checks every rule and returns the configurations by
/// topic and the retained values by topic.
fn retained(broker: &Broker) -> (BTreeMap<String, Value>, BTreeMap<String, String>) {
    let got = broker.messages(
        &["homeassistant/#", "vitrine/s/r/#"],
        Duration::from_millis(1500),
    );
    let mut configs = BTreeMap::new();
    let mut values = BTreeMap::new();
    let mut errors = Vec::new();
    for (topic, payload, retained) in got {
        // What a newcomer (Home Assistant starting) reads: the retained.
        if !retained {
            continue;
        }
        if topic.starts_with("homeassistant/") {
            errors.extend(discovery_errors(&topic, &payload));
            if let Ok(c) = serde_json::from_slice::<Value>(&payload) {
                configs.insert(topic, c);
            }
        } else {
            values.insert(topic, String::from_utf8_lossy(&payload).into_owned());
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    (configs, values)
}

/// The checks that join the discovery messages and the values: unique ids
/// unique, one device, every state topic holding a number, the
/// availability topic the rig's.
fn check_together(configs: &BTreeMap<String, Value>, values: &BTreeMap<String, String>) {
    let ids: BTreeSet<&str> = configs
        .values()
        .map(|c| c["unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), configs.len(), "unique ids are unique");
    let devices: BTreeSet<String> = configs
        .values()
        .map(|c| c["device"]["identifiers"].to_string())
        .collect();
    assert_eq!(devices.len(), 1, "one device: {devices:?}");
    for (topic, c) in configs {
        let state = c["state_topic"].as_str().unwrap();
        let v = values
            .get(state)
            .unwrap_or_else(|| panic!("{topic}: nothing on {state}"));
        assert!(
            v.parse::<f64>().is_ok_and(f64::is_finite),
            "{state}: {v:?} is not a number"
        );
        assert_eq!(c["availability_topic"], "vitrine/s/r/availability");
        assert_eq!(c["payload_available"], "online");
        assert_eq!(c["payload_not_available"], "offline");
        assert_eq!(c["device"]["manufacturer"], "Vitrine");
    }
}

fn rig(broker: &Broker, spool: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vitrined"));
    c.arg("replay")
        .args(["--publish", &broker.url(), "--site", "s", "--rig", "r"])
        .args(["--drain-timeout", "5", "--spool"])
        .arg(spool)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

const GRAY: &str = "YUV4MPEG2 W32 H24 F10:1 Ip A0:0 Cmono XCOLORRANGE=FULL";

/// A gray clip of `frames` frames at 10 frames/s.
fn clip(path: &Path, frames: usize) {
    let mut out = format!("{GRAY}\n").into_bytes();
    for i in 0..frames {
        out.extend_from_slice(b"FRAME\n");
        out.extend((0..32 * 24).map(|p| ((p + i) % 200) as u8));
    }
    std::fs::write(path, out).unwrap();
}

fn availability(broker: &Broker) -> Option<String> {
    broker
        .messages(&["vitrine/s/r/availability"], Duration::from_millis(500))
        .pop()
        .map(|(_, p, _)| String::from_utf8(p).unwrap())
}

#[test]
fn discovery_describes_each_figure_of_wifi_and_camera_and_each_gets_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let clip_path = dir.path().join("c.y4m");
    clip(&clip_path, 600);
    let out = rig(&broker, &dir.path().join("spool"))
        .args(["--window", "10", "--home-assistant", "--pcap"])
        .arg(capture("lab-occupancy/sc6-61_2023-04-13_anonymized.pcap"))
        .arg("--clip")
        .arg(&clip_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (configs, values) = retained(&broker);
    check_together(&configs, &values);
    let objects: BTreeSet<&str> = configs
        .keys()
        .map(|t| t.split('/').nth(3).unwrap())
        .collect();
    assert_eq!(
        objects,
        [
            "wifi_devices_estimated",
            "wifi_devices_distinct_macs",
            "wifi_frames_probe_req",
            "camera_crossings_inward",
            "camera_crossings_outward",
            "camera_occupancy_mean",
            "camera_occupancy_max",
            "status_spool_held",
        ]
        .into(),
    );
    assert!(
        configs
            .keys()
            .all(|t| t.split('/').nth(2) == Some("vitrine_s__r")),
        "{configs:?}"
    );
    // After a clean stop: offline, and the spool empty.
    assert_eq!(values["vitrine/s/r/availability"], "offline");
    assert_eq!(values["vitrine/s/r/status/spool/held"], "0");
    let status: Value = serde_json::from_str(&values["vitrine/s/r/status"]).unwrap();
    assert_eq!(status["state"], "offline");
}

#[test]
fn availability_reads_online_while_running_and_offline_after_a_kill_and_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let spool = dir.path().join("spool");
    let pcap = capture("lab-occupancy/sc6-61_2023-04-13_anonymized.pcap");
    // Paced: the run lasts while the test looks.
    let mut running = rig(&broker, &spool)
        .args([
            "--window",
            "60",
            "--speed",
            "200",
            "--home-assistant",
            "--pcap",
        ])
        .arg(&pcap)
        .spawn()
        .unwrap();
    wait_for(
        || availability(&broker).as_deref() == Some("online"),
        "the rig to say it is online",
    );
    // Discovery is there while it runs; Wi-Fi only (no camera configured).
    let (configs, _) = retained(&broker);
    assert_eq!(configs.len(), 4, "{:?}", configs.keys());
    assert!(configs.keys().all(|t| !t.contains("camera")));
    wait_for(
        || {
            broker
                .messages(
                    &["vitrine/s/r/wifi/devices/estimated"],
                    Duration::from_millis(300),
                )
                .len()
                == 1
        },
        "a window's figures",
    );
    let (configs, values) = retained(&broker);
    check_together(&configs, &values);
    assert_eq!(values["vitrine/s/r/availability"], "online");

    running.kill().unwrap(); // SIGKILL: the broker sends the last will.
    running.wait().unwrap();
    wait_for(
        || availability(&broker).as_deref() == Some("offline"),
        "the last will",
    );
    // The JSON status is no will: it still reads as it was.
    let (_, values) = retained(&broker);
    let status: Value = serde_json::from_str(&values["vitrine/s/r/status"]).unwrap();
    assert_eq!(status["state"], "online", "{status}");

    // Back, then a clean stop at the end of the capture.
    let out = rig(&broker, &spool)
        .args(["--window", "3600", "--home-assistant", "--pcap"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (configs, values) = retained(&broker);
    check_together(&configs, &values);
    assert_eq!(values["vitrine/s/r/availability"], "offline");
    let status: Value = serde_json::from_str(&values["vitrine/s/r/status"]).unwrap();
    assert_eq!(status["state"], "offline");
}

#[test]
fn metric_topics_alone_publish_numbers_and_no_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let out = rig(&broker, &dir.path().join("spool"))
        .args(["--window", "3600", "--metric-topics", "--pcap"])
        .arg(capture("lab-occupancy/sc6-61_2023-04-13_anonymized.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (configs, values) = retained(&broker);
    assert!(configs.is_empty(), "{configs:?}");
    for leaf in [
        "wifi/devices/estimated",
        "wifi/devices/distinct_macs",
        "wifi/frames/probe_req",
        "status/spool/held",
    ] {
        let v = &values[&format!("vitrine/s/r/{leaf}")];
        assert!(v.parse::<u64>().is_ok(), "{leaf}: {v:?}");
    }
    assert!(!values.keys().any(|t| t.contains("/camera/")));

    // Without them: no figure topics at all.
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let out = rig(&broker, &dir.path().join("spool"))
        .args(["--window", "3600", "--pcap"])
        .arg(capture("lab-occupancy/sc6-61_2023-04-13_anonymized.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let (configs, values) = retained(&broker);
    assert!(configs.is_empty());
    assert_eq!(
        values.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        [
            "vitrine/s/r/availability",
            "vitrine/s/r/dict",
            "vitrine/s/r/status"
        ]
        .into()
    );
}

#[test]
fn the_discovery_check_refuses_what_home_assistant_would() {
    // The checker itself: a good configuration passes, each kind of fault
    // is caught.
    let good = serde_json::json!({
        "name": "Devices estimated",
        "unique_id": "vitrine_s__r_wifi_devices_estimated",
        "state_topic": "vitrine/s/r/wifi/devices/estimated",
        "state_class": "measurement",
        "availability_topic": "vitrine/s/r/availability",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {"identifiers": ["vitrine_s__r"], "name": "Vitrine s/r",
                   "manufacturer": "Vitrine", "model": "vitrined", "sw_version": "0.1.0"},
    });
    let topic = "homeassistant/sensor/vitrine_s__r/wifi_devices_estimated/config";
    let check = |v: &Value| discovery_errors(topic, &serde_json::to_vec(v).unwrap());
    assert_eq!(check(&good), Vec::<String>::new());
    let mut bad = good.clone();
    bad["stat_topic"] = good["state_topic"].clone();
    assert_eq!(check(&bad).len(), 1);
    let mut bad = good.clone();
    bad["device"]["identifiers"] = Value::from("vitrine_s__r");
    assert_eq!(check(&bad).len(), 1);
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("unique_id");
    assert_eq!(check(&bad).len(), 1);
    let mut bad = good.clone();
    bad["name"] = Value::from(3);
    assert_eq!(check(&bad).len(), 1);
    assert_eq!(
        discovery_errors(
            "homeassistant/sensor/vitrine.s/x/config",
            &serde_json::to_vec(&good).unwrap()
        )
        .len(),
        1
    );
}
