use super::*;
use crate::ProbeObservation;
use vitrine_dot11::{Band, Channel};

const CH6: Option<Channel> = Some(Channel {
    band: Band::Ghz2_4,
    number: 6,
});

/// Test doubles for pseudonyms: the aggregator only compares them, so a
/// pseudonymizer over synthetic MACs gives realistic ones.
struct Ids(vitrine_privacy::Pseudonymizer);

impl Ids {
    fn new() -> Self {
        Ids(vitrine_privacy::Pseudonymizer::new(Default::default()))
    }
    fn mac(&self, n: u32) -> Pseudonym {
        let b = n.to_be_bytes();
        self.0.pseudonym(vitrine_privacy::RawMac::from_bytes([
            0x02, 0xaa, b[0], b[1], b[2], b[3],
        ]))
    }
    fn model(&self, n: u8) -> vitrine_privacy::Fingerprint {
        self.0.fingerprint([&[n][..]])
    }
}

fn probe(ids: &Ids, ts_us: i64, mac: u32, model: u8, seq: u16, rssi: i8) -> Observation {
    Observation {
        ts_us,
        what: Observed::Probe {
            channel: CH6,
            device: ProbeObservation {
                pseudonym: ids.mac(mac),
                fingerprint: ids.model(model),
                randomized: true,
                seq,
                rssi_dbm: Some(rssi),
                directed: false,
            },
        },
    }
}

fn run(cfg: Config, obs: impl IntoIterator<Item = Observation>) -> Vec<Summary> {
    let mut out = Vec::new();
    let mut agg = Aggregator::new(cfg);
    for o in obs {
        agg.push(o, &mut |s| out.push(s));
    }
    agg.finish(&mut |s| out.push(s));
    out
}

const T0: i64 = 1_700_000_100_000_000; // a window boundary for 60 s and 300 s windows

fn cfg(window_s: u32) -> Config {
    Config {
        window_s,
        ..Config::default()
    }
}

#[test]
fn one_phone_rotating_its_mac_every_burst_is_one_device() {
    let ids = Ids::new();
    // New MAC every 20 s, random-looking sequence numbers, two frames a burst.
    let obs = (0..15u32).flat_map(|i| {
        let t = T0 + i64::from(i) * 20_000_000;
        let seq = (i * 977 % 4096) as u16;
        [
            probe(&ids, t, i, 1, seq, -50),
            probe(&ids, t + 20_000, i, 1, seq + 1, -50),
        ]
    });
    let s = run(cfg(300), obs);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.distinct_macs, 15);
    assert_eq!(
        s[0].wifi.as_ref().unwrap().devices.randomized_macs,
        Some(15)
    );
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.estimated, 1);
}

#[test]
fn phones_of_the_same_model_keeping_their_counters_are_not_merged() {
    let ids = Ids::new();
    // 20 identical phones, bursts every 30 s with a new MAC each time; each
    // phone's sequence counter continues across its MAC changes.
    let mut obs = Vec::new();
    for phone in 0..20u32 {
        let mut seq = (phone * 200) as u16;
        for burst in 0..9u32 {
            let t = T0 + i64::from(burst) * 30_000_000 + i64::from(phone) * 1_400_000;
            let mac = phone * 100 + burst;
            for f in 0..2 {
                obs.push(probe(&ids, t + f * 15_000, mac, 7, seq, -60));
                seq = (seq + 1) & 0x0fff;
            }
            seq = (seq + 5) & 0x0fff;
        }
    }
    obs.sort_by_key(|o| o.ts_us);
    let s = run(cfg(300), obs);
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.distinct_macs, 180);
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.estimated, 20);
}

#[test]
fn two_fixed_macs_of_one_model_heard_alternately_are_two_devices() {
    let ids = Ids::new();
    let obs = (0..10).map(|i| {
        probe(
            &ids,
            T0 + i * 10_000_000,
            (i % 2) as u32,
            3,
            (i * 300) as u16,
            -40,
        )
    });
    let s = run(cfg(300), obs);
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.distinct_macs, 2);
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.estimated, 2);
}

#[test]
fn weak_devices_are_addresses_but_not_present_devices() {
    let ids = Ids::new();
    let obs = [
        probe(&ids, T0, 1, 1, 0, -50),
        probe(&ids, T0 + 1_000_000, 2, 2, 0, -92),
    ];
    let s = run(cfg(60), obs);
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.distinct_macs, 2);
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.estimated, 1);
}

