//! Parsing of radiotap-framed 802.11 frames, with no IO.
//!
//! [`parse`] never panics and never gives up on a stream: every packet is
//! either a [`Frame`] or a [`Malformed`] reason that the caller counts.
//! Radiotap is read by [`radiotap`] (our own: the `radiotap` crate is
//! unmaintained, allocates per packet and panics on some vendor namespaces,
//! see docs/dependencies.md); 802.11 headers and information elements are read
//! with the `ieee80211` crate. [`build`] makes frames: the simulator's
//! traffic and the verifier's canary probe requests.

pub mod build;
pub mod plan;
pub mod radiotap;

use ieee80211::{mgmt_frame::ProbeRequestFrame, scroll::Pread};
use vitrine_privacy::{RawMac, RawSsid};

pub use plan::ChannelPlan;
pub use radiotap::{Band, Channel, Radio};

/// Why a packet could not be parsed. Stable names, used as keys in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Malformed {
    /// Shorter than a radiotap header, or its length field points past the packet.
    RadiotapTruncated,
    /// Radiotap version other than 0.
    RadiotapVersion,
    /// A radiotap field runs past the radiotap header.
    RadiotapFieldOverrun,
    /// The radio flagged the frame check sequence as wrong.
    BadFcs,
    /// The 802.11 header is shorter than its type requires.
    Dot11Truncated,
    /// 802.11 protocol version other than 0.
    Dot11Version,
    /// An information element's length runs past the end of the frame.
    ElementOverrun,
}

impl Malformed {
    pub const ALL: [Malformed; 7] = [
        Malformed::RadiotapTruncated,
        Malformed::RadiotapVersion,
        Malformed::RadiotapFieldOverrun,
        Malformed::BadFcs,
        Malformed::Dot11Truncated,
        Malformed::Dot11Version,
        Malformed::ElementOverrun,
    ];

    /// The reason's name in summaries and logs.
    pub fn reason(self) -> &'static str {
        match self {
            Malformed::RadiotapTruncated => "radiotap_truncated",
            Malformed::RadiotapVersion => "radiotap_version",
            Malformed::RadiotapFieldOverrun => "radiotap_field_overrun",
            Malformed::BadFcs => "bad_fcs",
            Malformed::Dot11Truncated => "dot11_truncated",
            Malformed::Dot11Version => "dot11_version",
            Malformed::ElementOverrun => "element_overrun",
        }
    }
}

/// What kind of 802.11 frame this is, as counted in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    ProbeRequest,
    ProbeResponse,
    Beacon,
    OtherManagement,
    Control,
    Data,
    /// Type 3 (extension), e.g. DMG beacons.
    Extension,
}

/// A parsed packet.
#[derive(Debug)]
pub struct Frame<'a> {
    pub radio: Radio,
    pub kind: FrameKind,
    /// Present for probe requests, the frames devices announce themselves with.
    pub probe: Option<ProbeRequest<'a>>,
    /// The capture kept only the start of the frame (its snapshot length was
    /// shorter): what was read is complete, the rest is missing.
    pub cut: bool,
}

/// The parts of a probe request that the pipeline uses. Its `Debug` shows
/// the element ids only: element contents can name networks and devices.
pub struct ProbeRequest<'a> {
    /// The transmitter address (SA). Raw: capture stage only.
    pub transmitter: RawMac,
    /// 12-bit sequence number.
    pub seq: u16,
    /// The first SSID element, empty for a wildcard probe.
    pub ssid: RawSsid<'a>,
    elements: &'a [u8],
}

/// One information element, in the order the device sent it. Its `Debug`
/// shows the id and length, not the contents.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    pub id: u8,
    /// For element 255 (extension), the extension id (the first byte).
    pub ext_id: Option<u8>,
    /// The contents (for extension elements, after the extension id).
    pub data: &'a [u8],
}

/// Element ids the pipeline treats specially.
pub mod element_id {
    pub const SSID: u8 = 0;
    pub const SUPPORTED_RATES: u8 = 1;
    pub const DSSS_PARAMETER_SET: u8 = 3;
    pub const HT_CAPABILITIES: u8 = 45;
    pub const EXTENDED_SUPPORTED_RATES: u8 = 50;
    pub const EXTENDED_CAPABILITIES: u8 = 127;
    pub const VHT_CAPABILITIES: u8 = 191;
    pub const VENDOR_SPECIFIC: u8 = 221;
    pub const EXTENSION: u8 = 255;
}

impl<'a> ProbeRequest<'a> {
    /// The information elements in order. The chain was validated by [`parse`].
    pub fn elements(&self) -> Elements<'a> {
        Elements {
            rest: self.elements,
        }
    }
}

/// Iterator over a validated element chain.
#[derive(Clone)]
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl std::fmt::Debug for ProbeRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeRequest")
            .field("transmitter", &self.transmitter)
            .field("seq", &self.seq)
            .field("ssid", &self.ssid)
            .field("elements", &self.elements())
            .finish()
    }
}

