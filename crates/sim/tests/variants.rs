//! Probe-request variants (`Simulator::with_probe_variants`): per-band and
//! per-scan element layouts that stay model-specific where real phones do,
//! and a default output that does not change when they are off. Frames are
//! read back with `vitrine_dot11`'s parser.

use std::collections::{BTreeSet, HashMap, HashSet};

use vitrine_dot11::element_id as id;
use vitrine_dot11::{Band, parse};
use vitrine_sim::{DeviceSpec, GroundTruth, SimConfig, SimFrame, Simulator, models};

/// FNV-1a over every frame's timestamp and bytes.
fn hash_frames(frames: &[SimFrame]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for f in frames {
        eat(&f.ts_us.to_le_bytes());
        eat(&(f.bytes.len() as u64).to_le_bytes());
        eat(&f.bytes);
    }
    h
}

fn short(duration_s: u32, seed: u64) -> SimConfig {
    SimConfig {
        duration_s,
        seed,
        ..SimConfig::busy_store()
    }
}

fn one_of_each() -> Vec<DeviceSpec> {
    (0..models().len())
        .map(|m| DeviceSpec::resident(m, 5.0))
        .collect()
}

/// Hashes of these two runs as the simulator gave them before variants
/// existed: leaving variants off must not change a byte.
#[test]
fn default_output_is_unchanged() {
    let (frames, truth) = Simulator::new(short(300, 7)).run();
    assert_eq!(truth.frames, frames.len() as u64);
    assert_eq!(
        (frames.len(), hash_frames(&frames)),
        (6929, 0xad6b_d318_065d_f714)
    );
    let (frames, _) = Simulator::with_population(short(600, 9), one_of_each()).run();
    assert_eq!(
        (frames.len(), hash_frames(&frames)),
        (4420, 0x1005_a025_1c52_f9c2)
    );
    // And variants do change it.
    let (frames, _) = Simulator::with_population(short(600, 9), one_of_each())
        .with_probe_variants()
        .run();
    assert_ne!(hash_frames(&frames), 0x1005_a025_1c52_f9c2);
}

const IOS_17: usize = 0;
const IOS_14: usize = 1;
const GALAXY_13: usize = 2;
const PIXEL_14: usize = 3;
const VARIANT_MODELS: [usize; 4] = [IOS_17, IOS_14, GALAXY_13, PIXEL_14];
const OFDM: [u8; 8] = [0x0c, 0x12, 0x18, 0x24, 0x30, 0x48, 0x60, 0x6c];
/// HT capability bits that may change with the band.
const HT_BAND_BITS: u16 = (1 << 1) | (1 << 6) | (1 << 12) | (1 << 14);

/// One probe request as the parser reads it, with the device that sent it.
struct Probe {
    device: u32,
    model: usize,
    ts_us: i64,
    mac: [u8; 6],
    seq: u16,
    band: Band,
    freq: u16,
    directed: bool,
    /// (id, contents) in order; extension elements keep their ext id first.
    elements: Vec<(u8, Vec<u8>)>,
}

impl Probe {
    fn get(&self, id: u8) -> Option<&[u8]> {
        self.elements
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, b)| b.as_slice())
    }

    /// Element ids and contents, the SSID's and channel's contents left out.
    fn layout(&self) -> Vec<(u8, Vec<u8>)> {
        let mut l = self.elements.clone();
        for (i, b) in &mut l {
            if *i == id::SSID || *i == id::DSSS_PARAMETER_SET {
                b.clear();
            }
        }
        l
    }
}

/// Parses every probe request, attributing it to its device through the
/// ground truth's address lists.
fn probes(frames: &[SimFrame], truth: &GroundTruth) -> Vec<Probe> {
    let mut owner = HashMap::new();
    for d in &truth.device_log {
        let model = models().iter().position(|m| m.name == d.model).unwrap();
        for mac in &d.macs {
            assert!(owner.insert(*mac, (d.id, model)).is_none(), "shared MAC");
        }
    }
    let mut out = Vec::new();
    for f in frames {
        let frame = parse(&f.bytes).expect("well-formed frame");
        let Some(p) = frame.probe else { continue };
        let rt = usize::from(u16::from_le_bytes([f.bytes[2], f.bytes[3]]));
        let mac: [u8; 6] = f.bytes[rt + 10..rt + 16].try_into().unwrap();
        let (device, model) = owner[&mac];
        let elements = p
            .elements()
            .map(|e| {
                let mut body: Vec<u8> = e.ext_id.into_iter().collect();
                body.extend_from_slice(e.data);
                (e.id, body)
            })
            .collect();
        out.push(Probe {
            device,
            model,
            ts_us: f.ts_us,
            mac,
            seq: p.seq,
            band: frame.radio.channel().expect("a Wi-Fi channel").band,
            freq: frame.radio.freq_mhz.unwrap(),
            directed: p.ssid.is_directed(),
            elements,
        });
    }
    out
}

