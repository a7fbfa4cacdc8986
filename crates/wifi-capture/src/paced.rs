//! Replay at the pace of the capture's timestamps.

use std::time::{Duration, Instant};

use crate::{FrameSource, Packet, SourceError};

/// Replays a source at `speed` times the pace of its capture timestamps
/// (a capture of an hour at speed 60 takes a minute), as a live rig would
/// see it.
pub struct Paced<'s> {
    inner: &'s mut dyn FrameSource,
    speed: f64,
    start: Option<(i64, Instant)>,
    last_us: Option<i64>,
}

impl<'s> Paced<'s> {
    pub fn new(inner: &'s mut dyn FrameSource, speed: f64) -> Self {
        Paced {
            inner,
            speed,
            start: None,
            last_us: None,
        }
    }
}

impl std::fmt::Debug for Paced<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paced").field("speed", &self.speed).finish()
    }
}

impl FrameSource for Paced<'_> {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        let packet = self.inner.next_packet()?;
        if let Some(p) = &packet {
            let now = Instant::now();
            // A leap in the capture's time (a gap, or a wrong timestamp) is
            // not waited out: the pace starts again from this packet.
            let leaped = self.last_us.is_some_and(|last| {
                p.ts_us.abs_diff(last) > vitrine_window::clock::MAX_LEAP_US as u64
            });
            if leaped || self.start.is_none() {
                self.start = Some((p.ts_us, now));
            }
            self.last_us = Some(p.ts_us);
            let (t0, w0) = self.start.unwrap_or((p.ts_us, now));
            let offset = p.ts_us.saturating_sub(t0).max(0) as f64 / 1e6 / self.speed;
            let due = Duration::try_from_secs_f64(offset)
                .ok()
                .and_then(|d| w0.checked_add(d));
            if let Some(wait) = due.and_then(|due| due.checked_duration_since(now)) {
                std::thread::sleep(wait);
            }
        }
        Ok(packet)
    }
}
