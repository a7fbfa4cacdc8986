//! End-to-end checks of the simulator output, parsed independently of the
//! code that produced it.

use std::collections::{BTreeMap, HashMap, HashSet};

use vitrine_sim::{DeviceSpec, GroundTruth, MacBehaviour, SimConfig, SimFrame, Simulator, models};

/// Frame-type view of one simulated frame, parsed from the raw bytes.
struct Parsed<'a> {
    fc: [u8; 2],
    addr2: [u8; 6],
    seq: u16,
    /// Tagged elements of management frames (after fixed fields).
    body: &'a [u8],
}

fn parse(frame: &SimFrame) -> Parsed<'_> {
    let b = &frame.bytes;
    let rt = usize::from(u16::from_le_bytes([b[2], b[3]]));
    let h = &b[rt..];
    Parsed {
        fc: [h[0], h[1]],
        addr2: h[10..16].try_into().unwrap(),
        seq: u16::from_le_bytes([h[22], h[23]]) >> 4,
        body: &h[24..],
    }
}

fn is_probe(p: &Parsed<'_>) -> bool {
    p.fc[0] == 0x40
}

/// Splits a tagged-element list into (id, body) pairs, checking lengths.
fn elements(mut ies: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while !ies.is_empty() {
        let len = usize::from(ies[1]);
        out.push((ies[0], &ies[2..2 + len]));
        ies = &ies[2 + len..];
    }
    out
}

fn short(duration_s: u32, seed: u64) -> SimConfig {
    SimConfig {
        duration_s,
        seed,
        ..SimConfig::busy_store()
    }
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let (a, ta) = Simulator::new(short(300, 7)).run();
    let (b, tb) = Simulator::new(short(300, 7)).run();
    let (c, _) = Simulator::new(short(300, 8)).run();
    assert!(
        a.len() > 1000,
        "expected a busy store, got {} frames",
        a.len()
    );
    assert_eq!(a, b);
    assert_eq!(ta.windows, tb.windows);
    assert_eq!(ta.device_log, tb.device_log);
    assert_ne!(a, c);
}

#[test]
fn run_with_streams_the_same_frames_as_run() {
    let (frames, truth) = Simulator::new(short(120, 3)).run();
    let mut streamed = Vec::new();
    let truth2 = Simulator::new(short(120, 3)).run_with(|f| streamed.push(f.clone()));
    assert_eq!(frames, streamed);
    assert_eq!(truth.frames, truth2.frames);
}

#[test]
fn ground_truth_matches_parsed_frames() {
    let cfg = short(900, 11);
    let (start, end) = (
        cfg.start_unix_s * 1_000_000,
        (cfg.start_unix_s + 900) * 1_000_000,
    );
    let (frames, truth) = Simulator::new(cfg).run();

    let (mut probes, mut beacons, mut data) = (0u64, 0u64, 0u64);
    let mut sas = HashSet::new();
    let mut per_window: BTreeMap<i64, (u64, HashSet<[u8; 6]>)> = BTreeMap::new();
    let mut last_ts = i64::MIN;
    for f in &frames {
        assert!(f.ts_us >= last_ts, "frames out of order");
        assert!((start..end).contains(&f.ts_us));
        last_ts = f.ts_us;
        let p = parse(f);
        match p.fc[0] {
            0x40 => {
                probes += 1;
                sas.insert(p.addr2);
                let w = per_window
                    .entry(f.ts_us.div_euclid(60_000_000) * 60)
                    .or_default();
                w.0 += 1;
                w.1.insert(p.addr2);
            }
            0x80 => beacons += 1,
            fc if (fc >> 2) & 0x3 == 2 => data += 1,
            fc => panic!("unexpected frame control {fc:#04x}"),
        }
    }
    assert_eq!(truth.frames, frames.len() as u64);
    assert_eq!(truth.probe_requests, probes);
    assert_eq!(truth.beacons, beacons);
    assert_eq!(truth.data_frames, data);
    assert_eq!(truth.distinct_macs, sas.len() as u64);
    let randomized = sas.iter().filter(|m| m[0] & 0x02 != 0).count() as u64;
    assert_eq!(truth.randomized_macs, randomized);
    assert!(randomized > 0 && randomized < truth.distinct_macs);
    // 4 APs beaconing once per second for 900 s.
    assert!((4 * 899..=4 * 900).contains(&beacons), "{beacons}");
    assert!(data > 0);

    // Per-window probes and distinct MACs; empty windows are listed too.
    let windows = truth.windows(60);
    assert_eq!(windows, truth.windows);
    for w in &windows {
        let (n, macs) = per_window
            .get(&w.start_unix_s)
            .map(|(n, m)| (*n, m.len() as u64))
            .unwrap_or((0, 0));
        assert_eq!(
            (w.probe_requests, w.distinct_macs),
            (n, macs),
            "window {}",
            w.start_unix_s
        );
        assert!(w.devices <= w.distinct_macs);
    }
    assert_eq!(
        windows.iter().map(|w| w.probe_requests).sum::<u64>(),
        probes
    );

    // The device log partitions the probes and the MACs.
    assert_eq!(truth.devices, truth.device_log.len() as u64);
    assert_eq!(
        truth
            .device_log
            .iter()
            .map(|d| d.probe_requests)
            .sum::<u64>(),
        probes
    );
    let logged: HashSet<[u8; 6]> = truth
        .device_log
        .iter()
        .flat_map(|d| d.macs.iter().copied())
        .collect();
    assert_eq!(logged, sas);
    assert!(
        truth.devices < truth.distinct_macs,
        "randomization should inflate MAC counts"
    );
    assert!(truth.visitors > 0 && truth.passers_by > 0);
}