#[test]
fn bins_below_k_are_suppressed_and_named() {
    let ids = Ids::new();
    // 7 devices at -55 dBm, 6 at -45 dBm, 2 at -65 dBm, distinct models.
    let rssi = |i: u32| match i {
        0..7 => -55,
        7..13 => -45,
        _ => -65,
    };
    let obs = (0..15u32).map(|i| probe(&ids, T0 + i64::from(i) * 1000, i, i as u8, 0, rssi(i)));
    let s = &run(cfg(60), obs)[0];
    let counts = &s.wifi.as_ref().unwrap().rssi_dbm.counts;
    let at = |edge: i64| counts[RSSI_EDGES.iter().position(|&e| e == edge).unwrap()];
    assert_eq!(at(-60), Some(7));
    assert_eq!(at(-70), None, "2 devices < k");
    // Secondary suppression: with one bin withheld, the total (15) minus the
    // others would give it away, so the next smallest bin goes too.
    assert_eq!(at(-50), None);
    assert_eq!(at(-128), Some(0), "empty bins are published");
    assert_eq!(
        s.suppressed,
        ["wifi.rssi_dbm[-70,-60)", "wifi.rssi_dbm[-50,-40)"]
    );
    // Totals are published as they are.
    assert_eq!(s.wifi.as_ref().unwrap().devices.distinct_macs, 15);
    assert_eq!(s.wifi.as_ref().unwrap().devices.new, Some(15));
}

#[test]
fn windows_close_on_time_and_gaps_give_empty_windows() {
    let ids = Ids::new();
    let obs = [
        probe(&ids, T0, 1, 1, 0, -50),
        probe(&ids, T0 + 185_000_000, 1, 1, 1, -50),
    ];
    let s = run(cfg(60), obs);
    let starts: Vec<_> = s.iter().map(|s| s.window_start.as_str()).collect();
    assert_eq!(
        starts,
        [
            "2023-11-14T22:15:00Z",
            "2023-11-14T22:16:00Z",
            "2023-11-14T22:17:00Z",
            "2023-11-14T22:18:00Z"
        ]
    );
    assert_eq!(
        s.iter()
            .map(|s| s.wifi.as_ref().unwrap().frames.probe_req)
            .collect::<Vec<_>>(),
        [1, 0, 0, 1]
    );
    // The device came back within the epoch.
    assert_eq!(
        s[3].wifi.as_ref().unwrap().devices.returning,
        Some(1).filter(|_| false).or(None)
    );
    assert!(
        s[3].suppressed
            .contains(&"wifi.devices.returning".to_string())
    );
}

#[test]
fn per_device_state_is_capped_and_counts_degrade_to_a_sketch() {
    let ids = Ids::new();
    let cfg = Config {
        max_devices: 1000,
        ..cfg(60)
    };
    let obs = (0..20_000u32).map(|i| probe(&ids, T0 + i64::from(i), i, 1, 0, -50));
    let s = &run(cfg, obs)[0];
    let d = &s.wifi.as_ref().unwrap().devices;
    assert!(!d.exact);
    assert!(d.distinct_error > 0.0 && d.distinct_error < 0.02);
    let err = (d.distinct_macs as f64 - 20_000.0).abs() / 20_000.0;
    assert!(err < 0.05, "distinct {} vs 20000", d.distinct_macs);
}

#[test]
fn a_key_rotation_keeps_counts_but_not_links() {
    let ids = Ids::new();
    let mut out = Vec::new();
    let mut agg = Aggregator::new(cfg(300));
    agg.push(probe(&ids, T0, 1, 1, 10, -50), &mut |s| out.push(s));
    agg.rotate_epoch();
    // Same device, new epoch: a new pseudonym from the new key.
    let ids2 = Ids::new();
    agg.push(probe(&ids2, T0 + 1_000_000, 1, 1, 11, -50), &mut |s| {
        out.push(s)
    });
    agg.finish(&mut |s| out.push(s));
    assert_eq!(out[0].epoch, 1);
    assert_eq!(out[0].wifi.as_ref().unwrap().devices.distinct_macs, 2);
    assert_eq!(out[0].wifi.as_ref().unwrap().devices.estimated, 2);
}

