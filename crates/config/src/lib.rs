//! The rig's configuration: one TOML file (site, rig, broker, windows,
//! privacy, spool, capture) and the command-line options that override it,
//! resolved once into [`Settings`] before anything starts. Every key has one
//! rule ([`rules`]) that the file and the command line share; an error names
//! the file, line and key, or the option and value, and the daemon then
//! exits with [`EXIT_CONFIG`]. Unknown keys are errors (a typo must not
//! silently fall back to a default). Files are read with a bound
//! ([`MAX_FILE_BYTES`]). See docs/configuration.md.

pub mod policy;
pub mod read;
pub mod rules;
mod settings;

use std::borrow::Borrow;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use read::{MAX_FILE_BYTES, ReadError, read_bounded, read_text};
use rules::Key;
pub use settings::{
    BrokerClient, BrokerOptions, BrokerSettings, CameraConfig, CaptureSettings, ConfigFile,
    GpioConfig, Origin, Overrides, PayloadFormat, Secrets, Settings, Sourced, SpoolSettings,
    defaults,
};

/// Exit status for a bad configuration (sysexits' `EX_CONFIG`).
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RigConfig {
    pub(crate) site: Option<Spanned<String>>,
    pub(crate) rig: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) broker: Broker,
    #[serde(default)]
    pub(crate) windows: Windows,
    #[serde(default)]
    pub(crate) privacy: Privacy,
    #[serde(default)]
    pub(crate) spool: SpoolSection,
    #[serde(default)]
    pub(crate) capture: Capture,
    #[serde(default)]
    pub(crate) camera: Camera,
    #[serde(default)]
    pub(crate) gpio: GpioSection,
}

/// The rig's GPIO lines: the recording indicator and the kill switch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GpioSection {
    /// The chip: `/dev/gpiochip0`, `gpiochip0`, or its label.
    pub(crate) chip: Option<Spanned<String>>,
    /// The indicator's line offset on the chip.
    pub(crate) indicator: Option<Spanned<u32>>,
    pub(crate) indicator_active_low: Option<Spanned<bool>>,
    /// The kill switch's line offset on the chip.
    pub(crate) kill_switch: Option<Spanned<u32>>,
    pub(crate) kill_switch_active_low: Option<Spanned<bool>>,
    /// For tests only: the kill switch read from a file (`1` engaged).
    pub(crate) test_only_kill_switch_file: Option<Spanned<String>>,
}

/// The camera (`vitrined live` with a camera, `vitrined replay --clip`).
/// Points are fractions of the picture's width and height, from its top
/// left, so that they hold at any resolution.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Camera {
    /// V4L2 capture device, e.g. `/dev/video0`; unset: no live camera.
    pub(crate) device: Option<Spanned<String>>,
    pub(crate) width: Option<Spanned<u32>>,
    pub(crate) height: Option<Spanned<u32>>,
    pub(crate) fps: Option<Spanned<u32>>,
    /// The counting line, two points.
    pub(crate) line: Option<Spanned<Vec<[f64; 2]>>>,
    /// A point on the line's inward side.
    pub(crate) inside: Option<Spanned<[f64; 2]>>,
    /// The occupancy region, a polygon; unset: the whole picture.
    pub(crate) region: Option<Spanned<Vec<[f64; 2]>>>,
    /// Heat grid columns and rows.
    pub(crate) grid: Option<Spanned<[u32; 2]>>,
}

