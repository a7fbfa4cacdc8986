//! The summary schema: what a rig publishes, once per window.
//!
//! **Architecture invariant:** these are the only types in the workspace that
//! derive `Serialize` for data leaving the process. None of them can hold a
//! MAC address, an SSID or a pseudonym: only counts, histogram bins and the
//! window's time. A summary is a common part (the window, the key epoch, k,
//! what was withheld) and one optional section per sensor (`wifi`,
//! `camera`); the
//! JSON Schema is `docs/schema/summary-v3.schema.json` (versions 1, where
//! `wifi` was required, and 2, without `camera`, still decode). Changing a
//! field's meaning, or adding one, bumps [`SCHEMA_VERSION`]. [`Status`] is
//! the rig's retained status message
//! (`docs/schema/status-v1.schema.json`). [`table`] shows summaries as rows
//! of text, for the daemon and the verifier.

pub mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change of the summary's shape or meaning,
/// and on a new field (the JSON Schema refuses fields it does not know).
pub const SCHEMA_VERSION: u32 = 3;

/// One window's aggregate summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    /// Start of the window, RFC 3339 in UTC (e.g. `2024-01-06T15:52:00Z`).
    pub window_start: String,
    /// Window length in seconds.
    pub window_s: u32,
    /// Key epoch number within this process run (0, 1, ...) when the window
    /// closed. Pseudonyms of different epochs cannot be linked; a window that
    /// spans a rotation counts a device heard in both epochs twice.
    pub epoch: u64,
    /// Minimum number of members a published bin must have (k-anonymity).
    pub k: u32,
    /// The Wi-Fi sensor's section; absent on a rig without Wi-Fi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wifi: Option<WifiSummary>,
    /// The camera's section; absent on a rig without a camera.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<CameraSummary>,
    /// Sections of sensors this version of the schema does not describe
    /// (a sensor being developed), by name. The JSON Schema refuses them and
    /// consumers and the verifier report them as unknown fields: they are
    /// never published by a released rig.
    #[serde(flatten)]
    pub undescribed: BTreeMap<String, serde_json::Value>,
    /// Bins withheld because they had fewer than `k` members, by path,
    /// e.g. `wifi.rssi_dbm[-90,-80)`.
    pub suppressed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WifiSummary {
    pub frames: FrameCounts,
    /// Malformed packets by reason (`radiotap_truncated`, `element_overrun`, ...).
    pub malformed: BTreeMap<String, u64>,
    /// Frames per channel; channels with fewer than k frames are suppressed.
    pub channels: Vec<ChannelCount>,
    pub devices: DeviceCounts,
    /// Histogram of the strongest signal of each address heard in the window
    /// (addresses without a reported signal are not in it).
    pub rssi_dbm: Histogram,
    /// Histogram of how long devices seen in this window have been present in
    /// the epoch (first to last frame), in seconds.
    pub dwell_s: Histogram,
}

/// Frame totals (published as they are: no k threshold on totals).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameCounts {
    pub total: u64,
    pub probe_req: u64,
    pub probe_resp: u64,
    pub beacon: u64,
    pub other_mgmt: u64,
    pub control: u64,
    pub data: u64,
    pub extension: u64,
    /// Packets that could not be parsed (see `malformed` for reasons).
    pub malformed: u64,
    /// Probe requests dropped by the ignore list (the auditor's own devices).
    pub ignored: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelCount {
    /// `2.4GHz`, `5GHz` or `6GHz`: channel numbers repeat across bands.
    pub band: String,
    pub channel: u8,
    pub frames: u64,
}

/// Device counts from probe requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceCounts {
    /// Distinct transmitter addresses seen in the window.
    pub distinct_macs: u64,
    /// Of those, globally unique (vendor-assigned) addresses. This split is
    /// a breakdown: when either part has fewer than k members both are
    /// suppressed (one would give the other away).
    pub global_macs: Option<u64>,
    /// Of those, randomized (locally administered) addresses; suppressed
    /// together with `global_macs`.
    pub randomized_macs: Option<u64>,
    /// Estimated real devices present (signal at or above the presence
    /// threshold), after linking randomized addresses of one device through
    /// its information-element fingerprint, sequence numbers and timing.
    pub estimated: u64,
    /// The presence threshold used for `estimated`, in dBm.
    pub presence_rssi_dbm: i8,
    /// Devices that sent directed probes (naming a network); k-suppressed.
    pub ssid_leaking: Option<u64>,
    /// Devices first seen in this epoch during this window; k-suppressed,
    /// together with `returning`.
    pub new: Option<u64>,
    /// Devices seen earlier in this epoch and again in this window;
    /// k-suppressed, together with `new`.
    pub returning: Option<u64>,
    /// False when per-device state hit its memory cap and distinct counts
    /// came from a HyperLogLog sketch instead.
    pub exact: bool,
    /// Relative standard error of the distinct counts (0 when exact).
    pub distinct_error: f64,
}

