//! Minimal classic-pcap writer (little-endian, microsecond timestamps,
//! link type 127 = IEEE 802.11 + radiotap). The format is two fixed headers,
//! small enough that writing it directly is simpler than a dependency.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::frame::SimFrame;

/// DLT_IEEE802_11_RADIO.
pub const LINKTYPE_IEEE802_11_RADIOTAP: u32 = 127;
const SNAPLEN: u32 = 65_535;

/// Streams frames into a pcap file (or any writer).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: BufWriter<W>,
}

impl PcapWriter<File> {
    /// Creates (truncates) `path` and writes the global header.
    pub fn create(path: &Path) -> io::Result<Self> {
        Self::new(File::create(path)?)
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header to `inner` (buffered internally).
    pub fn new(inner: W) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 16, inner);
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?; // version 2.4
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?; // thiszone: timestamps are UTC
        out.write_all(&0u32.to_le_bytes())?; // sigfigs
        out.write_all(&SNAPLEN.to_le_bytes())?;
        out.write_all(&LINKTYPE_IEEE802_11_RADIOTAP.to_le_bytes())?;
        Ok(Self { out })
    }

    /// Appends one record. Fails with `InvalidInput` if the timestamp does
    /// not fit the format's unsigned 32-bit seconds or the frame exceeds the
    /// snap length.
    pub fn write(&mut self, frame: &SimFrame) -> io::Result<()> {
        let secs = u32::try_from(frame.ts_us.div_euclid(1_000_000)).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "timestamp outside pcap range")
        })?;
        let usecs = frame.ts_us.rem_euclid(1_000_000) as u32;
        let len = u32::try_from(frame.bytes.len())
            .ok()
            .filter(|&l| l <= SNAPLEN)
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "frame longer than snap length")
            })?;
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&usecs.to_le_bytes());
        header[8..12].copy_from_slice(&len.to_le_bytes()); // captured length
        header[12..16].copy_from_slice(&len.to_le_bytes()); // original length
        self.out.write_all(&header)?;
        self.out.write_all(&frame.bytes)
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> io::Result<W> {
        self.out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }
}

/// Writes `frames` to a new pcap file at `path`.
pub fn write_pcap<'a>(
    path: &Path,
    frames: impl IntoIterator<Item = &'a SimFrame>,
) -> io::Result<()> {
    let mut w = PcapWriter::create(path)?;
    for f in frames {
        w.write(f)?;
    }
    w.finish()?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_byte_exact() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write(&SimFrame {
            ts_us: 1_700_000_000_123_456,
            bytes: vec![1, 2, 3],
        })
        .unwrap();
        let out = w.finish().unwrap();
        assert_eq!(
            &out[..24],
            &[
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 127,
                0, 0, 0
            ]
        );
        let rec = &out[24..];
        assert_eq!(
            u32::from_le_bytes(rec[0..4].try_into().unwrap()),
            1_700_000_000
        );
        assert_eq!(u32::from_le_bytes(rec[4..8].try_into().unwrap()), 123_456);
        assert_eq!(&rec[8..16], &[3, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(&rec[16..], &[1, 2, 3]);
    }

    #[test]
    fn rejects_unrepresentable_timestamps() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let err = w
            .write(&SimFrame {
                ts_us: -1,
                bytes: vec![0],
            })
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = w
            .write(&SimFrame {
                ts_us: (1 << 32) * 1_000_000,
                bytes: vec![0],
            })
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
