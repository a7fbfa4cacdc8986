//! The Wi-Fi sensor's aggregation: pseudonymized observations into the
//! `wifi` section of each window's summary.
//!
//! Input is an [`Observation`] per packet, made by the capture stage: it
//! holds no raw identifier, only a [`Pseudonym`] and a [`Fingerprint`] that
//! are meaningful within one key epoch. [`WifiSensor`] is Wi-Fi's
//! [`vitrine_window::Sensor`]: the window clock, key epochs and k-anonymity
//! are the sensor-neutral core's, and [`Aggregator`] is that core with the
//! Wi-Fi sensor in it. Every histogram bin and breakdown of the section
//! goes through the core's k-anonymity.
//!
//! Memory is bounded: per-device state (per window and per epoch) is capped
//! at [`Config::max_devices`]; past the cap, distinct counts come from a
//! HyperLogLog sketch and the summary says so.

mod linker;
mod window;

pub use linker::{AddressTrack, EvidenceBook, LinkEvidence, LinkerParams, estimate_devices};
pub use window::{Aggregator, Config, DWELL_EDGES, RSSI_EDGES, WifiSensor};

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use vitrine_dot11::{Channel, FrameKind, Malformed};
use vitrine_privacy::{Fingerprint, Pseudonym};

/// A hash map keyed by pseudonyms or fingerprints. Those are already keyed
/// hashes (uniform, unpredictable without the epoch key), so hashing them
/// again would only cost time.
pub type KeyedMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyedHashHasher>>;

/// Passes a `u64` through; keys hash as a single `write_u64`.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyedHashHasher(u64);

impl Hasher for KeyedHashHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not used by our keys; a fallback that still mixes every byte.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What the capture stage saw in one packet, with identifiers pseudonymized.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// Capture time, Unix microseconds.
    pub ts_us: i64,
    pub what: Observed,
}

#[derive(Debug, Clone, Copy)]
pub enum Observed {
    /// A frame that is not a probe request.
    Frame {
        kind: FrameKind,
        channel: Option<Channel>,
    },
    /// A probe request, the frame devices announce themselves with.
    Probe {
        channel: Option<Channel>,
        device: ProbeObservation,
    },
    /// A probe request from a device on the ignore list.
    Ignored { channel: Option<Channel> },
    /// A packet that could not be parsed.
    Malformed(Malformed),
}

/// The pseudonymized facts of one probe request.
#[derive(Debug, Clone, Copy)]
pub struct ProbeObservation {
    pub pseudonym: Pseudonym,
    pub fingerprint: Fingerprint,
    /// The fingerprint's family: the elements a device announces alike on
    /// every band and in every scan (rates, HT capabilities). One device's
    /// fingerprint variants share it; so may devices of similar models.
    pub family: Fingerprint,
    /// Locally administered address.
    pub randomized: bool,
    pub seq: u16,
    pub rssi_dbm: Option<i8>,
    /// The probe named a network (its SSID is not kept).
    pub directed: bool,
}
