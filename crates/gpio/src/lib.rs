//! The rig's GPIO: a recording indicator, lit exactly while a sensor
//! captures, and a kill switch that stops capture.
//!
//! Both are traits ([`Indicator`], [`KillSwitch`]) with three
//! implementations:
//!
//! - [`cdev`]: real lines through the Linux GPIO character device
//!   (`/dev/gpiochipN`, uAPI v2, with the `gpiocdev` crate): no
//!   `/dev/gpiomem`, no sysfs, so any chip the kernel drives works (a
//!   Raspberry Pi's, the emulated board's PL061, `gpio-sim`).
//! - [`sim`]: a simulated chip in the process, for host tests: a test
//!   flips the switch and reads the indicator.
//! - [`test_file`]: a kill switch read from a file, **for tests only**:
//!   the emulated board has no way to drive an input line, so its
//!   hil-tests engage the switch by writing `1` to a file.
//!
//! [`Gpio`] bundles what the daemon uses: an optional indicator, an
//! optional switch, and which sensors are capturing.

pub mod cdev;
pub mod sim;
pub mod test_file;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Which GPIO chip a line is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChipId {
    /// A character device (`/dev/gpiochip0`).
    Path(PathBuf),
    /// A chip's label as the kernel gives it (`pinctrl-bcm2835`,
    /// `9030000.pl061`): stable across boots where the numbering is not.
    Label(String),
}

impl ChipId {
    /// `/dev/...` or any path with a `/` is a path; `gpiochipN` is
    /// `/dev/gpiochipN`; anything else is a label.
    pub fn parse(s: &str) -> ChipId {
        if s.contains('/') {
            ChipId::Path(PathBuf::from(s))
        } else if s
            .strip_prefix("gpiochip")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            ChipId::Path(PathBuf::from("/dev").join(s))
        } else {
            ChipId::Label(s.to_string())
        }
    }
}

impl fmt::Display for ChipId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChipId::Path(p) => write!(f, "{}", p.display()),
            ChipId::Label(l) => write!(f, "the chip labelled {l:?}"),
        }
    }
}

/// One GPIO line, as the configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSpec {
    pub chip: ChipId,
    /// The line's offset on its chip.
    pub line: u32,
    /// Active (a lit lamp, an engaged switch) at the low level: a lamp
    /// wired to the supply, a switch that closes to ground.
    pub active_low: bool,
}

impl fmt::Display for LineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} of {}", self.line, self.chip)?;
        if self.active_low {
            write!(f, " (active low)")?;
        }
        Ok(())
    }
}

/// What went wrong with a line; every variant names the chip, and the
/// line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    #[error("GPIO chip {chip} does not exist")]
    NoChip { chip: String },
    #[error("no GPIO chip is labelled {label:?} (chips: {found})")]
    NoChipLabelled { label: String, found: String },
    #[error(
        "GPIO chip {chip}: permission denied (the daemon needs read and write access to it, \
         usually through the gpio group)"
    )]
    PermissionDenied { chip: String },
    #[error("{chip} is not a GPIO character device")]
    NotAChip { chip: String },
    #[error("GPIO chip {chip} has no line {line} (it has {lines})")]
    NoLine { chip: String, line: u32, lines: u32 },
    #[error("GPIO line {line} of {chip} is busy: another process or a driver holds it")]
    Busy { chip: String, line: u32 },
    #[error("GPIO line {line} of {chip}: {source}")]
    Line {
        chip: String,
        line: u32,
        #[source]
        source: gpiocdev::Error,
    },
    #[error("GPIO chip {chip}: {source}")]
    Chip {
        chip: String,
        #[source]
        source: gpiocdev::Error,
    },
    #[error("test kill switch file {path}: {reason}")]
    TestFile { path: PathBuf, reason: String },
}

/// A lamp (or any output) that shows the rig is recording.
pub trait Indicator: Send {
    /// Lights it (`true`) or puts it out; the line's active level is
    /// taken care of.
    fn set(&mut self, on: bool) -> Result<(), GpioError>;
}

/// A change of the kill switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchEdge {
    /// Capture must stop.
    Engaged,
    /// Capture may resume.
    Released,
}

impl SwitchEdge {
    fn from_engaged(engaged: bool) -> Self {
        if engaged {
            SwitchEdge::Engaged
        } else {
            SwitchEdge::Released
        }
    }
}

/// The kill switch: while it is engaged, no sensor captures.
pub trait KillSwitch: Send {
    /// Its state now (after debouncing, where the line has it).
    fn is_engaged(&mut self) -> Result<bool, GpioError>;

    /// Waits at most `timeout` for the switch to change; returns the change,
    /// or `None` when it did not change. Changes are reported in order, each
    /// once, and only real changes: `Engaged` and `Released` alternate.
    fn wait(&mut self, timeout: Duration) -> Result<Option<SwitchEdge>, GpioError>;
}

/// Keeps the edges a source reports to real changes of state, alternating.
#[derive(Debug)]
struct EdgeFilter {
    engaged: bool,
}

impl EdgeFilter {
    fn new(engaged: bool) -> Self {
        EdgeFilter { engaged }
    }

