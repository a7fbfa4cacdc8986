//! Pins the summary wire format: the example in `docs/schema/` must match the
//! Rust types exactly, and the JSON Schema must accept what the Rust types
//! serialize and reject what they cannot produce.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vitrine_schema::{
    CameraHealth, CameraStatus, CameraSummary, ChannelCount, Crossings, DeviceCounts, FrameCounts,
    HeatGrid, Histogram, Occupancy, RigState, SCHEMA_VERSION, Section, SensorState, SensorsStatus,
    SpoolCounts, Status, Summary, SwitchState, WifiSummary,
};

const SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/schema/summary-v3.schema.json"
);
const EXAMPLE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/schema/summary-v3.example.json"
);
/// Version 2: sensor sections, but no `camera` yet.
const V2_SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/schema/summary-v2.schema.json"
);
const V2_EXAMPLE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/schema/summary-v2.example.json"
);
/// Version 1: what rigs published before sensors had sections of their own.
const V1_SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/schema/summary-v1.schema.json"
);
const V1_EXAMPLE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/schema/summary-v1.example.json"
);
const STATUS_SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/schema/status-v1.schema.json"
);
const STATUS_EXAMPLE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/schema/status-v1.example.json"
);

fn read_json(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn schema() -> Value {
    read_json(SCHEMA_PATH)
}

fn example() -> Value {
    read_json(EXAMPLE_PATH)
}

fn validator() -> jsonschema::Validator {
    validator_of(&schema())
}

fn validator_of(schema: &Value) -> jsonschema::Validator {
    let schema = schema.clone();
    jsonschema::draft202012::meta::validate(&schema)
        .expect("the schema is a valid draft 2020-12 schema");
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "schema rejected {instance}:\n{}",
        errors.join("\n")
    );
}

/// Asserts that the schema rejects `instance`, and only at `at` (a JSON
/// pointer), so the rejection is the mutation's and not another mismatch.
fn assert_invalid(v: &jsonschema::Validator, instance: &Value, what: &str, at: &str) {
    assert!(!v.is_valid(instance), "schema accepted {what}: {instance}");
    let paths: Vec<String> = v
        .iter_errors(instance)
        .map(|e| e.instance_path().to_string())
        .collect();
    assert_eq!(paths, [at], "{what}: errors at unexpected places");
}

#[test]
fn example_round_trips_through_the_rust_types() {
    let value = example();
    let summary: Summary =
        serde_json::from_value(value.clone()).expect("the example deserializes into Summary");
    let back = serde_json::to_value(&summary).unwrap();
    assert_eq!(
        back, value,
        "the example has a field or value the Rust types do not reproduce"
    );
    // The JSON-lines form is the same value on one line.
    let line = summary.to_json_line();
    assert!(!line.contains('\n'));
    assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), value);
}

