//! The camera in the daemon: frames through the camera's stage into the
//! core's windows, beside Wi-Fi or alone.

use vitrine_camera_analytics::{
    CameraSensor, CameraSettings, CameraStage, CountingLine, LostFrames, Point,
};
use vitrine_camera_capture::Frame;
use vitrine_config::CameraConfig;
use vitrine_schema::Summary;
use vitrine_window::{SensorId, Windows};

/// The analytics' settings from the configuration's `[camera]` section and
/// the source's frame rate.
pub fn settings(cfg: &CameraConfig, fps: f64) -> CameraSettings {
    let point = |p: [f64; 2]| Point {
        x: p[0] as f32,
        y: p[1] as f32,
    };
    CameraSettings {
        line: cfg.line.map(|([a, b], inside)| CountingLine {
            a: point(a),
            b: point(b),
            inside: point(inside),
        }),
        region: cfg
            .region
            .as_ref()
            .map(|r| r.iter().copied().map(point).collect()),
        // 1 to 64 each, by their rule.
        grid_cols: cfg.grid[0] as u16,
        grid_rows: cfg.grid[1] as u16,
        fps: fps as f32,
    }
}

/// Standard input as a file of its own, read without std's buffer (which
/// would keep a copy of the last pixels read, never zeroized).
pub fn stdin_unbuffered() -> std::io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    Ok(std::fs::File::from(
        std::io::stdin().as_fd().try_clone_to_owned()?,
    ))
}

/// What the camera went through, for the closing log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct CameraStats {
    pub frames: u64,
    /// Frames missing between two delivered ones (by their times).
    pub lost: u64,
}

/// The camera's stage and its sensor in the core's windows.
#[derive(Debug)]
pub struct Camera {
    stage: CameraStage,
    id: SensorId<CameraSensor>,
    frame_us: i64,
    last_us: Option<i64>,
    stats: CameraStats,
}

impl Camera {
    /// Adds the camera's sensor to `windows`.
    pub fn add_to(windows: &mut Windows, settings: CameraSettings) -> Camera {
        let frame_us = (1e6 / f64::from(settings.fps).max(0.001)).round() as i64;
        let id = windows.add(CameraSensor::new(&settings));
        Camera {
            stage: CameraStage::new(settings),
            id,
            frame_us: frame_us.max(1),
            last_us: None,
            stats: CameraStats::default(),
        }
    }

    /// Counts one frame in its window (the image is dropped in the stage);
    /// frames missing since the last one are counted as lost.
    pub fn frame(&mut self, windows: &mut Windows, frame: Frame, emit: &mut dyn FnMut(Summary)) {
        let ts = frame.ts_us;
        if let Some(last) = self.last_us {
            // More than one and a half frame times apart: frames are missing.
            let gap = ts - last;
            if gap * 2 > self.frame_us * 3 {
                let lost = ((gap + self.frame_us / 2) / self.frame_us - 1).max(0);
                let lost = u32::try_from(lost).unwrap_or(u32::MAX);
                self.stats.lost += u64::from(lost);
                windows.push(self.id, ts, LostFrames(lost), &mut |s| emit(s));
            }
        }
        self.last_us = Some(ts);
        self.stats.frames += 1;
        let obs = self.stage.process(frame.image);
        windows.push(self.id, ts, obs, &mut |s| emit(s));
    }

    /// Frames the source says it lost (dropped by the driver, not decoded).
    pub fn lost(
        &mut self,
        windows: &mut Windows,
        ts_us: i64,
        n: u32,
        emit: &mut dyn FnMut(Summary),
    ) {
        self.stats.lost += u64::from(n);
        windows.push(self.id, ts_us, LostFrames(n), &mut |s| emit(s));
    }

    pub fn stats(&self) -> CameraStats {
        self.stats
    }
}

/// Runs a clip alone to its end: one summary per window with the camera's
/// section only. A bad frame stops reading; the windows so far are still
/// emitted before the error is returned.
pub fn run_clip<E>(
    clip: &mut dyn Iterator<Item = Result<Frame, E>>,
    settings: CameraSettings,
    window_s: u32,
    k: u32,
    emit: &mut dyn FnMut(Summary),
) -> (CameraStats, Result<(), E>) {
    let mut windows = Windows::new(window_s, k);
    let mut camera = Camera::add_to(&mut windows, settings);
    let result = loop {
        match clip.next() {
            Some(Ok(frame)) => camera.frame(&mut windows, frame, emit),
            Some(Err(e)) => break Err(e),
            None => break Ok(()),
        }
    };
    windows.finish(&mut |s| emit(s));
    (camera.stats(), result)
}
