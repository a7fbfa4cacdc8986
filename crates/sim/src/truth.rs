//! Exact ground truth of a simulation run, recorded as frames are emitted.

use std::collections::{HashMap, HashSet};

/// Window length (seconds) of [`GroundTruth::windows`] as filled in by a run.
pub const DEFAULT_WINDOW_S: u32 = 60;

/// Truth for one time window `[start_unix_s, start_unix_s + window_s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowTruth {
    pub start_unix_s: i64,
    /// Probe requests captured in the window.
    pub probe_requests: u64,
    /// Distinct transmitter addresses of those probe requests.
    pub distinct_macs: u64,
    /// Distinct real devices that sent them.
    pub devices: u64,
}

/// What one real device did over the run (only devices that probed are listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTruth {
    /// Simulator-internal device id (creation order).
    pub id: u32,
    /// Name of the [`PhoneModel`](crate::PhoneModel).
    pub model: &'static str,
    /// Carried by someone walking past outside rather than a visitor.
    pub passer_by: bool,
    pub probe_requests: u64,
    pub first_probe_us: i64,
    pub last_probe_us: i64,
    /// Distinct transmitter addresses used, in order of first use.
    pub macs: Vec<[u8; 6]>,
}

/// Exact counts of everything a run emitted.
#[derive(Debug, Clone)]
pub struct GroundTruth {
    /// Simulated clock start and length of the run.
    pub start_unix_s: i64,
    pub duration_s: u32,
    pub frames: u64,
    pub probe_requests: u64,
    pub beacons: u64,
    pub data_frames: u64,
    /// Distinct transmitter addresses of probe requests.
    pub distinct_macs: u64,
    /// Of those, locally administered (bit 0x02 of the first octet).
    pub randomized_macs: u64,
    /// Real devices that sent at least one probe request.
    pub devices: u64,
    /// People who were inside the shop at some point during the run
    /// (whether or not their devices probed).
    pub visitors: u64,
    /// People who walked past outside during the run.
    pub passers_by: u64,
    /// [`DEFAULT_WINDOW_S`]-second windows covering the run.
    pub windows: Vec<WindowTruth>,
    /// Per-device detail, ordered by device id.
    pub device_log: Vec<DeviceTruth>,
    /// Probe activity merged per (second, MAC, device), in time order.
    activity: Vec<Activity>,
}

#[derive(Debug, Clone, Copy)]
struct Activity {
    sec: i64,
    mac: u32,
    device: u32,
    count: u32,
}

impl GroundTruth {
    /// Per-window truth for windows of `window_s` seconds aligned to
    /// multiples of `window_s` since the Unix epoch. Every window that
    /// overlaps the run is listed, including empty ones.
    ///
    /// # Panics
    /// If `window_s` is 0.
    pub fn windows(&self, window_s: u32) -> Vec<WindowTruth> {
        assert!(window_s > 0, "window length must be positive");
        let w = i64::from(window_s);
        let first = self.start_unix_s.div_euclid(w) * w;
        let end = self.start_unix_s + i64::from(self.duration_s);
        let mut out: Vec<WindowTruth> = (0..)
            .map(|i| first + i * w)
            .take_while(|&start| start < end)
            .map(|start_unix_s| WindowTruth {
                start_unix_s,
                probe_requests: 0,
                distinct_macs: 0,
                devices: 0,
            })
            .collect();

        // Activity is in time order, so each window's records are contiguous.
        let mut macs = HashSet::new();
        let mut devices = HashSet::new();
        let mut current = None;
        for a in &self.activity {
            let idx =
                usize::try_from((a.sec - first).div_euclid(w)).expect("activity before the run");
            if current != Some(idx) {
                if let Some(c) = current {
                    out[c].distinct_macs = macs.len() as u64;
                    out[c].devices = devices.len() as u64;
                }
                macs.clear();
                devices.clear();
                current = Some(idx);
            }
            out[idx].probe_requests += u64::from(a.count);
            macs.insert(a.mac);
            devices.insert(a.device);
        }
        if let Some(c) = current {
            out[c].distinct_macs = macs.len() as u64;
            out[c].devices = devices.len() as u64;
        }
        out
    }
}

struct DeviceSlot {
    truth: DeviceTruth,
    last_mac: Option<u32>,
    last_activity: Option<usize>,
}

/// Accumulates the ground truth while the simulator emits frames.
pub(crate) struct Recorder {
    start_unix_s: i64,
    duration_s: u32,
    frames: u64,
    probe_requests: u64,
    beacons: u64,
    data_frames: u64,
    randomized_macs: u64,
    visitors: u64,
    passers_by: u64,
    mac_ids: HashMap<[u8; 6], u32>,
    device_macs: HashSet<(u32, u32)>,
    devices: Vec<DeviceSlot>,
    activity: Vec<Activity>,
}

impl Recorder {
    pub(crate) fn new(start_unix_s: i64, duration_s: u32) -> Self {
        Self {
            start_unix_s,
            duration_s,
            frames: 0,
            probe_requests: 0,
            beacons: 0,
            data_frames: 0,
            randomized_macs: 0,
            visitors: 0,
            passers_by: 0,
            mac_ids: HashMap::new(),
            device_macs: HashSet::new(),
            devices: Vec::new(),
            activity: Vec::new(),
        }
    }

