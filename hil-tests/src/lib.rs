//! The rig under test, reached over SSH (commands, files) and MQTT (what it
//! publishes). The same scenarios run on the emulated board, whose rig file
//! `cargo xtask hil` writes, and on a real Pi described by a rig file
//! (README.md). Nothing here knows about QEMU.

pub mod fixtures;

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use vitrine_publish::Envelope;

/// A rig file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigFile {
    pub name: String,
    pub host: String,
    #[serde(default = "ssh_port")]
    pub port: u16,
    pub user: String,
    pub identity: Option<PathBuf>,
    /// Run privileged commands through sudo (a real Pi's `pi` user).
    #[serde(default)]
    pub sudo: bool,
    /// The rig's broker as this machine reaches it, `mqtt://host[:port]`
    /// or `mqtts://host[:port]` (then with `broker_ca`).
    pub broker: String,
    /// CA certificate (PEM) of an `mqtts://` broker.
    pub broker_ca: Option<PathBuf>,
    /// Client certificate and key (PEM), for a broker that asks for one.
    pub broker_cert: Option<PathBuf>,
    pub broker_key: Option<PathBuf>,
    /// User name, and a file holding the password (owner-only).
    pub broker_username: Option<String>,
    pub broker_password_file: Option<PathBuf>,
    /// The rig's capture adapter.
    pub rig_interface: String,
    /// A second adapter on the rig that injects test frames.
    pub injector_interface: String,
    pub channel: u8,
    pub camera: Option<String>,
    /// A V4L2 output device whose frames come out of `camera` (vivid's
    /// output with its "Loop Video" control): the camera scenario shows its
    /// scene through it. Unset: that scenario is skipped.
    pub camera_loop: Option<String>,
    /// The GPIO chip and a free line for the recording indicator, whose
    /// level the rig reads in /sys/kernel/debug/gpio.
    pub gpio_chip: Option<String>,
    pub indicator_line: Option<u32>,
    /// Shell commands (run on the rig) that remove and return the capture
    /// adapter, e.g. a USB unbind and bind.
    pub unplug: String,
    pub replug: String,
    /// Where the rig's serial console is logged, if anywhere.
    pub console: Option<PathBuf>,
}

fn ssh_port() -> u16 {
    22
}

/// The rig named by `VITRINE_RIG`, with the packages of `VITRINE_DEBS`
/// installed once per test run.
#[derive(Debug)]
pub struct Rig {
    pub file: RigFile,
}

static RIG: OnceLock<Rig> = OnceLock::new();