/// Four residents of each variant model plus one of every other, an hour.
fn variant_run() -> (Vec<Probe>, GroundTruth) {
    let mut specs = Vec::new();
    for m in VARIANT_MODELS {
        specs.extend((0..4).map(|k| DeviceSpec::resident(m, 3.0 + f64::from(k))));
    }
    specs.extend((4..models().len()).map(|m| DeviceSpec::resident(m, 5.0)));
    let (frames, truth) = Simulator::with_population(short(3600, 21), specs)
        .with_probe_variants()
        .run();
    let probes = probes(&frames, &truth);
    assert_eq!(probes.len() as u64, truth.probe_requests);
    (probes, truth)
}

#[test]
fn phones_vary_their_layouts_across_bands_and_scans() {
    let (probes, truth) = variant_run();
    // Devices are still devices: every resident probed, one entry each.
    assert_eq!(truth.devices, 16 + 3);
    for m in VARIANT_MODELS {
        let name = models()[m].name;
        for dev in truth.device_log.iter().filter(|d| d.model == name) {
            let mine: Vec<&Probe> = probes.iter().filter(|p| p.device == dev.id).collect();
            let layouts: HashSet<_> = mine.iter().map(|p| p.layout()).collect();
            assert!(layouts.len() >= 3, "{name}: {} layouts", layouts.len());
            let bands: HashSet<Band> = mine.iter().map(|p| p.band).collect();
            assert_eq!(bands.len(), 2, "{name}: {bands:?}");
        }
        let freqs: BTreeSet<u16> = probes
            .iter()
            .filter(|p| p.model == m && p.band == Band::Ghz5)
            .map(|p| p.freq)
            .collect();
        assert_eq!(freqs, BTreeSet::from([5180, 5200, 5220, 5240]), "{name}");
    }
    // The other models keep their one template and 2.4 GHz.
    for p in probes.iter().filter(|p| !VARIANT_MODELS.contains(&p.model)) {
        let mut expected = Vec::new();
        let ds = p.get(id::DSSS_PARAMETER_SET).unwrap()[0];
        let ssid = p.get(id::SSID).filter(|s| !s.is_empty());
        models()[p.model].write_ies(&mut expected, ssid, ds);
        let got: Vec<u8> = p
            .elements
            .iter()
            .flat_map(|(i, b)| [*i, b.len() as u8].into_iter().chain(b.iter().copied()))
            .collect();
        assert_eq!(got, expected, "{}", models()[p.model].name);
        assert_eq!(p.band, Band::Ghz2_4);
    }
}

