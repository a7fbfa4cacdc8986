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
