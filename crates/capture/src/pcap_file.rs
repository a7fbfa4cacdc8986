//! Capture files (pcap and pcapng) through `pcap-parser`, streamed with a
//! fixed buffer.

use std::fs::File;
use std::path::{Path, PathBuf};

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, PcapBlockOwned, PcapError, create_reader};

use crate::{FrameSource, LinkType, Packet};

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
    /// pcap: one link type; pcapng: per interface of the current section:
    /// link type, timestamp ticks per second, offset in seconds.
    interfaces: Vec<(LinkType, u64, i64)>,
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
        let reader = create_reader(BUFFER, file).map_err(|_| SourceError::NotPcap {
            path: path.to_owned(),
        })?;
        Ok(PcapFile {
            path: path.to_owned(),
            reader,
            pending: 0,
            offset: 0,
            interfaces: Vec::new(),
        })
    }

    fn link(&self, link: pcap_parser::Linktype) -> Result<LinkType, SourceError> {
        match link.0 {
            127 => Ok(LinkType::Radiotap),
            105 => Ok(LinkType::Ieee80211),
            other => Err(SourceError::LinkType {
                path: self.path.clone(),
                link: other,
            }),
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
        let (link, resolution, if_offset_s) = loop {
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
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) | Err(PcapError::UnexpectedEof) => {
                    if self.reader.reader_exhausted() {
                        if self.reader.data().is_empty() {
                            return Ok(None);
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
                BlockInfo::LegacyHeader { link, nanos } => {
                    let link = self.link(link)?;
                    self.interfaces =
                        vec![(link, if nanos { 1_000_000_000 } else { 1_000_000 }, 0)];
                }
                BlockInfo::Section => self.interfaces.clear(),
                BlockInfo::Interface {
                    link,
                    tsresol,
                    offset,
                } => {
                    let link = self.link(link)?;
                    let resolution = ts_resolution(tsresol).ok_or_else(|| {
                        self.damaged(format!("bad timestamp resolution {tsresol:#x}"))
                    })?;
                    self.interfaces.push((link, resolution, offset));
                }
                BlockInfo::Skip => {}
                BlockInfo::Packet { interface } => match self.interfaces.get(interface as usize) {
                    Some(&found) => break found,
                    None => {
                        return Err(
                            self.damaged(format!("packet on unknown interface {interface}"))
                        );
                    }
                },
            }
        };
        let offset = self.offset;
        let (ticks, data) = match self.reader.next() {
            Ok((_, PcapBlockOwned::Legacy(b))) => {
                // The fraction is in µs or ns, per the file's magic.
                let ticks = u64::from(b.ts_sec) * resolution + u64::from(b.ts_usec);
                (ticks, b.data)
            }
            Ok((_, PcapBlockOwned::NG(Block::EnhancedPacket(b)))) => {
                let ticks = (u64::from(b.ts_high) << 32) | u64::from(b.ts_low);
                (ticks, b.data.get(..b.caplen as usize).unwrap_or(b.data))
            }
            _ => unreachable!("the same block was classified as a packet above"),
        };
        let ts_us = i64::try_from(u128::from(ticks) * 1_000_000 / u128::from(resolution))
            .ok()
            .and_then(|us| us.checked_add(if_offset_s.checked_mul(1_000_000)?));
        match ts_us {
            Some(ts_us) => Ok(Some(Packet { ts_us, link, data })),
            None => Err(SourceError::Damaged {
                path: self.path.clone(),
                offset,
                message: "timestamp out of range".into(),
            }),
        }
    }
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
    },
    Section,
    Interface {
        link: pcap_parser::Linktype,
        tsresol: u8,
        offset: i64,
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
        },
        PcapBlockOwned::Legacy(_) => BlockInfo::Packet { interface: 0 },
        PcapBlockOwned::NG(Block::SectionHeader(_)) => BlockInfo::Section,
        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => BlockInfo::Interface {
            link: idb.linktype,
            tsresol: idb.if_tsresol,
            offset: idb.if_tsoffset,
        },
        PcapBlockOwned::NG(Block::EnhancedPacket(b)) => BlockInfo::Packet { interface: b.if_id },
        PcapBlockOwned::NG(_) => BlockInfo::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::ts_resolution;

    #[test]
    fn timestamp_resolutions_follow_the_pcapng_spec() {
        assert_eq!(ts_resolution(6), Some(1_000_000));
        assert_eq!(ts_resolution(9), Some(1_000_000_000));
        assert_eq!(ts_resolution(0x80 | 10), Some(1024));
        assert_eq!(ts_resolution(0x80 | 64), None);
        assert_eq!(ts_resolution(20), None);
    }
}
