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
    /// A family of its own for each model, unless a test says otherwise.
    fn family(&self, n: u8) -> vitrine_privacy::Fingerprint {
        self.0.fingerprint([&[0xfa, n][..]])
    }
}

fn probe(ids: &Ids, ts_us: i64, mac: u32, model: u8, seq: u16, rssi: i8) -> Observation {
    variant(ids, ts_us, mac, (model, model), seq, rssi)
}

/// A probe whose fingerprint is `model.0`'s and family `model.1`'s: two
/// variants of one phone share a family and differ in fingerprint.
fn variant(ids: &Ids, ts_us: i64, mac: u32, model: (u8, u8), seq: u16, rssi: i8) -> Observation {
    Observation {
        ts_us,
        what: Observed::Probe {
            channel: CH6,
            device: ProbeObservation {
                pseudonym: ids.mac(mac),
                fingerprint: ids.model(model.0),
                family: ids.family(model.1),
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
fn a_phone_switching_fingerprint_variants_keeps_one_counter_and_is_one_device() {
    let ids = Ids::new();
    // Bursts every 30 s with a new MAC, alternating between three variants
    // of one family (wildcard, directed, other band); the counter runs on.
    let mut seq = 100u16;
    let mut obs = Vec::new();
    for burst in 0..10u32 {
        let t = T0 + i64::from(burst) * 30_000_000;
        let v = (10 + burst % 3) as u8;
        for f in 0..3 {
            obs.push(variant(&ids, t + f * 20_000, burst, (v, 1), seq, -55));
            seq += 1;
        }
        seq += 3;
    }
    let s = run(cfg(300), obs.clone());
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.distinct_macs, 10);
    assert_eq!(s[0].wifi.as_ref().unwrap().devices.estimated, 1);
    // Strict grouping by fingerprint (each variant its own family) sees
    // three devices: the family is what links the variants.
    let split: Vec<Observation> = (0..10u32)
        .flat_map(|burst| {
            let t = T0 + i64::from(burst) * 30_000_000;
            let v = (10 + burst % 3) as u8;
            let seq = (100 + burst * 6) as u16;
            (0..3).map(move |f| (t + f * 20_000, burst, v, seq + f as u16))
        })
        .map(|(t, mac, v, seq)| variant(&ids, t, mac, (v, v), seq, -55))
        .collect();
    assert_eq!(
        run(cfg(300), split)[0]
            .wifi
            .as_ref()
            .unwrap()
            .devices
            .estimated,
        3
    );
}

#[test]
fn a_phone_with_random_counters_switching_variants_is_one_device() {
    let ids = Ids::new();
    // Random counters: only alternation in time tells. Its two variants
    // never overlap, so they are one device; a second phone of the family
    // probing at the same moments makes two.
    let one = |phone: u32, offset: i64| {
        let ids = &ids;
        (0..12u32).flat_map(move |burst| {
            let t = T0 + i64::from(burst) * 20_000_000 + offset;
            let seq = ((burst * 1013 + phone * 2111) % 4096) as u16;
            let v = (20 + burst % 2) as u8;
            let mac = phone * 1000 + burst;
            [0, 30_000].map(|f| variant(ids, t + f, mac, (v, 2), seq, -50))
        })
    };
    let alone: Vec<_> = one(0, 0).collect();
    assert_eq!(
        run(cfg(300), alone)[0]
            .wifi
            .as_ref()
            .unwrap()
            .devices
            .estimated,
        1
    );
    let mut both: Vec<_> = one(0, 0).chain(one(1, 10_000)).collect();
    both.sort_by_key(|o| o.ts_us);
    assert_eq!(
        run(cfg(300), both)[0]
            .wifi
            .as_ref()
            .unwrap()
            .devices
            .estimated,
        2
    );
}

#[test]
fn an_idle_phone_keeps_its_counter_over_minutes_of_silence() {
    let ids = Ids::new();
    // An iPhone idle between scans: a scan every 4 minutes, three MACs in
    // it, the counter running on within the scan and only a few steps
    // between scans. `jump` is how far it moves between scans.
    let phone = |jump: u16| {
        let mut obs = Vec::new();
        let mut seq = 2700u16;
        for scan in 0..6u32 {
            for mac in 0..3u32 {
                let t = T0 + i64::from(scan) * 240_000_000 + i64::from(mac) * 200_000;
                for f in 0..3 {
                    obs.push(probe(&ids, t + f * 20_000, scan * 3 + mac, 4, seq, -50));
                    seq = (seq + 1) & 0x0fff;
                }
                seq += 1;
            }
            seq = (seq + jump) & 0x0fff;
        }
        obs
    };
    let estimate = |obs| {
        run(cfg(86_400), obs)[0]
            .wifi
            .as_ref()
            .unwrap()
            .devices
            .estimated
    };
    assert_eq!(estimate(phone(2)), 1);
    // A counter that moved by more than an idle phone's steps over such a
    // silence is another device of the model.
    assert_eq!(estimate(phone(40)), 6);
}

#[test]
fn new_and_returning_devices_are_told_apart_within_the_epoch() {
    let ids = Ids::new();
    let cfg = Config { k: 2, ..cfg(60) };
    // Window 1: addresses 1..=6. Window 3: 1..=3 again, and 10..=13 new.
    let first = (1..=6u32).map(|m| probe(&ids, T0 + i64::from(m) * 1000, m, m as u8, 0, -50));
    let later = (1..=3u32).chain(10..=13).map(|m| {
        probe(
            &ids,
            T0 + 125_000_000 + i64::from(m) * 1000,
            m,
            m as u8,
            1,
            -50,
        )
    });
    let s = run(cfg, first.chain(later));
    let d = |i: usize| s[i].wifi.as_ref().unwrap().devices.clone();
    assert_eq!((d(0).new, d(0).returning), (Some(6), Some(0)));
    assert_eq!((d(2).new, d(2).returning), (Some(4), Some(3)));
    assert_eq!(d(2).distinct_macs, 7);
    // A key rotation forgets them: the same addresses are new again.
    let mut out = Vec::new();
    let mut agg = Aggregator::new(cfg);
    for m in 1..=3u32 {
        agg.push(probe(&ids, T0 + i64::from(m), m, 1, 0, -50), &mut |s| {
            out.push(s)
        });
    }
    agg.rotate_epoch();
    for m in 1..=3u32 {
        agg.push(
            probe(&ids, T0 + 125_000_000 + i64::from(m), m, 1, 1, -50),
            &mut |s| out.push(s),
        );
    }
    agg.finish(&mut |s| out.push(s));
    let last = out.last().unwrap().wifi.as_ref().unwrap().devices.clone();
    assert_eq!((last.new, last.returning), (Some(3), Some(0)));
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
    // The device came back within the epoch: one returning device, fewer
    // than k = 5, so withheld (new and returning figures are in
    // `new_and_returning_devices_are_told_apart_within_the_epoch`).
    assert_eq!(s[3].wifi.as_ref().unwrap().devices.returning, None);
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