#[test]
fn band_elements_follow_the_band_and_model_elements_stay_fixed() {
    let (probes, _) = variant_run();
    // (HT A-MPDU params + MCS set, HT info without the band bits,
    //  2.4 GHz rate set) per model.
    let mut signature: HashMap<usize, (Vec<u8>, u16, BTreeSet<u8>)> = HashMap::new();
    let mut ext_cap_lens: HashMap<usize, BTreeSet<Option<usize>>> = HashMap::new();
    let mut vendor_counts: HashMap<usize, BTreeSet<usize>> = HashMap::new();
    for p in probes.iter().filter(|p| VARIANT_MODELS.contains(&p.model)) {
        let name = models()[p.model].name;
        let rates = p.get(id::SUPPORTED_RATES).unwrap();
        let ht = p.get(id::HT_CAPABILITIES).unwrap();
        assert_eq!(ht.len(), 26, "{name}");
        let info = u16::from_le_bytes([ht[0], ht[1]]);
        let mut rate_set: BTreeSet<u8> = rates.iter().copied().collect();
        match p.band {
            Band::Ghz5 => {
                assert_eq!(rates, OFDM, "{name}: 5 GHz rates");
                assert_eq!(p.get(id::EXTENDED_SUPPORTED_RATES), None, "{name}");
                assert_eq!(p.get(id::DSSS_PARAMETER_SET), None, "{name}");
                assert_eq!(p.get(id::VHT_CAPABILITIES).map(<[u8]>::len), Some(12));
                assert_eq!(info & 0x42, 0x42, "{name}: 40 MHz + SGI 40 on 5 GHz");
                assert_eq!(info & (1 << 14), 0, "{name}");
            }
            Band::Ghz2_4 => {
                rate_set.extend(p.get(id::EXTENDED_SUPPORTED_RATES).unwrap());
                assert_eq!(rate_set.len(), 12, "{name}");
                assert!(rate_set.is_superset(&OFDM.into_iter().collect()));
                assert!(rate_set.is_superset(&BTreeSet::from([0x02, 0x04, 0x0b, 0x16])));
                assert_eq!(p.get(id::VHT_CAPABILITIES), None, "{name}: VHT on 2.4 GHz");
                assert_eq!(info & 0x42, 0, "{name}: 40 MHz bits on 2.4 GHz");
                let ch = p.get(id::DSSS_PARAMETER_SET).unwrap()[0];
                assert_eq!(2407 + 5 * u16::from(ch), p.freq, "{name}");
            }
            Band::Ghz6 => panic!("{name}: 6 GHz"),
        }
        let sig = signature
            .entry(p.model)
            .or_insert_with(|| (ht[2..19].to_vec(), info & !HT_BAND_BITS, BTreeSet::new()));
        assert_eq!(sig.0, ht[2..19], "{name}: A-MPDU/MCS set");
        assert_eq!(sig.1, info & !HT_BAND_BITS, "{name}: HT info");
        if p.band == Band::Ghz2_4 {
            if sig.2.is_empty() {
                sig.2 = rate_set.clone();
            }
            assert_eq!(sig.2, rate_set, "{name}: 2.4 GHz rate set");
        }
        ext_cap_lens
            .entry(p.model)
            .or_default()
            .insert(p.get(id::EXTENDED_CAPABILITIES).map(<[u8]>::len));
        vendor_counts.entry(p.model).or_default().insert(
            p.elements
                .iter()
                .filter(|e| e.0 == id::VENDOR_SPECIFIC)
                .count(),
        );
    }
    // What separates models stays distinct between them.
    let sigs: HashSet<(Vec<u8>, u16)> = signature
        .values()
        .map(|(ht, info, _)| (ht.clone(), *info))
        .collect();
    assert_eq!(sigs.len(), VARIANT_MODELS.len());
    // Reduced scans cut or drop Extended Capabilities; extra vendor elements.
    for m in VARIANT_MODELS {
        assert_eq!(
            ext_cap_lens[&m].len(),
            2,
            "{}: {:?}",
            models()[m].name,
            ext_cap_lens[&m]
        );
    }
    for m in [IOS_17, GALAXY_13, PIXEL_14] {
        assert_eq!(vendor_counts[&m].len(), 2, "{}", models()[m].name);
    }
    assert_eq!(vendor_counts[&IOS_14].len(), 1);
}

#[test]
fn macs_and_sequence_numbers_keep_their_behaviour() {
    let (probes, truth) = variant_run();
    let mut directed = [0usize; 4];
    for dev in &truth.device_log {
        let mine: Vec<&Probe> = probes.iter().filter(|p| p.device == dev.id).collect();
        let model = mine[0].model;
        if !VARIANT_MODELS.contains(&model) {
            continue;
        }
        let wildcard_macs: HashSet<[u8; 6]> =
            mine.iter().filter(|p| !p.directed).map(|p| p.mac).collect();
        for p in mine.iter().filter(|p| p.directed) {
            directed[model] += 1;
            // Pixel keeps one address per SSID; the others use the burst's.
            assert_eq!(
                wildcard_macs.contains(&p.mac),
                model != PIXEL_14,
                "{}",
                models()[model].name
            );
        }
        let mut breaks = 0;
        for w in mine.windows(2) {
            assert!(w[0].ts_us < w[1].ts_us);
            let next = (w[0].seq + 1) & 0x0fff;
            if w[1].seq != next {
                breaks += 1;
                // Only a new address may re-draw the counter.
                assert_ne!(w[0].mac, w[1].mac, "{}", models()[model].name);
            }
        }
        match model {
            // Continue: across addresses and bands alike.
            IOS_17 | IOS_14 => assert_eq!(breaks, 0, "{}", models()[model].name),
            _ => assert!(breaks > 10, "{}: {breaks}", models()[model].name),
        }
    }
    assert!(directed.iter().all(|&n| n > 0), "{directed:?}");
}

#[test]
fn variants_in_a_random_population_keep_the_truth() {
    // The extra draws shift the random stream, so the population differs
    // from the run without variants; the truth must still match the frames.
    let (frames, truth) = Simulator::new(short(600, 5)).with_probe_variants().run();
    assert_eq!(truth.frames, frames.len() as u64);
    let probes = probes(&frames, &truth);
    let five = probes.iter().filter(|p| p.band == Band::Ghz5).count();
    assert!(five > probes.len() / 5, "{five} of {}", probes.len());
    let devices: HashSet<u32> = probes.iter().map(|p| p.device).collect();
    assert_eq!(devices.len() as u64, truth.devices);
    let macs: HashSet<[u8; 6]> = probes.iter().map(|p| p.mac).collect();
    assert_eq!(macs.len() as u64, truth.distinct_macs);
    let per_window: u64 = truth.windows.iter().map(|w| w.probe_requests).sum();
    assert_eq!(per_window, probes.len() as u64);
}