/// A histogram with k-anonymity applied: `counts[i]` covers
/// `[edges[i], edges[i+1])`; a suppressed bin is `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub edges: Vec<i64>,
    pub counts: Vec<Option<u64>>,
}

/// The camera's section: people counted on the rig's own images, which
/// never leave the device. Counts and the heat grid only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraSummary {
    /// Frames analysed in the window.
    pub frames: u64,
    /// Frames the camera should have delivered in the window and did not
    /// (device gone, frames dropped by the driver, or a frame that could not
    /// be decoded).
    pub lost_frames: u64,
    /// People who crossed the counting line, per direction (totals,
    /// published as they are, like Wi-Fi's).
    pub crossings: Crossings,
    pub occupancy: Occupancy,
    /// Where people were: a coarse grid over the picture.
    pub heat: HeatGrid,
    pub health: CameraHealth,
}

/// Line crossings in the window; `inward` is towards the side the
/// configuration names as inside.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Crossings {
    pub inward: u64,
    pub outward: u64,
}

/// People in the configured region (the whole picture by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Occupancy {
    /// Mean over the window's frames.
    pub mean: f64,
    /// Most people in one frame.
    pub max: u64,
    /// Times the region went from empty to occupied.
    pub episodes: u64,
}

/// Presence on a `cols` x `rows` grid over the picture, row by row from the
/// top left: how many times a person entered each cell in the window. A cell
/// entered by 1..k-1 people is withheld (`null`), as a histogram bin is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeatGrid {
    pub cols: u16,
    pub rows: u16,
    pub counts: Vec<Option<u64>>,
}

/// Whether the camera could see, over the window. Each count is a number
/// of frames; a frame can be in more than one state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraHealth {
    /// `ok`, or the worst state that held in at least half of the window's
    /// frames (worst first: covered, dark, frozen, blurred, motion): `frozen`
    /// (the picture does not change at all, not even its noise), `dark`,
    /// `covered` (dark and featureless: a hand or a cap on the lens),
    /// `blurred` (out of focus), `motion` (most of the picture moving:
    /// the camera shaken or turned), or `absent` (no frame in the window).
    pub state: String,
    pub frozen: u64,
    pub dark: u64,
    pub covered: u64,
    pub blurred: u64,
    pub motion: u64,
}

/// One sensor's part of a window's summary.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    // Boxed: the sections differ much in size.
    Wifi(Box<WifiSummary>),
    Camera(Box<CameraSummary>),
    /// A sensor this version of the schema does not describe, by name.
    Undescribed(String, serde_json::Value),
}

impl Summary {
    /// A summary of the window starting at `window_start` (Unix seconds)
    /// with no section yet.
    pub fn new(window_start: i64, window_s: u32, epoch: u64, k: u32) -> Self {
        Summary {
            schema_version: SCHEMA_VERSION,
            window_start: rfc3339(window_start),
            window_s,
            epoch,
            k,
            wifi: None,
            camera: None,
            undescribed: BTreeMap::new(),
            suppressed: Vec::new(),
        }
    }

    /// Adds (or replaces) a sensor's section.
    pub fn insert(&mut self, section: Section) {
        match section {
            Section::Wifi(w) => self.wifi = Some(*w),
            Section::Camera(c) => self.camera = Some(*c),
            Section::Undescribed(name, v) => {
                self.undescribed.insert(name, v);
            }
        }
    }

    /// The summary as the schema describes it: sections it does not
    /// describe left out (what a consumer compares a payload with to name
    /// its unknown fields).
    pub fn described(&self) -> Summary {
        Summary {
            undescribed: BTreeMap::new(),
            ..self.clone()
        }
    }

