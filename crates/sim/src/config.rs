//! Simulation parameters and scripted populations.

use crate::models::models;

/// Parameters of a simulated store.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of the ChaCha8 generator; same config + seed → byte-identical output.
    pub seed: u64,
    /// Simulated clock start (UTC seconds since the Unix epoch).
    pub start_unix_s: i64,
    pub duration_s: u32,
    /// Poisson arrival rate of people near the sensor (visitors and passers-by).
    pub arrivals_per_hour: f64,
    /// Mean of the log-normal time a visitor spends inside.
    pub mean_dwell_s: f64,
    /// Fixed access points, each heard beaconing once per second.
    pub access_points: u8,
    /// Total data frames per second exchanged by staff devices and the APs.
    pub data_frame_rate: f64,
}

impl SimConfig {
    /// A busy shop on a Saturday: ~600 arrivals per hour, 15 min mean dwell.
    pub fn busy_store() -> Self {
        Self {
            seed: 0x5eed,
            start_unix_s: 1_717_236_000, // 2024-06-01 10:00:00 UTC, a Saturday
            duration_s: 3600,
            arrivals_per_hour: 600.0,
            mean_dwell_s: 900.0,
            access_points: 4,
            data_frame_rate: 2.0,
        }
    }

    /// A quiet shop on a weekday morning: ~60 arrivals per hour, 10 min mean dwell.
    pub fn quiet_store() -> Self {
        Self {
            seed: 0x5eed,
            start_unix_s: 1_717_488_000, // 2024-06-04 08:00:00 UTC, a Tuesday
            duration_s: 3600,
            arrivals_per_hour: 60.0,
            mean_dwell_s: 600.0,
            access_points: 2,
            data_frame_rate: 0.5,
        }
    }

    /// Checks that rates and durations are finite and in range.
    pub fn validate(&self) -> Result<(), SimError> {
        if !(self.arrivals_per_hour.is_finite() && self.arrivals_per_hour >= 0.0) {
            return Err(SimError::InvalidConfig(
                "arrivals_per_hour must be finite and >= 0",
            ));
        }
        if !(self.mean_dwell_s.is_finite() && self.mean_dwell_s > 0.0) {
            return Err(SimError::InvalidConfig(
                "mean_dwell_s must be finite and > 0",
            ));
        }
        if !(self.data_frame_rate.is_finite() && self.data_frame_rate >= 0.0) {
            return Err(SimError::InvalidConfig(
                "data_frame_rate must be finite and >= 0",
            ));
        }
        // Keep every timestamp representable in i64 microseconds.
        let end = self.start_unix_s.checked_add(i64::from(self.duration_s));
        if end.and_then(|e| e.checked_mul(1_000_000)).is_none()
            || self.start_unix_s.checked_mul(1_000_000).is_none()
        {
            return Err(SimError::InvalidConfig("start_unix_s out of range"));
        }
        Ok(())
    }
}

/// The busy preset.
impl Default for SimConfig {
    fn default() -> Self {
        Self::busy_store()
    }
}

/// One scripted device for [`Simulator::with_population`](crate::Simulator::with_population).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    /// Index into [`models()`].
    pub model: usize,
    /// When the device appears, seconds after the run start.
    pub arrival_offset_s: u32,
    /// How long it stays.
    pub dwell_s: u32,
    /// Fixed distance from the sensor (drives RSSI); more than 25 m counts
    /// as a passer-by in the ground truth.
    pub distance_m: f64,
    /// Use this transmitter address for every probe instead of the model's
    /// MAC behaviour.
    pub mac: Option<[u8; 6]>,
}

impl DeviceSpec {
    /// A device of `model` present for the whole run at `distance_m`.
    pub fn resident(model: usize, distance_m: f64) -> Self {
        Self {
            model,
            arrival_offset_s: 0,
            dwell_s: u32::MAX,
            distance_m,
            mac: None,
        }
    }

    pub(crate) fn validate(&self, index: usize) -> Result<(), SimError> {
        let count = models().len();
        if self.model >= count {
            return Err(SimError::UnknownModel {
                index,
                model: self.model,
                count,
            });
        }
        if !(self.distance_m.is_finite() && self.distance_m > 0.0) {
            return Err(SimError::InvalidDistance { index });
        }
        Ok(())
    }
}

/// Why a simulator could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulation config: {0}")]
    InvalidConfig(&'static str),
    #[error("device spec {index}: unknown model index {model} (there are {count} models)")]
    UnknownModel {
        index: usize,
        model: usize,
        count: usize,
    },
    #[error("device spec {index}: distance_m must be finite and > 0")]
    InvalidDistance { index: usize },
}
