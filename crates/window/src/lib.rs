//! The sensor-neutral core: the window clock, key epochs and k-anonymity,
//! shared by every sensor.
//!
//! A sensor plugs in as a [`Sensor`] (its section of each window's summary)
//! that [`Observe`]s its own observations, which hold no raw identifier:
//! its capture stage made them. [`Windows`] owns the clock: it opens and
//! closes windows (empty ones too, for a gap), counts key epochs, and at
//! each close asks every sensor for its section through one [`Suppressor`],
//! so that k-anonymity and the list of what was withheld span the whole
//! summary. Adding a sensor adds a `Sensor`; nothing here changes.
//!
//! [`clock`] guards the clock against timestamps that leap.

pub mod clock;
mod suppress;

pub use suppress::Suppressor;

use std::any::Any;
use std::marker::PhantomData;

use vitrine_schema::{Section, Summary};

/// The window being counted, as sensors see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start, Unix seconds (a multiple of the length).
    pub start_s: i64,
    pub length_s: u32,
    /// Key epoch (0, 1, ...) of this run.
    pub epoch: u64,
}

impl Window {
    pub fn start_us(&self) -> i64 {
        self.start_s.saturating_mul(1_000_000)
    }
}

/// One sensor's part of every window.
pub trait Sensor: Any {
    /// The key rotated: forget everything keyed by the old key. What the
    /// current window (if one is open) has counted so far is kept, as plain
    /// numbers.
    fn rotate_epoch(&mut self, current: Option<&Window>);

    /// The window closed: the sensor's section of its summary, every figure
    /// that counts people or devices passed through `k`. The sensor starts
    /// the next window empty.
    fn close(&mut self, window: &Window, k: &mut Suppressor) -> Section;
}

/// How a sensor counts one of its observations, in the open window.
pub trait Observe<O>: Sensor {
    fn observe(&mut self, window: &Window, obs: O);
}

/// A sensor added to [`Windows`], to hand it its observations.
#[derive(Debug)]
pub struct SensorId<T>(usize, PhantomData<fn() -> T>);

impl<T> Clone for SensorId<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SensorId<T> {}

/// Longest run of empty windows emitted for a gap in the capture; longer
/// gaps are skipped.
pub const MAX_EMPTY_WINDOWS: i64 = 1440;

/// The window clock and the sensors it closes windows for; one summary per
/// window, with every sensor's section.
pub struct Windows {
    length_s: u32,
    k: u32,
    /// Start of the open window, Unix seconds.
    open: Option<i64>,
    epoch: u64,
    sensors: Vec<Box<dyn Sensor>>,
}

impl std::fmt::Debug for Windows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Windows")
            .field("length_s", &self.length_s)
            .field("k", &self.k)
            .field("open", &self.open)
            .field("epoch", &self.epoch)
            .field("sensors", &self.sensors.len())
            .finish()
    }
}

impl Windows {
    /// Windows of `length_s` seconds (at least 1), figures withheld below
    /// `k` members.
    pub fn new(length_s: u32, k: u32) -> Self {
        assert!(length_s > 0, "window length must be positive");
        Windows {
            length_s,
            k,
            open: None,
            epoch: 0,
            sensors: Vec::new(),
        }
    }

    pub fn add<T: Sensor>(&mut self, sensor: T) -> SensorId<T> {
        self.sensors.push(Box::new(sensor));
        SensorId(self.sensors.len() - 1, PhantomData)
    }

    pub fn sensor<T: Sensor>(&self, id: SensorId<T>) -> &T {
        let s: &dyn Any = self.sensors[id.0].as_ref();
        s.downcast_ref().expect("a SensorId names its own sensor")
    }

    fn sensor_mut<T: Sensor>(&mut self, id: SensorId<T>) -> &mut T {
        let s: &mut dyn Any = self.sensors[id.0].as_mut();
        s.downcast_mut().expect("a SensorId names its own sensor")
    }

    pub fn length_s(&self) -> u32 {
        self.length_s
    }

    pub fn k(&self) -> u32 {
        self.k
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The open window, if any.
    pub fn current(&self) -> Option<Window> {
        self.open.map(|start_s| Window {
            start_s,
            length_s: self.length_s,
            epoch: self.epoch,
        })
    }

    /// Counts `obs`, made at `ts_us`, in its sensor's section of the window
    /// that holds it; calls `emit` for every window that closes first.
    pub fn push<O, T: Observe<O>>(
        &mut self,
        id: SensorId<T>,
        ts_us: i64,
        obs: O,
        emit: &mut impl FnMut(Summary),
    ) {
        self.advance_to(ts_us, emit);
        let window = self.current().expect("advance_to opened a window");
        self.sensor_mut(id).observe(&window, obs);
    }

    /// Closes every window that ends at or before `ts_us` (emitting empty
    /// windows for gaps) and opens the one that holds it. Call it before a
    /// key rotation at `ts_us`, so that closed windows carry their epoch.
    /// A time before the open window's (a clock stepping back) counts in
    /// the open window.
    pub fn advance_to(&mut self, ts_us: i64, emit: &mut impl FnMut(Summary)) {
        let ts_s = ts_us.div_euclid(1_000_000);
        let w = i64::from(self.length_s);
        let start = ts_s - ts_s.rem_euclid(w);
        match self.open {
            None => self.open = Some(start),
            Some(open) if start >= open + w => {
                let mut next = open + w;
                self.close(emit);
                if (start - next) / w > MAX_EMPTY_WINDOWS {
                    next = start;
                }
                while next < start {
                    self.open = Some(next);
                    self.close(emit);
                    next += w;
                }
                self.open = Some(start);
            }
            Some(_) => {}
        }
    }

    /// The key rotated: every sensor forgets what the old key made; the
    /// open window keeps its counts as numbers.
    pub fn rotate_epoch(&mut self) {
        let current = self.current();
        for s in &mut self.sensors {
            s.rotate_epoch(current.as_ref());
        }
        self.epoch += 1;
    }

    /// Closes the open window, if any.
    pub fn finish(mut self, emit: &mut impl FnMut(Summary)) {
        self.close(emit);
    }

    fn close(&mut self, emit: &mut impl FnMut(Summary)) {
        let Some(window) = self.current() else {
            return;
        };
        self.open = None;
        let mut k = Suppressor::new(self.k);
        let mut summary = Summary::new(window.start_s, window.length_s, window.epoch, self.k);
        for s in &mut self.sensors {
            summary.insert(s.close(&window, &mut k));
        }
        summary.suppressed = k.into_suppressed();
        emit(summary);
    }
}

#[cfg(test)]
mod tests;
