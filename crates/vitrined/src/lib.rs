//! The daemon's pipeline: frame source → capture stage → aggregator →
//! summaries. The binary (`main.rs`) parses arguments and picks the source
//! and the sink.

pub mod camera;
pub mod demo;
pub mod eval;
#[cfg(feature = "live")]
pub mod live;
pub mod publishing;
pub mod table;

use vitrine_camera_analytics::CameraSettings;
use vitrine_camera_capture::Frame;
use vitrine_schema::Summary;
use vitrine_wifi_aggregate::{Aggregator, Config, Observation};
use vitrine_wifi_capture::{CaptureStage, FrameSource, Packet, SourceError, SourceNotes};
use vitrine_window::clock::{ClockGuard, Timed};

use crate::camera::Camera;

/// What a run went through, for the closing log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunStats {
    pub packets: u64,
    pub windows: u64,
    pub rotations: u64,
    /// Packets the capture cut short (snapshot length); their probe
    /// requests were counted with the elements that were complete.
    pub cut: u64,
    /// Packets whose timestamp leaped far from the capture's course, counted
    /// at the time of the packets around them (see `vitrine_window::clock`).
    pub time_outliers: u64,
    /// What the source passed over or assumed.
    pub source: SourceNotes,
}

/// The capture stage and the aggregator, fed packets and clock ticks; shared
/// by the file/simulator loop and the live loop.
pub(crate) struct Pipeline<'s> {
    stage: &'s mut CaptureStage,
    agg: Aggregator,
    /// The camera, in the same windows as Wi-Fi.
    camera: Option<Camera>,
    guard: ClockGuard<Observation>,
    stats: RunStats,
}

impl<'s> Pipeline<'s> {
    pub(crate) fn new(stage: &'s mut CaptureStage, cfg: Config) -> Self {
        Pipeline {
            stage,
            agg: Aggregator::new(cfg),
            camera: None,
            guard: ClockGuard::default(),
            stats: RunStats::default(),
        }
    }

    /// Adds the camera's sensor beside Wi-Fi's.
    pub(crate) fn with_camera(mut self, settings: CameraSettings) -> Self {
        self.camera = Some(Camera::add_to(self.agg.windows_mut(), settings));
        self
    }

    /// One camera frame, in the window of its time.
    pub(crate) fn frame(&mut self, frame: Frame, emit: &mut dyn FnMut(Summary)) {
        self.advance(frame.ts_us, emit);
        if let Some(camera) = self.camera.as_mut() {
            let windows = &mut self.stats.windows;
            camera.frame(self.agg.windows_mut(), frame, &mut |s| {
                *windows += 1;
                emit(s);
            });
        }
    }

    /// Frames the camera should have delivered at `ts_us` and did not.
    #[cfg(feature = "live")]
    pub(crate) fn lost_frames(&mut self, ts_us: i64, n: u32, emit: &mut dyn FnMut(Summary)) {
        self.advance(ts_us, emit);
        if let Some(camera) = self.camera.as_mut() {
            let windows = &mut self.stats.windows;
            camera.lost(self.agg.windows_mut(), ts_us, n, &mut |s| {
                *windows += 1;
                emit(s);
            });
        }
    }

    /// The kill switch: the epoch key is replaced in place (the old one
    /// overwritten) and every sensor forgets what it made; the open
    /// window keeps its counts as numbers.
    #[cfg(feature = "live")]
    pub(crate) fn wipe_keys(&mut self) {
        self.stage.wipe_key();
        self.agg.rotate_epoch();
        self.stats.rotations += 1;
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

    /// A tick of the system clock with no packet (live capture).
    #[cfg(feature = "live")]
    pub(crate) fn tick(&mut self, ts_us: i64, emit: &mut dyn FnMut(Summary)) {
        self.guard.tick(ts_us);
        self.advance(ts_us, emit);
    }

    pub(crate) fn packet(&mut self, packet: &Packet<'_>, emit: &mut dyn FnMut(Summary)) {
        self.stats.packets += 1;
        self.stats.cut += u64::from(packet.is_cut());
        let ts = packet.ts_us;
        let observe = |stage: &CaptureStage| {
            stage.observe_captured(ts, packet.link, packet.data, packet.orig_len)
        };
        if self.guard.is_on_course(ts) {
            self.guard.accept(ts);
            self.advance(ts, emit);
            let obs = observe(self.stage);
            self.push(obs, emit);
        } else {
            // Made under the current key; the guard decides on its time.
            let obs = observe(self.stage);
            let mut guard = std::mem::take(&mut self.guard);
            guard.push(obs, ts, &mut |obs, timed| self.timed(obs, timed, emit));
            self.guard = guard;
        }
    }

    fn timed(&mut self, mut obs: Observation, timed: Timed, emit: &mut dyn FnMut(Summary)) {
        match timed {
            Timed::Accepted(ts) => self.advance(ts, emit),
            Timed::Contained { at_us, .. } => {
                obs.ts_us = at_us;
                self.stats.time_outliers += 1;
            }
        }
        self.push(obs, emit);
    }

    fn push(&mut self, obs: Observation, emit: &mut dyn FnMut(Summary)) {
        let windows = &mut self.stats.windows;
        self.agg.push(obs, &mut |s| {
            *windows += 1;
            emit(s);
        });
    }

    /// Decides on packets still held for their time, then closes the last
    /// window.
    pub(crate) fn finish(mut self, emit: &mut dyn FnMut(Summary)) -> RunStats {
        let mut guard = std::mem::take(&mut self.guard);
        guard.finish(&mut |obs, timed| self.timed(obs, timed, emit));
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
    let mut stats = pipeline.finish(emit);
    stats.source = source.notes();
    (stats, result)
}

/// A capture file and a camera clip of the same time, together: packets and
/// frames in the order of their times, one summary per window with both
/// sections. Either source's error stops both; the windows seen so far are
/// still emitted.
pub fn run_with_clip<E>(
    source: &mut dyn FrameSource,
    stage: &mut CaptureStage,
    cfg: Config,
    clip: &mut dyn Iterator<Item = Result<Frame, E>>,
    camera: CameraSettings,
    emit: &mut dyn FnMut(Summary),
) -> (RunStats, camera::CameraStats, Result<(), ReplayError<E>>) {
    let mut pipeline = Pipeline::new(stage, cfg).with_camera(camera);
    let mut next = clip.next();
    let result = 'run: loop {
        match source.next_packet() {
            Ok(Some(packet)) => {
                while let Some(Ok(frame)) =
                    next.take_if(|f| matches!(f, Ok(f) if f.ts_us <= packet.ts_us))
                {
                    pipeline.frame(frame, emit);
                    next = clip.next();
                }
                if let Some(Err(_)) = next {
                    break 'run Ok(());
                }
                pipeline.packet(&packet, emit)
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(ReplayError::Capture(e)),
        }
    };
    // The clip's frames after the last packet.
    let result = result.and_then(|()| {
        loop {
            match next {
                Some(Ok(frame)) => {
                    pipeline.frame(frame, emit);
                    next = clip.next();
                }
                Some(Err(e)) => break Err(ReplayError::Clip(e)),
                None => break Ok(()),
            }
        }
    });
    let camera = pipeline
        .camera
        .as_ref()
        .map(Camera::stats)
        .unwrap_or_default();
    let mut stats = pipeline.finish(emit);
    stats.source = source.notes();
    (stats, camera, result)
}

/// Why a replay of a capture file and a clip stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError<E> {
    #[error(transparent)]
    Capture(SourceError),
    #[error(transparent)]
    Clip(E),
}