    /// The summary split by sensor, as it is published: one summary per
    /// section, named by the section (`wifi`, `camera`, or an undescribed
    /// sensor's name), each with the common part and the `suppressed`
    /// entries of its own section. Every sensor has its own topic
    /// (`vitrine/<site>/<rig>/<sensor>`), so that a consumer of one sensor
    /// never needs to know the others.
    pub fn per_sensor(&self) -> Vec<(String, Summary)> {
        let common = || Summary {
            wifi: None,
            camera: None,
            undescribed: BTreeMap::new(),
            suppressed: Vec::new(),
            ..self.clone()
        };
        let own = |name: &str| -> Vec<String> {
            let prefix = format!("{name}.");
            self.suppressed
                .iter()
                .filter(|p| p.starts_with(&prefix))
                .cloned()
                .collect()
        };
        let mut out = Vec::new();
        if let Some(w) = &self.wifi {
            let mut s = common();
            s.wifi = Some(w.clone());
            s.suppressed = own("wifi");
            out.push(("wifi".to_string(), s));
        }
        if let Some(c) = &self.camera {
            let mut s = common();
            s.camera = Some(c.clone());
            s.suppressed = own("camera");
            out.push(("camera".to_string(), s));
        }
        for (name, v) in &self.undescribed {
            let mut s = common();
            s.undescribed.insert(name.clone(), v.clone());
            s.suppressed = own(name);
            out.push((name.clone(), s));
        }
        out
    }

    /// Serializes the summary as one line of JSON (no trailing newline), as
    /// written by the `jsonl` output format.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("summaries always serialize")
    }
}

/// What is published on `vitrine/<site>/<rig>/<sensor>` (`wifi`, `camera`):
/// one sensor's summary ([`Summary::per_sensor`]) stamped so that consumers
/// can drop the duplicates QoS 1 allows, per stream, by
/// `(topic, site, rig, boot, seq)`; `seq` counts per topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub site: String,
    pub rig: String,
    /// Random id of the daemon's run; `seq` restarts with it.
    pub boot: String,
    /// Sequence number within the boot, from 0.
    pub seq: u64,
    pub summary: Summary,
}

/// `unix_s` as RFC 3339 in UTC (`2024-01-06T15:52:00Z`), or the number when
/// it is out of the calendar's range.
pub fn rfc3339(unix_s: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_s)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix_s.to_string())
}

/// The rig's retained status, on `vitrine/<site>/<rig>/status`: its own
/// state and its spool's counters, so that a lost summary is never silent.
/// Nothing in it is about a shopper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub state: RigState,
    /// The daemon's version (`0.1.0`).
    pub version: String,
    /// Random id of the daemon's run, as in the envelopes.
    pub boot: String,
    pub spool: SpoolCounts,
    /// With `refused` only: why the configuration was refused, as the
    /// console shows it (file, line, key and rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the sensors do now and the kill switch's state; absent when the
    /// daemon does not capture (`refused`, or a replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensors: Option<SensorsStatus>,
}

/// The rig's sensors as the status reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorsStatus {
    /// Absent on a rig without a kill switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_switch: Option<SwitchState>,
    /// Whether the recording indicator is lit (exactly while a sensor
    /// captures); absent on a rig without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wifi: Option<SensorState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<CameraStatus>,
}

/// `engaged`: every sensor is stopped, the epoch keys were wiped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwitchState {
    Engaged,
    Released,
}

/// What one sensor does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SensorState {
    /// Capturing.
    Capturing,
    /// Its device is gone (unplugged, failed); capture resumes when it
    /// returns.
    Lost,
    /// Stopped by the kill switch.
    Stopped,
}

/// The camera in the status: its state and its health over the last
/// window (`ok`, `frozen`, `dark`, `covered`, `blurred`, `motion`, `absent`,
/// as in the summary's `camera.health.state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraStatus {
    pub state: SensorState,
    pub health: String,
}

/// Online while connected, `offline` after a clean stop (a rig that
/// vanishes says so on its availability topic, the last will: docs/publishing.md).
/// `refused`: the first-boot configuration was refused and the daemon
/// does not start (`vitrined firstboot`, docs/configuration.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RigState {
    Online,
    Offline,
    Refused,
}

/// What the spool holds and what it has let go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolCounts {
    /// Summaries waiting for the broker.
    pub held: u64,
    /// Summaries the broker acknowledged since the daemon started.
    pub acknowledged: u64,
    /// Summaries deleted unsent because they passed the retention period.
    pub expired: u64,
    /// Summaries deleted unsent because the spool was full.
    pub dropped_full: u64,
    /// Torn or corrupt spool files moved to `quarantine/`.
    pub quarantined: u64,
}

impl Status {
    /// As published: one JSON object.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a status always serializes")
    }
}

impl Envelope {
    /// The envelope with its summary as the schema describes it
    /// ([`Summary::described`]).
    pub fn described(&self) -> Envelope {
        Envelope {
            summary: self.summary.described(),
            ..self.clone()
        }
    }
}
