//! A kill switch read from a file. **For tests only.**
//!
//! The emulated board's GPIO controller (the PL061 of QEMU's `-M virt`)
//! has no way to drive an input line from outside, so a hil-test cannot
//! press a switch. Instead the daemon is configured with this source (by a
//! key whose name says it is for tests, e.g.
//! `[gpio] test_only_kill_switch_file`), and the test writes the file over
//! SSH: `1` engages the switch, `0`, an empty file or no file releases it.
//! Anything else is an error naming the file. It is read every
//! [`FileSwitch::POLL`]; a rig in a store never uses it.
//!
//! The file must be somewhere the daemon's unit can read: not `/tmp` (the
//! unit has a private one), e.g. `/run/vitrine-test/kill-switch`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{EdgeFilter, GpioError, KillSwitch, SwitchEdge};

/// The kill switch as a file's content.
#[derive(Debug)]
pub struct FileSwitch {
    path: PathBuf,
    poll: Duration,
    filter: EdgeFilter,
}

impl FileSwitch {
    /// How often the file is read while waiting.
    pub const POLL: Duration = Duration::from_millis(50);

    /// Reads the file once: an unreadable or malformed one is an error now.
    pub fn open(path: &Path) -> Result<Self, GpioError> {
        let engaged = read_state(path)?;
        tracing::warn!(
            path = %path.display(),
            "the kill switch is read from a file: for tests only"
        );
        Ok(FileSwitch {
            path: path.to_path_buf(),
            poll: Self::POLL,
            filter: EdgeFilter::new(engaged),
        })
    }

    /// The same, read every `poll` (tests that cannot wait 50 ms a step).
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }
}

fn read_state(path: &Path) -> Result<bool, GpioError> {
    let err = |reason: String| GpioError::TestFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(f) => {
            // A few bytes are enough to tell `0` from `1`; never more.
            f.take(16)
                .read_to_string(&mut text)
                .map_err(|e| err(e.to_string()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(err(e.to_string())),
    }
    match text.trim() {
        "1" => Ok(true),
        "0" | "" => Ok(false),
        other => Err(err(format!("holds {other:?}, not 0 or 1"))),
    }
}

impl KillSwitch for FileSwitch {
    fn is_engaged(&mut self) -> Result<bool, GpioError> {
        read_state(&self.path)
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<SwitchEdge>, GpioError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.filter.update(read_state(&self.path)?) {
                return Ok(Some(e));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(left.min(self.poll));
        }
    }
}
