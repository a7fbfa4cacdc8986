//! The Wi-Fi sensor: per-window frame and device counts, per-epoch device
//! state, and its section of the summary with k-anonymity. The window clock
//! is the core's ([`vitrine_window::Windows`]).

use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;

use hyperloglogplus::{HyperLogLog, HyperLogLogPF};
use vitrine_dot11::{Band, Channel, FrameKind, Malformed};
use vitrine_privacy::Pseudonym;
use vitrine_schema::{ChannelCount, DeviceCounts, FrameCounts, Section, Summary, WifiSummary};
use vitrine_window::{Observe, Sensor, SensorId, Suppressor, Window, Windows};

use crate::linker::{AddressTrack, EvidenceBook, LinkerParams, estimate_devices};
use crate::{KeyedMap, Observation, Observed, ProbeObservation};

/// Aggregation settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    pub window_s: u32,
    /// Bins and breakdowns with fewer members are suppressed.
    pub k: u32,
    /// Devices heard weaker than this are counted as addresses but not as
    /// present devices (passers-by outside the shop).
    pub presence_rssi_dbm: i8,
    /// Cap on per-device entries, per window and per epoch.
    pub max_devices: usize,
    pub linker: LinkerParams,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window_s: 60,
            k: 5,
            presence_rssi_dbm: -85,
            max_devices: 200_000,
            linker: LinkerParams::default(),
        }
    }
}

/// Bin edges of the RSSI histogram (dBm).
pub const RSSI_EDGES: [i64; 9] = [-128, -90, -80, -70, -60, -50, -40, -30, 0];
/// Bin edges of the dwell histogram (seconds): 1, 5, 15, 30, 60, 120 min, a
/// day. Values past the last edge count in the last bin.
pub const DWELL_EDGES: [i64; 8] = [0, 60, 300, 900, 1800, 3600, 7200, 86400];

const HLL_PRECISION: u8 = 14;
type Hll = HyperLogLogPF<Pseudonym, BuildHasherDefault<std::collections::hash_map::DefaultHasher>>;

fn new_hll() -> Hll {
    HyperLogLogPF::new(HLL_PRECISION, BuildHasherDefault::default()).expect("precision 14 is valid")
}

/// Relative standard error of HyperLogLog with 2^p registers.
fn hll_error() -> f64 {
    1.04 / f64::from(1u32 << HLL_PRECISION).sqrt()
}

#[derive(Debug, Clone, Copy)]
struct WindowDevice {
    /// Present frames only (at or above the presence threshold).
    track: Option<AddressTrack>,
    /// Strongest signal heard, when the radio reports one.
    max_rssi: Option<i8>,
    randomized: bool,
    directed: bool,
}

#[derive(Debug, Clone, Copy)]
struct EpochDevice {
    first_us: i64,
    last_us: i64,
}

/// Device figures of a window, as plain numbers: they survive a key
/// rotation in the middle of the window.
#[derive(Debug, Default, Clone)]
struct DeviceTally {
    distinct: u64,
    global: u64,
    randomized: u64,
    estimated: u64,
    ssid_leaking: u64,
    new: u64,
    returning: u64,
    rssi: [u64; RSSI_EDGES.len() - 1],
    dwell: [u64; DWELL_EDGES.len() - 1],
    /// Per-address state hit its cap in this window (the window's own, or
    /// the epoch's): some figures come from the sketch or are partial.
    capped: bool,
}

/// Frames per channel, indexed by band and channel number.
const CHANNEL_SLOTS: usize = Band::ALL.len() * 256;

/// What the Wi-Fi sensor counted in the open window.
#[derive(Debug)]
struct WifiWindow {
    frames: FrameCounts,
    malformed: [u64; Malformed::ALL.len()],
    channels: Box<[u64; CHANNEL_SLOTS]>,
    devices: KeyedMap<Pseudonym, WindowDevice>,
    tally: DeviceTally,
    /// Distinct addresses past the cap, counted by a sketch.
    overflow: Option<Hll>,
}

/// The Wi-Fi sensor: observations of the capture stage in, the `wifi`
/// section of each window out.
#[derive(Debug)]
pub struct WifiSensor {
    cfg: Config,
    window: WifiWindow,
    epoch_devices: KeyedMap<Pseudonym, EpochDevice>,
    /// Sequence-number evidence per fingerprint, for this epoch.
    evidence: EvidenceBook,
}

/// The Wi-Fi pipeline's windows: the core's window clock with the Wi-Fi
/// sensor in it (and any other sensor added beside it).
#[derive(Debug)]
pub struct Aggregator {
    cfg: Config,
    windows: Windows,
    wifi: SensorId<WifiSensor>,
}

