//! The event-driven simulator.
//!
//! Every frame source (each device, each AP's beacons, the staff data
//! traffic, the arrival process) is a stream of increasing event times; a
//! binary heap merges them so frames come out in timestamp order without
//! buffering. Ties are broken by insertion order and all randomness comes
//! from one seeded ChaCha8 stream consumed in event order, which makes the
//! output a pure function of the config.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, StandardNormal};

use crate::config::{DeviceSpec, SimConfig, SimError};
use vitrine_dot11::build::{
    BeaconParams, Direction, write_beacon, write_data, write_probe_request,
};

use crate::frame::SimFrame;
use crate::models::{DeviceKind, MacBehaviour, PhoneModel, SeqBehaviour, models};
use crate::truth::{GroundTruth, Recorder};
use crate::variants::{self, ProbeVariants, ScanKind};

// --- population -------------------------------------------------------------

/// Share of arrivals that walk past outside instead of entering.
const PASSER_BY_SHARE: f64 = 0.3;
/// Probability that a person's phone has Wi-Fi enabled.
const PHONE_WIFI_ON: f64 = 0.9;
const WEARABLE_PROB: f64 = 0.12;
const LAPTOP_PROB_VISITOR: f64 = 0.04;
const LAPTOP_PROB_PASSER_BY: f64 = 0.01;
/// Shape (sigma of the underlying normal) of the visitor dwell distribution.
const DWELL_SIGMA: f64 = 0.8;
const MIN_DWELL_S: f64 = 10.0;
const PASSER_BY_DWELL_S: (f64, f64) = (5.0, 60.0);

// --- scanning ---------------------------------------------------------------

const SCAN_MEAN_S: (f64, f64) = (20.0, 60.0);
const RARE_SCAN_MEAN_S: (f64, f64) = (120.0, 400.0);
const RARE_SCANNER_PROB: f64 = 0.15;
const RARE_SCANNER_PROB_WEARABLE: f64 = 0.5;
/// Each scan interval is the device's mean times a factor from this range.
const SCAN_JITTER: (f64, f64) = (0.6, 1.4);
/// Gap between probes on one channel, and channel dwell before switching (µs).
const PROBE_GAP_US: (u32, u32) = (1_000, 4_000);
const CHANNEL_DWELL_US: (u32, u32) = (15_000, 40_000);

// --- radio ------------------------------------------------------------------

const RSSI_AT_1M_DBM: f64 = -40.0;
const PATH_LOSS_EXPONENT: f64 = 3.0;
const RSSI_SIGMA_DB: f64 = 4.0;
const RSSI_RANGE_DBM: (f64, f64) = (-95.0, -20.0);
/// Visitors wander within this distance band (m); passers-by pass at
/// 25–40 m and are never heard from further than 60 m.
const SHOP_DISTANCE_M: (f64, f64) = (1.0, 25.0);
const WANDER_M_PER_SQRT_S: f64 = 0.6;
const PASS_CLOSEST_M: (f64, f64) = (25.0, 40.0);
const PASS_SPEED_MPS: (f64, f64) = (1.0, 1.6);
const PASS_MAX_M: f64 = 60.0;

// --- infrastructure ---------------------------------------------------------

const BEACON_PERIOD_US: i64 = 1_000_000;
const AP_OUIS: [[u8; 3]; 4] = [
    [0x24, 0xa4, 0x3c],
    [0x50, 0xc7, 0xbf],
    [0x00, 0x18, 0x0a],
    [0x00, 0x0b, 0x86],
];
const AP_SSIDS: [&str; 6] = [
    "Vitrine-Guest",
    "Vitrine-Staff",
    "Cafe Lumiere",
    "Pharmacie Centrale",
    "FreeWifi_Mall",
    "Boulangerie Paul",
];
const AP_CHANNELS: [u8; 3] = [1, 6, 11];
const STAFF_PER_AP: usize = 2;
/// Zebra (ex-Symbol) handhelds, the typical shop-floor scanner.
const STAFF_OUI: [u8; 3] = [0x00, 0xa0, 0xf8];
const DATA_PAYLOAD: (usize, usize) = (60, 600);
const UPLINK_SHARE: f64 = 0.6;

