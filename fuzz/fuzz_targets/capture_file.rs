//! Whole capture files (pcap and pcapng containers), through the reader and
//! the daemon's pipeline. Oracle: no panic and no hang; every read makes
//! progress through the file; a packet never claims more bytes than it was
//! on the air, nor more than the file holds; every packet handed out is
//! counted exactly once in the summaries, whatever its timestamp.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::{CaptureStage, FrameSource, Packet, PcapFile, SourceError, SourceNotes};

/// Counts what the reader hands out, checking each packet on the way.
struct Checked {
    inner: PcapFile,
    input_len: usize,
    packets: u64,
}

impl FrameSource for Checked {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        let packet = self.inner.next_packet()?;
        if let Some(p) = &packet {
            self.packets += 1;
            assert!(p.data.len() <= p.orig_len, "more captured than sent");
            assert!(p.data.len() <= self.input_len, "more bytes than the file");
            // Every packet is at least a 12-byte block or a 16-byte record.
            assert!(self.packets as usize <= self.input_len / 12, "no progress");
        }
        Ok(packet)
    }

    fn notes(&self) -> SourceNotes {
        self.inner.notes()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(inner) = PcapFile::from_reader(Path::new("fuzz"), std::io::Cursor::new(data.to_vec()))
    else {
        return;
    };
    let mut source = Checked {
        inner,
        input_len: data.len(),
        packets: 0,
    };
    let mut stage = CaptureStage::new(Default::default(), Default::default());
    let cfg = Config {
        window_s: 60,
        ..Config::default()
    };
    let mut counted = 0u64;
    let (stats, _result) = vitrined::run(&mut source, &mut stage, cfg, &mut |s| {
        counted += s.wifi.frames.total;
    });
    assert_eq!(stats.packets, source.packets);
    assert_eq!(counted, source.packets, "a packet was lost or counted twice");
});