#[test]
fn example_is_consistent() {
    let s: Summary = serde_json::from_value(example()).unwrap();
    assert_eq!(s.schema_version, SCHEMA_VERSION);
    let wifi = s.wifi.as_ref().expect("the example has a Wi-Fi section");
    let d = &wifi.devices;
    let k = u64::from(s.k);
    // Pairs are withheld together; published, they add up.
    match (d.global_macs, d.randomized_macs) {
        (Some(g), Some(r)) => {
            assert_eq!(d.distinct_macs, g + r);
            assert!(g == 0 || g >= k);
            assert!(r == 0 || r >= k);
        }
        (None, None) => {}
        split => panic!("global/randomized withheld apart: {split:?}"),
    }
    match (d.new, d.returning) {
        (Some(n), Some(r)) => {
            if d.exact {
                assert_eq!(d.distinct_macs, n + r);
            }
            assert!(n == 0 || n >= k);
            assert!(r == 0 || r >= k);
        }
        (None, None) => {}
        split => panic!("new/returning withheld apart: {split:?}"),
    }
    // The example publishes the global/randomized split.
    assert_eq!((d.global_macs, d.randomized_macs), (Some(9), Some(48)));
    assert!(d.estimated <= d.distinct_macs);
    let f = &wifi.frames;
    assert_eq!(
        f.total,
        f.probe_req
            + f.probe_resp
            + f.beacon
            + f.other_mgmt
            + f.control
            + f.data
            + f.extension
            + f.malformed
    );
    assert!(f.ignored <= f.probe_req);
    assert_eq!(f.malformed, wifi.malformed.values().sum::<u64>());
    for (h, every_device) in [(&wifi.rssi_dbm, false), (&wifi.dwell_s, d.exact)] {
        assert_eq!(h.counts.len() + 1, h.edges.len());
        assert!(h.edges.windows(2).all(|e| e[0] < e[1]));
        // Secondary suppression: a histogram never has exactly one null.
        let withheld = h.counts.iter().filter(|c| c.is_none()).count() as u64;
        assert_ne!(withheld, 1, "a lone withheld bin can be worked out: {h:?}");
        // A device falls in at most one bin (dwell: exactly one), so the
        // withheld bins hold at most the rest; a primary one is non-empty.
        let published: u64 = h.counts.iter().flatten().sum();
        let rest = d
            .distinct_macs
            .checked_sub(published)
            .expect("bins add up to more than distinct_macs");
        if every_device {
            assert!(withheld > 0 || rest == 0, "{h:?}");
        }
        assert!(withheld == 0 || rest >= 1, "{h:?}");
    }
    // In the example, dwell has one primary bin (1..k-1 devices) and its
    // secondary (the smallest other non-empty bin, 7 devices).
    assert_eq!(
        wifi.dwell_s.counts,
        [Some(12), Some(9), Some(14), Some(12), None, Some(0), None]
    );
    let rest = d.distinct_macs - wifi.dwell_s.counts.iter().flatten().sum::<u64>();
    let secondary = 7;
    assert!((1..k).contains(&(rest - secondary)));
    assert!(
        wifi.dwell_s
            .counts
            .iter()
            .flatten()
            .all(|&c| c == 0 || c >= secondary)
    );
    assert_eq!(
        wifi.rssi_dbm.edges,
        [-128, -90, -80, -70, -60, -50, -40, -30, 0]
    );
    assert_eq!(
        wifi.dwell_s.edges,
        [0, 60, 300, 900, 1800, 3600, 7200, 86400]
    );
    // Each null is listed in `suppressed` under the path the aggregator uses.
    let mut nulls = Vec::new();
    for (name, h) in [
        ("wifi.rssi_dbm", &wifi.rssi_dbm),
        ("wifi.dwell_s", &wifi.dwell_s),
    ] {
        for (i, c) in h.counts.iter().enumerate() {
            if c.is_none() {
                nulls.push(format!("{name}[{},{})", h.edges[i], h.edges[i + 1]));
            }
        }
    }
    for (name, c) in [
        ("global_macs", d.global_macs),
        ("randomized_macs", d.randomized_macs),
        ("ssid_leaking", d.ssid_leaking),
        ("new", d.new),
        ("returning", d.returning),
    ] {
        if c.is_none() {
            nulls.push(format!("wifi.devices.{name}"));
        }
    }
    // Heat cells are withheld as histogram bins are, each named
    // `camera.heat[row,col]`.
    let camera = s.camera.as_ref().expect("the example has a camera section");
    let heat = &camera.heat;
    let cols = usize::from(heat.cols);
    assert_eq!(heat.counts.len(), cols * usize::from(heat.rows));
    let mut heat_nulls = Vec::new();
    for (i, c) in heat.counts.iter().enumerate() {
        match c {
            None => heat_nulls.push(format!("camera.heat[{},{}]", i / cols, i % cols)),
            Some(c) => assert!(*c == 0 || *c >= k, "heat cell {i} published below k"),
        }
    }
    assert_ne!(heat_nulls.len(), 1, "a lone withheld cell");
    // In the example, cell [3,0] had 1..k-1 entries and [1,1] is its
    // secondary: the smallest other non-empty cell (5 entries), the first
    // of its size, so no published cell of 1..5 entries comes before it.
    assert_eq!(heat_nulls, ["camera.heat[1,1]", "camera.heat[3,0]"]);
    let secondary = (9, 5);
    for (i, c) in heat.counts.iter().enumerate() {
        if let Some(c) = *c {
            assert!(c == 0 || c > secondary.1 || (c == secondary.1 && i > secondary.0));
        }
    }
    // Withheld in that order: primary cells as the grid is read, then the
    // secondary.
    let camera_paths: Vec<&str> = s
        .suppressed
        .iter()
        .map(String::as_str)
        .filter(|p| p.starts_with("camera."))
        .collect();
    assert_eq!(camera_paths, ["camera.heat[3,0]", "camera.heat[1,1]"]);
    nulls.extend(heat_nulls);
    // Crossings and occupancy are window totals; the health state is the
    // worst condition that held in at least half of the frames.
    let o = &camera.occupancy;
    assert!(o.mean <= o.max as f64 && (o.episodes == 0 || o.max > 0));
    let h = &camera.health;
    let held = [
        ("covered", h.covered),
        ("dark", h.dark),
        ("frozen", h.frozen),
        ("blurred", h.blurred),
        ("motion", h.motion),
    ]
    .into_iter()
    .inspect(|&(name, n)| assert!(n <= camera.frames, "{name}"))
    .find(|&(_, n)| n * 2 >= camera.frames)
    .map_or("ok", |(name, _)| name);
    assert!(camera.frames > 0);
    assert_eq!(h.state, held);
    for path in &nulls {
        assert!(
            s.suppressed.contains(path),
            "{path} is null but not listed in suppressed"
        );
    }
    // Channels: ordered by band then number, published at k or more; a
    // withheld channel is listed as `wifi.channels[<band>/<number>]`.
    const BANDS: [&str; 3] = ["2.4GHz", "5GHz", "6GHz"];
    let band_rank = |band: &str| {
        BANDS
            .iter()
            .position(|b| *b == band)
            .unwrap_or_else(|| panic!("unknown band {band}"))
    };
    for ch in &wifi.channels {
        assert!(
            ch.frames >= k,
            "channel {}/{} is published below k",
            ch.band,
            ch.channel
        );
        assert!((1..=233).contains(&ch.channel), "channel {}", ch.channel);
    }
    assert!(
        wifi.channels
            .windows(2)
            .all(|w| (band_rank(&w[0].band), w[0].channel) < (band_rank(&w[1].band), w[1].channel)),
        "channels out of order"
    );
    // And nothing else is listed: every path is a null above or a channel
    // that is not published.
    for path in &s.suppressed {
        if nulls.contains(path) {
            continue;
        }
        let (band, number) = path
            .strip_prefix("wifi.channels[")
            .and_then(|p| p.strip_suffix(']'))
            .and_then(|p| p.split_once('/'))
            .unwrap_or_else(|| panic!("{path} is listed but nothing is withheld there"));
        band_rank(band);
        let number: u8 = number.parse().expect("a channel number");
        assert!((1..=233).contains(&number), "{path}");
        assert!(
            !wifi
                .channels
                .iter()
                .any(|c| c.band == band && c.channel == number),
            "{path} is listed but published"
        );
    }
    assert!(
        s.suppressed.contains(&"wifi.channels[5GHz/44]".to_owned()),
        "the example shows a withheld channel"
    );
    for c in wifi
        .rssi_dbm
        .counts
        .iter()
        .chain(&wifi.dwell_s.counts)
        .flatten()
    {
        assert!(*c == 0 || *c >= k, "bin {c} published below k");
    }
}

