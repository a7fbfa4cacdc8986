//! Byte-level frame builders: a radiotap header plus an 802.11 probe
//! request, beacon or protected data frame (no FCS), as a monitor-mode
//! capture holds them. The simulator builds its traffic with them and the
//! verifier its canary probe requests ([`templates`] holds the information
//! elements of real devices' probe requests).
//!
//! Unlike [`parse`](crate::parse), these panic on arguments no frame can
//! carry (a channel number without a frequency, an SSID over 32 bytes): the
//! caller chooses them.

pub mod templates;

/// Length of the radiotap header every built frame starts with.
pub const RADIOTAP_LEN: usize = 15;

/// Radiotap "present" word: Flags (bit 1), Channel (bit 3), dBm antenna signal (bit 5).
const RADIOTAP_PRESENT: u32 = (1 << 1) | (1 << 3) | (1 << 5);

/// Radiotap channel flags.
const CHAN_CCK: u16 = 0x0020;
const CHAN_OFDM: u16 = 0x0040;
const CHAN_2GHZ: u16 = 0x0080;
const CHAN_5GHZ: u16 = 0x0100;

const BROADCAST: [u8; 6] = [0xff; 6];

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

/// Appends the elements of `template` for a probe request for `ssid`
/// (wildcard if `None`) on `channel`.
///
/// # Panics
/// If the SSID is longer than 32 bytes.
pub fn write_ies(buf: &mut Vec<u8>, template: &[Ie], ssid: Option<&[u8]>, channel: u8) {
    for ie in template {
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

/// Centre frequency in MHz of a 2.4 GHz (1–14) or 5 GHz (32–177) channel.
///
/// # Panics
/// For any other channel number.
pub fn channel_freq_mhz(channel: u8) -> u16 {
    assert!(
        matches!(channel, 1..=14 | 32..=177),
        "unsupported channel {channel}"
    );
    // At most 5885 MHz: fits.
    crate::plan::frequency_mhz(channel) as u16
}

/// Writes the radiotap header. `cck` selects the flags of a 1 Mb/s (DSSS/CCK)
/// transmission as used for management frames; otherwise OFDM.
fn put_radiotap(buf: &mut Vec<u8>, channel: u8, cck: bool, rssi_dbm: i8) {
    let freq = channel_freq_mhz(channel);
    let band = if freq < 3000 { CHAN_2GHZ } else { CHAN_5GHZ };
    let modulation = if cck && band == CHAN_2GHZ {
        CHAN_CCK
    } else {
        CHAN_OFDM
    };
    buf.extend_from_slice(&[0, 0]); // version 0, pad
    buf.extend_from_slice(&(RADIOTAP_LEN as u16).to_le_bytes());
    buf.extend_from_slice(&RADIOTAP_PRESENT.to_le_bytes());
    buf.push(0); // Flags: no FCS, no short preamble
    buf.push(0); // pad: the Channel field is 2-byte aligned
    buf.extend_from_slice(&freq.to_le_bytes());
    buf.extend_from_slice(&(band | modulation).to_le_bytes());
    buf.push(rssi_dbm as u8);
}

/// Writes the 24-byte 802.11 MAC header (frame control as two bytes).
fn put_header(
    buf: &mut Vec<u8>,
    fc: [u8; 2],
    duration: u16,
    a1: &[u8; 6],
    a2: &[u8; 6],
    a3: &[u8; 6],
    seq: u16,
) {
    buf.extend_from_slice(&fc);
    buf.extend_from_slice(&duration.to_le_bytes());
    buf.extend_from_slice(a1);
    buf.extend_from_slice(a2);
    buf.extend_from_slice(a3);
    // Sequence control: fragment number in the low 4 bits (always 0).
    buf.extend_from_slice(&((seq & 0x0fff) << 4).to_le_bytes());
}

/// Builds a probe request (radiotap + 802.11, no FCS) from `sa` with the
/// elements of `template`. `ssid: None` makes a wildcard probe.
///
/// # Panics
/// If the channel is unsupported or the SSID is longer than 32 bytes.
pub fn probe_request(
    sa: [u8; 6],
    seq: u16,
    ssid: Option<&[u8]>,
    template: &[Ie],
    channel: u8,
    rssi_dbm: i8,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    write_probe_request(&mut buf, sa, seq, ssid, template, channel, rssi_dbm);
    buf
}

/// Like [`probe_request`], appending to `buf` (lets the simulator reuse one buffer).
pub fn write_probe_request(
    buf: &mut Vec<u8>,
    sa: [u8; 6],
    seq: u16,
    ssid: Option<&[u8]>,
    template: &[Ie],
    channel: u8,
    rssi_dbm: i8,
) {
    put_radiotap(buf, channel, true, rssi_dbm);
    // Type 0 (management), subtype 4 (probe request); DA and BSSID broadcast.
    put_header(buf, [0x40, 0x00], 0, &BROADCAST, &sa, &BROADCAST, seq);
    write_ies(buf, template, ssid, channel);
}

/// Parameters of a beacon that stay fixed for an access point.
#[derive(Debug, Clone)]
pub struct BeaconParams<'a> {
    pub bssid: [u8; 6],
    pub ssid: &'a [u8],
    pub channel: u8,
}

/// Appends a beacon: fixed fields (TSF, 100 TU interval, capabilities) and
/// SSID, rates, DS, TIM, HT, RSN (WPA2-PSK/CCMP) and HT operation elements.
pub fn write_beacon(buf: &mut Vec<u8>, ap: &BeaconParams<'_>, seq: u16, tsf_us: u64, rssi_dbm: i8) {
    put_radiotap(buf, ap.channel, true, rssi_dbm);
    put_header(buf, [0x80, 0x00], 0, &BROADCAST, &ap.bssid, &ap.bssid, seq);
    buf.extend_from_slice(&tsf_us.to_le_bytes());
    buf.extend_from_slice(&100u16.to_le_bytes()); // beacon interval, TU
    // Capabilities: ESS, privacy, short preamble, short slot time.
    buf.extend_from_slice(&0x0431u16.to_le_bytes());
    buf.push(0);
    buf.push(ap.ssid.len() as u8);
    buf.extend_from_slice(ap.ssid);
    buf.extend_from_slice(&[1, 8, 0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24]);
    buf.extend_from_slice(&[3, 1, ap.channel]);
    // TIM: DTIM count 0, period 1, bitmap control 0, one bitmap byte.
    buf.extend_from_slice(&[5, 4, 0, 1, 0, 0]);
    buf.extend_from_slice(&[50, 4, 0x30, 0x48, 0x60, 0x6c]);
    buf.extend_from_slice(&[45, 26, 0xad, 0x01, 0x17, 0xff, 0xff]);
    buf.extend_from_slice(&[0; 21]);
    buf.extend_from_slice(&[
        48, 20, 0x01, 0x00, // RSN version 1
        0x00, 0x0f, 0xac, 0x04, // group cipher CCMP
        0x01, 0x00, 0x00, 0x0f, 0xac, 0x04, // 1 pairwise cipher: CCMP
        0x01, 0x00, 0x00, 0x0f, 0xac, 0x02, // 1 AKM: PSK
        0x0c, 0x00, // RSN capabilities
    ]);
    // HT operation: primary channel, then 5 info bytes and 16-byte basic MCS set.
    buf.extend_from_slice(&[61, 22, ap.channel]);
    buf.extend_from_slice(&[0; 21]);
}

/// Direction of a data frame between a station and its access point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToAp,
    FromAp,
}