/// The rig under test; the first call installs the packages.
pub fn rig() -> &'static Rig {
    RIG.get_or_init(|| {
        let path = std::env::var_os("VITRINE_RIG")
            .expect("VITRINE_RIG names the rig file (run these through `cargo xtask hil`)");
        let text = std::fs::read_to_string(&path).expect("the rig file is readable");
        let file: RigFile = toml::from_str(&text).expect("the rig file parses");
        let rig = Rig { file };
        if let Some(debs) = std::env::var_os("VITRINE_DEBS") {
            let debs: Vec<PathBuf> = std::env::split_paths(&debs).collect();
            rig.install(&debs);
        }
        rig
    })
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Rig {
    fn ssh_args(&self) -> Vec<String> {
        let f = &self.file;
        let mut a = vec![
            "-p".into(),
            f.port.to_string(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            "-o".into(),
            "ConnectTimeout=5".into(),
            "-o".into(),
            "BatchMode=yes".into(),
        ];
        if let Some(id) = &f.identity {
            a.push("-i".into());
            a.push(id.display().to_string());
        }
        a
    }

    fn remote(&self, cmd: &str) -> String {
        if self.file.sudo {
            format!("sudo sh -c {}", quote(cmd))
        } else {
            format!("sh -c {}", quote(cmd))
        }
    }

    /// Runs a shell command on the rig (as root), with `stdin` fed to it.
    pub fn sh_with_input(&self, cmd: &str, stdin: &[u8]) -> Output {
        let mut child = Command::new("ssh")
            .args(self.ssh_args())
            .arg(format!("{}@{}", self.file.user, self.file.host))
            .arg(self.remote(cmd))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssh runs");
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin).expect("stdin to ssh");
        drop(input);
        child.wait_with_output().expect("ssh finishes")
    }

    pub fn sh(&self, cmd: &str) -> Output {
        self.sh_with_input(cmd, b"")
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn run(&self, cmd: &str) -> String {
        let out = self.sh(cmd);
        assert!(
            out.status.success(),
            "on the rig: `{cmd}` failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Copies a local file to `remote` on the rig.
    pub fn put(&self, local: &Path, remote: &str) {
        let bytes = std::fs::read(local).expect("the local file is readable");
        let out = self.sh_with_input(&format!("cat > {}", quote(remote)), &bytes);
        assert!(
            out.status.success(),
            "copying {} to the rig failed",
            local.display()
        );
    }

    /// Installs the packages with the rig's own apt (dependencies come from
    /// what the image or the Pi already has).
    pub fn install(&self, debs: &[PathBuf]) {
        self.run("rm -rf /tmp/vitrine-debs && mkdir -p /tmp/vitrine-debs");
        let mut names = Vec::new();
        for deb in debs {
            let name = deb.file_name().unwrap().to_string_lossy().into_owned();
            self.put(deb, &format!("/tmp/vitrine-debs/{name}"));
            names.push(format!("/tmp/vitrine-debs/{name}"));
        }
        self.run(&format!(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades --reinstall {}",
            names.join(" ")
        ));
    }

    /// Replaces the daemon's configuration and restarts it; waits until its
    /// capture runs. Returns the configuration as the daemon resolves it
    /// (the same rules and defaults), checked before it is written: what the
    /// scenarios expect (window length, spool folder, topics) is read there,
    /// never assumed.
    pub fn configure(&self, toml: &str) -> vitrine_config::Settings {
        let path = Path::new(vitrine_config::defaults::CONFIG_FILE);
        let settings = vitrine_config::ConfigFile::parse(path, toml.to_string())
            .and_then(|file| vitrine_config::Settings::resolve(Some(&file), &Default::default()))
            .unwrap_or_else(|e| panic!("the rig's configuration: {e}"));
        let out = self.sh_with_input(&format!("cat > {}", path.display()), toml.as_bytes());
        assert!(out.status.success());
        self.run("systemctl restart vitrined");
        self.wait_for("capture to start", Duration::from_secs(60), || {
            self.status_text().starts_with("capturing on")
        });
        settings
    }

    /// The daemon's systemd status line (`STATUS=`).
    pub fn status_text(&self) -> String {
        self.run("systemctl show -p StatusText --value vitrined")
            .trim()
            .to_string()
    }

    pub fn wait_for(&self, what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
        let started = Instant::now();
        while !ok() {
            assert!(
                started.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A configuration for the rig's capture adapter, fixed on the rig's
    /// channel, with `window_s` windows; the rest (spool folder, epoch)
    /// left to the defaults.
    pub fn config(&self, window_s: u32) -> String {
        format!(
            "site = \"hil\"\nrig = \"{}\"\n\n[broker]\nurl = \"mqtt://localhost:1883\"\n\n\
             [windows]\nlength_s = {window_s}\nk = 2\n\n\
             [capture]\ninterface = \"{}\"\nchannels = \"{}\"\n",
            self.file.name, self.file.rig_interface, self.file.channel
        )
    }

    /// Transmits a capture file from the injector adapter; returns frames sent.
    pub fn inject(&self, local_pcap: &Path, speed: f64) -> u64 {
        self.put(local_pcap, "/tmp/inject.pcap");
        let out = self.run(&format!(
            "vitrine-audit inject --interface {} --channel {} --pcap /tmp/inject.pcap --speed {speed}",
            self.file.injector_interface, self.file.channel
        ));
        let line: serde_json::Value = serde_json::from_str(out.trim()).expect("inject prints JSON");
        line["sent"].as_u64().expect("a count of frames sent")
    }

    /// The level of `line` on `chip` (`/dev/gpiochip0` or `gpiochip0`) as
    /// the kernel reads it from the controller, while the daemon holds it
    /// (`/sys/kernel/debug/gpio` lists requested lines only): `None` when
    /// the daemon does not hold it.
    pub fn gpio_level(&self, chip: &str, line: u32) -> Option<bool> {
        let debug = self.run("cat /sys/kernel/debug/gpio");
        parse_gpio_level(&debug, chip, line, DAEMON_CONSUMER)
    }

    /// The kernel's boot id: changes at every boot.
    pub fn boot_id(&self) -> String {
        self.run("cat /proc/sys/kernel/random/boot_id")
            .trim()
            .to_string()
    }

    /// Reboots and waits until the rig answers again with a new boot id.
    pub fn reboot(&self, timeout: Duration) {
        let before = self.boot_id();
        let _ = self.sh("systemctl reboot");
        self.wait_for("the rig to come back after a reboot", timeout, || {
            let out = self.sh("cat /proc/sys/kernel/random/boot_id");
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() != before
        });
        self.wait_for("the rig to finish booting", timeout, || {
            self.sh("systemctl is-system-running --wait")
                .status
                .code()
                .is_some()
        });
    }

    /// The broker as this machine reaches it, by the rules and with the
    /// client of every consumer (TLS, credentials).
    pub fn broker(&self) -> vitrine_publish::Broker {
        let f = &self.file;
        let client = vitrine_config::BrokerClient::from_options(&vitrine_config::BrokerOptions {
            url: f.broker.clone(),
            ca_file: f.broker_ca.clone(),
            cert_file: f.broker_cert.clone(),
            key_file: f.broker_key.clone(),
            username: f.broker_username.clone(),
            password_file: f.broker_password_file.clone(),
        })
        .unwrap_or_else(|e| panic!("the rig file's broker: {e}"));
        vitrine_publish::Broker::load(&client)
            .unwrap_or_else(|e| panic!("the rig file's broker: {e}"))
    }
}

/// Collects every summary the rig publishes, in a background subscriber.
#[derive(Debug)]
pub struct Collector {
    got: Arc<Mutex<Vec<Envelope>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collector {
    /// Subscribes to the Wi-Fi summaries of the rig configured with
    /// `settings` (its site and rig ids name the topic). With `persistent`,
    /// the broker queues summaries for this client while the broker or the
    /// client is away (a fixed client id per scenario).
    pub fn start(
        rig: &Rig,
        settings: &vitrine_config::Settings,
        client_id: &str,
        persistent: bool,
    ) -> Self {
        Self::start_sensor(rig, settings, "wifi", client_id, persistent)
    }

    /// The same for the summaries of `sensor` (`wifi`, `camera`).
    pub fn start_sensor(
        rig: &Rig,
        settings: &vitrine_config::Settings,
        sensor: &str,
        client_id: &str,
        persistent: bool,
    ) -> Self {
        let broker = rig.broker();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let topic = topic_of(settings, sensor);
        let (g, s, id) = (got.clone(), stop.clone(), client_id.to_string());
        let thread = std::thread::spawn(move || {
            let _ = vitrine_publish::consume::subscribe_session(
                &broker,
                &id,
                &topic,
                persistent,
                |r| {
                    if let vitrine_publish::consume::Received::Summary { envelope, .. } = r {
                        g.lock().unwrap().push(*envelope);
                    }
                    if s.load(Ordering::Relaxed) {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            );
        });
        Collector {
            got,
            stop,
            thread: Some(thread),
        }
    }

    pub fn summaries(&self) -> Vec<Envelope> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `ok` holds for what was collected.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut ok: impl FnMut(&[Envelope]) -> bool,
    ) -> Vec<Envelope> {
        let started = Instant::now();
        loop {
            let got = self.summaries();
            if ok(&got) {
                return got;
            }
            assert!(
                started.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}; got {} summaries",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `vitrine/<site>/<rig>/<leaf>` of the rig configured with `settings`.
fn topic_of(settings: &vitrine_config::Settings, leaf: &str) -> String {
    let ids = settings
        .broker
        .as_ref()
        .expect("the rig's configuration publishes");
    format!("vitrine/{}/{}/{leaf}", ids.site, ids.rig)
}

/// Follows the rig's retained status (`vitrine/<site>/<rig>/status`) in a
/// background subscriber.
#[derive(Debug)]
pub struct StatusWatcher {
    latest: Arc<Mutex<Option<vitrine_schema::Status>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StatusWatcher {
    pub fn start(rig: &Rig, settings: &vitrine_config::Settings, client_id: &str) -> Self {
        let broker = rig.broker();
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let topic = topic_of(settings, "status");
        let (l, s, id) = (latest.clone(), stop.clone(), client_id.to_string());
        let thread = std::thread::spawn(move || {
            let _ = vitrine_publish::consume::subscribe_raw(
                &broker,
                &id,
                &[topic],
                false,
                |incoming| {
                    if let vitrine_publish::consume::Incoming::Message { payload, .. } = incoming
                        && let Ok(status) = serde_json::from_slice(payload)
                    {
                        *l.lock().unwrap() = Some(status);
                    }
                    if s.load(Ordering::Relaxed) {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            );
        });
        StatusWatcher {
            latest,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits until the latest status satisfies `ok`; returns it.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut ok: impl FnMut(&vitrine_schema::Status) -> bool,
    ) -> vitrine_schema::Status {
        let started = Instant::now();
        loop {
            let latest = self.latest.lock().unwrap().clone();
            if let Some(s) = latest.filter(|s| ok(s)) {
                return s;
            }
            assert!(
                started.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}; the status: {:?}",
                self.latest.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for StatusWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The consumer name the daemon requests its lines under
/// (`vitrine_gpio::CONSUMER`).
const DAEMON_CONSUMER: &str = "vitrined";

/// In `/sys/kernel/debug/gpio`: the chip's block (`gpiochip0: GPIOs
/// 512-519, ...`), then its requested lines (` gpio-512 (name|consumer) out
/// hi`); the line's level when `consumer` holds it.
fn parse_gpio_level(debug: &str, chip: &str, line: u32, consumer: &str) -> Option<bool> {
    let chip = chip.trim_start_matches("/dev/");
    let mut base = None;
    for l in debug.lines() {
        if let Some(rest) = l.strip_prefix(&format!("{chip}: GPIOs ")) {
            base = rest
                .split(['-', ','])
                .next()
                .and_then(|b| b.trim().parse::<u32>().ok());
            continue;
        }
        if l.starts_with("gpiochip") {
            base = None;
            continue;
        }
        let Some(base) = base else { continue };
        let Some((gpio, rest)) = l
            .trim_start()
            .strip_prefix("gpio-")
            .and_then(|r| r.split_once(' '))
        else {
            continue;
        };
        if gpio.parse::<u32>().ok() != Some(base + line) {
            continue;
        }
        let (names, state) = rest.split_once(')')?;
        let holder = names.split('|').nth(1).unwrap_or_default().trim();
        if holder != consumer {
            return None;
        }
        let mut words = state.split_whitespace();
        return match (words.next(), words.next()) {
            (Some("out"), Some("hi")) | (Some("in"), Some("hi")) => Some(true),
            (Some(_), Some("lo")) => Some(false),
            _ => None,
        };
    }
    None
}

/// Seconds since the Unix epoch on this machine.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sleeps until `offset_s` seconds into the next `window_s` boundary, unless
/// already within [offset_s, latest_s) of the current one.
pub fn align_to_window(window_s: u32, offset_s: f64, latest_s: f64) -> i64 {
    let w = f64::from(window_s);
    let now = unix_now();
    let into = now % w;
    let start = now - into;
    if into >= offset_s && into < latest_s {
        return start as i64;
    }
    let next = start + w;
    std::thread::sleep(Duration::from_secs_f64(next + offset_s - now));
    next as i64
}

/// Unix seconds of an RFC 3339 window start (`2024-01-06T15:52:00Z`).
pub fn window_start_s(s: &vitrine_schema::Summary) -> i64 {
    time_of(&s.window_start)
}

fn time_of(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .expect("an RFC 3339 time")
        .unix_timestamp()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_held_line_s_level_is_read_from_the_gpio_debug_listing() {
        // As Linux 6.1 prints it for QEMU's PL061 (the power key on line 3).
        let debug = "gpiochip0: GPIOs 512-519, parent: platform/9030000.pl061, 9030000.pl061:\n                      gpio-512 (                    |vitrined            ) out hi \n                      gpio-515 (                    |GPIO Key Poweroff   ) in  lo IRQ ACTIVE LOW\n\n\
                     gpiochip1: GPIOs 520-527, parent: platform/x, x:\n                      gpio-520 (                    |vitrined            ) out lo \n";
        assert_eq!(
            super::parse_gpio_level(debug, "/dev/gpiochip0", 0, "vitrined"),
            Some(true)
        );
        assert_eq!(
            super::parse_gpio_level(debug, "gpiochip1", 0, "vitrined"),
            Some(false)
        );
        // Held by someone else, or not held at all.
        assert_eq!(
            super::parse_gpio_level(debug, "gpiochip0", 3, "vitrined"),
            None
        );
        assert_eq!(
            super::parse_gpio_level(debug, "gpiochip0", 1, "vitrined"),
            None
        );
        let lo = debug.replacen("out hi", "out lo", 1);
        assert_eq!(
            super::parse_gpio_level(&lo, "gpiochip0", 0, "vitrined"),
            Some(false)
        );
    }

    #[test]
    fn rfc3339_window_starts_convert_to_unix_seconds() {
        assert_eq!(super::time_of("1970-01-01T00:00:00Z"), 0);
        assert_eq!(super::time_of("2024-06-01T10:00:00Z"), 1_717_236_000);
        assert_eq!(super::time_of("2000-03-01T00:00:01Z"), 951_868_801);
    }
}