#[test]
fn mac_bits_follow_model_behaviour() {
    let (frames, truth) = Simulator::new(short(900, 5)).run();
    for f in &frames {
        assert_eq!(
            parse(f).addr2[0] & 0x01,
            0,
            "transmitter addresses are unicast"
        );
    }
    let by_name: HashMap<&str, _> = models().iter().map(|m| (m.name, m)).collect();
    let mut seen = HashSet::new();
    for d in &truth.device_log {
        let model = by_name[d.model];
        seen.insert(model.behaviour);
        for mac in &d.macs {
            assert_eq!(mac[0] & 0x01, 0);
            if model.behaviour == MacBehaviour::Global {
                assert_eq!(mac[0] & 0x02, 0, "{}: {mac:02x?}", d.model);
                assert!(model.ouis.contains(&[mac[0], mac[1], mac[2]]));
            } else {
                assert_eq!(mac[0] & 0x02, 0x02, "{}: {mac:02x?}", d.model);
            }
        }
        if model.behaviour == MacBehaviour::Global {
            assert_eq!(d.macs.len(), 1);
        }
    }
    assert_eq!(
        seen.len(),
        3,
        "all MAC behaviours should occur in a busy hour"
    );
}

/// Scripts `n` resident devices of one model for `duration_s`.
fn residents(model: usize, n: usize, duration_s: u32) -> (Vec<SimFrame>, GroundTruth) {
    let cfg = SimConfig {
        duration_s,
        access_points: 0,
        data_frame_rate: 0.0,
        ..SimConfig::quiet_store()
    };
    let devices = (0..n)
        .map(|i| DeviceSpec::resident(model, 2.0 + i as f64))
        .collect();
    Simulator::with_population(cfg, devices).run()
}

#[test]
fn same_model_devices_share_ie_bytes() {
    for (index, model) in models().iter().enumerate() {
        let (frames, truth) = residents(index, 20, 300);
        assert_eq!(
            truth.devices, 20,
            "{}: every resident scans within 60 s",
            model.name
        );
        assert_eq!(truth.beacons + truth.data_frames, 0);
        let mut tails = HashSet::new();
        let mut senders = HashSet::new();
        for f in &frames {
            let p = parse(f);
            assert!(is_probe(&p));
            senders.insert(p.addr2);
            let ids_and_bodies: Vec<_> = elements(p.body)
                .into_iter()
                .filter(|(id, _)| *id != 0 && *id != 3)
                .collect();
            tails.insert(format!("{ids_and_bodies:?}"));
        }
        assert!(senders.len() >= 20, "{}", model.name);
        assert_eq!(tails.len(), 1, "{}: IEs differ between devices", model.name);
    }
}

