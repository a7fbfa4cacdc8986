//! Where frames come from, and the capture stage where raw identifiers end.
//!
//! A [`FrameSource`] yields packets with their capture time; the
//! [`CaptureStage`] parses each one, drops the auditor's own equipment
//! (ignore list), and turns the raw MAC into a pseudonym before anything
//! else sees it. **Architecture invariant:** no type that leaves this crate
//! holds a [`vitrine_privacy::RawMac`] or the bytes of a frame.

mod pcap_file;
mod stage;

pub use pcap_file::{PcapFile, SourceError};
pub use stage::{CaptureStage, LinkType};

/// One captured packet, borrowed from the source's buffer. Its `Debug`
/// shows the length, never the bytes.
pub struct Packet<'a> {
    /// Capture time, Unix microseconds.
    pub ts_us: i64,
    pub link: LinkType,
    pub data: &'a [u8],
}

impl std::fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("ts_us", &self.ts_us)
            .field("link", &self.link)
            .field("len", &self.data.len())
            .finish()
    }
}

/// A source of captured packets: a capture file, a live monitor interface,
/// or the simulator. A lending iterator: each packet borrows the source.
pub trait FrameSource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError>;
}
