//! Capture files (pcap and pcapng) through `pcap-parser`, streamed with a
//! fixed buffer.

use std::fs::File;
use std::path::{Path, PathBuf};

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, PcapBlockOwned, PcapError, create_reader};

use crate::{FrameSource, LinkType, Packet, SourceNotes};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a pcap or pcapng file")]
    NotPcap { path: PathBuf },
    #[error("{path}: link type {link} is not 802.11 (radiotap 127 or raw 105)")]
    LinkType { path: PathBuf, link: i32 },
    /// The file ends in the middle of a packet (a capture that was cut off).
    /// Everything before it was delivered.
    #[error("{path}: ends in the middle of a packet at byte {offset}")]
    Truncated { path: PathBuf, offset: u64 },
    #[error("{path}: damaged at byte {offset}: {message}")]
    Damaged {
        path: PathBuf,
        offset: u64,
        message: String,
    },
}

/// Reads a capture file packet by packet.
pub struct PcapFile {
    path: PathBuf,
    reader: Box<dyn PcapReaderIterator + Send>,
    /// Bytes to consume before reading the next block.
    pending: usize,
    offset: u64,
    /// pcap: one interface; pcapng: those of the current section.
    interfaces: Vec<Interface>,
    /// An 802.11 interface was described somewhere in the file.
    seen_dot11: bool,
    /// The first link type that is not 802.11, for the error when the file
    /// holds no 802.11 interface at all.
    other_link: Option<i32>,
    /// Time of the last packet handed out, for packets without one.
    last_ts_us: i64,
    notes: SourceNotes,
}

/// One capture interface (pcapng) or the whole file (pcap).
#[derive(Debug, Clone, Copy)]
struct Interface {
    /// `None`: not 802.11; its packets are skipped and counted.
    link: Option<LinkType>,
    /// Timestamp ticks per second.
    resolution: u64,
    /// Added to timestamps, in seconds (pcapng `if_tsoffset`).
    offset_s: i64,
    /// Snapshot length (0: none), which bounds Simple Packet Blocks.
    snaplen: u32,
    /// Bytes of frame check sequence at the end of each packet, as the pcap
    /// header's link-type flag bits declare it (radiotap says so itself).
    fcs_len: usize,
}

impl std::fmt::Debug for PcapFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapFile")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish()
    }
}

const BUFFER: usize = 1 << 20;

impl PcapFile {
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let file = File::open(path).map_err(|source| SourceError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::from_reader(path, file)
    }

    /// Reads a capture from any byte stream (standard input, memory);
    /// `name` is how errors refer to it.
    pub fn from_reader(
        name: &Path,
        reader: impl std::io::Read + Send + 'static,
    ) -> Result<Self, SourceError> {
        let path = name;
        let reader = create_reader(BUFFER, reader).map_err(|_| SourceError::NotPcap {
            path: path.to_owned(),
        })?;
        Ok(PcapFile {
            path: path.to_owned(),
            reader,
            pending: 0,
            offset: 0,
            interfaces: Vec::new(),
            seen_dot11: false,
            other_link: None,
            last_ts_us: 0,
            notes: SourceNotes::default(),
        })
    }

    /// Notes an interface's link type: 802.11 or another one.
    fn link(&mut self, link: i32) -> Option<LinkType> {
        let found = dot11_link(link);
        match found {
            Some(_) => self.seen_dot11 = true,
            None => {
                self.other_link.get_or_insert(link);
            }
        }
        found
    }

    fn not_dot11(&self, link: i32) -> SourceError {
        SourceError::LinkType {
            path: self.path.clone(),
            link,
        }
    }

    fn damaged(&self, message: impl Into<String>) -> SourceError {
        SourceError::Damaged {
            path: self.path.clone(),
            offset: self.offset,
            message: message.into(),
        }
    }
}

