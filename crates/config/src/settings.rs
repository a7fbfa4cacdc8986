//! The configuration resolved once: command-line options over the file
//! over the defaults, every value checked by its key's rule
//! ([`crate::rules`]) whichever source it came from, then the rules that
//! join keys (TLS files, credentials, the ids a publishing rig needs).

use std::borrow::Borrow;
use std::path::{Path, PathBuf};

use toml::Spanned;
use vitrine_dot11::ChannelPlan;

use crate::read::{check_private, read_bounded, read_text};
use crate::rules::{self as r, Key};
use crate::{ConfigError, RigConfig, line_column};

/// The defaults, one set for every binary.
pub mod defaults {
    /// The rig's configuration, where the packages install it, the
    /// daemon's unit names it and `vitrine-audit self` reads it.
    pub const CONFIG_FILE: &str = "/etc/vitrine/vitrine.toml";
    /// The rig's own policy, which `vitrine-audit self` measures against
    /// when it exists.
    pub const POLICY_FILE: &str = "/etc/vitrine/policy.toml";
    /// A rig's windows: replay, live, and what the self-audit watches.
    pub const WINDOW_S: u32 = 60;
    /// The demo's windows when none is set: five minutes, long enough to
    /// hear every device present.
    pub const DEMO_WINDOW_S: u32 = 300;
    pub const K: u32 = 5;
    pub const PRESENCE_RSSI_DBM: i8 = -85;
    pub const EPOCH_HOURS: u64 = 24;
    pub const MAX_DEVICES: u64 = 200_000;
    pub const SPOOL_DIR: &str = "/var/lib/vitrine/spool";
    /// The topics' first level.
    pub const TOPIC_PREFIX: &str = "vitrine";
    /// Home Assistant's own discovery prefix.
    pub const HOME_ASSISTANT_PREFIX: &str = "homeassistant";
    pub const RETENTION_DAYS: u64 = 7;
    pub const MAX_MB: u64 = 64;
    pub const CHANNELS: &str = "1,6,11";
    /// The camera's picture and rate: what a USB camera gives at any
    /// price, and all that counting people needs.
    pub const CAMERA_WIDTH: u32 = 640;
    pub const CAMERA_HEIGHT: u32 = 480;
    pub const CAMERA_FPS: u32 = 10;
    /// The heat grid, columns by rows.
    pub const CAMERA_GRID: [u32; 2] = [16, 12];
    /// The GPIO chip of a Raspberry Pi's header (and of the emulated
    /// board's PL061).
    pub const GPIO_CHIP: &str = "/dev/gpiochip0";
}

/// Where a value came from, so that an error found later (a missing
/// password file) names the line or the option that gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File {
        path: PathBuf,
        line: usize,
        column: usize,
        key: &'static str,
    },
    Option {
        option: &'static str,
        value: String,
    },
}