/// Appends a CCMP-protected QoS data frame of `payload_len` encrypted bytes
/// (random, drawn by the caller through `fill`) between `sta` and `bssid`.
#[allow(clippy::too_many_arguments)]
pub fn write_data(
    buf: &mut Vec<u8>,
    dir: Direction,
    bssid: &[u8; 6],
    sta: &[u8; 6],
    peer: &[u8; 6],
    channel: u8,
    seq: u16,
    packet_number: u64,
    payload_len: usize,
    rssi_dbm: i8,
    fill: impl FnOnce(&mut [u8]),
) {
    put_radiotap(buf, channel, false, rssi_dbm);
    // Type 2 subtype 8 (QoS data); flags: To/From DS and Protected (0x40).
    let (fc1, a1, a2, a3) = match dir {
        Direction::ToAp => (0x41, bssid, sta, peer),
        Direction::FromAp => (0x42, sta, bssid, peer),
    };
    put_header(buf, [0x88, fc1], 44, a1, a2, a3, seq);
    buf.extend_from_slice(&[0x00, 0x00]); // QoS control: TID 0
    let pn = packet_number.to_le_bytes();
    // CCMP header: PN0 PN1 reserved ExtIV|KeyID0 PN2..PN5.
    buf.extend_from_slice(&[pn[0], pn[1], 0x00, 0x20, pn[2], pn[3], pn[4], pn[5]]);
    let start = buf.len();
    buf.resize(start + payload_len + 8, 0); // encrypted payload + 8-byte MIC
    fill(&mut buf[start..]);
}

#[cfg(test)]
mod tests {
    use super::templates::{GALAXY_ANDROID_13, IPHONE_IOS_17};
    use super::*;

    #[test]
    fn radiotap_layout() {
        let f = probe_request([0x02, 1, 2, 3, 4, 5], 0xabc, None, IPHONE_IOS_17, 6, -61);
        assert_eq!(&f[..4], &[0, 0, 15, 0]);
        assert_eq!(u32::from_le_bytes(f[4..8].try_into().unwrap()), 0x2a);
        assert_eq!(f[8], 0, "flags: no FCS");
        assert_eq!(u16::from_le_bytes([f[10], f[11]]), 2437);
        assert_eq!(u16::from_le_bytes([f[12], f[13]]), 0x00a0);
        assert_eq!(f[14] as i8, -61);
    }

    #[test]
    fn probe_header_fields() {
        let sa = [0x02, 1, 2, 3, 4, 5];
        let f = probe_request(sa, 0xabc, Some(b"HomeNet-1234"), GALAXY_ANDROID_13, 11, -70);
        let h = &f[RADIOTAP_LEN..];
        assert_eq!(&h[..2], &[0x40, 0x00]);
        assert_eq!(&h[4..10], &BROADCAST);
        assert_eq!(&h[10..16], &sa);
        assert_eq!(&h[16..22], &BROADCAST);
        assert_eq!(u16::from_le_bytes([h[22], h[23]]), 0xabc << 4);
        assert_eq!(&h[24..26], &[0, 12]);
        assert_eq!(&h[26..38], b"HomeNet-1234");
    }

    #[test]
    fn sequence_wraps_at_4096() {
        let f = probe_request([0x02, 0, 0, 0, 0, 1], 4096 + 7, None, IPHONE_IOS_17, 1, -50);
        assert_eq!(
            u16::from_le_bytes([f[RADIOTAP_LEN + 22], f[RADIOTAP_LEN + 23]]),
            7 << 4
        );
    }

    #[test]
    fn channel_frequencies() {
        assert_eq!(channel_freq_mhz(1), 2412);
        assert_eq!(channel_freq_mhz(11), 2462);
        assert_eq!(channel_freq_mhz(14), 2484);
        assert_eq!(channel_freq_mhz(36), 5180);
    }
}
