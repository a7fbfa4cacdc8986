//! The radiotap header: the few fields the pipeline needs, read without
//! allocating.
//!
//! Fields are laid out in the order of their presence bits, each aligned to
//! its natural alignment relative to the start of the header. Only bits 0..=5
//! of the first presence word matter here (TSFT, flags, rate, channel, FHSS,
//! dBm antenna signal); those always belong to the default namespace, so
//! extended presence words and vendor namespaces can be skipped wholesale.

use crate::Malformed;

/// What the radio said about a frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Radio {
    /// Received signal strength in dBm.
    pub signal_dbm: Option<i8>,
    /// Centre frequency in MHz.
    pub freq_mhz: Option<u16>,
    /// The frame ends with a 4-byte FCS.
    pub fcs_at_end: bool,
    /// The radio found the FCS wrong.
    pub bad_fcs: bool,
}

impl Radio {
    /// The IEEE channel number for the frequency, if it is a Wi-Fi channel.
    pub fn channel(&self) -> Option<u8> {
        channel_of(self.freq_mhz?)
    }
}

/// Maps a centre frequency to its channel number (2.4, 5 and 6 GHz bands).
pub fn channel_of(freq_mhz: u16) -> Option<u8> {
    let ch = match freq_mhz {
        2484 => 14,
        2412..=2472 => (freq_mhz - 2407) / 5,
        5955..=7115 => (freq_mhz - 5950) / 5,
        5000..=5895 => (freq_mhz - 5000) / 5,
        _ => return None,
    };
    u8::try_from(ch).ok()
}

const FLAG_FCS_AT_END: u8 = 0x10;
const FLAG_BAD_FCS: u8 = 0x40;
const PRESENT_EXT: u32 = 1 << 31;

/// (alignment, size) of the fields with presence bits 0..=5.
const FIELDS: [(usize, usize); 6] = [(8, 8), (1, 1), (1, 1), (2, 4), (1, 2), (1, 1)];

/// Splits a packet into the radio information and the 802.11 frame.
pub fn parse(packet: &[u8]) -> Result<(Radio, &[u8]), Malformed> {
    let header = packet.get(..8).ok_or(Malformed::RadiotapTruncated)?;
    if header[0] != 0 {
        return Err(Malformed::RadiotapVersion);
    }
    let len = u16::from_le_bytes([header[2], header[3]]) as usize;
    if len < 8 || len > packet.len() {
        return Err(Malformed::RadiotapTruncated);
    }
    let (rt, frame) = packet.split_at(len);
    let present = u32_at(rt, 4).ok_or(Malformed::RadiotapTruncated)?;

    // Skip the extended presence words to find the first field.
    let mut offset = 8;
    let mut word = present;
    while word & PRESENT_EXT != 0 {
        word = u32_at(rt, offset).ok_or(Malformed::RadiotapFieldOverrun)?;
        offset += 4;
    }

    let mut radio = Radio::default();
    for (bit, &(align, size)) in FIELDS.iter().enumerate() {
        if present & (1 << bit) == 0 {
            continue;
        }
        offset = offset.next_multiple_of(align);
        let field = rt
            .get(offset..offset + size)
            .ok_or(Malformed::RadiotapFieldOverrun)?;
        match bit {
            1 => {
                radio.fcs_at_end = field[0] & FLAG_FCS_AT_END != 0;
                radio.bad_fcs = field[0] & FLAG_BAD_FCS != 0;
            }
            3 => {
                radio.freq_mhz = Some(u16::from_le_bytes([field[0], field[1]])).filter(|&f| f != 0)
            }
            5 => radio.signal_dbm = Some(field[0] as i8),
            _ => {}
        }
        offset += size;
    }
    Ok((radio, frame))
}

#[inline]
fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..offset + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
