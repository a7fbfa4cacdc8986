//! Device models: how each kind of client picks its MAC address, numbers its
//! frames and which information elements (IEs) it puts in a probe request.
//!
//! The IE templates are those of real devices, in
//! [`vitrine_dot11::build::templates`].

use vitrine_dot11::build::{self, Ie, templates};

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
        build::write_ies(buf, self.ies, ssid, channel);
    }
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
        ies: templates::IPHONE_IOS_17,
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
        ies: templates::IPHONE_IOS_14,
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
        ies: templates::GALAXY_ANDROID_13,
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
        ies: templates::PIXEL_ANDROID_14,
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
        ies: templates::GALAXY_S5_ANDROID_6,
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
        ies: templates::WINDOWS_INTEL_AX201,
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
        ies: templates::WEARABLE_ESP32,
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
}
