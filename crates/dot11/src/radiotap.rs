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
    /// The band and channel number for the frequency, if it is a Wi-Fi channel.
    pub fn channel(&self) -> Option<Channel> {
        channel_of(self.freq_mhz?)
    }
}

/// A Wi-Fi band. Channel numbers repeat across bands (6 GHz channel 1 is not
/// 2.4 GHz channel 1), so a channel is always named with its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Band {
    Ghz2_4 = 0,
    Ghz5 = 1,
    Ghz6 = 2,
}

impl Band {
    pub const ALL: [Band; 3] = [Band::Ghz2_4, Band::Ghz5, Band::Ghz6];

    /// The band's name in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Band::Ghz2_4 => "2.4GHz",
            Band::Ghz5 => "5GHz",
            Band::Ghz6 => "6GHz",
        }
    }
}

/// A channel: band and IEEE channel number (1..=233).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel {
    pub band: Band,
    pub number: u8,
}

/// Maps a centre frequency to its band and channel number.
pub fn channel_of(freq_mhz: u16) -> Option<Channel> {
    let (band, number) = match freq_mhz {
        2484 => (Band::Ghz2_4, 14),
        2412..=2472 => (Band::Ghz2_4, (freq_mhz - 2407) / 5),
        5955..=7115 => (Band::Ghz6, (freq_mhz - 5950) / 5),
        5005..=5895 => (Band::Ghz5, (freq_mhz - 5000) / 5),
        _ => return None,
    };
    Some(Channel {
        band,
        number: u8::try_from(number).ok()?,
    })
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