impl Origin {
    /// An error about the value from here.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        match self {
            Origin::File {
                path,
                line,
                column,
                key,
            } => ConfigError::Invalid {
                path: path.clone(),
                line: *line,
                column: *column,
                key: (*key).to_string(),
                message: message.into(),
            },
            Origin::Option { option, value } => ConfigError::Option {
                option,
                value: value.clone(),
                message: message.into(),
            },
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

/// A configuration file, read (at most [`crate::MAX_FILE_BYTES`]) and each
/// key checked; kept with its text to locate later errors.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    text: String,
    cfg: RigConfig,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        ConfigFile::parse(path, read_text(path, "configuration")?)
    }

    /// The text of a configuration that is, or will be, at `path` (which
    /// errors name): checked as [`ConfigFile::load`] checks a file, for
    /// whoever writes a rig's configuration (the hil-tests).
    pub fn parse(path: &Path, text: String) -> Result<Self, ConfigError> {
        let cfg = RigConfig::parse(&text).map_err(|e| e.locate(path, &text))?;
        Ok(ConfigFile {
            path: path.to_owned(),
            text,
            cfg,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn origin<T>(&self, key: Key, v: &Spanned<T>) -> Origin {
        let (line, column) = line_column(&self.text, v.span().start);
        Origin::File {
            path: self.path.clone(),
            line,
            column,
            key: key.file,
        }
    }
}

/// Values given on the command line; each overrides its key of the file
/// and is checked by the same rule ([`crate::rules`]).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub site: Option<String>,
    pub rig: Option<String>,
    pub broker_url: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub payload: Option<String>,
    pub topic_prefix: Option<String>,
    /// `--metric-topics`: `Some(true)` when given.
    pub metric_topics: Option<bool>,
    /// `--home-assistant`: `Some(true)` when given.
    pub home_assistant: Option<bool>,
    pub home_assistant_prefix: Option<String>,
    pub window_s: Option<u32>,
    pub k: Option<u32>,
    pub presence_rssi_dbm: Option<i64>,
    pub epoch_hours: Option<u64>,
    pub max_devices: Option<u64>,
    pub spool_dir: Option<PathBuf>,
    pub interface: Option<String>,
    pub monitor: Option<String>,
    pub channels: Option<String>,
    pub filter: Option<String>,
    pub camera_device: Option<PathBuf>,
}

/// Everything a binary is configured with, resolved and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub site: Option<String>,
    pub rig: Option<String>,
    /// The option's, else the file's, else [`defaults::WINDOW_S`]; the demo
    /// has its own default ([`Settings::demo_window_s`]).
    pub window_s: u32,
    /// Whether `window_s` was set (option or file) rather than defaulted.
    window_set: bool,
    pub k: u32,
    pub presence_rssi_dbm: i8,
    pub epoch_hours: u64,
    pub max_devices: u64,
    /// Set when summaries are published.
    pub broker: Option<BrokerSettings>,
    pub spool: SpoolSettings,
    pub capture: CaptureSettings,
    pub camera: CameraConfig,
    pub gpio: GpioConfig,
}

/// The GPIO lines (`[gpio]`), checked by their rules; a line is
/// `(offset, active_low)` on `chip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpioConfig {
    pub chip: String,
    /// The recording indicator, lit exactly while a sensor captures.
    pub indicator: Option<(u32, bool)>,
    /// The kill switch: engaged, no sensor captures.
    pub kill_switch: Option<(u32, bool)>,
    /// For tests only: the kill switch as a file's content.
    pub test_only_kill_switch_file: Option<PathBuf>,
}

/// The camera's settings (`[camera]`), checked by their rules. Points are
/// `[x, y]` fractions of the picture's width and height from its top left.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// V4L2 device; unset: no live camera.
    pub device: Option<PathBuf>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// The counting line and a point on its inward side.
    pub line: Option<([[f64; 2]; 2], [f64; 2])>,
    /// The occupancy region; unset: the whole picture.
    pub region: Option<Vec<[f64; 2]>>,
    /// Heat grid columns and rows.
    pub grid: [u32; 2],
}

/// Where a rig publishes: the broker it connects to, and the ids that name
/// its topics and client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSettings {
    pub client: BrokerClient,
    pub site: String,
    pub rig: String,
    pub payload: PayloadFormat,
    /// The topics' first levels: `<prefix>/<site>/<rig>/...`.
    pub topic_prefix: String,
    /// Each window's main figures on topics of their own, one plain number
    /// each (`<prefix>/<site>/<rig>/wifi/devices/estimated`); on with
    /// Home Assistant.
    pub metric_topics: bool,
    /// Home Assistant MQTT discovery under this prefix, when on.
    pub home_assistant: Option<String>,
}

/// How summaries are encoded on the wire (`broker.payload`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PayloadFormat {
    /// The envelope's JSON compressed with zstd and the shipped dictionary:
    /// the smallest, for metered uplinks.
    #[default]
    Zstd,
    /// The same envelope as plain JSON, for tools that read JSON off the
    /// broker (mosquitto_sub, Home Assistant, Node-RED, Telegraf).
    Json,
}

impl PayloadFormat {
    /// A value [`crate::rules::payload`] accepted.
    pub fn from_checked(v: &str) -> PayloadFormat {
        if v == "json" {
            PayloadFormat::Json
        } else {
            PayloadFormat::Zstd
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Zstd => "zstd",
            PayloadFormat::Json => "json",
        }
    }
}

