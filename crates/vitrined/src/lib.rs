//! The daemon's pipeline: frame source → capture stage → aggregator →
//! summaries. The binary (`main.rs`) parses arguments and picks the source
//! and the sink.

pub mod demo;
pub mod eval;
#[cfg(feature = "live")]
pub mod live;
pub mod publishing;
pub mod table;

use vitrine_aggregate::{Aggregator, Config};
use vitrine_capture::{CaptureStage, FrameSource, Packet, SourceError};
use vitrine_schema::Summary;

/// What a run went through, for the closing log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunStats {
    pub packets: u64,
    pub windows: u64,
    pub rotations: u64,
}

/// The capture stage and the aggregator, fed packets and clock ticks; shared
/// by the file/simulator loop and the live loop.
pub(crate) struct Pipeline<'s> {
    stage: &'s mut CaptureStage,
    agg: Aggregator,
    stats: RunStats,
}

impl<'s> Pipeline<'s> {
    pub(crate) fn new(stage: &'s mut CaptureStage, cfg: Config) -> Self {
        Pipeline {
            stage,
            agg: Aggregator::new(cfg),
            stats: RunStats::default(),
        }
    }

    /// Closes every window that ends by `ts_us`, then rotates the key if its
    /// epoch is over: windows close first, so that they carry the epoch
    /// they were counted in.
    pub(crate) fn advance(&mut self, ts_us: i64, emit: &mut dyn FnMut(Summary)) {
        let windows = &mut self.stats.windows;
        self.agg.advance_to(ts_us, &mut |s| {
            *windows += 1;
            emit(s);
        });
        if self.stage.advance(ts_us) {
            self.agg.rotate_epoch();
            self.stats.rotations += 1;
        }
    }

    pub(crate) fn packet(&mut self, packet: &Packet<'_>, emit: &mut dyn FnMut(Summary)) {
        self.stats.packets += 1;
        self.advance(packet.ts_us, emit);
        let obs = self.stage.observe(packet.ts_us, packet.link, packet.data);
        let windows = &mut self.stats.windows;
        self.agg.push(obs, &mut |s| {
            *windows += 1;
            emit(s);
        });
    }

    /// Closes the last window.
    pub(crate) fn finish(mut self, emit: &mut dyn FnMut(Summary)) -> RunStats {
        let windows = &mut self.stats.windows;
        self.agg.finish(&mut |s| {
            *windows += 1;
            emit(s);
        });
        self.stats
    }
}

/// Runs `source` to its end, calling `emit` for every summary.
///
/// A source error stops reading, but the windows seen so far are still
/// summarized and emitted before the error is returned.
pub fn run(
    source: &mut dyn FrameSource,
    stage: &mut CaptureStage,
    cfg: Config,
    emit: &mut dyn FnMut(Summary),
) -> (RunStats, Result<(), SourceError>) {
    let mut pipeline = Pipeline::new(stage, cfg);
    let result = loop {
        match source.next_packet() {
            Ok(Some(packet)) => pipeline.packet(&packet, emit),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    (pipeline.finish(emit), result)
}

/// Replays a source at `speed` times the pace of its capture timestamps
/// (a capture of an hour at speed 60 takes a minute), as a live rig would
/// see it.
pub struct Paced<'s> {
    inner: &'s mut dyn FrameSource,
    speed: f64,
    start: Option<(i64, std::time::Instant)>,
}

impl<'s> Paced<'s> {
    pub fn new(inner: &'s mut dyn FrameSource, speed: f64) -> Self {
        Paced {
            inner,
            speed,
            start: None,
        }
    }
}

impl std::fmt::Debug for Paced<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paced").field("speed", &self.speed).finish()
    }
}

impl FrameSource for Paced<'_> {
    fn next_packet(&mut self) -> Result<Option<vitrine_capture::Packet<'_>>, SourceError> {
        let packet = self.inner.next_packet()?;
        if let Some(p) = &packet {
            let (t0, w0) = *self
                .start
                .get_or_insert((p.ts_us, std::time::Instant::now()));
            let offset = (p.ts_us - t0).max(0) as f64 / 1e6 / self.speed;
            let due = w0 + std::time::Duration::from_secs_f64(offset);
            if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        Ok(packet)
    }
}
