//! Every setting's rule, written once: `Ok`, or what is wrong in words for
//! a person. The configuration file and the
//! command line are checked by the same functions, so a value the file
//! refuses is refused on the command line too, with the same words.

use std::ops::RangeInclusive;

/// A setting: its key in the file and its command-line option, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub file: &'static str,
    pub option: Option<&'static str>,
}

const fn key(file: &'static str, option: &'static str) -> Key {
    Key {
        file,
        option: Some(option),
    }
}

const fn file_only(file: &'static str) -> Key {
    Key { file, option: None }
}

pub const SITE: Key = key("site", "--site");
pub const RIG: Key = key("rig", "--rig");
pub const BROKER_URL: Key = key("broker.url", "--publish");
/// The broker of a consumer (`vitrine-audit tail`, `mqtt`).
pub const CONSUMER_BROKER_URL: Key = key("broker.url", "--broker");
pub const CA_FILE: Key = key("broker.ca_file", "--tls-ca");
pub const CERT_FILE: Key = key("broker.cert_file", "--tls-cert");
pub const KEY_FILE: Key = key("broker.key_file", "--tls-key");
pub const USERNAME: Key = key("broker.username", "--username");
pub const PASSWORD_FILE: Key = key("broker.password_file", "--password-file");
pub const PAYLOAD: Key = key("broker.payload", "--payload");
pub const TOPIC_PREFIX: Key = key("broker.topic_prefix", "--topic-prefix");
pub const METRIC_TOPICS: Key = key("broker.metric_topics", "--metric-topics");
pub const HOME_ASSISTANT: Key = key("broker.home_assistant", "--home-assistant");
pub const HOME_ASSISTANT_PREFIX: Key =
    key("broker.home_assistant_prefix", "--home-assistant-prefix");
pub const WINDOW_LENGTH: Key = key("windows.length_s", "--window");
pub const K: Key = key("windows.k", "--k");
pub const PRESENCE_RSSI: Key = key("windows.presence_rssi_dbm", "--presence-rssi");
pub const EPOCH_HOURS: Key = key("privacy.epoch_hours", "--epoch-hours");
pub const MAX_DEVICES: Key = key("privacy.max_devices", "--max-devices");
pub const SPOOL_DIR: Key = key("spool.dir", "--spool");
pub const RETENTION_DAYS: Key = file_only("spool.retention_days");
pub const MAX_MB: Key = file_only("spool.max_mb");
pub const INTERFACE: Key = key("capture.interface", "--interface");
pub const MONITOR: Key = key("capture.monitor", "--monitor");
pub const CHANNELS: Key = key("capture.channels", "--channels");
pub const FILTER: Key = key("capture.filter", "--filter");
pub const CAMERA_DEVICE: Key = key("camera.device", "--camera");
pub const CAMERA_WIDTH: Key = file_only("camera.width");
pub const CAMERA_HEIGHT: Key = file_only("camera.height");
pub const CAMERA_FPS: Key = file_only("camera.fps");
pub const CAMERA_LINE: Key = file_only("camera.line");
pub const CAMERA_INSIDE: Key = file_only("camera.inside");
pub const CAMERA_REGION: Key = file_only("camera.region");
pub const CAMERA_GRID: Key = file_only("camera.grid");
pub const GPIO_CHIP: Key = file_only("gpio.chip");
pub const GPIO_INDICATOR: Key = file_only("gpio.indicator");
pub const GPIO_KILL_SWITCH: Key = file_only("gpio.kill_switch");
pub const GPIO_TEST_FILE: Key = file_only("gpio.test_only_kill_switch_file");

fn within<T: PartialOrd>(v: &T, range: RangeInclusive<T>, message: &str) -> Result<(), String> {
    if range.contains(v) {
        Ok(())
    } else {
        Err(message.to_string())
    }
}

/// The payloads' format: `zstd` (JSON compressed with the shipped
/// dictionary, for metered uplinks) or `json` (the same envelope, plain).
pub fn payload(v: &str) -> Result<(), String> {
    match v {
        "zstd" | "json" => Ok(()),
        _ => Err("must be \"zstd\" (compressed with the shipped dictionary) or \"json\"".into()),
    }
}