#[test]
fn models_are_distinguishable_by_ies() {
    let mut tails = HashSet::new();
    for (index, model) in models().iter().enumerate() {
        let (frames, _) = residents(index, 1, 120);
        let p = parse(&frames[0]);
        let ids: Vec<_> = elements(p.body)
            .into_iter()
            .filter(|(id, _)| *id != 0 && *id != 3)
            .collect();
        assert!(
            tails.insert(format!("{ids:?}")),
            "{} has the same IEs as another model",
            model.name
        );
    }
    assert!(models().len() >= 6);
}

#[test]
fn scripted_mac_and_fixed_distance_are_used() {
    let mac = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
    let spec = DeviceSpec {
        model: 0,
        arrival_offset_s: 10,
        dwell_s: 200,
        distance_m: 1.0,
        mac: Some(mac),
    };
    let cfg = SimConfig {
        duration_s: 600,
        access_points: 0,
        data_frame_rate: 0.0,
        ..SimConfig::quiet_store()
    };
    let (frames, truth) = Simulator::with_population(cfg.clone(), vec![spec]).run();
    assert!(!frames.is_empty());
    let rssi: Vec<f64> = frames
        .iter()
        .map(|f| f64::from(f.bytes[14] as i8))
        .collect();
    let mean = rssi.iter().sum::<f64>() / rssi.len() as f64;
    assert!(
        (-48.0..=-32.0).contains(&mean),
        "1 m should be around -40 dBm, got {mean}"
    );
    for f in &frames {
        assert_eq!(parse(f).addr2, mac);
        let offset_s = f.ts_us / 1_000_000 - cfg.start_unix_s;
        assert!(
            (10..211).contains(&offset_s),
            "outside the scripted visit: {offset_s}"
        );
    }
    assert_eq!(
        (truth.distinct_macs, truth.randomized_macs, truth.devices),
        (1, 1, 1)
    );
}

/// Splits one device's probes into bursts (gaps over one second).
fn bursts(frames: &[SimFrame]) -> Vec<Vec<Parsed<'_>>> {
    let mut out: Vec<Vec<Parsed<'_>>> = Vec::new();
    let mut last = i64::MIN / 2;
    for f in frames {
        if f.ts_us - last > 1_000_000 {
            out.push(Vec::new());
        }
        last = f.ts_us;
        out.last_mut().unwrap().push(parse(f));
    }
    out
}

#[test]
fn sequence_numbers_follow_model_behaviour() {
    let iphone = models()
        .iter()
        .position(|m| m.name.starts_with("Apple iPhone (iOS 17"))
        .unwrap();
    let galaxy = models()
        .iter()
        .position(|m| m.name.starts_with("Samsung Galaxy (Android 13"))
        .unwrap();

    // iPhone: one MAC per burst, counter continues across bursts.
    let (frames, _) = residents(iphone, 1, 900);
    let bursts_ios = bursts(&frames);
    assert!(bursts_ios.len() >= 10);
    let all: Vec<_> = bursts_ios.iter().flatten().collect();
    for w in all.windows(2) {
        assert_eq!(w[1].seq, (w[0].seq + 1) % 4096);
    }
    let macs: HashSet<_> = bursts_ios.iter().map(|b| b[0].addr2).collect();
    assert_eq!(macs.len(), bursts_ios.len(), "new MAC for every burst");
    for b in &bursts_ios {
        assert!(b.iter().all(|p| p.addr2 == b[0].addr2));
        let wildcard = b
            .iter()
            .filter(|p| elements(p.body)[0].1.is_empty())
            .count();
        assert!(
            (3..=6).contains(&wildcard),
            "1-2 wildcard probes on 3 channels, got {wildcard}"
        );
    }

    // Galaxy: +1 within a burst, restarts somewhere random on each new MAC.
    let (frames, _) = residents(galaxy, 1, 900);
    let bursts_android = bursts(&frames);
    let mut jumps = 0;
    for (prev, b) in bursts_android.iter().zip(bursts_android.iter().skip(1)) {
        for w in b.windows(2) {
            assert_eq!(w[1].seq, (w[0].seq + 1) % 4096);
        }
        if b[0].seq != (prev.last().unwrap().seq + 1) % 4096 {
            jumps += 1;
        }
    }
    assert!(
        jumps + 1 >= bursts_android.len() - 1,
        "sequence should restart on most MAC changes"
    );
}

