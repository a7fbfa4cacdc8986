//! The daemon's live loop: a monitor interface in, summaries out, windows
//! closed by the clock even when nothing is heard, and the systemd watchdog
//! fed only while the loop goes round.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vitrine_radio::{Event, EventSource};
use vitrine_schema::Summary;
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::CaptureStage;

use crate::{Pipeline, RunStats};

/// Wall-clock time, Unix microseconds: the clock of a live run.
pub fn now_us() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Where the loop reports to systemd (or to nothing outside systemd).
pub trait Supervisor {
    /// Capture started for the first time, or resumed.
    fn ready(&mut self, status: &str);
    /// The loop went round: feeds the watchdog.
    fn alive(&mut self);
    fn status(&mut self, status: &str);
}

/// `sd_notify`: READY, WATCHDOG and STATUS; does nothing outside systemd.
#[derive(Debug)]
pub struct Systemd {
    /// Feed the watchdog at most this often (half its period).
    every: Option<Duration>,
    last: Instant,
    ready: bool,
}

impl Systemd {
    pub fn new() -> Self {
        Systemd {
            every: sd_notify::watchdog_enabled().map(|d| d / 2),
            last: Instant::now(),
            ready: false,
        }
    }
}

impl Default for Systemd {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor for Systemd {
    fn ready(&mut self, status: &str) {
        let mut states = vec![sd_notify::NotifyState::Status(status)];
        if !self.ready {
            states.push(sd_notify::NotifyState::Ready);
            self.ready = true;
        }
        let _ = sd_notify::notify(&states);
    }

    fn alive(&mut self) {
        if let Some(every) = self.every
            && self.last.elapsed() >= every
        {
            self.last = Instant::now();
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
    }

    fn status(&mut self, status: &str) {
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(status)]);
    }
}

/// Runs until `stop` is set, then closes the current window and returns.
///
/// When the adapter goes away the loop says so, keeps closing windows (they
/// are published with what was heard) and picks capture up again when the
/// adapter returns. READY is sent once the loop runs, adapter or not, so
/// that a rig whose adapter is missing still publishes its (empty) windows.
pub fn run_live(
    capture: &mut dyn EventSource,
    stage: &mut CaptureStage,
    cfg: Config,
    stop: &AtomicBool,
    supervisor: &mut dyn Supervisor,
    clock: &mut dyn FnMut() -> i64,
    emit: &mut dyn FnMut(Summary),
) -> RunStats {
    let mut pipeline = Pipeline::new(stage, cfg);
    supervisor.ready("waiting for the adapter");
    while !stop.load(Ordering::Relaxed) {
        let ts_us = match capture.next_event() {
            Event::Packet(packet) => {
                pipeline.packet(&packet, emit);
                supervisor.alive();
                continue;
            }
            Event::Idle => clock(),
            Event::Started { monitor, wiphy } => {
                tracing::info!(monitor, phy = wiphy, "capture started");
                supervisor.ready(&format!("capturing on {monitor}"));
                clock()
            }
            Event::Lost(e) => {
                tracing::warn!(
                    error = %e,
                    "capture stopped: the adapter went away; windows keep being published, and capture resumes when it returns"
                );
                supervisor.status("adapter lost; waiting for it to return");
                clock()
            }
        };
        // No packet: close windows on time and rotate the key on time.
        pipeline.tick(ts_us, emit);
        supervisor.alive();
    }
    pipeline.finish(emit)
}
