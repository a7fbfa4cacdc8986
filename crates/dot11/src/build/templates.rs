//! The probe-request elements of real devices, in the order they send them.
//!
//! The element bodies are modelled on real captures of the respective
//! chipsets and operating systems; the exact bit values matter less than the
//! fact that they are well-formed, distinct between templates and identical
//! for every device of one kind, as real ones are.

use super::Ie;

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

/// Apple iPhone, iOS 17: random address per burst; Broadcom and Apple vendor elements, HE.
pub const IPHONE_IOS_17: &[Ie] = &[
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
];

/// Apple iPhone, iOS 14: as iOS 17 without HE.
pub const IPHONE_IOS_14: &[Ie] = &[
    SSID,
    fixed(1, RATES_B),
    fixed(50, EXT_RATES_G8),
    DS,
    fixed(45, &HT_IOS14),
    fixed(127, EXT_CAP_IOS14),
    fixed(191, VHT_IOS),
    fixed(221, BROADCOM_VENDOR),
    fixed(221, APPLE_VENDOR),
];

/// Samsung Galaxy, Android 13: Interworking, HE and MBO-OCE.
pub const GALAXY_ANDROID_13: &[Ie] = &[
    SSID,
    fixed(1, RATES_8),
    fixed(50, EXT_RATES_4),
    DS,
    fixed(45, &HT_GALAXY),
    fixed(127, EXT_CAP_GALAXY),
    fixed(107, INTERWORKING),
    fixed(255, HE_GALAXY),
    fixed(221, MBO_OCE),
];

/// Google Pixel, Android 14: HE and MBO-OCE.
pub const PIXEL_ANDROID_14: &[Ie] = &[
    SSID,
    fixed(1, RATES_8),
    fixed(50, EXT_RATES_4),
    DS,
    fixed(45, &HT_PIXEL),
    fixed(127, EXT_CAP_PIXEL),
    fixed(255, HE_PIXEL),
    fixed(221, MBO_OCE),
];

/// Samsung Galaxy S5, Android 6: the Epigram HT vendor element.
pub const GALAXY_S5_ANDROID_6: &[Ie] = &[
    SSID,
    fixed(1, RATES_8),
    fixed(50, EXT_RATES_4),
    DS,
    fixed(45, &HT_OLD_ANDROID),
    fixed(127, EXT_CAP_OLD_ANDROID),
    fixed(221, &EPIGRAM_HT),
];

/// Windows laptop with an Intel AX201: HE and a WPS element (with a device UUID).
pub const WINDOWS_INTEL_AX201: &[Ie] = &[
    SSID,
    fixed(1, RATES_8),
    fixed(50, EXT_RATES_4),
    DS,
    fixed(45, &HT_INTEL),
    fixed(127, EXT_CAP_INTEL),
    fixed(255, HE_INTEL),
    fixed(221, WPS_WINDOWS),
];

/// ESP32-based wearable: five elements.
pub const WEARABLE_ESP32: &[Ie] = &[
    SSID,
    fixed(1, RATES_B),
    fixed(50, EXT_RATES_G8),
    DS,
    fixed(45, &HT_WEARABLE),
];

/// Every template, for tests.
#[cfg(test)]
const ALL: [&[Ie]; 7] = [
    IPHONE_IOS_17,
    IPHONE_IOS_14,
    GALAXY_ANDROID_13,
    PIXEL_ANDROID_14,
    GALAXY_S5_ANDROID_6,
    WINDOWS_INTEL_AX201,
    WEARABLE_ESP32,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_distinct_and_well_formed() {
        let mut seen = Vec::new();
        for (i, template) in ALL.iter().enumerate() {
            let mut buf = Vec::new();
            super::super::write_ies(&mut buf, template, None, 6);
            // Walk the element list: every length must stay inside the buffer.
            let mut at = 0;
            let mut ids = Vec::new();
            while at < buf.len() {
                ids.push(buf[at]);
                at += 2 + usize::from(buf[at + 1]);
            }
            assert_eq!(at, buf.len(), "template {i}");
            assert_eq!(
                &ids[..2],
                &[0, 1],
                "template {i}: SSID and rates come first"
            );
            assert!(ids.contains(&3) && ids.contains(&45), "template {i}");
            assert!(!seen.contains(&buf), "template {i} duplicates another");
            seen.push(buf);
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
