//! Real lines through the GPIO character device (uAPI v2).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gpiocdev::Request;
use gpiocdev::line::{EdgeDetection, EdgeKind, Value};

use crate::{CONSUMER, ChipId, EdgeFilter, GpioError, Indicator, KillSwitch, LineSpec, SwitchEdge};

/// The error number behind a gpiocdev error, if it has one.
fn errno(e: &gpiocdev::Error) -> Option<i32> {
    match e {
        gpiocdev::Error::Os(n) => Some(n.0),
        gpiocdev::Error::Uapi(_, gpiocdev_uapi::Error::Os(n)) => Some(n.0),
        _ => None,
    }
}

const ENOENT: i32 = 2;
const EPERM: i32 = 1;
const EACCES: i32 = 13;
const EBUSY: i32 = 16;
const ENODEV: i32 = 19;

fn chip_error(chip: &str, e: gpiocdev::Error) -> GpioError {
    let chip = chip.to_string();
    match (&e, errno(&e)) {
        (_, Some(ENOENT | ENODEV)) => GpioError::NoChip { chip },
        (_, Some(EACCES | EPERM)) => GpioError::PermissionDenied { chip },
        (gpiocdev::Error::GpioChip(..), _) => GpioError::NotAChip { chip },
        _ => GpioError::Chip { chip, source: e },
    }
}

fn line_error(chip: &str, line: u32, e: gpiocdev::Error) -> GpioError {
    match errno(&e) {
        Some(EBUSY) => GpioError::Busy {
            chip: chip.to_string(),
            line,
        },
        Some(ENOENT | ENODEV | EACCES | EPERM) => chip_error(chip, e),
        _ => GpioError::Line {
            chip: chip.to_string(),
            line,
            source: e,
        },
    }
}

/// The chip's character device, and how errors name it.
fn resolve(chip: &ChipId) -> Result<(PathBuf, String), GpioError> {
    match chip {
        ChipId::Path(p) => Ok((p.clone(), p.display().to_string())),
        ChipId::Label(label) => {
            // No /dev at all, or no chip: none is labelled so.
            let paths = gpiocdev::chip::chips().unwrap_or_default();
            let mut found = Vec::new();
            for path in paths {
                let Ok(info) = gpiocdev::Chip::from_path(&path).and_then(|c| c.info()) else {
                    continue;
                };
                if info.label == *label {
                    let name = format!("{} ({label})", path.display());
                    return Ok((path, name));
                }
                found.push(format!("{} {:?}", path.display(), info.label));
            }
            Err(GpioError::NoChipLabelled {
                label: label.clone(),
                found: if found.is_empty() {
                    "none readable".to_string()
                } else {
                    found.join(", ")
                },
            })
        }
    }
}

/// Opens the chip and checks the line is on it; returns the path and the
/// chip's name for errors.
fn check_line(spec: &LineSpec) -> Result<(PathBuf, String), GpioError> {
    let (path, name) = resolve(&spec.chip)?;
    // gpiocdev reports a missing chip through canonicalize's error; say it
    // plainly.
    if !Path::new(&path).exists() {
        return Err(GpioError::NoChip { chip: name });
    }
    let chip = gpiocdev::Chip::from_path(&path).map_err(|e| chip_error(&name, e))?;
    let info = chip.info().map_err(|e| chip_error(&name, e))?;
    if spec.line >= info.num_lines {
        return Err(GpioError::NoLine {
            chip: name,
            line: spec.line,
            lines: info.num_lines,
        });
    }
    Ok((path, name))
}

/// The recording indicator on a real line, requested as an output that
/// starts off.
#[derive(Debug)]
pub struct CdevIndicator {
    req: Request,
    chip: String,
    line: u32,
}

impl CdevIndicator {
    pub fn open(spec: &LineSpec) -> Result<Self, GpioError> {
        let (path, chip) = check_line(spec)?;
        let mut b = Request::builder();
        b.on_chip(&path)
            .with_consumer(CONSUMER)
            .with_line(spec.line)
            .as_output(Value::Inactive);
        if spec.active_low {
            b.as_active_low();
        }
        let req = b.request().map_err(|e| line_error(&chip, spec.line, e))?;
        Ok(CdevIndicator {
            req,
            chip,
            line: spec.line,
        })
    }
}

impl Indicator for CdevIndicator {
    fn set(&mut self, on: bool) -> Result<(), GpioError> {
        let v = if on { Value::Active } else { Value::Inactive };
        self.req
            .set_lone_value(v)
            .map_err(|e| line_error(&self.chip, self.line, e))
    }
}

impl Drop for CdevIndicator {
    fn drop(&mut self) {
        // Off before the line is released (closing the request's file).
        if let Err(e) = self.set(false) {
            tracing::warn!(error = %e, "cannot put out the recording indicator");
        }
    }
}

/// How a switch learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchMode {
    /// Edge events, debounced by the kernel.
    EdgesDebounced,
    /// Edge events without debouncing (the kernel refused it).
    Edges,
    /// No edge events on this line (no interrupt): its value is polled.
    Polled,
}

/// How often a line without edge events is read.
const POLL: Duration = Duration::from_millis(10);

/// The kill switch on a real line: an input with edge detection on both
/// edges and the kernel's debouncing where it has them.
#[derive(Debug)]
pub struct CdevSwitch {
    req: Request,
    chip: String,
    line: u32,
    mode: SwitchMode,
    filter: EdgeFilter,
    pending: VecDeque<SwitchEdge>,
}

