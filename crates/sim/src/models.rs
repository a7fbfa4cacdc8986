//! Device models: how each kind of client picks its MAC address, numbers its
//! frames and which information elements (IEs) it puts in a probe request.
//!
//! The IE bodies are modelled on real captures of the respective chipsets and
//! operating systems; the exact bit values matter less than the fact that they
//! are well-formed, distinct between models and identical within a model.

/// How a device chooses the transmitter address of its probe requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacBehaviour {
    /// The burned-in, globally administered address (vendor OUI).
    Global,
    /// A fresh locally administered address for every scan burst.
    RandomPerBurst,
    /// A fresh random address per burst for wildcard probes, plus one
    /// persistent random address per preferred SSID for directed probes.
    RandomPerSsid,
}

/// What happens to the sequence counter when a device starts using a new
/// randomized MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqBehaviour {
    /// The counter keeps running across MAC changes (lets a tracker link MACs).
    Continue,
    /// The counter is re-drawn uniformly from 0..4096.
    Random,
}

/// Broad class of a device; decides who carries it and how often it scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    Phone,
    Laptop,
    Wearable,
}

/// One information element of a probe-request template, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ie {
    /// SSID element (id 0): empty for wildcard probes, the SSID for directed ones.
    Ssid,
    /// DS Parameter Set (id 3) carrying the current channel.
    DsParams,
    /// Any other element with a fixed body (the 2-byte id/length header is
    /// added when the frame is built). For extension elements (id 255) the
    /// body starts with the element id extension.
    Fixed { id: u8, body: &'static [u8] },
}

/// A device model: MAC/sequence behaviour plus the probe-request IE template.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneModel {
    pub name: &'static str,
    pub kind: DeviceKind,
    pub behaviour: MacBehaviour,
    pub seq_on_new_mac: SeqBehaviour,
    /// Vendor OUIs used for the global MAC (`MacBehaviour::Global`); also
    /// the burned-in address of randomizing devices, which is never sent.
    pub ouis: &'static [[u8; 3]],
    /// Channels scanned in each burst, in order.
    pub channels: &'static [u8],
    /// Inclusive range of wildcard probes sent per channel per burst.
    pub probes_per_channel: (u8, u8),
    /// Probability that a burst also carries directed probes for the
    /// device's preferred networks (if it has any).
    pub directed_probe_prob: f64,
    /// Share of this model among devices of its kind (weights sum to 1 per kind).
    pub share: f64,
    /// Ordered IE template; identical for every device of the model.
    pub ies: &'static [Ie],
}

impl PhoneModel {
    /// Appends the IEs of a probe request for `ssid` (wildcard if `None`) on `channel`.
    ///
    /// # Panics
    /// If the SSID is longer than 32 bytes.
    pub fn write_ies(&self, buf: &mut Vec<u8>, ssid: Option<&[u8]>, channel: u8) {
        for ie in self.ies {
            match *ie {
                Ie::Ssid => {
                    let ssid = ssid.unwrap_or(&[]);
                    assert!(ssid.len() <= 32, "SSID longer than 32 bytes");
                    buf.push(0);
                    buf.push(ssid.len() as u8);
                    buf.extend_from_slice(ssid);
                }
                Ie::DsParams => buf.extend_from_slice(&[3, 1, channel]),
                Ie::Fixed { id, body } => {
                    buf.push(id);
                    buf.push(body.len() as u8);
                    buf.extend_from_slice(body);
                }
            }
        }
    }
}

// --- shared element bodies -------------------------------------------------

/// 802.11b rates only; the OFDM rates follow in Extended Supported Rates (iOS style).
const RATES_B: &[u8] = &[0x02, 0x04, 0x0b, 0x16];
const EXT_RATES_G8: &[u8] = &[0x0c, 0x12, 0x18, 0x24, 0x30, 0x48, 0x60, 0x6c];
/// Eight rates in Supported Rates, the rest in Extended (Android/Linux style).
const RATES_8: &[u8] = &[0x02, 0x04, 0x0b, 0x16, 0x0c, 0x12, 0x18, 0x24];
const EXT_RATES_4: &[u8] = &[0x30, 0x48, 0x60, 0x6c];