#[test]
fn example_validates_against_the_schema() {
    assert_valid(&validator(), &example());
}

/// Applies `edit` to a copy of the example.
fn mutated(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = example();
    edit(&mut v);
    v
}

#[test]
fn schema_rejects_what_the_rust_types_cannot_produce() {
    let v = validator();
    let cases = [
        (
            "an unknown field in wifi.devices",
            "/wifi/devices",
            mutated(|s| {
                s["wifi"]["devices"]["mac"] = json!("02:00:5e:10:00:01");
            }),
        ),
        (
            "a string where a count should be",
            "/wifi/devices/distinct_macs",
            mutated(|s| s["wifi"]["devices"]["distinct_macs"] = json!("57")),
        ),
        (
            "a missing window_start",
            "",
            mutated(|s| {
                s.as_object_mut().unwrap().remove("window_start");
            }),
        ),
        // More of the same kind, each a real way to drift from the Rust types.
        (
            "an unknown top-level field",
            "",
            mutated(|s| s["ssid"] = json!("HomeNet")),
        ),
        (
            "an unknown field in a channel",
            "/wifi/channels/0",
            mutated(|s| s["wifi"]["channels"][0]["bssid"] = json!("x")),
        ),
        (
            "an unknown malformed reason",
            "/wifi/malformed",
            mutated(|s| s["wifi"]["malformed"]["bogus"] = json!(1)),
        ),
        (
            "null where the Rust type is not an Option",
            "/wifi/devices/estimated",
            mutated(|s| s["wifi"]["devices"]["estimated"] = Value::Null),
        ),
        (
            "a negative count",
            "/wifi/frames/total",
            mutated(|s| s["wifi"]["frames"]["total"] = json!(-1)),
        ),
        (
            "a fractional count",
            "/wifi/rssi_dbm/counts/0",
            mutated(|s| s["wifi"]["rssi_dbm"]["counts"][0] = json!(6.5)),
        ),
        (
            "another schema version",
            "/schema_version",
            mutated(|s| s["schema_version"] = json!(1)),
        ),
        (
            "a window_start not in UTC",
            "/window_start",
            mutated(|s| s["window_start"] = json!("2024-01-06T16:52:00+01:00")),
        ),
        (
            "a channel past u8",
            "/wifi/channels/0/channel",
            mutated(|s| s["wifi"]["channels"][0]["channel"] = json!(256)),
        ),
        (
            "channel 0 (channel numbers start at 1)",
            "/wifi/channels/0/channel",
            mutated(|s| s["wifi"]["channels"][0]["channel"] = json!(0)),
        ),
        (
            "a channel past 233",
            "/wifi/channels/0/channel",
            mutated(|s| s["wifi"]["channels"][0]["channel"] = json!(234)),
        ),
        (
            "an unknown band",
            "/wifi/channels/3/band",
            mutated(|s| s["wifi"]["channels"][3]["band"] = json!("7GHz")),
        ),
        (
            "a channel without its band",
            "/wifi/channels/0",
            mutated(|s| {
                s["wifi"]["channels"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("band");
            }),
        ),
        (
            "a negative global_macs",
            "/wifi/devices/global_macs",
            mutated(|s| s["wifi"]["devices"]["global_macs"] = json!(-9)),
        ),
        (
            "a threshold past i8",
            "/wifi/devices/presence_rssi_dbm",
            mutated(|s| s["wifi"]["devices"]["presence_rssi_dbm"] = json!(-129)),
        ),
        (
            "a missing Option field (producers always write it, as null if withheld)",
            "/wifi/devices",
            mutated(|s| {
                s["wifi"]["devices"].as_object_mut().unwrap().remove("new");
            }),
        ),
        (
            "the previous schema version",
            "/schema_version",
            mutated(|s| s["schema_version"] = json!(2)),
        ),
        // The camera's section: nothing but its counts and its grid.
        (
            "an unknown field in the camera section",
            "/camera",
            mutated(|s| s["camera"]["track_ids"] = json!([17, 18])),
        ),
        (
            "an unknown field in the heat grid",
            "/camera/heat",
            mutated(|s| s["camera"]["heat"]["pixels"] = json!([0, 255])),
        ),
        (
            "a negative crossing count",
            "/camera/crossings/inward",
            mutated(|s| s["camera"]["crossings"]["inward"] = json!(-1)),
        ),
        (
            "a negative heat cell",
            "/camera/heat/counts/0",
            mutated(|s| s["camera"]["heat"]["counts"][0] = json!(-3)),
        ),
        (
            "a fractional heat cell",
            "/camera/heat/counts/2",
            mutated(|s| s["camera"]["heat"]["counts"][2] = json!(6.5)),
        ),
        (
            "a negative occupancy mean",
            "/camera/occupancy/mean",
            mutated(|s| s["camera"]["occupancy"]["mean"] = json!(-0.5)),
        ),
        (
            "null where the camera's type is not an Option",
            "/camera/occupancy/max",
            mutated(|s| s["camera"]["occupancy"]["max"] = Value::Null),
        ),
        (
            "a grid past u16",
            "/camera/heat/cols",
            mutated(|s| s["camera"]["heat"]["cols"] = json!(65536)),
        ),
        (
            "an unknown health state",
            "/camera/health/state",
            mutated(|s| s["camera"]["health"]["state"] = json!("degraded")),
        ),
        (
            "a missing health count",
            "/camera/health",
            mutated(|s| {
                s["camera"]["health"]
                    .as_object_mut()
                    .unwrap()
                    .remove("blurred");
            }),
        ),
        (
            "a missing camera field",
            "/camera",
            mutated(|s| {
                s["camera"].as_object_mut().unwrap().remove("lost_frames");
            }),
        ),
    ];
    for (what, at, instance) in &cases {
        assert_invalid(&v, instance, what, at);
    }
    // The unmutated example still passes, so each rejection is the mutation's.
    assert_valid(&v, &example());
}

fn summary(opt: Option<u64>) -> Summary {
    Summary {
        schema_version: SCHEMA_VERSION,
        window_start: "2024-01-06T15:52:00Z".into(),
        window_s: 60,
        epoch: 3,
        k: 5,
        camera: Some(CameraSummary {
            frames: u64::MAX,
            lost_frames: 0,
            crossings: Crossings {
                inward: 0,
                outward: u64::MAX,
            },
            occupancy: Occupancy {
                mean: 0.33,
                max: 4,
                episodes: 1,
            },
            heat: HeatGrid {
                cols: 2,
                rows: 2,
                counts: vec![opt, Some(0), opt, Some(u64::MAX)],
            },
            health: CameraHealth {
                state: "covered".into(),
                covered: u64::MAX,
                ..CameraHealth::default()
            },
        }),
        wifi: Some(WifiSummary {
            frames: FrameCounts {
                total: 100,
                probe_req: 40,
                beacon: 55,
                malformed: 5,
                ignored: 2,
                ..Default::default()
            },
            malformed: BTreeMap::from([
                ("radiotap_truncated".to_owned(), 1),
                ("radiotap_version".to_owned(), 1),
                ("radiotap_field_overrun".to_owned(), 1),
                ("bad_fcs".to_owned(), 1),
                ("dot11_truncated".to_owned(), 0),
                ("dot11_version".to_owned(), 0),
                ("element_overrun".to_owned(), 1),
            ]),
            channels: vec![
                ChannelCount {
                    band: "2.4GHz".into(),
                    channel: 6,
                    frames: 80,
                },
                ChannelCount {
                    band: "5GHz".into(),
                    channel: 165,
                    frames: 5,
                },
                ChannelCount {
                    band: "6GHz".into(),
                    channel: 233,
                    frames: 5,
                },
            ],
            devices: DeviceCounts {
                distinct_macs: u64::MAX,
                global_macs: opt.map(|_| 0),
                randomized_macs: opt.map(|_| u64::MAX),
                estimated: 12,
                presence_rssi_dbm: i8::MIN,
                ssid_leaking: opt,
                new: opt,
                returning: opt,
                exact: false,
                distinct_error: 0.008125,
            },
            rssi_dbm: Histogram {
                edges: vec![i64::MIN, -80, 0, i64::MAX],
                counts: vec![opt, Some(0), opt],
            },
            dwell_s: Histogram {
                edges: vec![0, 60, 300],
                counts: vec![opt, opt],
            },
        }),
        undescribed: BTreeMap::new(),
        suppressed: if opt.is_none() {
            vec![
                "wifi.channels[6GHz/1]".into(),
                "wifi.devices.global_macs".into(),
                "wifi.devices.randomized_macs".into(),
                "wifi.devices.new".into(),
                "wifi.devices.returning".into(),
                "wifi.dwell_s[0,60)".into(),
                "wifi.dwell_s[60,300)".into(),
                "camera.heat[0,0]".into(),
                "camera.heat[1,0]".into(),
            ]
        } else {
            vec![]
        },
    }
}

#[test]
fn rust_summaries_validate_with_options_none_and_some() {
    let v = validator();
    for opt in [None, Some(0), Some(7), Some(u64::MAX)] {
        let s = summary(opt);
        let value = serde_json::to_value(&s).unwrap();
        assert_valid(&v, &value);
        // And through the JSON-lines text, as a consumer would read it.
        let line: Value = serde_json::from_str(&s.to_json_line()).unwrap();
        assert_valid(&v, &line);
        assert_eq!(serde_json::from_value::<Summary>(line).unwrap(), s);
    }
    // Every health state the sensor can report.
    for state in [
        "ok", "frozen", "dark", "covered", "blurred", "motion", "absent",
    ] {
        let mut s = summary(Some(5));
        s.camera.as_mut().unwrap().health.state = state.into();
        assert_valid(&v, &serde_json::to_value(&s).unwrap());
    }
    // Empty collections are valid too.
    let mut s = summary(None);
    let wifi = s.wifi.as_mut().unwrap();
    wifi.malformed.clear();
    wifi.channels.clear();
    wifi.rssi_dbm = Histogram::default();
    s.camera.as_mut().unwrap().heat = HeatGrid::default();
    s.suppressed.clear();
    assert_valid(&v, &serde_json::to_value(&s).unwrap());
}

/// Every object in the schema lists all its properties as required (serde
/// always writes every field) and describes each one.
#[test]
fn every_property_is_required_and_described() {
    fn walk(path: &str, node: &Value, seen: &mut usize) {
        let Some(obj) = node.as_object() else { return };
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            assert_eq!(
                obj.get("additionalProperties"),
                Some(&json!(false)),
                "{path} allows unknown fields"
            );
            let mut required: Vec<&str> = obj["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            // Sensor sections are optional: a rig has the sensors it has.
            if path == "#" {
                required.extend(["wifi", "camera"]);
            }
            required.sort_unstable();
            let mut names: Vec<&str> = props.keys().map(String::as_str).collect();
            names.sort_unstable();
            assert_eq!(required, names, "{path}: required and properties differ");
            for (name, p) in props {
                let d = p
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                assert!(
                    !d.is_empty() && !d.contains('\n'),
                    "{path}.{name} needs a one-line description"
                );
                *seen += 1;
            }
        }
        for (key, child) in obj {
            walk(&format!("{path}/{key}"), child, seen);
        }
    }
    let mut seen = 0;
    walk("#", &schema(), &mut seen);
    // 8 top-level + 6 wifi + 10 frames + 3 channel + 10 devices + 2 histogram
    // + 6 camera + 2 crossings + 3 occupancy + 3 heat + 6 health.
    assert_eq!(seen, 59);
}

/// Version 1 payloads (published before sensors had sections of their own)
/// still decode, into a summary with its `wifi` section, and they read the
/// same as the version 2 example apart from the version number. Version 2
/// payloads (no `camera` yet) decode too, and read the same as the current
/// example without its camera section: the Wi-Fi paths did not change.
#[test]
fn a_version_1_summary_still_decodes() {
    let v1 = read_json(V1_EXAMPLE_PATH);
    assert_valid(&validator_of(&read_json(V1_SCHEMA_PATH)), &v1);
    let s: Summary = serde_json::from_value(v1).expect("a v1 summary decodes");
    assert_eq!(s.schema_version, 1);
    assert!(s.wifi.is_some() && s.undescribed.is_empty());
    let v2_json = read_json(V2_EXAMPLE_PATH);
    let v2_validator = validator_of(&read_json(V2_SCHEMA_PATH));
    assert_valid(&v2_validator, &v2_json);
    let v2: Summary = serde_json::from_value(v2_json.clone()).expect("a v2 summary decodes");
    assert_eq!(
        Summary {
            schema_version: 2,
            ..s
        },
        v2
    );
    assert!(v2.camera.is_none() && v2.undescribed.is_empty());

    // The current example is version 2's plus a camera section (and the
    // paths it withheld).
    let current: Summary = serde_json::from_value(example()).unwrap();
    let mut without_camera = current.clone();
    without_camera.camera = None;
    without_camera
        .suppressed
        .retain(|p| !p.starts_with("camera."));
    assert_ne!(without_camera, current);
    assert_eq!(
        Summary {
            schema_version: 2,
            ..without_camera.clone()
        },
        v2
    );
    // So, apart from the number, each schema takes the other's Wi-Fi-only
    // summary: a consumer of version 2 reads version 3 by accepting 3.
    let mut as_v2 = serde_json::to_value(&without_camera).unwrap();
    as_v2["schema_version"] = json!(2);
    assert_valid(&v2_validator, &as_v2);
    // Version 2 did not describe the camera: its schema refuses the section.
    let mut camera_as_v2 = example();
    camera_as_v2["schema_version"] = json!(2);
    assert_invalid(
        &v2_validator,
        &camera_as_v2,
        "a camera section in version 2",
        "",
    );
    let mut as_v3 = v2_json;
    as_v3["schema_version"] = json!(SCHEMA_VERSION);
    assert_valid(&validator(), &as_v3);
}

/// A rig without Wi-Fi publishes no `wifi` section, and the schema takes
/// it; a section the schema does not describe is refused by the schema and
/// read back as undescribed, never as part of a known section.
#[test]
fn sections_are_optional_and_undescribed_ones_are_refused() {
    let v = validator();
    let mut bare = Summary::new(1_704_556_320, 60, 0, 5);
    let value = serde_json::to_value(&bare).unwrap();
    assert!(value.get("wifi").is_none(), "{value}");
    assert_valid(&v, &value);
    assert_eq!(bare.window_start, "2024-01-06T15:52:00Z");

    bare.insert(Section::Undescribed(
        "thermal".into(),
        json!({ "people": null }),
    ));
    let value = serde_json::to_value(&bare).unwrap();
    assert_eq!(value["thermal"], json!({ "people": null }));
    assert_invalid(&v, &value, "an undescribed section", "");
    let back: Summary = serde_json::from_value(value).unwrap();
    assert_eq!(back.undescribed["thermal"], json!({ "people": null }));
    assert_eq!(back, bare);
    assert!(back.described().undescribed.is_empty());

    bare.insert(Section::Wifi(Box::new(summary(None).wifi.unwrap())));
    assert!(bare.wifi.is_some());

    // A rig with a camera only.
    let mut camera = Summary::new(1_704_556_320, 60, 0, 5);
    camera.insert(Section::Camera(Box::new(summary(Some(5)).camera.unwrap())));
    let value = serde_json::to_value(&camera).unwrap();
    assert!(value.get("wifi").is_none() && value.get("camera").is_some());
    assert_eq!(value["schema_version"], json!(3));
    assert_valid(&v, &value);
    assert_eq!(serde_json::from_value::<Summary>(value).unwrap(), camera);
}

/// The retained status: the example matches the Rust type exactly, the
/// type's output validates, and the schema refuses what the type cannot
/// produce.
#[test]
fn the_status_message_matches_its_schema() {
    let schema = read_json(STATUS_SCHEMA_PATH);
    let v = validator_of(&schema);
    let example = read_json(STATUS_EXAMPLE_PATH);
    assert_valid(&v, &example);
    let status: Status = serde_json::from_value(example.clone()).unwrap();
    assert_eq!(serde_json::to_value(&status).unwrap(), example);
    for (state, reason) in [
        (RigState::Online, None),
        (RigState::Offline, None),
        (
            RigState::Refused,
            Some("vitrine.toml:3:1: windows.k: must be at least 2"),
        ),
    ] {
        let s = Status {
            state,
            version: "0.1.0".into(),
            boot: "b".into(),
            spool: SpoolCounts {
                held: u64::MAX,
                ..SpoolCounts::default()
            },
            reason: reason.map(String::from),
            sensors: (state == RigState::Online).then(|| SensorsStatus {
                kill_switch: Some(SwitchState::Engaged),
                indicator: Some(false),
                wifi: Some(SensorState::Stopped),
                camera: Some(CameraStatus {
                    state: SensorState::Stopped,
                    health: "absent".into(),
                }),
            }),
        };
        let value: Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert_valid(&v, &value);
        assert_eq!(serde_json::from_value::<Status>(value).unwrap(), s);
    }
    let mut extra = example.clone();
    extra["spool"]["mac"] = json!("02:00:5e:10:00:01");
    assert_invalid(&v, &extra, "an unknown spool field", "/spool");
    assert!(serde_json::from_value::<Status>(extra).is_err());
    let mut state = example.clone();
    state["state"] = json!("degraded");
    assert_invalid(&v, &state, "an unknown state", "/state");
    assert!(serde_json::from_value::<Status>(state).is_err());
    // A refusal says why; a running rig has nothing to explain.
    let mut refused = example.clone();
    refused["state"] = json!("refused");
    assert_invalid(&v, &refused, "a refusal without its reason", "");
    let mut online = example.clone();
    online["reason"] = json!("why");
    assert_invalid(&v, &online, "a reason without a refusal", "");
    let mut health = example.clone();
    health["sensors"]["camera"]["health"] = json!("smiling");
    assert_invalid(
        &v,
        &health,
        "an unknown camera health",
        "/sensors/camera/health",
    );
    let mut sensor = example.clone();
    sensor["sensors"]["microphone"] = json!("capturing");
    assert_invalid(&v, &sensor, "an unknown sensor", "/sensors");
    assert!(serde_json::from_value::<Status>(sensor).is_err());
}
