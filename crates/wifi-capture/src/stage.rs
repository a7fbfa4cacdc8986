//! The capture stage: parse, ignore, pseudonymize. Raw identifiers end here.

use vitrine_dot11::{Element, Frame, Radio, element_id};
use vitrine_privacy::{Fingerprint, IgnoreList, Pseudonymizer, RotationPolicy};
use vitrine_wifi_aggregate::{Observation, Observed, ProbeObservation};

/// How the 802.11 frame is framed in the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Radiotap header, then the frame (DLT 127).
    Radiotap,
    /// The bare frame (DLT 105), without radio information.
    Ieee80211,
}

/// Owns the epoch key; the only place where a frame's bytes and its raw MAC
/// are looked at.
#[derive(Debug)]
pub struct CaptureStage {
    pseudonymizer: Pseudonymizer,
    ignore: IgnoreList,
}

impl CaptureStage {
    pub fn new(rotation: RotationPolicy, ignore: IgnoreList) -> Self {
        CaptureStage {
            pseudonymizer: Pseudonymizer::new(rotation),
            ignore,
        }
    }

    /// Advances the epoch clock; true when the key rotated (every pseudonym
    /// handed out before is now meaningless, and the aggregator must forget
    /// them).
    pub fn advance(&mut self, ts_us: i64) -> bool {
        self.pseudonymizer.advance(ts_us)
    }

    pub fn epoch(&self) -> u64 {
        self.pseudonymizer.epoch()
    }

    /// Replaces the key now (the kill switch): the old one is overwritten
    /// in place, and every pseudonym handed out before is meaningless.
    pub fn wipe_key(&mut self) {
        self.pseudonymizer.rotate();
    }

    pub fn key_is_locked(&self) -> bool {
        self.pseudonymizer.key_is_locked()
    }

    /// Turns one whole packet into an observation. Never fails: what cannot
    /// be parsed is observed as malformed, with its reason.
    pub fn observe(&self, ts_us: i64, link: LinkType, data: &[u8]) -> Observation {
        self.observe_captured(ts_us, link, data, data.len())
    }

    /// Like [`observe`](Self::observe), for a packet of which the capture
    /// kept `data.len()` bytes of `orig_len`: a probe request cut short
    /// still counts, with the elements that are complete.
    pub fn observe_captured(
        &self,
        ts_us: i64,
        link: LinkType,
        data: &[u8],
        orig_len: usize,
    ) -> Observation {
        let parsed = match link {
            LinkType::Radiotap => vitrine_dot11::parse_captured(data, orig_len),
            LinkType::Ieee80211 => {
                vitrine_dot11::parse_dot11_captured(Radio::default(), data, orig_len > data.len())
            }
        };
        let what = match parsed {
            Err(reason) => Observed::Malformed(reason),
            Ok(Frame {
                radio,
                kind,
                probe: None,
                ..
            }) => Observed::Frame {
                kind,
                channel: radio.channel(),
            },
            Ok(Frame {
                radio,
                probe: Some(probe),
                ..
            }) => {
                let channel = radio.channel();
                if self.ignore.contains(&probe.transmitter) {
                    Observed::Ignored { channel }
                } else {
                    let randomized = probe.transmitter.is_randomized();
                    let fingerprint = self.fingerprint(probe.elements());
                    Observed::Probe {
                        channel,
                        device: ProbeObservation {
                            pseudonym: self.pseudonymizer.pseudonym(probe.transmitter),
                            fingerprint,
                            randomized,
                            seq: probe.seq,
                            rssi_dbm: radio.signal_dbm,
                            directed: probe.ssid.is_directed(),
                        },
                    }
                }
            }
        };
        Observation { ts_us, what }
    }

    /// The device-model fingerprint: the order of the elements, the contents
    /// of those that describe the hardware (rates, HT/VHT and extended
    /// capabilities), and the vendor OUI and type of vendor elements. Left out:
    /// anything naming a network (SSID), the channel (DS parameter set),
    /// vendor payloads (WPS carries a per-device UUID) and extension element
    /// contents, which some phones vary between scans.
    fn fingerprint<'a>(&self, elements: impl Iterator<Item = Element<'a>>) -> Fingerprint {
        let mut buf = [0u8; 512];
        let mut len = 0;
        for e in elements {
            let body: &[u8] = match e.id {
                element_id::SUPPORTED_RATES
                | element_id::EXTENDED_SUPPORTED_RATES
                | element_id::HT_CAPABILITIES
                | element_id::VHT_CAPABILITIES
                | element_id::EXTENDED_CAPABILITIES => e.data,
                element_id::VENDOR_SPECIFIC => &e.data[..e.data.len().min(4)],
                _ => &[],
            };
            let need = 3 + body.len();
            if len + need > buf.len() {
                break;
            }
            buf[len] = e.id;
            buf[len + 1] = e.ext_id.unwrap_or(0);
            buf[len + 2] = body.len() as u8;
            buf[len + 3..len + need].copy_from_slice(body);
            len += need;
        }
        self.pseudonymizer.fingerprint([&buf[..len]])
    }
}
