//! The capture stage: what crosses it, and how pseudonyms behave over epochs.

use vitrine_dot11::{Band, Channel, FrameKind, Malformed};
use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_wifi_aggregate::{Observed, ProbeObservation};
use vitrine_wifi_capture::{CaptureStage, LinkType};

fn probe(sa: [u8; 6], ssid: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0,
        0,
        14,
        0,
        0x28,
        0x08,
        0,
        0,
        0x85,
        0x09,
        0xa0,
        0,
        (-50i8) as u8,
        0,
    ];
    p.extend_from_slice(&[0x40, 0, 0, 0]);
    p.extend_from_slice(&[0xff; 6]);
    p.extend_from_slice(&sa);
    p.extend_from_slice(&[0xff; 6]);
    p.extend_from_slice(&[0x10, 0x00]);
    p.extend_from_slice(&[0, ssid.len() as u8]);
    p.extend_from_slice(ssid);
    p.extend_from_slice(&[1, 2, 0x82, 0x84]);
    p
}

fn device(stage: &CaptureStage, ts_us: i64, packet: &[u8]) -> ProbeObservation {
    match stage.observe(ts_us, LinkType::Radiotap, packet).what {
        Observed::Probe { device, channel } => {
            assert_eq!(
                channel,
                Some(Channel {
                    band: Band::Ghz2_4,
                    number: 6
                })
            );
            device
        }
        other => panic!("expected a probe, got {other:?}"),
    }
}

const PHONE: [u8; 6] = [0x3c, 0x22, 0xfb, 0x12, 0x34, 0x56];

#[test]
fn the_same_device_is_linked_within_an_epoch_and_not_across_a_rotation() {
    let mut stage = CaptureStage::new(RotationPolicy { period_s: 3600 }, IgnoreList::default());
    let t0 = 1_700_000_000_000_000;
    assert!(!stage.advance(t0));
    let a = device(&stage, t0, &probe(PHONE, b""));
    assert!(!stage.advance(t0 + 3_599_000_000));
    let b = device(&stage, t0 + 3_599_000_000, &probe(PHONE, b"HomeNet"));
    assert_eq!(a.pseudonym, b.pseudonym, "same epoch: linked");
    assert_eq!(
        a.fingerprint, b.fingerprint,
        "the SSID is not part of the fingerprint"
    );
    assert!(!a.directed && b.directed);
    assert!(!a.randomized);

    assert!(
        stage.advance(t0 + 3_600_000_000),
        "the key rotates after its period"
    );
    assert_eq!(stage.epoch(), 1);
    let c = device(&stage, t0 + 3_600_000_000, &probe(PHONE, b""));
    assert_ne!(a.pseudonym, c.pseudonym, "new epoch: unlinkable");
    assert_ne!(a.fingerprint, c.fingerprint, "fingerprints are keyed too");
}

#[test]
fn a_restart_gives_unlinkable_pseudonyms() {
    let one = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    let two = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    let p = probe(PHONE, b"");
    assert_ne!(device(&one, 0, &p).pseudonym, device(&two, 0, &p).pseudonym);
}

#[test]
fn ignored_devices_and_bad_packets_are_classified_not_passed_on() {
    let ignore = IgnoreList::parse("3c:22:fb\n").unwrap();
    let stage = CaptureStage::new(RotationPolicy::default(), ignore);
    assert!(matches!(
        stage
            .observe(0, LinkType::Radiotap, &probe(PHONE, b""))
            .what,
        Observed::Ignored {
            channel: Some(Channel {
                band: Band::Ghz2_4,
                number: 6
            })
        }
    ));
    let other = [0x02, 0x22, 0xfb, 0x12, 0x34, 0x56];
    assert!(matches!(
        stage
            .observe(0, LinkType::Radiotap, &probe(other, b""))
            .what,
        Observed::Probe { .. }
    ));
    let mut cut = probe(PHONE, b"x");
    cut.pop();
    assert!(matches!(
        stage.observe(0, LinkType::Radiotap, &cut).what,
        Observed::Malformed(Malformed::ElementOverrun)
    ));
    // A bare 802.11 beacon (link type 105) has no radio information.
    let mut beacon = vec![0x80, 0];
    beacon.extend_from_slice(&[0; 34]);
    assert!(matches!(
        stage.observe(0, LinkType::Ieee80211, &beacon).what,
        Observed::Frame {
            kind: FrameKind::Beacon,
            channel: None
        }
    ));
}