impl Aggregator {
    pub fn new(cfg: Config) -> Self {
        let mut windows = Windows::new(cfg.window_s, cfg.k);
        let wifi = windows.add(WifiSensor::new(cfg));
        Aggregator { cfg, windows, wifi }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The window clock, to add another sensor beside Wi-Fi and hand it
    /// its observations.
    pub fn windows_mut(&mut self) -> &mut Windows {
        &mut self.windows
    }

    /// Adds one observation; calls `emit` for every window that closes.
    pub fn push(&mut self, obs: Observation, emit: &mut impl FnMut(Summary)) {
        self.windows.push(self.wifi, obs.ts_us, obs, emit);
    }

    /// Closes every window that ends at or before `ts_us` and opens the one
    /// that holds it ([`Windows::advance_to`]).
    pub fn advance_to(&mut self, ts_us: i64, emit: &mut impl FnMut(Summary)) {
        self.windows.advance_to(ts_us, emit);
    }

    /// Forgets every pseudonym and fingerprint: called when the key rotates.
    /// Counts of the current window so far are kept as numbers.
    pub fn rotate_epoch(&mut self) {
        self.windows.rotate_epoch();
    }

    /// Closes the last window.
    pub fn finish(self, emit: &mut impl FnMut(Summary)) {
        self.windows.finish(emit);
    }
}

impl WifiSensor {
    pub fn new(cfg: Config) -> Self {
        WifiSensor {
            cfg,
            window: WifiWindow::new(),
            epoch_devices: KeyedMap::default(),
            evidence: EvidenceBook::default(),
        }
    }
}

impl Sensor for WifiSensor {
    fn rotate_epoch(&mut self, current: Option<&Window>) {
        if let Some(w) = current {
            let mut win = std::mem::replace(&mut self.window, WifiWindow::new());
            self.tally_devices(&mut win, w.start_s);
            self.window = win;
        }
        self.epoch_devices = KeyedMap::default();
        self.evidence = EvidenceBook::default();
    }

    fn close(&mut self, window: &Window, k: &mut Suppressor) -> Section {
        let mut win = std::mem::replace(&mut self.window, WifiWindow::new());
        self.tally_devices(&mut win, window.start_s);
        Section::Wifi(Box::new(self.section(&win, k)))
    }
}

impl Observe<Observation> for WifiSensor {
    fn observe(&mut self, _: &Window, obs: Observation) {
        self.count(obs);
    }
}

impl WifiSensor {
    fn count(&mut self, obs: Observation) {
        let cfg = self.cfg;
        let win = &mut self.window;
        let frames = &mut win.frames;
        frames.total += 1;
        let channel = match obs.what {
            Observed::Malformed(reason) => {
                frames.malformed += 1;
                win.malformed[reason as usize] += 1;
                return;
            }
            Observed::Ignored { channel } => {
                frames.probe_req += 1;
                frames.ignored += 1;
                channel
            }
            Observed::Frame { kind, channel } => {
                *match kind {
                    FrameKind::ProbeRequest => &mut frames.probe_req,
                    FrameKind::ProbeResponse => &mut frames.probe_resp,
                    FrameKind::Beacon => &mut frames.beacon,
                    FrameKind::OtherManagement => &mut frames.other_mgmt,
                    FrameKind::Control => &mut frames.control,
                    FrameKind::Data => &mut frames.data,
                    FrameKind::Extension => &mut frames.extension,
                } += 1;
                channel
            }
            Observed::Probe { channel, device } => {
                frames.probe_req += 1;
                observe_probe(&cfg, win, &mut self.epoch_devices, obs.ts_us, device);
                channel
            }
        };
        if let Some(c) = channel {
            win.channels[slot(c)] += 1;
        }
    }

    /// Moves the per-device state of the window into plain counts.
    fn tally_devices(&mut self, win: &mut WifiWindow, start_s: i64) {
        let mut tracks: Vec<AddressTrack> = win.devices.values().filter_map(|d| d.track).collect();
        let t = &mut win.tally;
        t.estimated += estimate_devices(
            &mut tracks,
            &self.cfg.linker,
            &mut self.evidence,
            self.cfg.max_devices,
        );
        drop(tracks);
        for (pseudonym, d) in win.devices.drain() {
            t.distinct += 1;
            if d.randomized {
                t.randomized += 1;
            } else {
                t.global += 1;
            }
            t.ssid_leaking += u64::from(d.directed);
            if let Some(rssi) = d.max_rssi {
                t.rssi[bin(&RSSI_EDGES, i64::from(rssi))] += 1;
            }
            match self.epoch_devices.get(&pseudonym) {
                Some(e) => {
                    let dwell_s = (e.last_us - e.first_us) / 1_000_000;
                    t.dwell[bin(&DWELL_EDGES, dwell_s)] += 1;
                    if e.first_us >= start_s * 1_000_000 {
                        t.new += 1;
                    } else {
                        t.returning += 1;
                    }
                }
                // Past the epoch's cap: no dwell or new/returning for it.
                None => t.capped = true,
            }
        }
        // Taken, not read: a rotation and the window's close both tally.
        if let Some(mut hll) = win.overflow.take() {
            let extra = hll.count().round() as u64;
            t.distinct += extra;
            t.randomized += extra;
            t.capped = true;
        }
    }

