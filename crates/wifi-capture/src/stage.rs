//! The capture stage: parse, ignore, pseudonymize. Raw identifiers end here.

use std::cell::RefCell;

use vitrine_dot11::{Element, Frame, Radio, element_id};
use vitrine_privacy::{Fingerprint, IgnoreList, Pseudonymizer, RotationPolicy};
use vitrine_wifi_aggregate::{KeyedMap, Observation, Observed, ProbeObservation};

/// Fingerprint → family entries kept before the cache starts over.
const FAMILY_CACHE_CAP: usize = 4096;

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
    /// A fingerprint's family, computed once per epoch: both are keyed
    /// hashes of the same elements, and the family's costs a second hash.
    families: RefCell<KeyedMap<Fingerprint, Fingerprint>>,
}

impl CaptureStage {
    pub fn new(rotation: RotationPolicy, ignore: IgnoreList) -> Self {
        CaptureStage {
            pseudonymizer: Pseudonymizer::new(rotation),
            ignore,
            families: RefCell::default(),
        }
    }

    /// Advances the epoch clock; true when the key rotated (every pseudonym
    /// handed out before is now meaningless, and the aggregator must forget
    /// them).
    pub fn advance(&mut self, ts_us: i64) -> bool {
        let rotated = self.pseudonymizer.advance(ts_us);
        if rotated {
            self.families.get_mut().clear();
        }
        rotated
    }

    pub fn epoch(&self) -> u64 {
        self.pseudonymizer.epoch()
    }

    /// Replaces the key now (the kill switch): the old one is overwritten
    /// in place, and every pseudonym handed out before is meaningless.
    pub fn wipe_key(&mut self) {
        self.pseudonymizer.rotate();
        self.families.get_mut().clear();
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
                    let family = self.family(fingerprint, || probe.elements());
                    Observed::Probe {
                        channel,
                        device: ProbeObservation {
                            pseudonym: self.pseudonymizer.pseudonym(probe.transmitter),
                            fingerprint,
                            family,
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

    /// The fingerprint's family: what a device announces the same way on
    /// every band and in every kind of scan, so that one phone's variants
    /// share it while devices built differently do not. It is the set of
    /// OFDM rates (wherever they are listed: 2.4 GHz probes split them
    /// between Supported and Extended Supported Rates and add the DSSS
    /// ones, 5 GHz probes do not), and the HT capabilities without the bits
    /// that follow the band (40 MHz width, short GI at 40 MHz, DSSS/CCK at
    /// 40 MHz, 40 MHz intolerant), with the A-MPDU parameters and the
    /// receive MCS set. Element order, extended capabilities, VHT/HE and
    /// vendor elements are left out: they change with the band or the scan.
    fn family<'a, I: Iterator<Item = Element<'a>>>(
        &self,
        fingerprint: Fingerprint,
        elements: impl Fn() -> I,
    ) -> Fingerprint {
        if let Some(&family) = self.families.borrow().get(&fingerprint) {
            return family;
        }
        let mut rates = [0u8; 16];
        let mut ht = [0u8; 8];
        for e in elements() {
            match e.id {
                element_id::SUPPORTED_RATES | element_id::EXTENDED_SUPPORTED_RATES => {
                    for &r in e.data {
                        let r = r & 0x7f;
                        // 1, 2, 5.5 and 11 Mb/s: DSSS/CCK, 2.4 GHz only.
                        if !matches!(r, 2 | 4 | 11 | 22) {
                            rates[usize::from(r / 8)] |= 1 << (r % 8);
                        }
                    }
                }
                element_id::HT_CAPABILITIES if e.data.len() >= 7 => {
                    const BAND_BITS: u16 = 1 << 1 | 1 << 6 | 1 << 12 | 1 << 14;
                    let info = u16::from_le_bytes([e.data[0], e.data[1]]) & !BAND_BITS;
                    ht[0] = 1;
                    ht[1..3].copy_from_slice(&info.to_le_bytes());
                    ht[3] = e.data[2];
                    ht[4..8].copy_from_slice(&e.data[3..7]);
                }
                _ => {}
            }
        }
        let family = self
            .pseudonymizer
            .fingerprint([b"family".as_slice(), &rates, &ht]);
        let mut cache = self.families.borrow_mut();
        if cache.len() >= FAMILY_CACHE_CAP {
            cache.clear();
        }
        cache.insert(fingerprint, family);
        family
    }
}