    /// The edge to report when the source now says `engaged`, if any.
    fn update(&mut self, engaged: bool) -> Option<SwitchEdge> {
        (engaged != self.engaged).then(|| {
            self.engaged = engaged;
            SwitchEdge::from_engaged(engaged)
        })
    }
}

/// Debounce period asked of the kernel for the kill switch: a mechanical
/// switch settles within a few milliseconds.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(20);

/// Consumer name the lines are requested under (`gpioinfo` shows it).
pub const CONSUMER: &str = "vitrined";

/// What the daemon holds: an optional recording indicator, an optional
/// kill switch, and the sensors capturing now. The indicator is lit
/// exactly while at least one sensor captures.
pub struct Gpio {
    indicator: Option<Box<dyn Indicator>>,
    switch: Option<Box<dyn KillSwitch>>,
    capturing: BTreeSet<String>,
    lit: Option<bool>,
}

impl fmt::Debug for Gpio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gpio")
            .field("indicator", &self.indicator.is_some())
            .field("switch", &self.switch.is_some())
            .field("capturing", &self.capturing)
            .field("lit", &self.lit)
            .finish()
    }
}

impl Gpio {
    /// Requests the configured lines on their chips; the indicator starts
    /// off. Neither configured: a bundle that does nothing.
    pub fn open(
        indicator: Option<&LineSpec>,
        switch: Option<&LineSpec>,
    ) -> Result<Self, GpioError> {
        let indicator = match indicator {
            Some(spec) => Some(Box::new(cdev::CdevIndicator::open(spec)?) as Box<dyn Indicator>),
            None => None,
        };
        let switch =
            match switch {
                Some(spec) => Some(Box::new(cdev::CdevSwitch::open(spec, DEFAULT_DEBOUNCE)?)
                    as Box<dyn KillSwitch>),
                None => None,
            };
        Ok(Gpio::from_parts(indicator, switch))
    }

    /// From any implementations: the simulated chip, the test file.
    pub fn from_parts(
        indicator: Option<Box<dyn Indicator>>,
        switch: Option<Box<dyn KillSwitch>>,
    ) -> Self {
        Gpio {
            indicator,
            switch,
            capturing: BTreeSet::new(),
            lit: None,
        }
    }

    /// Says whether `sensor` (`"wifi"`, `"camera"`) captures now, and
    /// lights or puts out the indicator when that changes whether any
    /// sensor does.
    pub fn set_capturing(&mut self, sensor: &str, capturing: bool) -> Result<(), GpioError> {
        if capturing {
            self.capturing.insert(sensor.to_string());
        } else {
            self.capturing.remove(sensor);
        }
        let on = !self.capturing.is_empty();
        if self.lit != Some(on)
            && let Some(ind) = &mut self.indicator
        {
            // On an error `lit` stays unknown, so the next call tries again.
            self.lit = None;
            ind.set(on)?;
            self.lit = Some(on);
        }
        Ok(())
    }

    /// The same bundle with `switch` as its kill switch (the test-only
    /// file switch, in place of a line).
    pub fn with_switch(mut self, switch: Box<dyn KillSwitch>) -> Self {
        self.switch = Some(switch);
        self
    }

    /// Whether an indicator is configured.
    pub fn has_indicator(&self) -> bool {
        self.indicator.is_some()
    }

    /// Whether any sensor captures (and so whether the indicator is lit).
    pub fn any_capturing(&self) -> bool {
        !self.capturing.is_empty()
    }

    /// The kill switch, if one is configured.
    pub fn kill_switch(&mut self) -> Option<&mut (dyn KillSwitch + 'static)> {
        self.switch.as_deref_mut()
    }

    /// Whether the kill switch is engaged; `false` without one.
    pub fn is_killed(&mut self) -> Result<bool, GpioError> {
        match &mut self.switch {
            Some(s) => s.is_engaged(),
            None => Ok(false),
        }
    }
}

impl Drop for Gpio {
    fn drop(&mut self) {
        // The lamp never stays lit after the daemon: the implementations
        // put it out on drop too, this covers any other.
        if self.lit != Some(false)
            && let Some(ind) = &mut self.indicator
            && let Err(e) = ind.set(false)
        {
            tracing::warn!(error = %e, "cannot put out the recording indicator");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_ids_parse_as_paths_numbers_or_labels() {
        assert_eq!(
            ChipId::parse("/dev/gpiochip2"),
            ChipId::Path("/dev/gpiochip2".into())
        );
        assert_eq!(
            ChipId::parse("gpiochip0"),
            ChipId::Path("/dev/gpiochip0".into())
        );
        assert_eq!(
            ChipId::parse("pinctrl-bcm2835"),
            ChipId::Label("pinctrl-bcm2835".into())
        );
        // Not a number after the prefix: a label.
        assert_eq!(
            ChipId::parse("gpiochipx"),
            ChipId::Label("gpiochipx".into())
        );
        assert_eq!(ChipId::parse("gpiochip"), ChipId::Label("gpiochip".into()));
    }

    #[test]
    fn the_edge_filter_reports_changes_only() {
        let mut f = EdgeFilter::new(false);
        assert_eq!(f.update(false), None);
        assert_eq!(f.update(true), Some(SwitchEdge::Engaged));
        assert_eq!(f.update(true), None);
        assert_eq!(f.update(false), Some(SwitchEdge::Released));
    }
}