    fn section(&self, win: &WifiWindow, k: &mut Suppressor) -> WifiSummary {
        let t = &win.tally;
        let channels = Band::ALL
            .iter()
            .flat_map(|&band| (1..=255u8).map(move |number| Channel { band, number }))
            .filter(|&c| win.channels[slot(c)] > 0)
            .filter_map(|c| {
                let path = format!("wifi.channels[{}/{}]", c.band.name(), c.number);
                let frames = k.gate(path, win.channels[slot(c)])?;
                Some(ChannelCount {
                    band: c.band.name().to_string(),
                    channel: c.number,
                    frames,
                })
            })
            .collect();
        let rssi_dbm = k.histogram("wifi.rssi_dbm", &RSSI_EDGES, &t.rssi);
        let dwell_s = k.histogram("wifi.dwell_s", &DWELL_EDGES, &t.dwell);
        let (global_macs, randomized_macs) = k.pair(
            ("wifi.devices.global_macs", t.global),
            ("wifi.devices.randomized_macs", t.randomized),
        );
        let (new, returning) = k.pair(
            ("wifi.devices.new", t.new),
            ("wifi.devices.returning", t.returning),
        );
        let devices = DeviceCounts {
            distinct_macs: t.distinct,
            global_macs,
            randomized_macs,
            estimated: t.estimated,
            presence_rssi_dbm: self.cfg.presence_rssi_dbm,
            ssid_leaking: k.gate("wifi.devices.ssid_leaking".into(), t.ssid_leaking),
            new,
            returning,
            exact: !t.capped,
            distinct_error: if t.capped { hll_error() } else { 0.0 },
        };
        let malformed: BTreeMap<String, u64> = Malformed::ALL
            .iter()
            .filter(|&&m| win.malformed[m as usize] > 0)
            .map(|&m| (m.reason().to_owned(), win.malformed[m as usize]))
            .collect();
        WifiSummary {
            frames: win.frames.clone(),
            malformed,
            channels,
            devices,
            rssi_dbm,
            dwell_s,
        }
    }
}

fn slot(c: Channel) -> usize {
    c.band as usize * 256 + usize::from(c.number)
}

fn observe_probe(
    cfg: &Config,
    win: &mut WifiWindow,
    epoch_devices: &mut KeyedMap<Pseudonym, EpochDevice>,
    ts_us: i64,
    p: ProbeObservation,
) {
    let known = epoch_devices.len();
    match epoch_devices.get_mut(&p.pseudonym) {
        Some(e) => e.last_us = e.last_us.max(ts_us),
        None if known < cfg.max_devices => {
            epoch_devices.insert(
                p.pseudonym,
                EpochDevice {
                    first_us: ts_us,
                    last_us: ts_us,
                },
            );
        }
        // Counted as capped when the window is tallied.
        None => {}
    }
    // Unknown signal counts as present: the threshold only applies when the
    // radio reports a signal.
    let present = p.rssi_dbm.is_none_or(|r| r >= cfg.presence_rssi_dbm);
    let len = win.devices.len();
    let entry = match win.devices.get_mut(&p.pseudonym) {
        Some(d) => d,
        None if len < cfg.max_devices => win.devices.entry(p.pseudonym).or_insert(WindowDevice {
            track: None,
            max_rssi: p.rssi_dbm,
            randomized: p.randomized,
            directed: false,
        }),
        None => {
            win.overflow
                .get_or_insert_with(new_hll)
                .insert(&p.pseudonym);
            return;
        }
    };
    entry.max_rssi = entry.max_rssi.max(p.rssi_dbm);
    entry.directed |= p.directed;
    if present {
        match &mut entry.track {
            Some(t) => t.update(ts_us, p.seq),
            None => entry.track = Some(AddressTrack::new(p.fingerprint, p.family, ts_us, p.seq)),
        }
    }
}

impl WifiWindow {
    fn new() -> Self {
        WifiWindow {
            frames: FrameCounts::default(),
            malformed: [0; Malformed::ALL.len()],
            channels: Box::new([0; CHANNEL_SLOTS]),
            devices: KeyedMap::default(),
            tally: DeviceTally::default(),
            overflow: None,
        }
    }
}

fn bin(edges: &[i64], v: i64) -> usize {
    let last = edges.len() - 2;
    edges
        .windows(2)
        .position(|e| v >= e[0] && v < e[1])
        .unwrap_or(if v < edges[0] { 0 } else { last })
}

#[cfg(test)]
mod tests;