/// How to reach a broker, for the publisher and for every consumer
/// (`vitrine-audit tail`, `mqtt`, `self`, the hil-tests): the URL (parsed
/// by [`r::BrokerUrl::parse`], the one parser), the CA certificate, the
/// client certificate and key, the user name and the password file. Files
/// are named here, where they came from with them, and read by
/// [`BrokerClient::read_secrets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerClient {
    pub url: Sourced<String>,
    pub host: String,
    pub port: u16,
    /// `mqtts://`: then `ca_file` is set.
    pub tls: bool,
    pub ca_file: Option<Sourced<PathBuf>>,
    /// Client certificate and key.
    pub client_cert: Option<(Sourced<PathBuf>, Sourced<PathBuf>)>,
    pub username: Option<String>,
    pub password_file: Option<Sourced<PathBuf>>,
}

/// A broker as a consumer's command line names it (`--broker`,
/// `--tls-ca`, `--tls-cert`, `--tls-key`, `--username`,
/// `--password-file`), checked by the rules the configuration file's
/// `[broker]` keys follow.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    pub url: String,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
}

impl BrokerOptions {
    /// A broker with nothing but its URL.
    pub fn url(url: impl Into<String>) -> Self {
        BrokerOptions {
            url: url.into(),
            ..BrokerOptions::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    pub retention_days: u64,
    pub max_mb: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSettings {
    pub interface: Option<String>,
    /// Unset: named after the adapter (`vmon<N>` for `wlan<N>`).
    pub monitor: Option<String>,
    pub channels: ChannelPlan,
    /// Unset: management frames only.
    pub filter: Option<String>,
}

/// What the broker's files hold, read before anything starts.
#[derive(Clone, Default)]
pub struct Secrets {
    /// PEM.
    pub ca: Option<Vec<u8>>,
    /// PEM certificate and key.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("ca", &self.ca.as_ref().map(Vec::len))
            .field("client", &self.client.is_some())
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Settings {
    /// Reads the file (if any) and resolves it with `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let file = file.map(ConfigFile::load).transpose()?;
        Settings::resolve(file.as_ref(), overrides)
    }

    /// Options over the file over the defaults; every option checked by
    /// its key's rule, then the rules between keys.
    pub fn resolve(file: Option<&ConfigFile>, o: &Overrides) -> Result<Settings, ConfigError> {
        let m = Merge { file };
        let text = |v: &String| v.clone();
        let site = m.value(r::SITE, &o.site, |c| &c.site, r::id, text)?;
        let rig = m.value(r::RIG, &o.rig, |c| &c.rig, r::id, text)?;
        let client = broker_client(&m, r::BROKER_URL, o)?;
        let payload = m.value(
            r::PAYLOAD,
            &o.payload,
            |c| &c.broker.payload,
            r::payload,
            text,
        )?;
        let topic_prefix = m.value(
            r::TOPIC_PREFIX,
            &o.topic_prefix,
            |c| &c.broker.topic_prefix,
            r::topic_prefix,
            text,
        )?;
        let switch = |v: &bool| v.to_string();
        let metric_topics = m.value(
            r::METRIC_TOPICS,
            &o.metric_topics,
            |c| &c.broker.metric_topics,
            r::switch,
            switch,
        )?;
        let home_assistant = m.value(
            r::HOME_ASSISTANT,
            &o.home_assistant,
            |c| &c.broker.home_assistant,
            r::switch,
            switch,
        )?;
        let home_assistant_prefix = m.value(
            r::HOME_ASSISTANT_PREFIX,
            &o.home_assistant_prefix,
            |c| &c.broker.home_assistant_prefix,
            r::topic_prefix,
            text,
        )?;
        let number = |v: &u32| v.to_string();
        let window = m.value(
            r::WINDOW_LENGTH,
            &o.window_s,
            |c| &c.windows.length_s,
            r::window_length,
            number,
        )?;
        let k = m.value(r::K, &o.k, |c| &c.windows.k, r::k, number)?;
        let rssi = m.value(
            r::PRESENCE_RSSI,
            &o.presence_rssi_dbm,
            |c| &c.windows.presence_rssi_dbm,
            r::presence_rssi,
            i64::to_string,
        )?;
        let epoch_hours = m.value(
            r::EPOCH_HOURS,
            &o.epoch_hours,
            |c| &c.privacy.epoch_hours,
            r::epoch_hours,
            u64::to_string,
        )?;
        let max_devices = m.value(
            r::MAX_DEVICES,
            &o.max_devices,
            |c| &c.privacy.max_devices,
            r::max_devices,
            u64::to_string,
        )?;
        let spool_dir = m.path(r::SPOOL_DIR, &o.spool_dir, |c| &c.spool.dir)?;
        let interface = m.value(
            r::INTERFACE,
            &o.interface,
            |c| &c.capture.interface,
            r::interface,
            text,
        )?;
        let monitor = m.value(
            r::MONITOR,
            &o.monitor,
            |c| &c.capture.monitor,
            r::interface,
            text,
        )?;
        let channels = m.value(
            r::CHANNELS,
            &o.channels,
            |c| &c.capture.channels,
            r::channels,
            text,
        )?;
        let filter = m.value(r::FILTER, &o.filter, |c| &c.capture.filter, r::filter, text)?;
        let camera_device = m.path(r::CAMERA_DEVICE, &o.camera_device, |c| &c.camera.device)?;
        let cam = file.map(|f| &f.cfg.camera);
        let get = |v: Option<&Option<Spanned<u32>>>, default| {
            v.and_then(Option::as_ref).map_or(default, |v| *v.get_ref())
        };
        let gpio = file.map(|f| &f.cfg.gpio);
        let line = |offset: Option<&Spanned<u32>>, low: Option<&Spanned<bool>>| {
            offset.map(|o| (*o.get_ref(), low.is_some_and(|l| *l.get_ref())))
        };
        let gpio = GpioConfig {
            chip: gpio
                .and_then(|g| g.chip.as_ref())
                .map_or_else(|| defaults::GPIO_CHIP.to_string(), |c| c.get_ref().clone()),
            indicator: gpio
                .and_then(|g| line(g.indicator.as_ref(), g.indicator_active_low.as_ref())),
            kill_switch: gpio
                .and_then(|g| line(g.kill_switch.as_ref(), g.kill_switch_active_low.as_ref())),
            test_only_kill_switch_file: gpio
                .and_then(|g| g.test_only_kill_switch_file.as_ref())
                .map(|f| PathBuf::from(f.get_ref())),
        };
        let camera = CameraConfig {
            device: camera_device.map(|v| v.value),
            width: get(cam.map(|c| &c.width), defaults::CAMERA_WIDTH),
            height: get(cam.map(|c| &c.height), defaults::CAMERA_HEIGHT),
            fps: get(cam.map(|c| &c.fps), defaults::CAMERA_FPS),
            // Two points and the inside point, together, by the file's rules.
            line: cam.and_then(|c| match (&c.line, &c.inside) {
                (Some(line), Some(inside)) => {
                    let l = line.get_ref();
                    Some(([l[0], l[1]], *inside.get_ref()))
                }
                _ => None,
            }),
            region: cam
                .and_then(|c| c.region.as_ref())
                .map(|r| r.get_ref().clone()),
            grid: cam
                .and_then(|c| c.grid.as_ref())
                .map_or(defaults::CAMERA_GRID, |g| *g.get_ref()),
        };
        let file_spool = file.map(|f| &f.cfg.spool);
        let from_file = |v: Option<&Option<Spanned<u64>>>, default| {
            v.and_then(Option::as_ref).map_or(default, |v| *v.get_ref())
        };

        let broker = match client {
            None => None,
            Some(client) => {
                let missing: Vec<&str> = [("site", &site), ("rig", &rig)]
                    .into_iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(name, _)| name)
                    .collect();
                if !missing.is_empty() {
                    return Err(client.url.origin.error(format!(
                        "publishing needs a site and a rig id (--site and --rig, or site and rig \
                         in the configuration file); missing: {}. They name the rig's topics \
                         and MQTT client id, which no two rigs may share",
                        missing.join(", ")
                    )));
                }
                Some(BrokerSettings {
                    client,
                    site: site.clone().map(|s| s.value).unwrap_or_default(),
                    rig: rig.clone().map(|s| s.value).unwrap_or_default(),
                    payload: payload.map_or(PayloadFormat::Zstd, |p| {
                        PayloadFormat::from_checked(&p.value)
                    }),
                    topic_prefix: topic_prefix
                        .map_or_else(|| defaults::TOPIC_PREFIX.to_string(), |p| p.value),
                    metric_topics: metric_topics.is_some_and(|v| v.value)
                        || home_assistant.as_ref().is_some_and(|v| v.value),
                    home_assistant: home_assistant.filter(|v| v.value).map(|_| {
                        home_assistant_prefix.map_or_else(
                            || defaults::HOME_ASSISTANT_PREFIX.to_string(),
                            |p| p.value,
                        )
                    }),
                })
            }
        };
        let channels = channels.map_or_else(|| defaults::CHANNELS.to_string(), |c| c.value);
        Ok(Settings {
            site: site.map(|s| s.value),
            rig: rig.map(|s| s.value),
            window_s: window.as_ref().map_or(defaults::WINDOW_S, |v| v.value),
            window_set: window.is_some(),
            k: k.map_or(defaults::K, |v| v.value),
            // In range by the rule.
            presence_rssi_dbm: rssi.map_or(defaults::PRESENCE_RSSI_DBM, |v| v.value as i8),
            epoch_hours: epoch_hours.map_or(defaults::EPOCH_HOURS, |v| v.value),
            max_devices: max_devices.map_or(defaults::MAX_DEVICES, |v| v.value),
            broker,
            spool: SpoolSettings {
                dir: spool_dir.map_or_else(|| defaults::SPOOL_DIR.into(), |v| v.value),
                retention_days: from_file(
                    file_spool.map(|s| &s.retention_days),
                    defaults::RETENTION_DAYS,
                ),
                max_mb: from_file(file_spool.map(|s| &s.max_mb), defaults::MAX_MB),
            },
            capture: CaptureSettings {
                interface: interface.map(|v| v.value),
                monitor: monitor.map(|v| v.value),
                channels: channels.parse().expect("checked by its rule"),
                filter: filter.map(|v| v.value),
            },
            camera,
            gpio,
        })
    }

    /// The demo's window length: as set, else [`defaults::DEMO_WINDOW_S`].
    pub fn demo_window_s(&self) -> u32 {
        if self.window_set {
            self.window_s
        } else {
            defaults::DEMO_WINDOW_S
        }
    }
}

impl CaptureSettings {
    /// The adapter to capture on, which live capture cannot do without.
    pub fn require_interface(&self) -> Result<&str, ConfigError> {
        self.interface.as_deref().ok_or(ConfigError::Missing {
            key: r::INTERFACE.file,
            option: "--interface",
            needed_for: "live capture needs the adapter's interface",
        })
    }
}

/// The broker's keys, from the options over the file: every value by its
/// rule, then the rules between them (a certificate with its key, a
/// password with a user name, a CA for `mqtts://`). `None` without a URL.
fn broker_client(
    m: &Merge<'_>,
    url_key: Key,
    o: &Overrides,
) -> Result<Option<BrokerClient>, ConfigError> {
    let text = |v: &String| v.clone();
    let url = m.value(
        url_key,
        &o.broker_url,
        |c| &c.broker.url,
        r::broker_url,
        text,
    )?;
    let ca_file = m.path(r::CA_FILE, &o.ca_file, |c| &c.broker.ca_file)?;
    let cert_file = m.path(r::CERT_FILE, &o.cert_file, |c| &c.broker.cert_file)?;
    let key_file = m.path(r::KEY_FILE, &o.key_file, |c| &c.broker.key_file)?;
    let username = m.value(
        r::USERNAME,
        &o.username,
        |c| &c.broker.username,
        r::username,
        text,
    )?;
    let password_file = m.path(r::PASSWORD_FILE, &o.password_file, |c| {
        &c.broker.password_file
    })?;
    let client_cert = match (cert_file, key_file) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(cert), None) => {
            return Err(cert
                .origin
                .error("a client certificate goes with its key: broker.key_file or --tls-key"));
        }
        (None, Some(key)) => {
            return Err(key
                .origin
                .error("a client key goes with its certificate: broker.cert_file or --tls-cert"));
        }
    };
    if let Some(p) = &password_file
        && username.is_none()
    {
        return Err(p
            .origin
            .error("a password needs a user name: broker.username or --username"));
    }
    let Some(url) = url else {
        return Ok(None);
    };
    let parsed = r::BrokerUrl::parse(&url.value).map_err(|m| url.origin.error(m))?;
    if parsed.tls && ca_file.is_none() {
        return Err(url
            .origin
            .error("mqtts:// needs a CA certificate: broker.ca_file or --tls-ca"));
    }
    Ok(Some(BrokerClient {
        url,
        host: parsed.host,
        port: parsed.port,
        tls: parsed.tls,
        ca_file,
        client_cert,
        username: username.map(|u| u.value),
        password_file,
    }))
}

