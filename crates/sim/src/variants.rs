//! Probe-request variants of modern phones (opt in with
//! [`Simulator::with_probe_variants`](crate::Simulator::with_probe_variants)).
//!
//! A real phone does not send one fixed set of elements: on 5 GHz it
//! advertises OFDM rates only, its 40 MHz HT capabilities and VHT; on
//! 2.4 GHz it sends the 802.11b rates too and clears the 40 MHz bits; some
//! scans (low-power or background ones) carry a shorter Extended
//! Capabilities element or none, and some carry an extra vendor element
//! (e.g. Wi-Fi Direct discovery). What separates models stays fixed across
//! a model's variants: the rate set per band, the HT capability bits other
//! than 1 (40 MHz), 6 (SGI 40), 12 (DSSS/CCK in 40 MHz) and 14 (40 MHz
//! intolerant), the A-MPDU parameters and the MCS set.

use vitrine_dot11::build::Ie;

use crate::models::PhoneModel;

const ID_RATES: u8 = 1;
const ID_EXT_RATES: u8 = 50;
const ID_HT: u8 = 45;
const ID_EXT_CAP: u8 = 127;
const ID_VHT: u8 = 191;
const ID_VENDOR: u8 = 221;
const ID_EXTENSION: u8 = 255;

/// 6, 9, 12, 18, 24, 36, 48 and 54 Mb/s: the Supported Rates of a 5 GHz probe.
pub(crate) const RATES_5GHZ: [u8; 8] = [0x0c, 0x12, 0x18, 0x24, 0x30, 0x48, 0x60, 0x6c];

/// HT capability info bits that change with the band.
pub(crate) const HT_40MHZ: u16 = 1 << 1;
pub(crate) const HT_SGI_40: u16 = 1 << 6;
pub(crate) const HT_DSSS_CCK_40: u16 = 1 << 12;
pub(crate) const HT_40MHZ_INTOLERANT: u16 = 1 << 14;
/// The bits [`write_ies`] may change; every other bit is the model's own.
pub(crate) const HT_BAND_BITS: u16 = HT_40MHZ | HT_SGI_40 | HT_DSSS_CCK_40 | HT_40MHZ_INTOLERANT;

/// How a model's probe requests vary.
#[derive(Debug)]
pub(crate) struct ProbeVariants {
    /// 5 GHz channels scanned after the model's 2.4 GHz ones.
    pub channels_5ghz: &'static [u8],
    /// VHT capabilities body for a template that has none. VHT is sent on
    /// 5 GHz only (the template's own, if it has one).
    pub vht: &'static [u8],
    /// Sets "40 MHz intolerant" on 2.4 GHz.
    pub intolerant_24: bool,
    /// Probability that a burst is a reduced scan, whose Extended
    /// Capabilities element is cut to `reduced_ext_cap_len` bytes (0: left out).
    pub reduced_prob: f64,
    pub reduced_ext_cap_len: usize,
    /// Probability that a burst carries `extra_vendor` as its last element.
    pub extra_vendor_prob: f64,
    pub extra_vendor: &'static [u8],
}

/// What one burst sends besides the band-dependent parts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ScanKind {
    pub reduced: bool,
    pub extra_vendor: bool,
}

const CH_5GHZ: &[u8] = &[36, 40, 44, 48];

/// VHT capabilities (12 bytes: cap info, Rx/Tx MCS maps), 80 MHz, 2
/// spatial streams. (The iPhone templates carry their own.)
const VHT_GALAXY: &[u8] = &[
    0x32, 0x70, 0x80, 0x0f, 0xfa, 0xff, 0x00, 0x00, 0xfa, 0xff, 0x00, 0x00,
];
const VHT_PIXEL: &[u8] = &[
    0xb1, 0x71, 0x90, 0x0f, 0xfa, 0xff, 0x00, 0x00, 0xfa, 0xff, 0x00, 0x20,
];

/// Wi-Fi Alliance P2P element (50:6f:9a type 9) of Android's Wi-Fi Direct
/// discovery scans: P2P Capability (device 0x25, group 0x00) and Listen
/// Channel (country "XX\x04", operating class 81, channel 6).
const P2P_ANDROID: &[u8] = &[
    0x50, 0x6f, 0x9a, 0x09, // OUI + type
    0x02, 0x02, 0x00, 0x25, 0x00, // P2P Capability
    0x06, 0x05, 0x00, 0x58, 0x58, 0x04, 0x51, 0x06, // Listen Channel
];
/// Apple vendor element (00:17:f2 type 0x0b) of scans made for AirDrop and
/// Continuity.
const APPLE_CONTINUITY: &[u8] = &[0x00, 0x17, 0xf2, 0x0b, 0x00, 0x01, 0x02];