/// The topics' first levels (`vitrine`, `lab/vitrine`): the rig's topics
/// are `<prefix>/<site>/<rig>/...`.
pub fn topic_prefix(v: &str) -> Result<(), String> {
    if v.is_empty()
        || v.len() > 128
        || v.starts_with('$')
        || v.split('/').any(str::is_empty)
        || v.contains(['+', '#'])
        || v.chars().any(char::is_control)
    {
        return Err(
            "must be 1 to 128 characters of topic levels separated by /, none empty, \
             without + # or control characters, not starting with $ (the broker's own topics)"
                .into(),
        );
    }
    Ok(())
}

/// A switch (`true` or `false`): any value the file's type allows.
pub fn switch(_: &bool) -> Result<(), String> {
    Ok(())
}

/// Site and rig ids: they are MQTT topic levels and part of the client id.
pub fn id(v: &str) -> Result<(), String> {
    if v.is_empty()
        || v.len() > 64
        || v.contains(['/', '+', '#'])
        || v.chars().any(char::is_control)
    {
        return Err(
            "must be 1 to 64 characters without / + # or control characters \
                    (it is part of MQTT topics)"
                .into(),
        );
    }
    Ok(())
}

/// A broker URL, split into what a client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerUrl {
    /// `mqtt://host[:port]` (1883) or `mqtts://host[:port]` (8883, TLS):
    /// the one parser of broker URLs, for the publisher and every consumer.
    pub fn parse(url: &str) -> Result<BrokerUrl, String> {
        const EXPECTED: &str = "expected mqtt://host[:port] or mqtts://host[:port]";
        let (rest, port, tls) = if let Some(rest) = url.strip_prefix("mqtt://") {
            (rest, 1883, false)
        } else if let Some(rest) = url.strip_prefix("mqtts://") {
            (rest, 8883, true)
        } else {
            return Err(EXPECTED.into());
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, p)) => match p.parse::<u16>() {
                Ok(p) if p > 0 => (host, p),
                _ => return Err(format!("port {p:?} must be 1 to 65535")),
            },
            None => (rest, port),
        };
        if host.is_empty() || host.contains(|c: char| c == '/' || c == '@' || c.is_whitespace()) {
            return Err(format!("{EXPECTED}: no host name"));
        }
        Ok(BrokerUrl {
            host: host.to_string(),
            port,
            tls,
        })
    }
}

pub fn broker_url(v: &str) -> Result<(), String> {
    BrokerUrl::parse(v).map(|_| ())
}

/// File names (a path, however short, is never empty).
pub fn path(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("must name a file or folder".into());
    }
    Ok(())
}

pub fn username(v: &str) -> Result<(), String> {
    if v.is_empty() || v.chars().any(char::is_control) {
        return Err("must be non-empty, without control characters".into());
    }
    Ok(())
}

pub fn window_length(v: &u32) -> Result<(), String> {
    within(v, 1..=86_400, "must be 1 to 86400 seconds")
}

pub fn k(v: &u32) -> Result<(), String> {
    if *v < 2 {
        return Err("must be at least 2 (k = 1 publishes every bin, however small)".into());
    }
    Ok(())
}

pub fn presence_rssi(v: &i64) -> Result<(), String> {
    within(v, -128..=0, "must be -128 to 0 dBm")
}

pub fn epoch_hours(v: &u64) -> Result<(), String> {
    within(v, 1..=8760, "must be 1 to 8760 hours")
}

pub fn max_devices(v: &u64) -> Result<(), String> {
    within(v, 1_000..=10_000_000, "must be 1000 to 10000000")
}

pub fn retention_days(v: &u64) -> Result<(), String> {
    within(v, 1..=366, "must be 1 to 366 days")
}

pub fn max_mb(v: &u64) -> Result<(), String> {
    within(v, 1..=1_048_576, "must be 1 to 1048576 MiB")
}

/// A network interface name, as the kernel takes it (IFNAMSIZ).
pub fn interface(v: &str) -> Result<(), String> {
    if (1..=15).contains(&v.len())
        && !v.contains(|c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        Ok(())
    } else {
        Err("must be an interface name: 1 to 15 characters, no / or spaces".into())
    }
}

pub fn channels(v: &str) -> Result<(), String> {
    v.parse::<vitrine_dot11::ChannelPlan>().map(|_| ())
}

/// One channel to stay on (tools that transmit canaries or test frames).
pub fn channel(v: &u8) -> Result<(), String> {
    vitrine_dot11::ChannelPlan::fixed(*v).map(|_| ())
}