impl FrameSource for PcapFile {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        let interface = loop {
            if self.pending > 0 {
                self.reader.consume(self.pending);
                self.offset += self.pending as u64;
                self.pending = 0;
            }
            // Decide on the block first (no borrow kept), then re-read it to
            // hand out the packet: the borrow checker cannot see that the
            // buffer stays put between the two calls otherwise.
            let (size, header) = match self.reader.next() {
                Ok((size, block)) => (size, classify(block)),
                Err(PcapError::Eof) => return self.end(),
                Err(PcapError::Incomplete(_)) | Err(PcapError::UnexpectedEof) => {
                    if self.reader.reader_exhausted() {
                        if self.reader.data().is_empty() {
                            return self.end();
                        }
                        let (path, offset) = (self.path.clone(), self.offset);
                        // Once reported, the source is done.
                        self.reader.consume(self.reader.data().len());
                        return Err(SourceError::Truncated { path, offset });
                    }
                    if self.reader.refill().is_err() {
                        return Err(self.damaged("read error"));
                    }
                    continue;
                }
                // Never format the parser's error: it carries the buffer.
                Err(e) => {
                    let message = describe(&e);
                    return Err(self.damaged(message));
                }
            };
            self.pending = size;
            match header {
                BlockInfo::LegacyHeader {
                    link,
                    nanos,
                    snaplen,
                } => {
                    let (link, fcs_len) = legacy_link(link.0);
                    // A pcap file has one link type: other than 802.11, there
                    // is nothing in it to analyse.
                    let dot11 = self.link(link).ok_or_else(|| self.not_dot11(link))?;
                    self.interfaces = vec![Interface {
                        link: Some(dot11),
                        resolution: if nanos { 1_000_000_000 } else { 1_000_000 },
                        offset_s: 0,
                        snaplen,
                        fcs_len,
                    }];
                }
                BlockInfo::Section => self.interfaces.clear(),
                BlockInfo::Interface {
                    link,
                    tsresol,
                    offset,
                    snaplen,
                } => {
                    let link = self.link(link.0);
                    let resolution = ts_resolution(tsresol).ok_or_else(|| {
                        self.damaged(format!("bad timestamp resolution {tsresol:#x}"))
                    })?;
                    self.interfaces.push(Interface {
                        link,
                        resolution,
                        offset_s: offset,
                        snaplen,
                        fcs_len: 0,
                    });
                }
                BlockInfo::Skip => {}
                BlockInfo::Packet { interface } => match self.interfaces.get(interface as usize) {
                    Some(found) if found.link.is_some() => break *found,
                    Some(_) => self.notes.other_link += 1,
                    None => {
                        return Err(
                            self.damaged(format!("packet on unknown interface {interface}"))
                        );
                    }
                },
            }
        };
        let link = interface.link.expect("only 802.11 interfaces break out");
        let offset = self.offset;
        let (ticks, data, orig_len) = match self.reader.next() {
            Ok((_, PcapBlockOwned::Legacy(b))) => {
                // The fraction is in µs or ns, per the file's magic.
                let ticks = u64::from(b.ts_sec) * interface.resolution + u64::from(b.ts_usec);
                (Some(ticks), b.data, b.origlen)
            }
            Ok((_, PcapBlockOwned::NG(Block::EnhancedPacket(b)))) => {
                let ticks = (u64::from(b.ts_high) << 32) | u64::from(b.ts_low);
                let data = b.data.get(..b.caplen as usize).unwrap_or(b.data);
                (Some(ticks), data, b.origlen)
            }
            Ok((_, PcapBlockOwned::NG(Block::SimplePacket(b)))) => {
                // No captured length of its own: the original length, bounded
                // by the interface's snapshot length; the rest is padding.
                let mut caplen = b.origlen as usize;
                if interface.snaplen > 0 {
                    caplen = caplen.min(interface.snaplen as usize);
                }
                (None, b.data.get(..caplen).unwrap_or(b.data), b.origlen)
            }
            _ => unreachable!("the same block was classified as a packet above"),
        };
        let ts_us = match ticks {
            Some(ticks) => {
                let ts =
                    i64::try_from(u128::from(ticks) * 1_000_000 / u128::from(interface.resolution))
                        .ok()
                        .and_then(|us| us.checked_add(interface.offset_s.checked_mul(1_000_000)?));
                match ts {
                    Some(ts) => ts,
                    None => {
                        return Err(SourceError::Damaged {
                            path: self.path.clone(),
                            offset,
                            message: "timestamp out of range".into(),
                        });
                    }
                }
            }
            None => {
                self.notes.untimed += 1;
                self.last_ts_us
            }
        };
        self.last_ts_us = ts_us;
        // A declared FCS is not part of the frame; a cut packet may have lost
        // part of it already.
        let frame_len = (orig_len as usize)
            .max(data.len())
            .saturating_sub(interface.fcs_len);
        Ok(Some(Packet {
            ts_us,
            link,
            data: &data[..data.len().min(frame_len)],
            orig_len: frame_len,
        }))
    }

    fn notes(&self) -> SourceNotes {
        self.notes
    }
}