impl BrokerClient {
    /// A consumer's broker, from its command line (`--broker` and the
    /// options beside it).
    pub fn from_options(o: &BrokerOptions) -> Result<BrokerClient, ConfigError> {
        let overrides = Overrides {
            broker_url: Some(o.url.clone()),
            ca_file: o.ca_file.clone(),
            cert_file: o.cert_file.clone(),
            key_file: o.key_file.clone(),
            username: o.username.clone(),
            password_file: o.password_file.clone(),
            ..Overrides::default()
        };
        let client = broker_client(&Merge { file: None }, r::CONSUMER_BROKER_URL, &overrides)?;
        Ok(client.expect("the URL is given"))
    }

    /// Reads the CA certificate (for `mqtts://`), the client certificate and
    /// key, and the password, each at most [`crate::MAX_FILE_BYTES`]; a
    /// missing file, or a key or password file that others may read, is an
    /// error located where the file was named.
    pub fn read_secrets(&self) -> Result<Secrets, ConfigError> {
        let mut secrets = Secrets::default();
        if self.tls
            && let Some(ca) = &self.ca_file
        {
            secrets.ca = Some(read(ca, "CA certificate", false)?);
        }
        if let Some((cert, key)) = &self.client_cert {
            secrets.client = Some((
                read(cert, "client certificate", false)?,
                read(key, "client key", true)?,
            ));
        }
        if let Some(p) = &self.password_file {
            let bytes = read(p, "password file", true)?;
            let password = String::from_utf8(bytes)
                .map_err(|_| p.origin.error("the password file is not UTF-8 text"))?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                return Err(p
                    .origin
                    .error(format!("the password file {} is empty", p.value.display())));
            }
            secrets.password = Some(password.to_string());
        }
        Ok(secrets)
    }
}