#[test]
fn malformed_packets_are_counted_by_reason() {
    let obs = [
        Observation {
            ts_us: T0,
            what: Observed::Malformed(Malformed::ElementOverrun),
        },
        Observation {
            ts_us: T0,
            what: Observed::Malformed(Malformed::ElementOverrun),
        },
        Observation {
            ts_us: T0,
            what: Observed::Frame {
                kind: FrameKind::Beacon,
                channel: Some(Channel {
                    band: Band::Ghz2_4,
                    number: 1,
                }),
            },
        },
    ];
    let s = &run(cfg(60), obs)[0];
    assert_eq!(s.wifi.as_ref().unwrap().frames.total, 3);
    assert_eq!(s.wifi.as_ref().unwrap().frames.malformed, 2);
    assert_eq!(s.wifi.as_ref().unwrap().frames.beacon, 1);
    assert_eq!(
        s.wifi.as_ref().unwrap().malformed.get("element_overrun"),
        Some(&2)
    );
    assert!(
        s.wifi.as_ref().unwrap().channels.is_empty(),
        "one frame on channel 1 is below k"
    );
}

#[test]
fn a_lone_small_bin_takes_a_neighbour_with_it() {
    let ids = Ids::new();
    // Three devices, all at -55 dBm: the only non-empty bin is below k.
    let obs = (0..3u32).map(|i| probe(&ids, T0 + i64::from(i), i, i as u8, 0, -55));
    let s = &run(cfg(60), obs)[0];
    let hidden: Vec<_> = s
        .wifi
        .as_ref()
        .unwrap()
        .rssi_dbm
        .counts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_none())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hidden.len(),
        2,
        "{:?}",
        s.wifi.as_ref().unwrap().rssi_dbm.counts
    );
    // The total (3) no longer says which of the two bins holds the devices.
    assert_eq!(s.wifi.as_ref().unwrap().devices.distinct_macs, 3);
}

#[test]
fn the_global_randomized_split_is_withheld_as_a_pair() {
    let ids = Ids::new();
    let mut obs: Vec<_> = (0..6u32)
        .map(|i| probe(&ids, T0 + i64::from(i), i, i as u8, 0, -55))
        .collect();
    // Two globally unique devices among six randomized ones.
    for o in obs.iter_mut().take(2) {
        if let Observed::Probe { device, .. } = &mut o.what {
            device.randomized = false;
        }
    }
    let s = &run(cfg(60), obs)[0];
    assert_eq!(s.wifi.as_ref().unwrap().devices.global_macs, None);
    assert_eq!(s.wifi.as_ref().unwrap().devices.randomized_macs, None);
    assert!(
        s.suppressed
            .contains(&"wifi.devices.randomized_macs".to_string())
    );
    assert_eq!(
        s.wifi.as_ref().unwrap().devices.distinct_macs,
        6,
        "the total is published"
    );
}

#[test]
fn the_overflow_sketch_is_counted_once_across_a_rotation() {
    let ids = Ids::new();
    let cfg = Config {
        max_devices: 100,
        ..cfg(300)
    };
    let mut out = Vec::new();
    let mut agg = Aggregator::new(cfg);
    for i in 0..1000u32 {
        agg.push(
            probe(&ids, T0 + i64::from(i) * 1000, i, 1, 0, -50),
            &mut |s| out.push(s),
        );
    }
    agg.rotate_epoch();
    agg.finish(&mut |s| out.push(s));
    let d = &out[0].wifi.as_ref().unwrap().devices;
    assert!(!d.exact);
    assert!(
        (950..=1050).contains(&d.distinct_macs),
        "distinct {}",
        d.distinct_macs
    );
}

#[test]
fn a_window_closed_by_the_rotating_packet_keeps_its_epoch() {
    let ids = Ids::new();
    let mut out = Vec::new();
    let mut agg = Aggregator::new(cfg(60));
    agg.push(probe(&ids, T0, 1, 1, 0, -50), &mut |s| out.push(s));
    // The packet at T0 + 60 s both closes the first window and rotates the key.
    let next = probe(&ids, T0 + 60_000_000, 1, 1, 1, -50);
    agg.advance_to(next.ts_us, &mut |s| out.push(s));
    agg.rotate_epoch();
    agg.push(next, &mut |s| out.push(s));
    agg.finish(&mut |s| out.push(s));
    assert_eq!(out.iter().map(|s| s.epoch).collect::<Vec<_>>(), [0, 1]);
}
