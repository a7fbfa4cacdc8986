//! A simulated GPIO chip in the process, for tests: the same traits as the
//! real lines, the same active levels and the same refusal of a line held
//! twice. A test drives the switch's physical level ([`SimChip::drive`])
//! and reads the indicator's ([`SimChip::level`]).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{EdgeFilter, GpioError, Indicator, KillSwitch, SwitchEdge};

#[derive(Debug, Default)]
struct Line {
    /// Physical level: high is `true`.
    high: bool,
    held: bool,
    /// Physical levels after each change, for the switch holding the line.
    edges: VecDeque<bool>,
}

#[derive(Debug)]
struct State {
    lines: Vec<Line>,
}

/// A chip of `lines` lines, all low and free. Clones share the chip.
#[derive(Debug, Clone)]
pub struct SimChip {
    name: String,
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl SimChip {
    pub fn new(name: &str, lines: u32) -> Self {
        let lines = (0..lines).map(|_| Line::default()).collect();
        SimChip {
            name: name.to_string(),
            inner: Arc::new((Mutex::new(State { lines }), Condvar::new())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves plain data.
        self.inner.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn claim(&self, line: u32) -> Result<(), GpioError> {
        let mut st = self.lock();
        let lines = st.lines.len() as u32;
        let l = st.lines.get_mut(line as usize).ok_or(GpioError::NoLine {
            chip: self.name.clone(),
            line,
            lines,
        })?;
        if l.held {
            return Err(GpioError::Busy {
                chip: self.name.clone(),
                line,
            });
        }
        l.held = true;
        l.edges.clear();
        Ok(())
    }

    /// Requests `line` as the indicator's output, off.
    pub fn indicator(&self, line: u32, active_low: bool) -> Result<SimIndicator, GpioError> {
        self.claim(line)?;
        let mut ind = SimIndicator {
            chip: self.clone(),
            line,
            active_low,
        };
        ind.set(false)?;
        Ok(ind)
    }

    /// Requests `line` as the kill switch's input.
    pub fn switch(&self, line: u32, active_low: bool) -> Result<SimSwitch, GpioError> {
        self.claim(line)?;
        let engaged = self.level(line) != active_low;
        Ok(SimSwitch {
            chip: self.clone(),
            line,
            active_low,
            filter: EdgeFilter::new(engaged),
        })
    }

    /// Drives `line` from outside (a switch closing or opening): `high`
    /// is the physical level.
    pub fn drive(&self, line: u32, high: bool) {
        let mut st = self.lock();
        let l = &mut st.lines[line as usize];
        if l.high != high {
            l.high = high;
            if l.held {
                l.edges.push_back(high);
            }
        }
        self.inner.1.notify_all();
    }

    /// The physical level of `line` (high is `true`).
    pub fn level(&self, line: u32) -> bool {
        self.lock().lines[line as usize].high
    }

    /// Whether a request holds `line`.
    pub fn is_held(&self, line: u32) -> bool {
        self.lock().lines[line as usize].held
    }

    fn release(&self, line: u32) {
        let mut st = self.lock();
        st.lines[line as usize].held = false;
        st.lines[line as usize].edges.clear();
    }
}

/// The indicator on a simulated line.
#[derive(Debug)]
pub struct SimIndicator {
    chip: SimChip,
    line: u32,
    active_low: bool,
}

impl Indicator for SimIndicator {
    fn set(&mut self, on: bool) -> Result<(), GpioError> {
        self.chip.lock().lines[self.line as usize].high = on != self.active_low;
        Ok(())
    }
}

impl Drop for SimIndicator {
    fn drop(&mut self) {
        // As the real line: off, then released.
        let _ = self.set(false);
        self.chip.release(self.line);
    }
}

/// The kill switch on a simulated line.
#[derive(Debug)]
pub struct SimSwitch {
    chip: SimChip,
    line: u32,
    active_low: bool,
    filter: EdgeFilter,
}

impl KillSwitch for SimSwitch {
    fn is_engaged(&mut self) -> Result<bool, GpioError> {
        Ok(self.chip.level(self.line) != self.active_low)
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<SwitchEdge>, GpioError> {
        let deadline = Instant::now() + timeout;
        let (_, cond) = &*self.chip.inner;
        let mut st = self.chip.lock();
        loop {
            while let Some(high) = st.lines[self.line as usize].edges.pop_front() {
                if let Some(e) = self.filter.update(high != self.active_low) {
                    return Ok(Some(e));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            st = cond
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for SimSwitch {
    fn drop(&mut self) {
        self.chip.release(self.line);
    }
}