impl std::fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ext_id {
            Some(ext) => write!(f, "Element({}/{ext}, {} bytes)", self.id, self.data.len()),
            None => write!(f, "Element({}, {} bytes)", self.id, self.data.len()),
        }
    }
}

impl std::fmt::Debug for Elements<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;

    #[inline]
    fn next(&mut self) -> Option<Element<'a>> {
        let (&id, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let (data, rest) = rest.split_at_checked(len as usize)?;
        self.rest = rest;
        Some(match (id, data.split_first()) {
            (element_id::EXTENSION, Some((&ext, data))) => Element {
                id,
                ext_id: Some(ext),
                data,
            },
            _ => Element {
                id,
                ext_id: None,
                data,
            },
        })
    }
}

/// Checks that the elements exactly fill the body. In a frame that the
/// capture cut short, the chain ends with the last complete element instead:
/// returns the part of `body` that holds complete elements.
fn validate_elements(body: &[u8], cut: bool) -> Result<&[u8], Malformed> {
    let mut rest = body;
    while !rest.is_empty() {
        let next = rest.get(1).and_then(|&len| rest.get(2 + len as usize..));
        match next {
            Some(next) => rest = next,
            None if cut => return Ok(&body[..body.len() - rest.len()]),
            None => return Err(Malformed::ElementOverrun),
        }
    }
    Ok(body)
}

const MGMT_HEADER_LEN: usize = 24;

/// Parses one packet: a radiotap header followed by an 802.11 frame.
pub fn parse(packet: &[u8]) -> Result<Frame<'_>, Malformed> {
    parse_captured(packet, packet.len())
}

/// Parses one packet of which the capture kept `packet.len()` bytes of
/// `orig_len` (a snapshot length, as `tcpdump -s 128` sets). A cut probe
/// request keeps what was read: its transmitter, sequence number and the
/// elements that are complete; only a cut inside the radiotap or 802.11
/// header makes it malformed.
pub fn parse_captured(packet: &[u8], orig_len: usize) -> Result<Frame<'_>, Malformed> {
    let (radio, frame) = radiotap::parse(packet)?;
    if radio.bad_fcs {
        return Err(Malformed::BadFcs);
    }
    // Where the frame ends in the original packet: before its FCS, if any.
    let header_len = packet.len() - frame.len();
    let fcs_len = if radio.fcs_at_end { 4 } else { 0 };
    let end = orig_len
        .max(packet.len())
        .checked_sub(header_len + fcs_len)
        .ok_or(Malformed::Dot11Truncated)?;
    let cut = end > frame.len();
    parse_dot11_captured(radio, &frame[..end.min(frame.len())], cut)
}

/// Parses an 802.11 frame without FCS; `radio` is what radiotap said of it.
pub fn parse_dot11(radio: Radio, frame: &[u8]) -> Result<Frame<'_>, Malformed> {
    parse_dot11_captured(radio, frame, false)
}

/// Like [`parse_dot11`], for a frame that the capture may have `cut` short.
pub fn parse_dot11_captured(radio: Radio, frame: &[u8], cut: bool) -> Result<Frame<'_>, Malformed> {
    let fc = *frame.first().ok_or(Malformed::Dot11Truncated)?;
    if fc & 0b11 != 0 {
        return Err(Malformed::Dot11Version);
    }
    let frame_type = (fc >> 2) & 0b11;
    let subtype = fc >> 4;
    let (kind, min_len) = match (frame_type, subtype) {
        (0, 4) => (FrameKind::ProbeRequest, MGMT_HEADER_LEN),
        (0, 5) => (FrameKind::ProbeResponse, MGMT_HEADER_LEN + 12),
        (0, 8) => (FrameKind::Beacon, MGMT_HEADER_LEN + 12),
        (0, _) => (FrameKind::OtherManagement, MGMT_HEADER_LEN),
        // ACK and CTS are the shortest control frames: FC, duration, RA.
        (1, _) => (FrameKind::Control, 10),
        (2, _) => (FrameKind::Data, 24),
        _ => (FrameKind::Extension, 2),
    };
    if frame.len() < min_len {
        return Err(Malformed::Dot11Truncated);
    }
    let probe = if kind == FrameKind::ProbeRequest {
        Some(parse_probe_request(frame, cut)?)
    } else {
        None
    };
    Ok(Frame {
        radio,
        kind,
        probe,
        cut,
    })
}

fn parse_probe_request(frame: &[u8], cut: bool) -> Result<ProbeRequest<'_>, Malformed> {
    let parsed: ProbeRequestFrame<'_> = frame.pread(0).map_err(|_| Malformed::Dot11Truncated)?;
    let elements = validate_elements(parsed.body.elements.bytes, cut)?;
    let transmitter = RawMac::from_bytes(parsed.header.transmitter_address.0);
    let ssid = Elements { rest: elements }
        .find(|e| e.id == element_id::SSID)
        .map_or(&[][..], |e| e.data);
    Ok(ProbeRequest {
        transmitter,
        seq: parsed.header.sequence_control.sequence_number(),
        ssid: RawSsid::new(ssid),
        elements,
    })
}

#[cfg(test)]
mod tests;