// HT Capabilities (id 45, 26 bytes): cap info (2), A-MPDU params (1),
// MCS set (16), HT extended caps (2), TxBF caps (4), ASEL caps (1).
const HT_IOS17: [u8; 26] = [
    0xef, 0x09, 0x17, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const HT_IOS14: [u8; 26] = [
    0x6f, 0x08, 0x17, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const HT_GALAXY: [u8; 26] = [
    0x2d, 0x01, 0x1b, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const HT_PIXEL: [u8; 26] = [
    0xef, 0x19, 0x1b, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const HT_OLD_ANDROID: [u8; 26] = [
    0x2d, 0x00, 0x17, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const HT_INTEL: [u8; 26] = [
    0xef, 0x11, 0x1b, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const HT_WEARABLE: [u8; 26] = [
    0x2c, 0x00, 0x03, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Pre-standard Broadcom ("Epigram", 00:90:4c type 0x33) HT capabilities
/// vendor element still sent by older Android phones: OUI + type + 26 HT bytes.
const EPIGRAM_HT: [u8; 30] = [
    0x00, 0x90, 0x4c, 0x33, 0x2d, 0x00, 0x17, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0,
];

// Extended Capabilities (id 127): bit fields, length differs per stack.
const EXT_CAP_IOS17: &[u8] = &[
    0x04, 0x00, 0x0a, 0x02, 0x01, 0x40, 0x40, 0x80, 0x00, 0x01, 0x20,
];
const EXT_CAP_IOS14: &[u8] = &[0x04, 0x00, 0x0a, 0x02, 0x01, 0x40, 0x00, 0x40];
const EXT_CAP_GALAXY: &[u8] = &[
    0x05, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x01,
];
const EXT_CAP_PIXEL: &[u8] = &[0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x40, 0x80];
const EXT_CAP_OLD_ANDROID: &[u8] = &[0x00, 0x00, 0x08, 0x80];
const EXT_CAP_INTEL: &[u8] = &[0x04, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x00, 0x20];

/// VHT Capabilities (id 191, 12 bytes): cap info (4), Rx/Tx MCS maps (8).
/// Broadcom-based iPhones advertise VHT even on 2.4 GHz.
const VHT_IOS: &[u8] = &[
    0xb2, 0x59, 0x82, 0x0f, 0xfa, 0xff, 0x00, 0x00, 0xfa, 0xff, 0x00, 0x20,
];

// HE Capabilities (extension element 255, ext id 35): MAC caps (6), PHY caps
// (11), <=80 MHz Rx/Tx HE-MCS maps (4). Channel width set has no 160 MHz bits
// and "PPE thresholds present" (PHY B55) is clear, so no further fields follow.
const HE_IOS17: &[u8] = &[
    35, 0x01, 0x08, 0x08, 0x1a, 0x00, 0x80, 0x22, 0x20, 0x02, 0xc0, 0x0f, 0x03, 0x40, 0x00, 0x00,
    0x00, 0x00, 0xfa, 0xff, 0xfa, 0xff,
];
const HE_GALAXY: &[u8] = &[
    35, 0x03, 0x08, 0x08, 0x00, 0x00, 0x00, 0x22, 0x20, 0x0e, 0x80, 0x0d, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xfa, 0xff, 0xfa, 0xff,
];
const HE_PIXEL: &[u8] = &[
    35, 0x09, 0x00, 0x08, 0x12, 0x00, 0x10, 0x22, 0x30, 0x02, 0xc0, 0x0f, 0x43, 0x15, 0x00, 0x00,
    0x00, 0x00, 0xfa, 0xff, 0xfa, 0xff,
];
const HE_INTEL: &[u8] = &[
    35, 0x01, 0x00, 0x08, 0x12, 0x00, 0x10, 0x22, 0x20, 0x02, 0xc0, 0x0f, 0x03, 0x15, 0x00, 0x00,
    0x00, 0x00, 0xfa, 0xff, 0xfa, 0xff,
];

/// Apple vendor element (00:17:f2 type 0x0a) found in every iOS probe request.
const APPLE_VENDOR: &[u8] = &[
    0x00, 0x17, 0xf2, 0x0a, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
];
/// Broadcom vendor element (00:10:18 type 2) of Broadcom-based phones.
const BROADCOM_VENDOR: &[u8] = &[0x00, 0x10, 0x18, 0x02, 0x00, 0x00, 0x1c, 0x00, 0x00];
/// Wi-Fi Alliance MBO-OCE element (50:6f:9a type 0x16) with a
/// "Cellular Data Capabilities: available" attribute.
const MBO_OCE: &[u8] = &[0x50, 0x6f, 0x9a, 0x16, 0x03, 0x01, 0x01];
/// Interworking (id 107): access network type "wildcard", wildcard HESSID.
const INTERWORKING: &[u8] = &[0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/// WPS element (Microsoft 00:50:f2 type 4) as sent by Windows laptops: a
/// sequence of big-endian TLVs (type u16, length u16, value).
const WPS_WINDOWS: &[u8] = &[
    0x00, 0x50, 0xf2, 0x04, // OUI + type
    0x10, 0x4a, 0x00, 0x01, 0x10, // Version 1.0
    0x10, 0x3a, 0x00, 0x01, 0x00, // Request type: enrollee, info only
    0x10, 0x08, 0x00, 0x02, 0x43, 0x88, // Config methods
    0x10, 0x47, 0x00, 0x10, // UUID-E (16 bytes)
    0x5d, 0x3e, 0x8c, 0x5e, 0x2f, 0x54, 0x5b, 0x6c, 0x9a, 0x2e, 0x71, 0x1c, 0x0d, 0x4b, 0x63, 0x88,
    0x10, 0x54, 0x00, 0x08, 0x00, 0x01, 0x00, 0x50, 0xf2, 0x04, 0x00,
    0x01, // Primary device type: computer/PC
    0x10, 0x3c, 0x00, 0x01, 0x03, // RF bands: 2.4 + 5 GHz
    0x10, 0x02, 0x00, 0x02, 0x00, 0x00, // Association state: not associated
    0x10, 0x09, 0x00, 0x02, 0x00, 0x00, // Configuration error: none
    0x10, 0x12, 0x00, 0x02, 0x00, 0x00, // Device password id: PIN
    0x10, 0x49, 0x00, 0x06, 0x00, 0x37, 0x2a, 0x00, 0x01,
    0x20, // WFA vendor ext: Version2 = 2.0
];

const SSID: Ie = Ie::Ssid;
const DS: Ie = Ie::DsParams;
const fn fixed(id: u8, body: &'static [u8]) -> Ie {
    Ie::Fixed { id, body }
}

const CH_1_6_11: &[u8] = &[1, 6, 11];
const CH_1_TO_11: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

const OUI_APPLE: &[[u8; 3]] = &[[0x00, 0x17, 0xf2], [0x28, 0xcf, 0xe9], [0xf0, 0x99, 0xbf]];
const OUI_SAMSUNG: &[[u8; 3]] = &[[0x00, 0x16, 0x6c], [0x00, 0x12, 0xfb], [0x00, 0x15, 0x99]];
const OUI_GOOGLE: &[[u8; 3]] = &[[0x3c, 0x5a, 0xb4], [0xf4, 0xf5, 0xd8]];
const OUI_INTEL: &[[u8; 3]] = &[[0x00, 0x1b, 0x21], [0x00, 0x1e, 0x64]];
const OUI_ESPRESSIF: &[[u8; 3]] = &[[0x24, 0x0a, 0xc4], [0x30, 0xae, 0xa4]];

static MODELS: [PhoneModel; 7] = [
    PhoneModel {
        name: "Apple iPhone (iOS 17)",
        kind: DeviceKind::Phone,
        behaviour: MacBehaviour::RandomPerBurst,
        seq_on_new_mac: SeqBehaviour::Continue,
        ouis: OUI_APPLE,
        channels: CH_1_6_11,
        probes_per_channel: (1, 2),
        directed_probe_prob: 0.05,
        share: 0.38,
        ies: &[
            SSID,
            fixed(1, RATES_B),
            fixed(50, EXT_RATES_G8),
            DS,
            fixed(45, &HT_IOS17),
            fixed(127, EXT_CAP_IOS17),
            fixed(191, VHT_IOS),
            fixed(255, HE_IOS17),
            fixed(221, BROADCOM_VENDOR),
            fixed(221, APPLE_VENDOR),
        ],
    },
    PhoneModel {
        name: "Apple iPhone (iOS 14)",
        kind: DeviceKind::Phone,
        behaviour: MacBehaviour::RandomPerBurst,
        seq_on_new_mac: SeqBehaviour::Continue,
        ouis: OUI_APPLE,
        channels: CH_1_6_11,
        probes_per_channel: (1, 2),
        directed_probe_prob: 0.05,
        share: 0.10,
        ies: &[
            SSID,
            fixed(1, RATES_B),
            fixed(50, EXT_RATES_G8),
            DS,
            fixed(45, &HT_IOS14),
            fixed(127, EXT_CAP_IOS14),
            fixed(191, VHT_IOS),
            fixed(221, BROADCOM_VENDOR),
            fixed(221, APPLE_VENDOR),
        ],
    },
    PhoneModel {
        name: "Samsung Galaxy (Android 13)",
        kind: DeviceKind::Phone,
        behaviour: MacBehaviour::RandomPerBurst,
        seq_on_new_mac: SeqBehaviour::Random,
        ouis: OUI_SAMSUNG,
        channels: CH_1_6_11,
        probes_per_channel: (1, 3),
        directed_probe_prob: 0.2,
        share: 0.30,
        ies: &[
            SSID,
            fixed(1, RATES_8),
            fixed(50, EXT_RATES_4),
            DS,
            fixed(45, &HT_GALAXY),
            fixed(127, EXT_CAP_GALAXY),
            fixed(107, INTERWORKING),
            fixed(255, HE_GALAXY),
            fixed(221, MBO_OCE),
        ],
    },
    PhoneModel {
        name: "Google Pixel (Android 14)",
        kind: DeviceKind::Phone,
        behaviour: MacBehaviour::RandomPerSsid,
        seq_on_new_mac: SeqBehaviour::Random,
        ouis: OUI_GOOGLE,
        channels: CH_1_6_11,
        probes_per_channel: (1, 2),
        directed_probe_prob: 0.3,
        share: 0.14,
        ies: &[
            SSID,
            fixed(1, RATES_8),
            fixed(50, EXT_RATES_4),
            DS,
            fixed(45, &HT_PIXEL),
            fixed(127, EXT_CAP_PIXEL),
            fixed(255, HE_PIXEL),
            fixed(221, MBO_OCE),
        ],
    },
    PhoneModel {
        name: "Samsung Galaxy S5 (Android 6)",
        kind: DeviceKind::Phone,
        behaviour: MacBehaviour::Global,
        seq_on_new_mac: SeqBehaviour::Continue,
        ouis: OUI_SAMSUNG,
        channels: CH_1_6_11,
        probes_per_channel: (1, 2),
        // Pre-randomization Android announced its saved networks freely.
        directed_probe_prob: 0.8,
        share: 0.08,
        ies: &[
            SSID,
            fixed(1, RATES_8),
            fixed(50, EXT_RATES_4),
            DS,
            fixed(45, &HT_OLD_ANDROID),
            fixed(127, EXT_CAP_OLD_ANDROID),
            fixed(221, &EPIGRAM_HT),
        ],
    },
    PhoneModel {
        name: "Windows laptop (Intel AX201)",
        kind: DeviceKind::Laptop,
        behaviour: MacBehaviour::Global,
        seq_on_new_mac: SeqBehaviour::Continue,
        ouis: OUI_INTEL,
        channels: CH_1_TO_11,
        probes_per_channel: (1, 1),
        directed_probe_prob: 0.3,
        share: 1.0,
        ies: &[
            SSID,
            fixed(1, RATES_8),
            fixed(50, EXT_RATES_4),
            DS,
            fixed(45, &HT_INTEL),
            fixed(127, EXT_CAP_INTEL),
            fixed(255, HE_INTEL),
            fixed(221, WPS_WINDOWS),
        ],
    },
    PhoneModel {
        name: "Wearable (ESP32-based tracker)",
        kind: DeviceKind::Wearable,
        behaviour: MacBehaviour::Global,
        seq_on_new_mac: SeqBehaviour::Continue,
        ouis: OUI_ESPRESSIF,
        channels: CH_1_6_11,
        probes_per_channel: (1, 1),
        directed_probe_prob: 0.5,
        share: 1.0,
        ies: &[
            SSID,
            fixed(1, RATES_B),
            fixed(50, EXT_RATES_G8),
            DS,
            fixed(45, &HT_WEARABLE),
        ],
    },
];

/// All built-in device models. Indices are stable and used by
/// [`DeviceSpec::model`](crate::DeviceSpec::model).
pub fn models() -> &'static [PhoneModel] {
    &MODELS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ouis_are_global_unicast() {
        for m in models() {
            for oui in m.ouis {
                assert_eq!(
                    oui[0] & 0x03,
                    0,
                    "{}: OUI {oui:02x?} is not global unicast",
                    m.name
                );
            }
        }
    }

    #[test]
    fn shares_sum_to_one_per_kind() {
        for kind in [DeviceKind::Phone, DeviceKind::Laptop, DeviceKind::Wearable] {
            let sum: f64 = models()
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| m.share)
                .sum();
            assert!((sum - 1.0).abs() < 1e-9, "{kind:?}: {sum}");
        }
    }

    #[test]
    fn templates_are_distinct_and_well_formed() {
        let mut seen = Vec::new();
        for m in models() {
            let mut buf = Vec::new();
            m.write_ies(&mut buf, None, 6);
            // Walk the element list: every length must stay inside the buffer.
            let mut i = 0;
            let mut ids = Vec::new();
            while i < buf.len() {
                ids.push(buf[i]);
                i += 2 + usize::from(buf[i + 1]);
            }
            assert_eq!(i, buf.len(), "{}", m.name);
            assert_eq!(&ids[..2], &[0, 1], "{}: SSID and rates come first", m.name);
            assert!(ids.contains(&3) && ids.contains(&45), "{}", m.name);
            assert!(
                !seen.contains(&buf),
                "{} duplicates another template",
                m.name
            );
            seen.push(buf);
            let (lo, hi) = m.probes_per_channel;
            assert!(1 <= lo && lo <= hi, "{}", m.name);
        }
    }

    #[test]
    fn wps_tlvs_are_consistent() {
        let mut i = 4; // skip OUI + type
        while i < WPS_WINDOWS.len() {
            let len = usize::from(u16::from_be_bytes([WPS_WINDOWS[i + 2], WPS_WINDOWS[i + 3]]));
            i += 4 + len;
        }
        assert_eq!(i, WPS_WINDOWS.len());
    }

    #[test]
    fn he_capabilities_have_no_optional_tails() {
        for he in [HE_IOS17, HE_GALAXY, HE_PIXEL, HE_INTEL] {
            assert_eq!(he.len(), 1 + 6 + 11 + 4);
            let phy = &he[7..18];
            assert_eq!(
                phy[0] & 0b0001_1000,
                0,
                "160 MHz widths need longer MCS maps"
            );
            assert_eq!(phy[6] & 0x80, 0, "PPE thresholds would have to follow");
        }
    }
}
