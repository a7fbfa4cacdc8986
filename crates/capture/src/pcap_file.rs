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
    /// pcap: one link type; pcapng: per interface, with timestamp resolution.
    interfaces: Vec<(LinkType, u64, i64)>,
    nanos: bool,
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
            nanos: false,
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
        loop {
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
                    if let Err(e) = self.reader.refill() {
                        let message = format!("read error: {e:?}");
                        return Err(self.damaged(message));
                    }
                    continue;
                }
                Err(e) => {
                    let message = format!("{e:?}");
                    return Err(self.damaged(message));
                }
            };
            self.pending = size;
            match header {
                BlockInfo::LegacyHeader { link, nanos } => {
                    let link = self.link(link)?;
                    self.interfaces = vec![(link, 1_000_000, 0)];
                    self.nanos = nanos;
                }
                BlockInfo::Interface {
                    link,
                    resolution,
                    offset,
                } => {
                    let link = self.link(link)?;
                    self.interfaces.push((link, resolution, offset));
                }
                BlockInfo::Skip => {}
                BlockInfo::Packet => break,
            }
        }
        let nanos = self.nanos;
        let interfaces = self.interfaces.clone();
        let path = self.path.clone();
        let offset = self.offset;
        let (_, block) = self.reader.next().map_err(|e| SourceError::Damaged {
            path: path.clone(),
            offset,
            message: format!("{e:?}"),
        })?;
        match block {
            PcapBlockOwned::Legacy(b) => {
                let (link, _, _) = *interfaces.first().ok_or(SourceError::NotPcap { path })?;
                let frac = if nanos {
                    i64::from(b.ts_usec) / 1000
                } else {
                    i64::from(b.ts_usec)
                };
                Ok(Some(Packet {
                    ts_us: i64::from(b.ts_sec) * 1_000_000 + frac,
                    link,
                    data: b.data,
                }))
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(b)) => {
                let &(link, resolution, if_offset) =
                    interfaces
                        .get(b.if_id as usize)
                        .ok_or_else(|| SourceError::Damaged {
                            path,
                            offset,
                            message: format!("packet on unknown interface {}", b.if_id),
                        })?;
                let ticks = (u64::from(b.ts_high) << 32) | u64::from(b.ts_low);
                let us = (u128::from(ticks) * 1_000_000 / u128::from(resolution.max(1))) as i64;
                let data = b.data.get(..b.caplen as usize).unwrap_or(b.data);
                Ok(Some(Packet {
                    ts_us: us + if_offset * 1_000_000,
                    link,
                    data,
                }))
            }
            _ => unreachable!("classified as a packet above"),
        }
    }
}

enum BlockInfo {
    LegacyHeader {
        link: pcap_parser::Linktype,
        nanos: bool,
    },
    Interface {
        link: pcap_parser::Linktype,
        resolution: u64,
        offset: i64,
    },
    Packet,
    Skip,
}

fn classify(block: PcapBlockOwned<'_>) -> BlockInfo {
    match block {
        PcapBlockOwned::LegacyHeader(h) => BlockInfo::LegacyHeader {
            link: h.network,
            nanos: h.is_nanosecond_precision(),
        },
        PcapBlockOwned::Legacy(_) => BlockInfo::Packet,
        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => BlockInfo::Interface {
            link: idb.linktype,
            resolution: pcap_parser::build_ts_resolution(idb.if_tsresol).unwrap_or(1_000_000),
            offset: idb.if_tsoffset,
        },
        PcapBlockOwned::NG(Block::EnhancedPacket(_)) => BlockInfo::Packet,
        PcapBlockOwned::NG(_) => BlockInfo::Skip,
    }
}
