//! Where frames come from, and the capture stage where raw identifiers end.
//!
//! A [`FrameSource`] yields packets with their capture time; the
//! [`CaptureStage`] parses each one, drops the auditor's own equipment
//! (ignore list), and turns the raw MAC into a pseudonym before anything
//! else sees it. **Architecture invariant:** no type that leaves this crate
//! holds a [`vitrine_privacy::RawMac`] or the bytes of a frame.

mod paced;
mod pcap_file;
mod stage;

pub use paced::Paced;
pub use pcap_file::{PcapFile, SourceError};
pub use stage::{CaptureStage, LinkType};

/// One captured packet, borrowed from the source's buffer. Its `Debug`
/// shows the length, never the bytes.
pub struct Packet<'a> {
    /// Capture time, Unix microseconds.
    pub ts_us: i64,
    pub link: LinkType,
    /// What the capture kept: the whole packet, or its first bytes when the
    /// capture's snapshot length was shorter than the packet.
    pub data: &'a [u8],
    /// The packet's length on the air; more than `data.len()` when it was
    /// cut short by the snapshot length.
    pub orig_len: usize,
}

impl Packet<'_> {
    /// The capture kept only the start of the packet.
    pub fn is_cut(&self) -> bool {
        self.orig_len > self.data.len()
    }
}

impl std::fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("ts_us", &self.ts_us)
            .field("link", &self.link)
            .field("len", &self.data.len())
            .field("orig_len", &self.orig_len)
            .finish()
    }
}

/// A source of captured packets: a capture file, a live monitor interface,
/// or the simulator. A lending iterator: each packet borrows the source.
pub trait FrameSource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError>;

    /// What the source passed over or had to assume so far, for the closing
    /// log line.
    fn notes(&self) -> SourceNotes {
        SourceNotes::default()
    }
}

/// Packets a source did not hand out as they were, with why.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SourceNotes {
    /// Packets on pcapng interfaces whose link type is not 802.11 (an
    /// Ethernet interface captured beside the monitor interface): skipped.
    pub other_link: u64,
    /// Packets without a timestamp of their own (pcapng Simple Packet
    /// Blocks): given the time of the packet before them.
    pub untimed: u64,
}