#[test]
fn per_ssid_macs_are_stable_and_directed_probes_leak_ssids() {
    let pixel = models()
        .iter()
        .position(|m| m.behaviour == MacBehaviour::RandomPerSsid)
        .unwrap();
    let (frames, _) = residents(pixel, 30, 1800);
    // For each directed SSID, the MAC that probes for it never changes,
    // while wildcard probes use a fresh MAC per burst.
    let mut ssid_mac: HashMap<Vec<u8>, HashSet<[u8; 6]>> = HashMap::new();
    let mut wildcard_macs = HashSet::new();
    let mut wildcard_probes = 0;
    for f in &frames {
        let p = parse(f);
        let (id, ssid) = elements(p.body)[0];
        assert_eq!(id, 0);
        if ssid.is_empty() {
            wildcard_probes += 1;
            wildcard_macs.insert(p.addr2);
        } else {
            ssid_mac.entry(ssid.to_vec()).or_default().insert(p.addr2);
        }
    }
    assert!(
        !ssid_mac.is_empty(),
        "30 Pixels over 30 min should send directed probes"
    );
    // Generic names (e.g. "eduroam") may be shared by several devices, but
    // every MAC that probes for an SSID is used for that SSID only...
    let mut directed_macs = HashSet::new();
    for (ssid, macs) in &ssid_mac {
        for mac in macs {
            assert!(
                !wildcard_macs.contains(mac),
                "{}",
                String::from_utf8_lossy(ssid)
            );
            assert!(directed_macs.insert(*mac), "MAC used for two SSIDs");
        }
    }
    // ...and persists: at most one per preferred network (<= 3 per device).
    assert!(directed_macs.len() <= 30 * 3);
    // Wildcard probes: 1-2 per channel on 3 channels, then a new MAC.
    assert!(
        wildcard_macs.len() * 6 >= wildcard_probes,
        "wildcard MACs rotate per burst"
    );
    assert!(
        wildcard_macs.len() > 30 * 15,
        "30 min at <= 84 s between bursts"
    );
}

#[test]
fn passers_by_are_far_away() {
    let (frames, truth) = Simulator::new(short(1800, 21)).run();
    let far: HashSet<[u8; 6]> = truth
        .device_log
        .iter()
        .filter(|d| d.passer_by)
        .flat_map(|d| d.macs.iter().copied())
        .collect();
    assert!(!far.is_empty());
    let (mut near_sum, mut near_n, mut far_sum, mut far_n) = (0.0, 0, 0.0, 0);
    for f in &frames {
        let p = parse(f);
        if is_probe(&p) {
            let rssi = f64::from(f.bytes[14] as i8);
            assert!((-95.0..=-20.0).contains(&rssi));
            if far.contains(&p.addr2) {
                far_sum += rssi;
                far_n += 1;
            } else {
                near_sum += rssi;
                near_n += 1;
            }
        }
    }
    let (near, far) = (near_sum / f64::from(near_n), far_sum / f64::from(far_n));
    assert!(
        far < near - 10.0,
        "passers-by ({far:.1} dBm) should be much weaker than visitors ({near:.1} dBm)"
    );
    assert!(far < -80.0, "{far}");
}

#[test]
fn quiet_store_is_quieter() {
    let busy = Simulator::new(SimConfig {
        duration_s: 900,
        ..SimConfig::busy_store()
    })
    .run_with(|_| {});
    let quiet = Simulator::new(SimConfig {
        duration_s: 900,
        ..SimConfig::quiet_store()
    })
    .run_with(|_| {});
    assert!(
        busy.devices > 4 * quiet.devices,
        "busy {} vs quiet {}",
        busy.devices,
        quiet.devices
    );
    assert!(quiet.devices > 0);
    assert_eq!(SimConfig::default(), SimConfig::busy_store());
}

#[test]
fn invalid_configs_are_rejected() {
    let bad = SimConfig {
        mean_dwell_s: 0.0,
        ..SimConfig::quiet_store()
    };
    assert!(Simulator::try_new(bad).is_err());
    let bad = SimConfig {
        arrivals_per_hour: f64::NAN,
        ..SimConfig::quiet_store()
    };
    assert!(Simulator::try_new(bad).is_err());
    let spec = DeviceSpec::resident(models().len(), 3.0);
    assert!(Simulator::try_with_population(SimConfig::quiet_store(), vec![spec]).is_err());
}