/// A wildcard probe request from `sa` with the given elements after the SSID.
fn probe_with(sa: [u8; 6], elements: &[(u8, &[u8])]) -> Vec<u8> {
    let mut p = probe(sa, b"");
    p.truncate(p.len() - 4);
    for &(id, body) in elements {
        p.push(id);
        p.push(body.len() as u8);
        p.extend_from_slice(body);
    }
    p
}

/// HT capabilities: `info`, A-MPDU parameters 0x17, one spatial stream.
fn ht(info: u16) -> Vec<u8> {
    let mut b = info.to_le_bytes().to_vec();
    b.push(0x17);
    b.extend_from_slice(&[0xff, 0, 0, 0]);
    b.resize(26, 0);
    b
}

#[test]
fn one_phone_s_band_and_scan_variants_share_a_family_that_other_models_do_not() {
    let stage = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    let mac = |n: u8| [0x02, 0x11, 0x22, 0x33, 0x44, n];
    let ext_caps: &[u8] = &[0, 0, 8, 4, 0, 0, 0, 0x40];
    // 2.4 GHz: DSSS and OFDM rates split over two elements, 40 MHz
    // intolerant, extended capabilities.
    let ht24 = ht(0x402d);
    let ghz24 = probe_with(
        mac(1),
        &[
            (1, &[0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24]),
            (50, &[0x30, 0x48, 0x60, 0x6c]),
            (45, &ht24),
            (127, ext_caps),
        ],
    );
    // 5 GHz: OFDM rates only (basic ones flagged), 40 MHz width and short
    // GI at 40 MHz, VHT, no extended capabilities (another scan type).
    let ht5 = ht(0x006f);
    let ghz5 = probe_with(
        mac(2),
        &[
            (1, &[0x8c, 0x12, 0x98, 0x24, 0xb0, 0x48, 0x60, 0x6c]),
            (45, &ht5),
            (
                191,
                &[
                    0x92, 0xf1, 0x90, 0x33, 0xfa, 0xff, 0x62, 0x03, 0xfa, 0xff, 0x62, 0x03,
                ],
            ),
        ],
    );
    let a = device(&stage, 0, &ghz24);
    let b = device(&stage, 1, &ghz5);
    assert_ne!(a.fingerprint, b.fingerprint);
    assert_eq!(a.family, b.family, "one phone's variants");

    // Another model: the same rates, a different spatial-multiplexing power
    // save and A-MSDU length in its HT capabilities.
    let other_ht = ht(0x402d ^ 0x0808);
    let other = probe_with(
        mac(3),
        &[
            (1, &[0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24]),
            (50, &[0x30, 0x48, 0x60, 0x6c]),
            (45, &other_ht),
            (127, ext_caps),
        ],
    );
    assert_ne!(device(&stage, 2, &other).family, a.family);
    // A device without HT (an old or low-power one) and one with fewer OFDM
    // rates are families of their own too.
    let no_ht = probe_with(
        mac(4),
        &[
            (1, &[0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24]),
            (50, &[0x30, 0x48, 0x60, 0x6c]),
        ],
    );
    assert_ne!(device(&stage, 3, &no_ht).family, a.family);
    let fewer = probe_with(
        mac(5),
        &[
            (1, &[0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24]),
            (45, &ht24),
        ],
    );
    assert_ne!(device(&stage, 4, &fewer).family, a.family);
    // Families are keyed like fingerprints: a restart makes them unlinkable.
    let restarted = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    assert_ne!(device(&restarted, 0, &ghz24).family, a.family);
}
