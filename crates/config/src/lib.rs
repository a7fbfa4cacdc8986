//! The rig's configuration: one TOML file (site, rig, broker, windows,
//! privacy, spool), validated without IO before anything starts. Every error
//! names the file, the line and the key; the daemon then exits with
//! [`EXIT_CONFIG`]. Unknown keys are errors (a typo must not silently fall
//! back to a default). See docs/configuration.md.

pub mod policy;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// Exit status for a bad configuration (sysexits' `EX_CONFIG`).
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigConfig {
    pub site: Option<Spanned<String>>,
    pub rig: Option<Spanned<String>>,
    #[serde(default)]
    pub broker: Broker,
    #[serde(default)]
    pub windows: Windows,
    #[serde(default)]
    pub privacy: Privacy,
    #[serde(default)]
    pub spool: SpoolSection,
    #[serde(default)]
    pub capture: Capture,
}

/// Live capture (`vitrined live`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// The adapter's interface; the monitor interface goes on its radio.
    pub interface: Option<Spanned<String>>,
    /// Name of the monitor interface the daemon creates and removes.
    pub monitor: Option<Spanned<String>>,
    /// Channel plan: `1,6,11`, `1:200,6:400,11:200` (dwell in ms) or `6`.
    pub channels: Option<Spanned<String>>,
    /// Kernel (BPF) filter, pcap syntax.
    pub filter: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`.
    pub url: Option<Spanned<String>>,
    /// CA certificate (PEM) for `mqtts://`.
    pub ca_file: Option<Spanned<String>>,
    /// Client certificate and key (PEM), when the broker requires them.
    pub cert_file: Option<Spanned<String>>,
    pub key_file: Option<Spanned<String>>,
    pub username: Option<Spanned<String>>,
    /// A file holding the password (kept out of this file).
    pub password_file: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    pub length_s: Option<Spanned<u32>>,
    pub k: Option<Spanned<u32>>,
    pub presence_rssi_dbm: Option<Spanned<i64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    pub epoch_hours: Option<Spanned<u64>>,
    pub max_devices: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolSection {
    pub dir: Option<Spanned<String>>,
    pub retention_days: Option<Spanned<u64>>,
    pub max_mb: Option<Spanned<u64>>,
}

/// A configuration error, located.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

impl RigConfig {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        read_located(path, Self::parse)
    }

    /// Parses and validates; errors carry byte spans until located.
    pub fn parse(text: &str) -> Result<Self, Unlocated> {
        let cfg: RigConfig = toml::from_str(text).map_err(toml_error)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), Unlocated> {
        for (key, v) in [("site", &self.site), ("rig", &self.rig)] {
            if let Some(v) = v
                && (v.get_ref().is_empty() || v.get_ref().contains(['/', '+', '#']))
            {
                return Err(bad(
                    key,
                    v,
                    "must be non-empty and without / + # (it is part of MQTT topics)",
                ));
            }
        }
        let b = &self.broker;
        if let Some(url) = &b.url
            && !url.get_ref().starts_with("mqtt://")
            && !url.get_ref().starts_with("mqtts://")
        {
            return Err(bad(
                "broker.url",
                url,
                "expected mqtt://host[:port] or mqtts://host[:port]",
            ));
        }
        if let Some(url) = &b.url
            && url.get_ref().starts_with("mqtts://")
            && b.ca_file.is_none()
        {
            return Err(bad("broker.url", url, "mqtts:// needs broker.ca_file"));
        }
        if b.cert_file.is_some() != b.key_file.is_some() {
            let (key, v) = match (&b.cert_file, &b.key_file) {
                (Some(v), None) => ("broker.cert_file", v),
                (None, Some(v)) => ("broker.key_file", v),
                _ => unreachable!("exactly one is set"),
            };
            return Err(bad(
                key,
                v,
                "broker.cert_file and broker.key_file go together",
            ));
        }
        if let Some(p) = &b.password_file
            && b.username.is_none()
        {
            return Err(bad("broker.password_file", p, "needs broker.username"));
        }
        let w = &self.windows;
        if let Some(v) = &w.length_s
            && !(1..=86_400).contains(v.get_ref())
        {
            return Err(bad("windows.length_s", v, "must be 1 to 86400 seconds"));
        }
        if let Some(v) = &w.k
            && *v.get_ref() < 2
        {
            return Err(bad(
                "windows.k",
                v,
                "must be at least 2 (k = 1 publishes every bin, however small)",
            ));
        }
        if let Some(v) = &w.presence_rssi_dbm
            && !(-128..=0).contains(v.get_ref())
        {
            return Err(bad("windows.presence_rssi_dbm", v, "must be -128 to 0 dBm"));
        }
        if let Some(v) = &self.privacy.epoch_hours
            && !(1..=8760).contains(v.get_ref())
        {
            return Err(bad("privacy.epoch_hours", v, "must be 1 to 8760 hours"));
        }
        if let Some(v) = &self.privacy.max_devices
            && !(1_000..=10_000_000).contains(v.get_ref())
        {
            return Err(bad("privacy.max_devices", v, "must be 1000 to 10000000"));
        }
        if let Some(v) = &self.spool.retention_days
            && !(1..=366).contains(v.get_ref())
        {
            return Err(bad("spool.retention_days", v, "must be 1 to 366 days"));
        }
        if let Some(v) = &self.spool.max_mb
            && *v.get_ref() == 0
        {
            return Err(bad("spool.max_mb", v, "must be positive"));
        }
        let c = &self.capture;
        for (key, v) in [
            ("capture.interface", &c.interface),
            ("capture.monitor", &c.monitor),
        ] {
            if let Some(v) = v
                && !valid_ifname(v.get_ref())
            {
                return Err(bad(
                    key,
                    v,
                    "must be an interface name: 1 to 15 characters, no / or spaces",
                ));
            }
        }
        if let Some(v) = &c.channels
            && let Err(e) = v.get_ref().parse::<vitrine_dot11::ChannelPlan>()
        {
            return Err(bad("capture.channels", v, &e));
        }
        Ok(())
    }
}

fn valid_ifname(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && !name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace())
}

/// Reads `path` and parses it with `parse`, locating any error in the file.
pub(crate) fn read_located<T>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, Unlocated>,
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
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

/// An error before its file is known: a byte span in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlocated {
    pub span: Range<usize>,
    pub key: String,
    pub message: String,
}

impl Unlocated {
    fn locate(self, path: &Path, text: &str) -> ConfigError {
        let before = &text[..self.span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            key: self.key,
            message: self.message,
        }
    }
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