fn read(
    file: &Sourced<PathBuf>,
    what: &'static str,
    private: bool,
) -> Result<Vec<u8>, ConfigError> {
    if private {
        check_private(&file.value).map_err(|m| file.origin.error(m))?;
    }
    read_bounded(&file.value, what).map_err(|e| file.origin.error(e.to_string()))
}

/// Picks each value from the command line or the file.
struct Merge<'a> {
    file: Option<&'a ConfigFile>,
}

impl Merge<'_> {
    /// The option's value when given (checked by `rule`: the file's values
    /// were checked when it was read), else the file's.
    fn value<T: Clone + Borrow<U>, U: ?Sized>(
        &self,
        key: Key,
        option: &Option<T>,
        in_file: impl Fn(&RigConfig) -> &Option<Spanned<T>>,
        rule: fn(&U) -> Result<(), String>,
        show: impl Fn(&T) -> String,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        if let Some(v) = option {
            let origin = Origin::Option {
                option: key.option.unwrap_or(key.file),
                value: show(v),
            };
            rule(v.borrow()).map_err(|m| origin.error(m))?;
            return Ok(Some(Sourced {
                value: v.clone(),
                origin,
            }));
        }
        Ok(self.file.and_then(|f| {
            in_file(&f.cfg).as_ref().map(|v| Sourced {
                value: v.get_ref().clone(),
                origin: f.origin(key, v),
            })
        }))
    }

    /// A file name: the option's (a path, kept as given) or the file's.
    fn path(
        &self,
        key: Key,
        option: &Option<PathBuf>,
        in_file: impl Fn(&RigConfig) -> &Option<Spanned<String>>,
    ) -> Result<Option<Sourced<PathBuf>>, ConfigError> {
        if let Some(p) = option {
            let origin = Origin::Option {
                option: key.option.unwrap_or(key.file),
                value: p.display().to_string(),
            };
            r::path(&p.to_string_lossy()).map_err(|m| origin.error(m))?;
            return Ok(Some(Sourced {
                value: p.clone(),
                origin,
            }));
        }
        Ok(self
            .value(key, &None, in_file, r::path, String::clone)?
            .map(|s| Sourced {
                value: PathBuf::from(s.value),
                origin: s.origin,
            }))
    }
}
