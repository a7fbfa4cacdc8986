//! The summary schema: what a rig publishes, once per window.
//!
//! **Architecture invariant:** these are the only types in the workspace that
//! derive `Serialize` for data leaving the process. None of them can hold a
//! MAC address, an SSID or a pseudonym: only counts, histogram bins and the
//! window's time. The JSON Schema is `docs/schema/summary-v1.schema.json`;
//! changing a field's meaning bumps [`SCHEMA_VERSION`]. [`table`] shows
//! summaries as rows of text, for the daemon and the verifier.

pub mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change of the summary's shape or meaning.
pub const SCHEMA_VERSION: u32 = 1;

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
    pub wifi: WifiSummary,
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

impl Summary {
    /// Serializes the summary as one line of JSON (no trailing newline), as
    /// written by the `jsonl` output format.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("summaries always serialize")
    }
}

/// What is published on `vitrine/<site>/<rig>/wifi`: a summary stamped so
/// that consumers can drop the duplicates QoS 1 allows, by `(rig, boot, seq)`.
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