/// Live capture (`vitrined live`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Capture {
    /// The adapter's interface; the monitor interface goes on its radio.
    pub(crate) interface: Option<Spanned<String>>,
    /// Name of the monitor interface the daemon creates and removes.
    pub(crate) monitor: Option<Spanned<String>>,
    /// Channel plan: `1,6,11`, `1:200,6:400,11:200` (dwell in ms) or `6`.
    pub(crate) channels: Option<Spanned<String>>,
    /// Kernel (BPF) filter, pcap syntax.
    pub(crate) filter: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Broker {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`.
    pub(crate) url: Option<Spanned<String>>,
    /// CA certificate (PEM) for `mqtts://`.
    pub(crate) ca_file: Option<Spanned<String>>,
    /// Client certificate and key (PEM), when the broker requires them.
    pub(crate) cert_file: Option<Spanned<String>>,
    pub(crate) key_file: Option<Spanned<String>>,
    pub(crate) username: Option<Spanned<String>>,
    /// A file holding the password (kept out of this file).
    pub(crate) password_file: Option<Spanned<String>>,
    /// `zstd` (default) or `json`.
    pub(crate) payload: Option<Spanned<String>>,
    /// The topics' first levels (default `vitrine`).
    pub(crate) topic_prefix: Option<Spanned<String>>,
    /// Each window's main figures, one plain number per topic.
    pub(crate) metric_topics: Option<Spanned<bool>>,
    /// Home Assistant MQTT discovery (implies `metric_topics`).
    pub(crate) home_assistant: Option<Spanned<bool>>,
    /// Home Assistant's discovery prefix (default `homeassistant`).
    pub(crate) home_assistant_prefix: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Windows {
    pub(crate) length_s: Option<Spanned<u32>>,
    pub(crate) k: Option<Spanned<u32>>,
    pub(crate) presence_rssi_dbm: Option<Spanned<i64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Privacy {
    pub(crate) epoch_hours: Option<Spanned<u64>>,
    pub(crate) max_devices: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpoolSection {
    pub(crate) dir: Option<Spanned<String>>,
    pub(crate) retention_days: Option<Spanned<u64>>,
    pub(crate) max_mb: Option<Spanned<u64>>,
}

/// A configuration error, located: in the file (path, line, column, key)
/// or on the command line (option and value).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{path}:{line}:{column}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    #[error("{option} {}: {message}", shown(.value))]
    Option {
        option: &'static str,
        value: String,
        message: String,
    },
    #[error("no {key} (or {option}): {needed_for}")]
    Missing {
        key: &'static str,
        option: &'static str,
        needed_for: &'static str,
    },
}

/// A value as given on the command line, quoted when it would not read
/// as one word.
fn shown(value: &str) -> String {
    if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c.is_control()) {
        format!("{value:?}")
    } else {
        value.to_string()
    }
}

impl RigConfig {
    /// Parses and checks every key against its rule; errors carry byte
    /// spans until located. Rules between keys (TLS files, credentials,
    /// ids for publishing) apply once command-line options are merged in
    /// ([`Settings::resolve`]).
    pub(crate) fn parse(text: &str) -> Result<Self, Unlocated> {
        let cfg: RigConfig = toml::from_str(text).map_err(|e| toml_error_in(text, e))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), Unlocated> {
        use rules as r;
        check(r::SITE, &self.site, r::id)?;
        check(r::RIG, &self.rig, r::id)?;
        let b = &self.broker;
        check(r::BROKER_URL, &b.url, r::broker_url)?;
        check(r::CA_FILE, &b.ca_file, r::path)?;
        check(r::CERT_FILE, &b.cert_file, r::path)?;
        check(r::KEY_FILE, &b.key_file, r::path)?;
        check(r::USERNAME, &b.username, r::username)?;
        check(r::PAYLOAD, &b.payload, r::payload)?;
        check(r::TOPIC_PREFIX, &b.topic_prefix, r::topic_prefix)?;
        check(
            r::HOME_ASSISTANT_PREFIX,
            &b.home_assistant_prefix,
            r::topic_prefix,
        )?;
        check(r::PASSWORD_FILE, &b.password_file, r::path)?;
        let w = &self.windows;
        check(r::WINDOW_LENGTH, &w.length_s, r::window_length)?;
        check(r::K, &w.k, r::k)?;
        check(r::PRESENCE_RSSI, &w.presence_rssi_dbm, r::presence_rssi)?;
        check(r::EPOCH_HOURS, &self.privacy.epoch_hours, r::epoch_hours)?;
        check(r::MAX_DEVICES, &self.privacy.max_devices, r::max_devices)?;
        let s = &self.spool;
        check(r::SPOOL_DIR, &s.dir, r::path)?;
        check(r::RETENTION_DAYS, &s.retention_days, r::retention_days)?;
        check(r::MAX_MB, &s.max_mb, r::max_mb)?;
        let c = &self.capture;
        check(r::INTERFACE, &c.interface, r::interface)?;
        check(r::MONITOR, &c.monitor, r::interface)?;
        check(r::CHANNELS, &c.channels, r::channels)?;
        check(r::FILTER, &c.filter, r::filter)?;
        let cam = &self.camera;
        check(r::CAMERA_DEVICE, &cam.device, r::path)?;
        check(r::CAMERA_WIDTH, &cam.width, r::frame_side)?;
        check(r::CAMERA_HEIGHT, &cam.height, r::frame_side)?;
        check(r::CAMERA_FPS, &cam.fps, r::camera_fps)?;
        check(r::CAMERA_LINE, &cam.line, r::counting_line)?;
        check(r::CAMERA_INSIDE, &cam.inside, r::picture_point)?;
        check(r::CAMERA_REGION, &cam.region, r::region)?;
        check(r::CAMERA_GRID, &cam.grid, r::grid)?;
        let g = &self.gpio;
        check(r::GPIO_CHIP, &g.chip, r::gpio_chip)?;
        check(r::GPIO_INDICATOR, &g.indicator, r::gpio_line)?;
        check(r::GPIO_KILL_SWITCH, &g.kill_switch, r::gpio_line)?;
        check(r::GPIO_TEST_FILE, &g.test_only_kill_switch_file, r::path)?;
        if let (Some(a), Some(b)) = (&g.indicator, &g.kill_switch)
            && a.get_ref() == b.get_ref()
        {
            return Err(bad(
                r::GPIO_KILL_SWITCH.file,
                b,
                "is the indicator's line: the switch needs a line of its own",
            ));
        }
        if let (Some(_), Some(f)) = (&g.kill_switch, &g.test_only_kill_switch_file) {
            return Err(bad(
                r::GPIO_TEST_FILE.file,
                f,
                "and gpio.kill_switch both name a kill switch; a rig has one",
            ));
        }
        match (&cam.line, &cam.inside) {
            (Some(line), None) => Err(bad(
                r::CAMERA_LINE.file,
                line,
                "needs camera.inside, a point on the line's inward side",
            )),
            (None, Some(inside)) => Err(bad(
                r::CAMERA_INSIDE.file,
                inside,
                "is the inward side of camera.line, which is not set",
            )),
            (Some(line), Some(inside)) => r::inside_of(line.get_ref(), inside.get_ref())
                .map_err(|m| bad(r::CAMERA_INSIDE.file, inside, &m)),
            (None, None) => Ok(()),
        }
    }
}

/// Checks a file value, if present, against its rule.
fn check<T: Borrow<U>, U: ?Sized>(
    key: Key,
    v: &Option<Spanned<T>>,
    rule: fn(&U) -> Result<(), String>,
) -> Result<(), Unlocated> {
    match v {
        Some(v) => rule(v.get_ref().borrow()).map_err(|m| bad(key.file, v, &m)),
        None => Ok(()),
    }
}

/// Reads `path` (at most [`MAX_FILE_BYTES`]) and parses it with `parse`,
/// locating any error in the file.
pub(crate) fn read_located<T>(
    path: &Path,
    what: &'static str,
    parse: impl FnOnce(&str) -> Result<T, Unlocated>,
) -> Result<T, ConfigError> {
    let text = read_text(path, what)?;
    parse(&text).map_err(|e| e.locate(path, &text))
}

/// A TOML syntax or type error, with the key it is about.
pub(crate) fn toml_error(e: toml::de::Error) -> Unlocated {
    Unlocated {
        span: e.span().unwrap_or(0..0),
        key: key_of(e.message()),
        message: e.message().trim().to_string(),
    }
}

/// [`toml_error`], with the key a wrong value was given for
/// (`windows.length_s = -3`), which the parser's message does not name.
pub(crate) fn toml_error_in(text: &str, e: toml::de::Error) -> Unlocated {
    let mut error = toml_error(e);
    if error.key == "(syntax)"
        && let Some(key) = toml::de::DeTable::parse(text)
            .ok()
            .and_then(|doc| key_at(doc.get_ref(), error.span.start, ""))
    {
        error.key = key;
    }
    error
}

/// The dotted key whose value holds byte `at`, if any.
fn key_at(table: &toml::de::DeTable<'_>, at: usize, prefix: &str) -> Option<String> {
    table.iter().find_map(|(k, v)| {
        let key = format!("{prefix}{}", k.get_ref());
        match v.get_ref().as_table() {
            Some(t) => key_at(t, at, &format!("{key}.")),
            None => v.span().contains(&at).then_some(key),
        }
    })
}

/// An error before its file is known: a byte span in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlocated {
    pub span: Range<usize>,
    pub key: String,
    pub message: String,
}

impl Unlocated {
    /// The error at its line and column of `text`, read from `path`.
    pub fn locate(self, path: &Path, text: &str) -> ConfigError {
        let (line, column) = line_column(text, self.span.start);
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            key: self.key,
            message: self.message,
        }
    }
}

/// 1-based line and column of byte `at` in `text`.
pub fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

pub(crate) fn bad<T>(key: &str, v: &Spanned<T>, message: &str) -> Unlocated {
    Unlocated {
        span: v.span(),
        key: key.to_string(),
        message: message.to_string(),
    }
}

/// The key a deserialization message is about (`unknown field `x``), if any.
fn key_of(message: &str) -> String {
    message
        .split('`')
        .nth(1)
        .filter(|_| message.contains("field"))
        .unwrap_or("(syntax)")
        .to_string()
}

#[cfg(test)]
mod tests;
