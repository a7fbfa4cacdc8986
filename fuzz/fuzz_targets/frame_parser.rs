//! Oracle: the parser never panics, and every input is either a frame or a
//! malformed packet with a known reason; the capture stage classifies every
//! input exactly as the parser does; the same bytes read as the start of a
//! longer packet (cut by a snapshot length) parse too whenever the whole
//! packet did, with their elements inside the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vitrine_wifi_aggregate::Observed;
use vitrine_wifi_capture::{CaptureStage, LinkType};
use vitrine_dot11::{FrameKind, Malformed, parse, parse_captured};

thread_local! {
    static STAGE: CaptureStage = CaptureStage::new(Default::default(), Default::default());
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);
    match &parsed {
        Ok(frame) => {
            assert_eq!(frame.probe.is_some(), frame.kind == FrameKind::ProbeRequest);
            if let Some(probe) = &frame.probe {
                let covered: usize = probe.elements().map(|e| 2 + e.data.len() + usize::from(e.ext_id.is_some())).sum();
                assert!(covered <= data.len());
            }
        }
        Err(reason) => assert!(Malformed::ALL.contains(reason)),
    }
    let cut = parse_captured(data, data.len() + 64);
    match &cut {
        Ok(frame) => {
            if let Some(probe) = &frame.probe {
                let covered: usize = probe.elements().map(|e| 2 + e.data.len() + usize::from(e.ext_id.is_some())).sum();
                assert!(covered <= data.len());
            }
        }
        Err(reason) => {
            assert!(Malformed::ALL.contains(reason));
            assert!(parsed.is_err(), "whole, it parsed; cut, it did not");
        }
    }
    STAGE.with(|stage| {
        let observed = stage.observe(0, LinkType::Radiotap, data).what;
        match (observed, &parsed) {
            (Observed::Malformed(a), Err(b)) => assert_eq!(a, *b),
            (Observed::Malformed(_), Ok(_)) | (_, Err(_)) => panic!("capture stage and parser disagree"),
            _ => {}
        }
        // The same bytes as a bare 802.11 frame must be classified too.
        let _ = stage.observe(0, LinkType::Ieee80211, data);
    });
});