const US_PER_S: f64 = 1e6;

fn secs_to_us(s: f64) -> i64 {
    (s * US_PER_S).round() as i64
}

/// A simulated store. Build with [`Simulator::new`] (random population from
/// the config) or [`Simulator::with_population`] (scripted devices), then run.
#[derive(Debug, Clone)]
pub struct Simulator {
    cfg: SimConfig,
    scripted: Option<Vec<DeviceSpec>>,
    probe_variants: bool,
}

impl Simulator {
    /// A simulator with Poisson arrivals as configured.
    ///
    /// # Panics
    /// If the config is invalid (see [`SimConfig::validate`]); use
    /// [`Simulator::try_new`] to get the error instead.
    pub fn new(cfg: SimConfig) -> Self {
        Self::try_new(cfg).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_new(cfg: SimConfig) -> Result<Self, SimError> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            scripted: None,
            probe_variants: false,
        })
    }

    /// A simulator whose only probing devices are `devices` (the config's
    /// arrival rate and dwell are ignored; beacons and data frames remain).
    ///
    /// # Panics
    /// If the config or a device spec is invalid; see
    /// [`Simulator::try_with_population`].
    pub fn with_population(cfg: SimConfig, devices: Vec<DeviceSpec>) -> Self {
        Self::try_with_population(cfg, devices).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_with_population(cfg: SimConfig, devices: Vec<DeviceSpec>) -> Result<Self, SimError> {
        cfg.validate()?;
        for (i, d) in devices.iter().enumerate() {
            d.validate(i)?;
        }
        Ok(Self {
            cfg,
            scripted: Some(devices),
            probe_variants: false,
        })
    }

    /// Makes modern phones (the iPhone, Samsung Android 13 and Pixel models)
    /// vary their probe requests as real ones do; off by default, and the
    /// output without it is unchanged.
    ///
    /// - They also scan 5 GHz channels 36, 40, 44 and 48 after their 2.4 GHz
    ///   ones. On 5 GHz (radiotap 5180–5240 MHz, 5 GHz + OFDM flags)
    ///   Supported Rates holds the eight OFDM rates (6–54 Mb/s) and there is
    ///   no Extended Supported Rates nor DS Parameter Set; HT capabilities
    ///   set bits 1 (40 MHz) and 6 (SGI 40) and clear 12 and 14; a VHT
    ///   capabilities element (191) is sent. On 2.4 GHz the rates are as in
    ///   the model's template (1, 2, 5.5, 11 Mb/s and the OFDM ones, split
    ///   between Supported and Extended Supported Rates), HT bits 1 and 6
    ///   are clear, bit 14 (40 MHz intolerant) is set by the Samsung model,
    ///   and there is no VHT element.
    /// - 30 % of bursts are reduced scans, whose Extended Capabilities
    ///   element is shorter (iOS 17: 8 bytes, Pixel: 4) or left out (iOS 14,
    ///   Samsung); some bursts end with an extra vendor element (Wi-Fi
    ///   Direct P2P on Android, 20–25 %; an Apple one on iOS 17, 15 %).
    /// - Unchanged: the HT A-MPDU parameters, MCS set and other capability
    ///   bits, the rate set per band, MAC and sequence-number behaviour
    ///   (directed probes share the burst's address unless the model keeps
    ///   one per SSID) and the meaning of the ground truth.
    #[must_use]
    pub fn with_probe_variants(mut self) -> Self {
        self.probe_variants = true;
        self
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Generates all frames in timestamp order, plus the ground truth.
    pub fn run(self) -> (Vec<SimFrame>, GroundTruth) {
        let mut frames = Vec::new();
        let truth = self.run_with(|f| frames.push(f.clone()));
        (frames, truth)
    }

    /// Generates all frames in timestamp order, handing each to `f`. The
    /// frame buffer is reused, so nothing is allocated per frame.
    pub fn run_with(self, mut f: impl FnMut(&SimFrame)) -> GroundTruth {
        let mut engine = Engine::new(&self.cfg, self.probe_variants);
        match self.scripted {
            Some(specs) => engine.spawn_scripted(&specs),
            None => engine.spawn_initial_population(),
        }
        engine.schedule_infrastructure();
        while engine.step() {
            f(&engine.frame);
        }
        engine.truth.finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Arrival,
    Device(u32),
    Beacon(u8),
    Data,
}

/// Min-heap of (time, insertion counter, source): the counter makes the
/// order total and independent of heap internals.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(i64, u64, Source)>>,
    counter: u64,
}

impl Queue {
    fn push(&mut self, t_us: i64, src: Source) {
        self.heap.push(Reverse((t_us, self.counter, src)));
        self.counter += 1;
    }

    fn pop_before(&mut self, end_us: i64) -> Option<(i64, Source)> {
        let Reverse((t, _, src)) = *self.heap.peek()?;
        if t >= end_us {
            return None;
        }
        self.heap.pop();
        Some((t, src))
    }
}

#[derive(Debug, Clone, Copy)]
enum Motion {
    /// Scripted devices stay put.
    Fixed,
    /// Visitors do a reflected random walk inside the shop.
    Wander,
    /// Passers-by walk a straight line outside, closest at `mid_us`.
    PassBy {
        closest_m: f64,
        speed_mps: f64,
        mid_us: i64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Planned {
    offset_us: u32,
    channel: u8,
    /// Index into the device's preferred network list for directed probes.
    ssid: Option<u8>,
}

struct Device {
    model: &'static PhoneModel,
    depart_us: i64,
    motion: Motion,
    distance_m: f64,
    last_move_us: i64,
    /// Global or scripted address, used for every frame when set.
    fixed_mac: Option<[u8; 6]>,
    burst_mac: [u8; 6],
    /// How this device varies its probe requests, if variants are on.
    variants: Option<&'static ProbeVariants>,
    /// Kind of the current burst (with variants).
    scan: ScanKind,
    /// One persistent random address per preferred SSID (`RandomPerSsid`).
    ssid_macs: Vec<[u8; 6]>,
    pnl: Vec<Vec<u8>>,
    seq: u16,
    scan_mean_s: f64,
    plan: Vec<Planned>,
    pos: usize,
    burst_start_us: i64,
}

struct AccessPoint {
    bssid: [u8; 6],
    ssid: Vec<u8>,
    channel: u8,
    distance_m: f64,
    tsf_base_us: u64,
    beacon_seq: u16,
    data_seq: u16,
    packet_number: u64,
    /// Wired-side peer (gateway) that data frames are addressed to/from.
    gateway: [u8; 6],
}

struct Staff {
    mac: [u8; 6],
    ap: usize,
    distance_m: f64,
    seq: u16,
    packet_number: u64,
}

struct Engine {
    rng: ChaCha8Rng,
    queue: Queue,
    end_us: i64,
    base_us: i64,
    mean_dwell_s: f64,
    arrivals: Option<Exp<f64>>,
    data_rate: Option<Exp<f64>>,
    devices: Vec<Device>,
    probe_variants: bool,
    aps: Vec<AccessPoint>,
    staff: Vec<Staff>,
    truth: Recorder,
    frame: SimFrame,
}

fn uniform(rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)) -> f64 {
    rng.random_range(lo..hi)
}

/// A random locally administered unicast address.
fn random_mac(rng: &mut ChaCha8Rng) -> [u8; 6] {
    let mut mac: [u8; 6] = rng.random();
    mac[0] = (mac[0] & 0xfc) | 0x02;
    mac
}

fn global_mac(rng: &mut ChaCha8Rng, oui: [u8; 3]) -> [u8; 6] {
    let nic: [u8; 3] = rng.random();
    [oui[0], oui[1], oui[2], nic[0], nic[1], nic[2]]
}

/// Log-distance path loss plus Gaussian shadowing, rounded and clamped.
fn rssi_dbm(rng: &mut ChaCha8Rng, distance_m: f64) -> i8 {
    let noise: f64 = rng.sample(StandardNormal);
    let mean = RSSI_AT_1M_DBM - 10.0 * PATH_LOSS_EXPONENT * distance_m.max(0.1).log10();
    (mean + RSSI_SIGMA_DB * noise)
        .round()
        .clamp(RSSI_RANGE_DBM.0, RSSI_RANGE_DBM.1) as i8
}

/// A plausible preferred-network name (what leaks in directed probes).
fn random_ssid(rng: &mut ChaCha8Rng) -> Vec<u8> {
    const NAMES: [&str; 6] = ["Marie", "Lucas", "Emma", "Noah", "Lea", "Hugo"];
    let letter = |rng: &mut ChaCha8Rng| char::from(b'A' + rng.random_range(0..26u8));
    let s = match rng.random_range(0..8) {
        0 => format!("HomeNet-{:04}", rng.random_range(0..10_000)),
        1 => format!("FRITZ!Box 7590 {}{}", letter(rng), letter(rng)),
        2 => format!("Vodafone-{:06X}", rng.random_range(0..0x100_0000)),
        3 => "eduroam".to_owned(),
        4 => "Starbucks WiFi".to_owned(),
        5 => format!("iPhone de {}", NAMES[rng.random_range(0..NAMES.len())]),
        6 => "Telekom_FON".to_owned(),
        _ => format!("TP-Link_{:04X}", rng.random_range(0..0x1_0000)),
    };
    s.into_bytes()
}

fn pick_model(rng: &mut ChaCha8Rng, kind: DeviceKind) -> &'static PhoneModel {
    let mut r: f64 = rng.random();
    let mut last = None;
    for m in models().iter().filter(|m| m.kind == kind) {
        if r < m.share {
            return m;
        }
        r -= m.share;
        last = Some(m);
    }
    last.expect("every kind has a model") // rounding leftovers
}

impl Device {
    fn update_distance(&mut self, t_us: i64, rng: &mut ChaCha8Rng) {
        match self.motion {
            Motion::Fixed => {}
            Motion::Wander => {
                let dt_s = (t_us - self.last_move_us).max(0) as f64 / US_PER_S;
                let step: f64 = rng.sample(StandardNormal);
                let (lo, hi) = SHOP_DISTANCE_M;
                let mut d = self.distance_m + step * WANDER_M_PER_SQRT_S * dt_s.sqrt();
                // Reflect at the walls (twice is enough for any plausible step).
                for _ in 0..2 {
                    if d < lo {
                        d = 2.0 * lo - d;
                    }
                    if d > hi {
                        d = 2.0 * hi - d;
                    }
                }
                self.distance_m = d.clamp(lo, hi);
            }
            Motion::PassBy {
                closest_m,
                speed_mps,
                mid_us,
            } => {
                let along = speed_mps * (t_us - mid_us) as f64 / US_PER_S;
                self.distance_m = closest_m.hypot(along).min(PASS_MAX_M);
            }
        }
        self.last_move_us = t_us;
    }

    /// Plans the probes of a burst starting at `t_us` and picks its MAC.
    fn start_burst(&mut self, t_us: i64, rng: &mut ChaCha8Rng) {
        self.burst_start_us = t_us;
        self.update_distance(t_us, rng);
        if self.fixed_mac.is_none() {
            self.burst_mac = random_mac(rng);
            if self.model.seq_on_new_mac == SeqBehaviour::Random {
                self.seq = rng.random_range(0..4096);
            }
        }
        let directed = !self.pnl.is_empty() && rng.random_bool(self.model.directed_probe_prob);
        let mut five_ghz: &[u8] = &[];
        if let Some(v) = self.variants {
            self.scan = ScanKind {
                reduced: rng.random_bool(v.reduced_prob),
                extra_vendor: rng.random_bool(v.extra_vendor_prob),
            };
            five_ghz = v.channels_5ghz;
        }
        let (lo, hi) = self.model.probes_per_channel;
        let mut offset = 0u32;
        self.plan.clear();
        self.pos = 0;
        for (i, &channel) in self.model.channels.iter().chain(five_ghz).enumerate() {
            if i > 0 {
                offset += rng.random_range(CHANNEL_DWELL_US.0..CHANNEL_DWELL_US.1);
            }
            for k in 0..rng.random_range(lo..=hi) {
                if k > 0 {
                    offset += rng.random_range(PROBE_GAP_US.0..PROBE_GAP_US.1);
                }
                self.plan.push(Planned {
                    offset_us: offset,
                    channel,
                    ssid: None,
                });
            }
            if directed {
                for s in 0..self.pnl.len() {
                    offset += rng.random_range(PROBE_GAP_US.0..PROBE_GAP_US.1);
                    self.plan.push(Planned {
                        offset_us: offset,
                        channel,
                        ssid: Some(s as u8),
                    });
                }
            }
        }
    }

    fn mac_for(&self, ssid: Option<u8>) -> [u8; 6] {
        match (self.fixed_mac, ssid) {
            (Some(mac), _) => mac,
            (None, Some(i)) if self.model.behaviour == MacBehaviour::RandomPerSsid => {
                self.ssid_macs[usize::from(i)]
            }
            _ => self.burst_mac,
        }
    }
}

impl Engine {
    fn new(cfg: &SimConfig, probe_variants: bool) -> Self {
        let rate_per_s = cfg.arrivals_per_hour / 3600.0;
        Self {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            queue: Queue::default(),
            end_us: i64::from(cfg.duration_s) * 1_000_000,
            base_us: cfg.start_unix_s * 1_000_000,
            mean_dwell_s: cfg.mean_dwell_s,
            arrivals: (rate_per_s > 0.0).then(|| Exp::new(rate_per_s).expect("validated rate")),
            data_rate: (cfg.data_frame_rate > 0.0 && cfg.access_points > 0)
                .then(|| Exp::new(cfg.data_frame_rate).expect("validated rate")),
            devices: Vec::new(),
            probe_variants,
            aps: Vec::new(),
            staff: Vec::new(),
            truth: Recorder::new(cfg.start_unix_s, cfg.duration_s),
            frame: SimFrame {
                ts_us: 0,
                bytes: Vec::with_capacity(1024),
            },
        }
        .with_access_points(cfg.access_points)
    }

    fn with_access_points(mut self, n: u8) -> Self {
        for k in 0..usize::from(n) {
            let mut bssid = global_mac(&mut self.rng, AP_OUIS[k % AP_OUIS.len()]);
            bssid[5] = k as u8; // distinct even if the random part collides
            let ssid = AP_SSIDS
                .get(k)
                .map_or_else(|| format!("AP-{k}"), |s| (*s).to_owned())
                .into_bytes();
            let ap = AccessPoint {
                bssid,
                ssid,
                channel: AP_CHANNELS[k % AP_CHANNELS.len()],
                distance_m: uniform(&mut self.rng, (3.0, 20.0)),
                tsf_base_us: self.rng.random_range(0..1_000_000_000_000),
                beacon_seq: self.rng.random_range(0..4096),
                data_seq: self.rng.random_range(0..4096),
                packet_number: self.rng.random_range(1..1_000_000),
                gateway: global_mac(&mut self.rng, AP_OUIS[2]),
            };
            self.aps.push(ap);
            for _ in 0..STAFF_PER_AP {
                let staff = Staff {
                    mac: global_mac(&mut self.rng, STAFF_OUI),
                    ap: k,
                    distance_m: uniform(&mut self.rng, (2.0, 20.0)),
                    seq: self.rng.random_range(0..4096),
                    packet_number: self.rng.random_range(1..1_000_000),
                };
                self.staff.push(staff);
            }
        }
        self
    }

    fn schedule_infrastructure(&mut self) {
        for k in 0..self.aps.len() {
            let phase = self.rng.random_range(0..BEACON_PERIOD_US);
            self.queue.push(phase, Source::Beacon(k as u8));
        }
        if let Some(exp) = self.data_rate {
            let t = secs_to_us(exp.sample(&mut self.rng));
            self.queue.push(t, Source::Data);
        }
    }

    /// Poisson arrivals from a warm-up period before the start, so the shop
    /// is already in steady state at t = 0, then the first future arrival.
    fn spawn_initial_population(&mut self) {
        let Some(exp) = self.arrivals else { return };
        let warmup_s = (6.0 * self.mean_dwell_s).clamp(PASSER_BY_DWELL_S.1, 86_400.0);
        let mut t = -secs_to_us(warmup_s);
        loop {
            t += secs_to_us(exp.sample(&mut self.rng));
            if t >= 0 {
                self.queue.push(t, Source::Arrival);
                return;
            }
            self.spawn_person(t);
        }
    }

    fn spawn_scripted(&mut self, specs: &[DeviceSpec]) {
        for spec in specs {
            let passer_by = spec.distance_m > SHOP_DISTANCE_M.1;
            self.truth.person(passer_by);
            let arrival = i64::from(spec.arrival_offset_s) * 1_000_000;
            let depart = arrival + i64::from(spec.dwell_s) * 1_000_000;
            let model = &models()[spec.model];
            let motion = Motion::Fixed;
            self.add_device(
                model,
                arrival,
                depart,
                motion,
                spec.distance_m,
                spec.mac,
                passer_by,
                false,
            );
        }
    }

    fn spawn_person(&mut self, t_us: i64) {
        let rng = &mut self.rng;
        let passer_by = rng.random_bool(PASSER_BY_SHARE);
        let dwell_s = if passer_by {
            uniform(rng, PASSER_BY_DWELL_S)
        } else {
            let sigma = DWELL_SIGMA;
            let mu = self.mean_dwell_s.ln() - sigma * sigma / 2.0; // so the mean is mean_dwell_s
            LogNormal::new(mu, sigma)
                .expect("finite parameters")
                .sample(rng)
                .max(MIN_DWELL_S)
        };
        let depart = t_us + secs_to_us(dwell_s);
        let (motion, distance) = if passer_by {
            let motion = Motion::PassBy {
                closest_m: uniform(rng, PASS_CLOSEST_M),
                speed_mps: uniform(rng, PASS_SPEED_MPS),
                mid_us: t_us + secs_to_us(dwell_s / 2.0),
            };
            (motion, PASS_CLOSEST_M.0)
        } else {
            (Motion::Wander, uniform(rng, (2.0, SHOP_DISTANCE_M.1)))
        };
        let phone = rng.random_bool(PHONE_WIFI_ON);
        let wearable = rng.random_bool(WEARABLE_PROB);
        let laptop = rng.random_bool(if passer_by {
            LAPTOP_PROB_PASSER_BY
        } else {
            LAPTOP_PROB_VISITOR
        });
        if depart <= 0 {
            return; // left before the run started
        }
        self.truth.person(passer_by);
        let kinds = [
            (phone, DeviceKind::Phone),
            (wearable, DeviceKind::Wearable),
            (laptop, DeviceKind::Laptop),
        ];
        for (_, kind) in kinds.into_iter().filter(|(carried, _)| *carried) {
            let model = pick_model(&mut self.rng, kind);
            self.add_device(model, t_us, depart, motion, distance, None, passer_by, true);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_device(
        &mut self,
        model: &'static PhoneModel,
        arrival_us: i64,
        depart_us: i64,
        motion: Motion,
        distance_m: f64,
        mac: Option<[u8; 6]>,
        passer_by: bool,
        may_scan_rarely: bool,
    ) {
        let id = self.truth.register_device(model.name, passer_by);
        debug_assert_eq!(id as usize, self.devices.len());
        let rng = &mut self.rng;
        let oui = model.ouis[rng.random_range(0..model.ouis.len())];
        let burned_in = global_mac(rng, oui);
        let fixed_mac = mac.or((model.behaviour == MacBehaviour::Global).then_some(burned_in));
        let pnl_len = match rng.random::<f64>() {
            x if x < 0.30 => 0,
            x if x < 0.60 => 1,
            x if x < 0.85 => 2,
            _ => 3,
        };
        let pnl: Vec<Vec<u8>> = (0..pnl_len).map(|_| random_ssid(rng)).collect();
        let ssid_macs = match model.behaviour {
            MacBehaviour::RandomPerSsid => pnl.iter().map(|_| random_mac(rng)).collect(),
            _ => Vec::new(),
        };
        let rare_prob = if model.kind == DeviceKind::Wearable {
            RARE_SCANNER_PROB_WEARABLE
        } else {
            RARE_SCANNER_PROB
        };
        let rare = may_scan_rarely && rng.random_bool(rare_prob);
        let scan_mean_s = uniform(rng, if rare { RARE_SCAN_MEAN_S } else { SCAN_MEAN_S });
        let present_from = arrival_us.max(0);
        // The scan cycle is already running when the device comes into range.
        let first_scan = present_from + secs_to_us(rng.random::<f64>() * scan_mean_s);
        let variants = if self.probe_variants {
            let index = models()
                .iter()
                .position(|m| std::ptr::eq(m, model))
                .expect("a built-in model");
            variants::variants_of(index)
        } else {
            None
        };
        self.devices.push(Device {
            model,
            depart_us,
            motion,
            distance_m,
            last_move_us: present_from,
            fixed_mac,
            burst_mac: burned_in,
            variants,
            scan: ScanKind::default(),
            ssid_macs,
            pnl,
            seq: rng.random_range(0..4096),
            scan_mean_s,
            plan: Vec::new(),
            pos: 0,
            burst_start_us: first_scan,
        });
        if first_scan < depart_us {
            self.queue.push(first_scan, Source::Device(id));
        }
    }

    /// Handles the next event; returns true when it put a frame in `self.frame`.
    fn step(&mut self) -> bool {
        while let Some((t, src)) = self.queue.pop_before(self.end_us) {
            self.frame.ts_us = self.base_us + t;
            self.frame.bytes.clear();
            match src {
                Source::Arrival => {
                    self.spawn_person(t);
                    if let Some(exp) = self.arrivals {
                        let next = t + secs_to_us(exp.sample(&mut self.rng)).max(1);
                        self.queue.push(next, Source::Arrival);
                    }
                }
                Source::Device(id) => {
                    self.probe(id, t);
                    return true;
                }
                Source::Beacon(k) => {
                    self.beacon(usize::from(k), t);
                    return true;
                }
                Source::Data => {
                    self.data(t);
                    return true;
                }
            }
        }
        false
    }

    fn probe(&mut self, id: u32, t: i64) {
        let rng = &mut self.rng;
        let d = &mut self.devices[id as usize];
        if d.pos == d.plan.len() {
            d.start_burst(t, rng);
        }
        let p = d.plan[d.pos];
        d.pos += 1;
        let mac = d.mac_for(p.ssid);
        let seq = d.seq;
        d.seq = (d.seq + 1) & 0x0fff;
        let rssi = rssi_dbm(rng, d.distance_m);
        let ssid = p.ssid.map(|i| d.pnl[usize::from(i)].as_slice());
        match d.variants {
            None => write_probe_request(
                &mut self.frame.bytes,
                mac,
                seq,
                ssid,
                d.model.ies,
                p.channel,
                rssi,
            ),
            Some(v) => {
                // Radiotap and MAC header only; the elements follow.
                write_probe_request(&mut self.frame.bytes, mac, seq, None, &[], p.channel, rssi);
                variants::write_ies(&mut self.frame.bytes, d.model, v, d.scan, ssid, p.channel);
            }
        }
        self.truth.probe(self.frame.ts_us, mac, id);

        let next = if let Some(p) = d.plan.get(d.pos) {
            Some(d.burst_start_us + i64::from(p.offset_us))
        } else {
            let interval_s = d.scan_mean_s * uniform(rng, SCAN_JITTER);
            let next = d.burst_start_us + secs_to_us(interval_s);
            (next < d.depart_us).then_some(next)
        };
        if let Some(next) = next {
            self.queue.push(next, Source::Device(id));
        }
    }

    fn beacon(&mut self, k: usize, t: i64) {
        let ap = &mut self.aps[k];
        let rssi = rssi_dbm(&mut self.rng, ap.distance_m);
        let params = BeaconParams {
            bssid: ap.bssid,
            ssid: &ap.ssid,
            channel: ap.channel,
        };
        write_beacon(
            &mut self.frame.bytes,
            &params,
            ap.beacon_seq,
            ap.tsf_base_us + t as u64,
            rssi,
        );
        ap.beacon_seq = (ap.beacon_seq + 1) & 0x0fff;
        self.truth.beacon();
        self.queue
            .push(t + BEACON_PERIOD_US, Source::Beacon(k as u8));
    }

    fn data(&mut self, t: i64) {
        let rng = &mut self.rng;
        let pick = rng.random_range(0..self.staff.len());
        let s = &mut self.staff[pick];
        let ap = &mut self.aps[s.ap];
        let len = rng.random_range(DATA_PAYLOAD.0..=DATA_PAYLOAD.1);
        let (dir, seq, pn, distance) = if rng.random_bool(UPLINK_SHARE) {
            s.seq = (s.seq + 1) & 0x0fff;
            s.packet_number += 1;
            (Direction::ToAp, s.seq, s.packet_number, s.distance_m)
        } else {
            ap.data_seq = (ap.data_seq + 1) & 0x0fff;
            ap.packet_number += 1;
            (
                Direction::FromAp,
                ap.data_seq,
                ap.packet_number,
                ap.distance_m,
            )
        };
        let rssi = rssi_dbm(rng, distance);
        let fill = |buf: &mut [u8]| rng.fill(buf);
        write_data(
            &mut self.frame.bytes,
            dir,
            &ap.bssid,
            &s.mac,
            &ap.gateway,
            ap.channel,
            seq,
            pn,
            len,
            rssi,
            fill,
        );
        self.truth.data();
        if let Some(exp) = self.data_rate {
            let next = t + secs_to_us(exp.sample(&mut self.rng)).max(1);
            self.queue.push(next, Source::Data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rssi_follows_distance_and_stays_clamped() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mean = |rng: &mut ChaCha8Rng, d: f64| {
            (0..2000).map(|_| f64::from(rssi_dbm(rng, d))).sum::<f64>() / 2000.0
        };
        let near = mean(&mut rng, 1.0);
        let far = mean(&mut rng, 10.0);
        assert!((near + 40.0).abs() < 1.0, "{near}");
        assert!((far + 70.0).abs() < 1.0, "{far}");
        for _ in 0..10_000 {
            let r = rssi_dbm(&mut rng, 500.0);
            assert!((-95..=-20).contains(&r));
            let r = rssi_dbm(&mut rng, 0.01);
            assert!((-95..=-20).contains(&r));
        }
    }

    #[test]
    fn random_macs_are_local_unicast() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..1000 {
            let m = random_mac(&mut rng);
            assert_eq!(m[0] & 0x03, 0x02);
        }
    }

    #[test]
    fn model_pick_matches_shares() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 20_000;
        let iphones = (0..n)
            .filter(|_| pick_model(&mut rng, DeviceKind::Phone).name == "Apple iPhone (iOS 17)")
            .count();
        let share = iphones as f64 / f64::from(n);
        assert!((share - 0.38).abs() < 0.02, "{share}");
    }

    #[test]
    fn passers_by_stay_between_25_and_60_m() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut d = Device {
            model: &models()[0],
            depart_us: 0,
            motion: Motion::PassBy {
                closest_m: 30.0,
                speed_mps: 1.5,
                mid_us: 30_000_000,
            },
            distance_m: 0.0,
            last_move_us: 0,
            fixed_mac: None,
            burst_mac: [0; 6],
            variants: None,
            scan: ScanKind::default(),
            ssid_macs: Vec::new(),
            pnl: Vec::new(),
            seq: 0,
            scan_mean_s: 30.0,
            plan: Vec::new(),
            pos: 0,
            burst_start_us: 0,
        };
        for t in (0..=120).map(|s| s * 1_000_000) {
            d.update_distance(t, &mut rng);
            assert!((25.0..=60.0).contains(&d.distance_m), "{}", d.distance_m);
        }
        d.motion = Motion::Wander;
        d.distance_m = 10.0;
        for t in (121..2000).map(|s| s * 1_000_000) {
            d.update_distance(t, &mut rng);
            assert!((1.0..=25.0).contains(&d.distance_m), "{}", d.distance_m);
        }
    }
}