impl PcapFile {
    /// The end of the file: a file whose packets were all on interfaces of
    /// other link types held nothing to analyse, and says so.
    fn end(&self) -> Result<Option<Packet<'_>>, SourceError> {
        match self.other_link {
            Some(link) if !self.seen_dot11 => Err(self.not_dot11(link)),
            _ => Ok(None),
        }
    }
}

/// The 802.11 link types.
fn dot11_link(link: i32) -> Option<LinkType> {
    match link {
        127 => Some(LinkType::Radiotap),
        105 => Some(LinkType::Ieee80211),
        _ => None,
    }
}

/// Splits the pcap header's link-type field: the link type in the low bits,
/// then flag bits that some writers set (libpcap's `LT_LINKTYPE` and
/// `LT_FCS_LENGTH`): bit 26 says that bits 28-31 give the FCS length in
/// 16-bit words. Returns the link type and the FCS length in bytes.
fn legacy_link(field: i32) -> (i32, usize) {
    let field = field as u32;
    let link = (field & 0x03ff_ffff) as i32;
    let fcs_len = if field & 0x0400_0000 != 0 {
        (field >> 28) as usize * 2
    } else {
        0
    };
    (link, fcs_len)
}

/// Ticks per second for a pcapng `if_tsresol` value: 10^n, or 2^n with the
/// top bit set. (`pcap-parser` 0.17 rejects every power-of-two resolution.)
fn ts_resolution(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 != 0 {
        1u64.checked_shl(n).filter(|_| n < 64)
    } else {
        10u64.checked_pow(n)
    }
}

/// A fixed description of a parser error (its `Debug` would print the input).
fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::HeaderNotRecognized => "not a pcap or pcapng file".into(),
        PcapError::BufferTooSmall => "a block is larger than the read buffer".into(),
        PcapError::ReadError => "read error".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("unparsable block ({kind:?})")
        }
        _ => "unparsable block".into(),
    }
}

enum BlockInfo {
    LegacyHeader {
        link: pcap_parser::Linktype,
        nanos: bool,
        snaplen: u32,
    },
    Section,
    Interface {
        link: pcap_parser::Linktype,
        tsresol: u8,
        offset: i64,
        snaplen: u32,
    },
    Packet {
        interface: u32,
    },
    Skip,
}

fn classify(block: PcapBlockOwned<'_>) -> BlockInfo {
    match block {
        PcapBlockOwned::LegacyHeader(h) => BlockInfo::LegacyHeader {
            link: h.network,
            nanos: h.is_nanosecond_precision(),
            snaplen: h.snaplen,
        },
        PcapBlockOwned::Legacy(_) => BlockInfo::Packet { interface: 0 },
        PcapBlockOwned::NG(Block::SectionHeader(_)) => BlockInfo::Section,
        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => BlockInfo::Interface {
            link: idb.linktype,
            tsresol: idb.if_tsresol,
            offset: idb.if_tsoffset,
            snaplen: idb.snaplen,
        },
        PcapBlockOwned::NG(Block::EnhancedPacket(b)) => BlockInfo::Packet { interface: b.if_id },
        // A Simple Packet Block is always on the section's first interface.
        PcapBlockOwned::NG(Block::SimplePacket(_)) => BlockInfo::Packet { interface: 0 },
        PcapBlockOwned::NG(_) => BlockInfo::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::{legacy_link, ts_resolution};

    #[test]
    fn link_type_flag_bits_are_masked_and_a_declared_fcs_is_read() {
        assert_eq!(legacy_link(127), (127, 0));
        // Bits 28-29 without the F bit (26): flags to mask, no FCS.
        assert_eq!(legacy_link(0x3000_007f), (127, 0));
        // F bit and two 16-bit words: a 4-byte FCS.
        assert_eq!(legacy_link(0x2400_0069), (105, 4));
        assert_eq!(legacy_link(1), (1, 0));
    }

    #[test]
    fn timestamp_resolutions_follow_the_pcapng_spec() {
        assert_eq!(ts_resolution(6), Some(1_000_000));
        assert_eq!(ts_resolution(9), Some(1_000_000_000));
        assert_eq!(ts_resolution(0x80 | 10), Some(1024));
        assert_eq!(ts_resolution(0x80 | 64), None);
        assert_eq!(ts_resolution(20), None);
    }
}