static IOS_17: ProbeVariants = ProbeVariants {
    channels_5ghz: CH_5GHZ,
    vht: &[],
    intolerant_24: false,
    reduced_prob: 0.3,
    reduced_ext_cap_len: 8,
    extra_vendor_prob: 0.15,
    extra_vendor: APPLE_CONTINUITY,
};
static IOS_14: ProbeVariants = ProbeVariants {
    channels_5ghz: CH_5GHZ,
    vht: &[],
    intolerant_24: false,
    reduced_prob: 0.3,
    reduced_ext_cap_len: 0,
    extra_vendor_prob: 0.0,
    extra_vendor: &[],
};
static GALAXY_13: ProbeVariants = ProbeVariants {
    channels_5ghz: CH_5GHZ,
    vht: VHT_GALAXY,
    intolerant_24: true,
    reduced_prob: 0.3,
    reduced_ext_cap_len: 0,
    extra_vendor_prob: 0.2,
    extra_vendor: P2P_ANDROID,
};
static PIXEL_14: ProbeVariants = ProbeVariants {
    channels_5ghz: CH_5GHZ,
    vht: VHT_PIXEL,
    intolerant_24: false,
    reduced_prob: 0.3,
    reduced_ext_cap_len: 4,
    extra_vendor_prob: 0.25,
    extra_vendor: P2P_ANDROID,
};

/// The variants of model `index` (into [`models()`](crate::models)); `None`
/// for models that always send their one template (old phones, laptop,
/// wearable).
pub(crate) fn variants_of(index: usize) -> Option<&'static ProbeVariants> {
    match index {
        0 => Some(&IOS_17),
        1 => Some(&IOS_14),
        2 => Some(&GALAXY_13),
        3 => Some(&PIXEL_14),
        _ => None,
    }
}

/// Appends the elements of `model`'s probe request on `channel` (2.4 or
/// 5 GHz) for a burst of kind `scan`; `ssid: None` is a wildcard probe.
///
/// # Panics
/// If the SSID is longer than 32 bytes.
pub(crate) fn write_ies(
    buf: &mut Vec<u8>,
    model: &PhoneModel,
    v: &ProbeVariants,
    scan: ScanKind,
    ssid: Option<&[u8]>,
    channel: u8,
) {
    let five = channel > 14;
    let has_vht = model
        .ies
        .iter()
        .any(|ie| matches!(ie, Ie::Fixed { id: ID_VHT, .. }));
    let mut vht_done = has_vht;
    for ie in model.ies {
        match *ie {
            Ie::Ssid => {
                let ssid = ssid.unwrap_or(&[]);
                assert!(ssid.len() <= 32, "SSID longer than 32 bytes");
                push(buf, 0, ssid);
            }
            Ie::DsParams => {
                if !five {
                    push(buf, 3, &[channel]);
                }
            }
            Ie::Fixed { id, body } => {
                if five && !vht_done && matches!(id, ID_VENDOR | ID_EXTENSION) {
                    push(buf, ID_VHT, v.vht);
                    vht_done = true;
                }
                match id {
                    ID_RATES if five => push(buf, ID_RATES, &RATES_5GHZ),
                    ID_EXT_RATES if five => {}
                    ID_HT => {
                        let mut ht = [0u8; 26];
                        ht.copy_from_slice(body);
                        let info = u16::from_le_bytes([ht[0], ht[1]]);
                        let info = if five {
                            (info & !HT_BAND_BITS) | HT_40MHZ | HT_SGI_40
                        } else {
                            let keep = info & HT_DSSS_CCK_40;
                            let intolerant = if v.intolerant_24 {
                                HT_40MHZ_INTOLERANT
                            } else {
                                0
                            };
                            (info & !HT_BAND_BITS) | keep | intolerant
                        };
                        ht[..2].copy_from_slice(&info.to_le_bytes());
                        push(buf, ID_HT, &ht);
                    }
                    ID_EXT_CAP if scan.reduced => {
                        let len = v.reduced_ext_cap_len.min(body.len());
                        if len > 0 {
                            push(buf, ID_EXT_CAP, &body[..len]);
                        }
                    }
                    ID_VHT => {
                        if five {
                            push(buf, ID_VHT, body);
                        }
                    }
                    _ => push(buf, id, body),
                }
            }
        }
    }
    if five && !vht_done {
        push(buf, ID_VHT, v.vht);
    }
    if scan.extra_vendor && !v.extra_vendor.is_empty() {
        push(buf, ID_VENDOR, v.extra_vendor);
    }
}

