//! Oracle: the parser never panics, and every input is either a frame or a
//! malformed packet with a known reason; the capture stage classifies every
//! input exactly as the parser does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vitrine_aggregate::Observed;
use vitrine_capture::{CaptureStage, LinkType};
use vitrine_dot11::{FrameKind, Malformed, parse};

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
