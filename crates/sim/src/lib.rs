//! Deterministic store-traffic simulator for Vitrine.
//!
//! People walk into (or past) a shop carrying phones, wearables and laptops
//! that broadcast 802.11 probe requests. The simulator emits the frames a
//! monitor-mode sensor would capture — radiotap header + 802.11 frame, no
//! FCS — in timestamp order, with the exact [`GroundTruth`] beside them, and
//! writes classic pcap files (link type 127) that Wireshark/tshark read.
//!
//! [`scene`] is the camera's counterpart: people seen from above walking
//! across a counting line, as luma frames with exact ground truth per
//! frame, written as YUV4MPEG2 clips.
//!
//! ```
//! use vitrine_sim::{SimConfig, Simulator};
//! let cfg = SimConfig { duration_s: 120, ..SimConfig::quiet_store() };
//! let (frames, truth) = Simulator::new(cfg).run();
//! assert_eq!(frames.len() as u64, truth.frames);
//! ```
//!
//! # Modelling choices
//!
//! - **Arrivals**: Poisson with `arrivals_per_hour`; 30 % are passers-by
//!   outside (25–60 m away, 5–60 s in range), the rest visitors with a
//!   log-normal dwell (σ = 0.8) whose mean is `mean_dwell_s`. Arrivals are
//!   simulated from a warm-up period before t = 0 so the shop is already in
//!   steady state when the run starts.
//! - **Devices per person**: a phone with Wi-Fi on (90 %), a wearable (12 %),
//!   a laptop (4 % of visitors, 1 % of passers-by); models drawn by market
//!   share. [`GroundTruth::devices`] only counts devices that actually probed,
//!   so silent phones and short visits make it differ from the head count.
//! - **Models** ([`models()`]): iPhone iOS 17 and iOS 14 (random MAC per
//!   burst, sequence numbers continue across MACs, Apple 00:17:f2 and
//!   Broadcom vendor elements), Samsung Android 13 (random per burst, random
//!   sequence start per MAC, Interworking + HE + MBO), Pixel Android 14
//!   (random per burst for wildcard probes plus one persistent random MAC per
//!   preferred SSID, HE extension element), an old Samsung Android 6 with its
//!   global MAC and Epigram HT vendor element, a Windows/Intel laptop (global
//!   MAC, scans channels 1–11, WPS element 00:50:f2) and an ESP32-based
//!   wearable (global MAC, five IEs). Devices of one model share the same IE
//!   bytes apart from SSID and DS channel, as real ones do.
//! - **Probe variants** (opt in, [`Simulator::with_probe_variants`]): the
//!   iPhone, Samsung Android 13 and Pixel models also scan 5 GHz (36–48),
//!   where they send OFDM-only Supported Rates, no Extended Supported Rates
//!   or DS element, the 40 MHz/SGI-40 HT bits and VHT, and 30 % of their
//!   bursts cut or drop Extended Capabilities, some adding a vendor element.
//!   Rate sets per band, A-MPDU, MCS set and other HT bits stay the
//!   model's own; MACs, sequence numbers and ground truth behave as without.
//! - **Scanning**: a burst sends 1–3 wildcard probes 1–4 ms apart on each
//!   channel (1, 6, 11), 15–40 ms per channel, plus — with a per-model
//!   probability, if the device has preferred networks — one directed probe
//!   per preferred SSID (e.g. "HomeNet-1234") on each channel. Sequence
//!   numbers go up by one per frame, mod 4096. Each device has a mean scan
//!   interval of 20–60 s (15 % of devices, 50 % of wearables: 120–400 s),
//!   and each interval is jittered ×0.6–1.4. The cycle's phase at arrival is
//!   random, so short visits may produce no probe at all.
//! - **Randomized MACs** are locally administered (0x02 set) unicast
//!   (0x01 clear); global ones use real vendor OUIs.
//! - **RSSI**: log-distance path loss, −40 dBm at 1 m, exponent 3, Gaussian
//!   shadowing σ = 4 dB per frame, rounded and clamped to [−95, −20] dBm.
//!   Visitors random-walk between 1 and 25 m (0.6 m/√s); passers-by walk a
//!   straight line 25–40 m away at 1–1.6 m/s.
//! - **Infrastructure**: each AP (real AP-vendor OUIs) is heard beaconing
//!   once per second (a sensor on one channel misses most of the 102.4 ms
//!   beacons anyway; this keeps files small), with SSID, rates, DS, TIM, HT,
//!   RSN and HT operation elements. Two staff handhelds per AP exchange
//!   CCMP-protected QoS data frames with it, `data_frame_rate` per second
//!   in total (Poisson), so frame-type counting has something to count.
//! - **Frames** are built by [`vitrine_dot11::build`], the element templates
//!   are its [`templates`](vitrine_dot11::build::templates).
//! - **Radiotap**: version 0, present = Flags | Channel | dBm antenna
//!   signal, 15 bytes with one pad byte aligning Channel; flags 0 (no FCS).
//! - **Determinism**: one ChaCha8 stream seeded from `seed`, consumed in
//!   event order; the same config always gives byte-identical frames.
//! - **Performance**: sources are merged with a binary heap and the frame
//!   buffer is reused, so [`Simulator::run_with`] allocates nothing per frame.

mod config;
mod frame;
mod models;
mod pcap;
pub mod scene;
mod sim;
mod truth;
mod variants;

pub use config::{DeviceSpec, SimConfig, SimError};
pub use frame::SimFrame;
pub use models::{DeviceKind, MacBehaviour, PhoneModel, SeqBehaviour, models};
pub use pcap::{LINKTYPE_IEEE802_11_RADIOTAP, PcapWriter, write_pcap};
pub use sim::Simulator;
pub use truth::{DEFAULT_WINDOW_S, DeviceTruth, GroundTruth, WindowTruth};