    pub(crate) fn person(&mut self, passer_by: bool) {
        if passer_by {
            self.passers_by += 1;
        } else {
            self.visitors += 1;
        }
    }

    /// Registers a device; returns its id (ids are dense, in creation order).
    pub(crate) fn register_device(&mut self, model: &'static str, passer_by: bool) -> u32 {
        let id = u32::try_from(self.devices.len()).expect("too many devices");
        self.devices.push(DeviceSlot {
            truth: DeviceTruth {
                id,
                model,
                passer_by,
                probe_requests: 0,
                first_probe_us: 0,
                last_probe_us: 0,
                macs: Vec::new(),
            },
            last_mac: None,
            last_activity: None,
        });
        id
    }

    pub(crate) fn probe(&mut self, ts_us: i64, sa: [u8; 6], device: u32) {
        self.frames += 1;
        self.probe_requests += 1;
        let next_id = self.mac_ids.len() as u32;
        let mac = *self.mac_ids.entry(sa).or_insert_with(|| {
            if sa[0] & 0x02 != 0 {
                self.randomized_macs += 1;
            }
            next_id
        });

        let slot = &mut self.devices[device as usize];
        let t = &mut slot.truth;
        if t.probe_requests == 0 {
            t.first_probe_us = ts_us;
        }
        t.probe_requests += 1;
        t.last_probe_us = ts_us;
        // Only consult the set when the address changed since the last probe.
        if slot.last_mac != Some(mac) {
            slot.last_mac = Some(mac);
            if self.device_macs.insert((device, mac)) {
                t.macs.push(sa);
            }
        }

        let sec = ts_us.div_euclid(1_000_000);
        if let Some(a) = slot.last_activity.map(|i| &mut self.activity[i])
            && a.sec == sec
            && a.mac == mac
        {
            a.count += 1;
            return;
        }
        slot.last_activity = Some(self.activity.len());
        self.activity.push(Activity {
            sec,
            mac,
            device,
            count: 1,
        });
    }

    pub(crate) fn beacon(&mut self) {
        self.frames += 1;
        self.beacons += 1;
    }

    pub(crate) fn data(&mut self) {
        self.frames += 1;
        self.data_frames += 1;
    }

    pub(crate) fn finish(self) -> GroundTruth {
        let device_log: Vec<DeviceTruth> = self
            .devices
            .into_iter()
            .map(|s| s.truth)
            .filter(|t| t.probe_requests > 0)
            .collect();
        let mut truth = GroundTruth {
            start_unix_s: self.start_unix_s,
            duration_s: self.duration_s,
            frames: self.frames,
            probe_requests: self.probe_requests,
            beacons: self.beacons,
            data_frames: self.data_frames,
            distinct_macs: self.mac_ids.len() as u64,
            randomized_macs: self.randomized_macs,
            devices: device_log.len() as u64,
            visitors: self.visitors,
            passers_by: self.passers_by,
            windows: Vec::new(),
            device_log,
            activity: self.activity,
        };
        truth.windows = truth.windows(DEFAULT_WINDOW_S);
        truth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_split_counts_exactly() {
        // Run starts mid-window: 100 s after a multiple of 60.
        let mut r = Recorder::new(6_000_100, 130);
        let a = r.register_device("a", false);
        let b = r.register_device("b", false);
        let _silent = r.register_device("c", false);
        let mac1 = [0x02, 0, 0, 0, 0, 1];
        let mac2 = [0x02, 0, 0, 0, 0, 2];
        let glob = [0x00, 0x16, 0x6c, 0, 0, 3];
        let us = |s: i64| s * 1_000_000;
        r.probe(us(6_000_100), mac1, a);
        r.probe(us(6_000_100) + 5, mac1, a);
        r.probe(us(6_000_110), glob, b);
        r.probe(us(6_000_125), mac2, a); // next window (6_000_120)
        r.probe(us(6_000_200), mac2, a); // third window (6_000_180)
        r.beacon();
        let t = r.finish();
        assert_eq!((t.frames, t.probe_requests, t.beacons), (6, 5, 1));
        assert_eq!((t.distinct_macs, t.randomized_macs, t.devices), (3, 2, 2));
        assert_eq!(t.device_log[0].macs, vec![mac1, mac2]);
        let w = t.windows(60);
        let got: Vec<_> = w
            .iter()
            .map(|w| (w.start_unix_s, w.probe_requests, w.distinct_macs, w.devices))
            .collect();
        assert_eq!(
            got,
            vec![
                (6_000_060, 3, 2, 2),
                (6_000_120, 1, 1, 1),
                (6_000_180, 1, 1, 1)
            ]
        );
        assert_eq!(t.windows, w);
        let one = t.windows(3600);
        assert_eq!(one.len(), 1);
        assert_eq!(
            (one[0].probe_requests, one[0].distinct_macs, one[0].devices),
            (5, 3, 2)
        );
    }
}