impl CdevSwitch {
    pub fn open(spec: &LineSpec, debounce: Duration) -> Result<Self, GpioError> {
        let (path, chip) = check_line(spec)?;
        let request = |mode: SwitchMode| {
            let mut b = Request::builder();
            b.on_chip(&path)
                .with_consumer(CONSUMER)
                .with_line(spec.line)
                .as_input();
            if spec.active_low {
                b.as_active_low();
            }
            if mode != SwitchMode::Polled {
                b.with_edge_detection(EdgeDetection::BothEdges);
            }
            if mode == SwitchMode::EdgesDebounced {
                b.with_debounce_period(debounce);
            }
            b.request().map_err(|e| line_error(&chip, spec.line, e))
        };
        let mut last = None;
        for mode in [
            SwitchMode::EdgesDebounced,
            SwitchMode::Edges,
            SwitchMode::Polled,
        ] {
            match request(mode) {
                Ok(req) => {
                    if mode != SwitchMode::EdgesDebounced {
                        tracing::warn!(
                            "kill switch on line {} of {chip}: {mode:?} (the kernel refused {:?}: {})",
                            spec.line,
                            SwitchMode::EdgesDebounced,
                            last.as_ref().map(ToString::to_string).unwrap_or_default()
                        );
                    }
                    let mut s = CdevSwitch {
                        req,
                        chip,
                        line: spec.line,
                        mode,
                        filter: EdgeFilter::new(false),
                        pending: VecDeque::new(),
                    };
                    let now = s.is_engaged()?;
                    s.filter = EdgeFilter::new(now);
                    return Ok(s);
                }
                // These do not depend on the line's configuration.
                Err(
                    e @ (GpioError::Busy { .. }
                    | GpioError::NoChip { .. }
                    | GpioError::PermissionDenied { .. }),
                ) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("three attempts"))
    }

    pub fn mode(&self) -> SwitchMode {
        self.mode
    }

    fn err(&self, e: gpiocdev::Error) -> GpioError {
        line_error(&self.chip, self.line, e)
    }
}

impl KillSwitch for CdevSwitch {
    fn is_engaged(&mut self) -> Result<bool, GpioError> {
        let v = self.req.lone_value().map_err(|e| self.err(e))?;
        Ok(v == Value::Active)
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<SwitchEdge>, GpioError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.mode == SwitchMode::Polled {
                if left.is_zero() {
                    return Ok(None);
                }
                std::thread::sleep(left.min(POLL));
                let now = self.is_engaged()?;
                if let Some(e) = self.filter.update(now) {
                    return Ok(Some(e));
                }
                continue;
            }
            if !self.req.wait_edge_event(left).map_err(|e| self.err(e))? {
                return Ok(None);
            }
            while self.req.has_edge_event().map_err(|e| self.err(e))? {
                let ev = self.req.read_edge_event().map_err(|e| self.err(e))?;
                // Edges are logical: with active_low, rising is a switch
                // closing to ground.
                if let Some(e) = self.filter.update(ev.kind == EdgeKind::Rising) {
                    self.pending.push_back(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_chip_is_named() {
        let spec = LineSpec {
            chip: ChipId::parse("/dev/gpiochip-vitrine-missing"),
            line: 3,
            active_low: false,
        };
        let e = CdevIndicator::open(&spec).unwrap_err();
        assert!(matches!(e, GpioError::NoChip { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "GPIO chip /dev/gpiochip-vitrine-missing does not exist"
        );
        let e = CdevSwitch::open(&spec, crate::DEFAULT_DEBOUNCE).unwrap_err();
        assert!(
            e.to_string().contains("/dev/gpiochip-vitrine-missing"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_label_is_named() {
        let spec = LineSpec {
            chip: ChipId::parse("no-such-pinctrl"),
            line: 0,
            active_low: true,
        };
        let e = CdevIndicator::open(&spec).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("no GPIO chip is labelled \"no-such-pinctrl\""),
            "{e}"
        );
    }

    #[test]
    fn a_file_that_is_no_chip_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gpiochip-not");
        std::fs::write(&path, b"").unwrap();
        let spec = LineSpec {
            chip: ChipId::Path(path.clone()),
            line: 0,
            active_low: false,
        };
        let e = CdevIndicator::open(&spec).unwrap_err();
        assert!(matches!(e, GpioError::NotAChip { .. }), "{e:?}");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }

    #[test]
    fn errors_name_chip_and_line() {
        let busy = line_error(
            "/dev/gpiochip0",
            17,
            gpiocdev::Error::Os(gpiocdev_uapi::Errno(EBUSY)),
        );
        assert_eq!(
            busy.to_string(),
            "GPIO line 17 of /dev/gpiochip0 is busy: another process or a driver holds it"
        );
        let denied = line_error(
            "/dev/gpiochip0",
            17,
            gpiocdev::Error::Uapi(
                gpiocdev::UapiCall::GetLine,
                gpiocdev_uapi::Error::Os(gpiocdev_uapi::Errno(EACCES)),
            ),
        );
        assert!(matches!(denied, GpioError::PermissionDenied { .. }));
        assert!(denied.to_string().contains("/dev/gpiochip0"));
    }
}