/// Kernel filters are compiled by libpcap, which reports their errors; this
/// only bounds their size.
pub fn filter(v: &str) -> Result<(), String> {
    within(&v.len(), 0..=4096, "must be at most 4096 characters")
}

/// A side of the camera's picture, in pixels.
pub fn frame_side(v: &u32) -> Result<(), String> {
    within(v, 16..=4096, "must be 16 to 4096 pixels")
}

pub fn camera_fps(v: &u32) -> Result<(), String> {
    within(v, 1..=60, "must be 1 to 60 frames per second")
}

/// A point of the picture: `[x, y]`, fractions of its width and height
/// from the top left.
pub fn picture_point(v: &[f64; 2]) -> Result<(), String> {
    if v.iter().all(|c| (0.0..=1.0).contains(c)) {
        Ok(())
    } else {
        Err("must be [x, y] with x and y from 0 to 1 (fractions of the picture's width and height, from its top left)".into())
    }
}

fn picture_points(v: &[[f64; 2]]) -> Result<(), String> {
    v.iter().try_for_each(|p| {
        picture_point(p).map_err(|_| {
            format!("every point must be [x, y] with x and y from 0 to 1 (fractions of the picture's width and height, from its top left); [{}, {}] is not", p[0], p[1])
        })
    })
}

/// The counting line: two distinct points of the picture.
pub fn counting_line(v: &[[f64; 2]]) -> Result<(), String> {
    let [a, b] = v[..] else {
        return Err(format!(
            "must be two points, [[x1, y1], [x2, y2]]; {} given",
            v.len()
        ));
    };
    picture_points(v)?;
    if (a[0] - b[0]).hypot(a[1] - b[1]) < 0.01 {
        return Err("its two points must be apart (at least 0.01 of the picture)".into());
    }
    Ok(())
}

/// The inward side's point must be off the line, or no side is named.
pub fn inside_of(line: &[[f64; 2]], inside: &[f64; 2]) -> Result<(), String> {
    let [a, b] = line[..] else {
        return Ok(());
    };
    let cross = (b[0] - a[0]) * (inside[1] - a[1]) - (b[1] - a[1]) * (inside[0] - a[0]);
    let length = (b[0] - a[0]).hypot(b[1] - a[1]);
    if (cross / length).abs() < 0.01 {
        return Err("must be off camera.line (it names the line's inward side)".into());
    }
    Ok(())
}

/// The occupancy region: a polygon of 3 to 64 points of the picture.
pub fn region(v: &[[f64; 2]]) -> Result<(), String> {
    if !(3..=64).contains(&v.len()) {
        return Err(format!(
            "must be a polygon of 3 to 64 points [[x, y], ...]; {} given",
            v.len()
        ));
    }
    picture_points(v)
}

/// The heat grid, `[columns, rows]`: coarse enough that a cell is an area
/// of the floor, not a person's outline.
pub fn grid(v: &[u32; 2]) -> Result<(), String> {
    if v.iter().all(|n| (1..=64).contains(n)) {
        Ok(())
    } else {
        Err("must be [columns, rows], each 1 to 64".into())
    }
}

/// A GPIO chip: a path (`/dev/gpiochip0`), `gpiochipN`, or the chip's
/// label as the kernel gives it.
pub fn gpio_chip(v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > 255 || v.chars().any(char::is_control) {
        return Err("must name a GPIO chip: /dev/gpiochip0, gpiochip0 or its label".into());
    }
    Ok(())
}

/// A line offset on a chip (the kernel's uAPI caps a chip at 512 lines
/// per request; chips are far smaller).
pub fn gpio_line(v: &u32) -> Result<(), String> {
    within(v, 0..=511, "must be a line offset on the chip, 0 to 511")
}

/// A replay's or an injection's pace, `--speed` (`vitrined replay`,
/// `vitrine-audit inject`): a factor of the capture's own pace, finite, and
/// neither so slow that one second of capture would take weeks nor faster
/// than the clock can tell apart.
pub fn speed_factor(text: &str) -> Result<f64, String> {
    finite_in(text, 0.001..=1_000_000.0)
}

/// A number from the command line that must be finite and within `range`
/// (NaN, infinities and out-of-range values are refused, never clamped).
pub fn finite_in(text: &str, range: RangeInclusive<f64>) -> Result<f64, String> {
    let expected = format!("must be a number from {} to {}", range.start(), range.end());
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && range.contains(&v) => Ok(v),
        _ => Err(expected),
    }
}