fn push(buf: &mut Vec<u8>, id: u8, body: &[u8]) {
    buf.push(id);
    buf.push(u8::try_from(body.len()).expect("element body over 255 bytes"));
    buf.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::models;

    fn elements(mut ies: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        while !ies.is_empty() {
            let len = usize::from(ies[1]);
            out.push((ies[0], &ies[2..2 + len]));
            ies = &ies[2 + len..];
        }
        out
    }

    fn get(e: &[(u8, &[u8])], id: u8) -> Option<Vec<u8>> {
        e.iter().find(|(i, _)| *i == id).map(|(_, b)| b.to_vec())
    }

    #[test]
    fn variant_models_are_the_modern_phones() {
        for (i, m) in models().iter().enumerate() {
            let expected = m.name.contains("iPhone")
                || m.name.contains("Android 13")
                || m.name.contains("Pixel");
            assert_eq!(variants_of(i).is_some(), expected, "{}", m.name);
        }
    }

    #[test]
    fn bands_change_rates_ht_bits_and_vht_only() {
        for (i, m) in models().iter().enumerate() {
            let Some(v) = variants_of(i) else { continue };
            let mut b24 = Vec::new();
            let mut b5 = Vec::new();
            write_ies(&mut b24, m, v, ScanKind::default(), None, 6);
            write_ies(&mut b5, m, v, ScanKind::default(), None, 36);
            let (e24, e5) = (elements(&b24), elements(&b5));
            assert_eq!(get(&e5, ID_RATES).unwrap(), RATES_5GHZ, "{}", m.name);
            assert_eq!(get(&e5, ID_EXT_RATES), None, "{}", m.name);
            assert_eq!(get(&e5, 3), None, "{}", m.name);
            assert_eq!(get(&e24, 3).unwrap(), [6], "{}", m.name);
            let template_vht = m.ies.iter().find_map(|ie| match *ie {
                Ie::Fixed { id: ID_VHT, body } => Some(body),
                _ => None,
            });
            let vht = template_vht.unwrap_or(v.vht);
            assert_eq!(vht.len(), 12, "{}", m.name);
            assert_eq!(get(&e5, ID_VHT).unwrap(), vht, "{}", m.name);
            assert_eq!(get(&e24, ID_VHT), None, "{}", m.name);
            let mut rates24 = get(&e24, ID_RATES).unwrap();
            rates24.extend(get(&e24, ID_EXT_RATES).unwrap());
            assert_eq!(rates24.len(), 12, "{}", m.name);
            let (h24, h5) = (get(&e24, ID_HT).unwrap(), get(&e5, ID_HT).unwrap());
            assert_eq!(h24[2..19], h5[2..19], "{}: A-MPDU and MCS set", m.name);
            let i24 = u16::from_le_bytes([h24[0], h24[1]]);
            let i5 = u16::from_le_bytes([h5[0], h5[1]]);
            assert_eq!(i24 & !HT_BAND_BITS, i5 & !HT_BAND_BITS, "{}", m.name);
            assert_eq!(i24 & (HT_40MHZ | HT_SGI_40), 0, "{}", m.name);
            assert_eq!(
                i5 & (HT_40MHZ | HT_SGI_40),
                HT_40MHZ | HT_SGI_40,
                "{}",
                m.name
            );
            assert_eq!(i5 & (HT_40MHZ_INTOLERANT | HT_DSSS_CCK_40), 0, "{}", m.name);
            // VHT sits before the vendor and extension elements.
            let ids5: Vec<u8> = e5.iter().map(|e| e.0).collect();
            let vht_at = ids5.iter().position(|&id| id == ID_VHT).unwrap();
            assert!(
                ids5[vht_at + 1..]
                    .iter()
                    .all(|&id| matches!(id, ID_VENDOR | ID_EXTENSION)),
                "{}: {ids5:?}",
                m.name
            );
        }
    }

    #[test]
    fn reduced_scans_cut_ext_caps_and_extra_vendor_goes_last() {
        for (i, m) in models().iter().enumerate() {
            let Some(v) = variants_of(i) else { continue };
            let mut full = Vec::new();
            let mut cut = Vec::new();
            write_ies(&mut full, m, v, ScanKind::default(), None, 1);
            let scan = ScanKind {
                reduced: true,
                extra_vendor: true,
            };
            write_ies(&mut cut, m, v, scan, None, 1);
            let ext = |b: &[u8]| {
                elements(b)
                    .iter()
                    .find(|(id, _)| *id == ID_EXT_CAP)
                    .map(|(_, body)| body.len())
            };
            let full_len = ext(&full).unwrap();
            match v.reduced_ext_cap_len {
                0 => assert_eq!(ext(&cut), None, "{}", m.name),
                n => assert_eq!(ext(&cut), Some(n.min(full_len)), "{}", m.name),
            }
            assert!(ext(&cut) < Some(full_len), "{}", m.name);
            if !v.extra_vendor.is_empty() {
                let last = *elements(&cut).last().unwrap();
                assert_eq!(last, (ID_VENDOR, v.extra_vendor), "{}", m.name);
            }
        }
    }
}
