//! `vitrined`: the Vitrine sensing daemon.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::time::Duration;
use vitrine_camera_capture::y4m::{Y4mClip, Y4mError};
use vitrine_config::{ConfigError, Overrides, Settings};
use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_publish::Broker;
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::{CaptureStage, FrameSource, Paced, PcapFile, SourceError};
use vitrined::ReplayError;
use vitrined::publishing::Publishing;

use vitrine_schema::Summary;

mod firstboot;

/// Anonymous Wi-Fi footfall sensing: turns 802.11 traffic into per-window
/// aggregate summaries. MAC addresses and SSIDs never leave the capture
/// stage; they are replaced by keyed pseudonyms under a random key that lives
/// only in memory and rotates, and only counts are ever output.
#[derive(Debug, Parser)]
#[command(name = "vitrined", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML: site, rig, broker, windows, privacy, spool;
    /// see docs/configuration.md). Command-line options override it. A bad
    /// file is reported with its line and key, and nothing starts (exit 78).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse a capture file (pcap or pcapng, radiotap or bare 802.11), a
    /// camera clip, or both together, and print one summary per window,
    /// timed by the capture's own timestamps.
    Replay {
        /// The capture file.
        #[arg(long, value_name = "FILE", required_unless_present = "clip")]
        pcap: Option<PathBuf>,
        /// A camera clip, YUV4MPEG2 (gray, 4:2:0, 4:2:2 or 4:4:4, 8 bits),
        /// as `ffmpeg -i in.mp4 -pix_fmt gray -f yuv4mpegpipe out.y4m`
        /// writes it; `-` reads standard input (e.g. from rpicam-vid through
        /// ffmpeg). Counted with the `[camera]` settings of the
        /// configuration file (counting line, region, grid).
        #[arg(long, value_name = "FILE.y4m")]
        clip: Option<PathBuf>,
        /// When the clip's first frame was taken, RFC 3339
        /// (`2024-01-06T15:52:00Z`); a clip holds no time of its own
        /// [default: with --pcap, the capture's first packet; alone,
        /// 1970-01-01T00:00:00Z].
        #[arg(long, value_name = "TIME", requires = "clip", value_parser = rfc3339_us)]
        clip_start: Option<i64>,
        /// `jsonl`: one JSON summary per line (schema in docs/schema.md);
        /// `table`: a readable table.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Replay at this many times the capture's own pace (60: an hour in a
        /// minute; 0.001 to 1000000), as a live rig would; by default as fast
        /// as possible.
        #[arg(long, value_name = "FACTOR", value_parser = speed_factor, conflicts_with = "clip")]
        speed: Option<f64>,
        #[command(flatten)]
        opts: PipelineOpts,
        #[command(flatten)]
        publish: PublishOpts,
    },
    /// Capture live from a Wi-Fi adapter that supports monitor mode: creates
    /// a monitor interface on its radio over nl80211, hops channels, and
    /// publishes one summary per window until stopped (SIGTERM or Ctrl-C).
    /// If the adapter goes away, windows keep being published and capture
    /// resumes when it returns. Needs CAP_NET_ADMIN and CAP_NET_RAW (see
    /// systemd/vitrined.service). Summaries go to the broker, or to stdout
    /// without one.
    #[cfg(feature = "live")]
    Live {
        /// The adapter's interface, e.g. wlan1 [default: capture.interface].
        #[arg(long, value_name = "IFACE")]
        interface: Option<String>,
        /// Name of the monitor interface to create [default: capture.monitor,
        /// else vmon<N> for wlan<N>].
        #[arg(long, value_name = "IFACE")]
        monitor: Option<String>,
        /// Channel plan: `1,6,11` (250 ms each), `1:200,6:400,11:200` (dwell
        /// in ms), or one channel to stay on [default: capture.channels, else
        /// 1,6,11].
        #[arg(long, value_name = "PLAN")]
        channels: Option<String>,
        /// Kernel filter, pcap syntax [default: capture.filter, else `type mgt`].
        #[arg(long, value_name = "BPF")]
        filter: Option<String>,
        /// Camera: a V4L2 device (`/dev/video0`; GREY, YUYV or MJPEG), or `-`
        /// for a YUV4MPEG2 stream on standard input (a Pi camera module
        /// through rpicam-vid and ffmpeg, docs/camera.md) [default:
        /// camera.device; none: no camera].
        #[arg(long, value_name = "DEVICE")]
        camera: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        #[command(flatten)]
        opts: PipelineOpts,
        #[command(flatten)]
        publish: PublishOpts,
    },
    /// Run the pipeline on built-in simulated store traffic and show what a
    /// rig would publish, next to the simulator's ground truth. No hardware,
    /// no configuration.
    Demo {
        /// Simulated minutes of store traffic (1 to 1440; the simulated
        /// frames are held in memory).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1440))]
        minutes: u32,
        /// Seed of the simulation (same seed, same traffic).
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Shoppers arriving per hour (0 to 1200).
        #[arg(long, default_value_t = 240.0, value_parser = arrivals_per_hour)]
        arrivals_per_hour: f64,
        /// How long the demo takes, in seconds (0.1 to 86400): the simulated
        /// time is compressed to this.
        #[arg(long, default_value_t = 30.0, value_parser = demo_seconds)]
        seconds: f64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        opts: PipelineOpts,
    },
    /// Apply a rig's first-boot configuration from the boot partition, its
    /// secrets moved to private files, then remove it.
    ///
    /// The first-boot file is what an auditor wrote on the SD card's boot
    /// partition (the keys of vitrine.toml, and a [secrets] table with
    /// mqtt_password, tls_key, tls_cert and tls_ca inline). It is checked by the daemon's rules; the secrets go to
    /// files in the configuration folder (mqtt-password and rig.key
    /// root:vitrine 0640, or 0600 without the vitrine group; rig.pem and
    /// ca.pem 0644), vitrine.toml is written naming them under [broker],
    /// read back and checked again, and the first-boot file is then emptied
    /// and deleted (on FAT this does not erase its contents from the card).
    /// A file that does not check out changes nothing and stays in place:
    /// the error (file, line and key) goes to stderr, a retained status
    /// `refused` with the reason goes to vitrine/<site>/<rig>/status when the
    /// broker it names answers within seconds, and the exit status is 78.
    /// Run by vitrine-firstboot.service before vitrined (docs/configuration.md,
    /// "First boot").
    Firstboot(firstboot::Args),
}

#[derive(Debug, clap::Args)]
struct PipelineOpts {
    /// Window length in seconds, 1 to 86400 [default: 60; demo: 300].
    #[arg(long, value_name = "SECS")]
    window: Option<u32>,
    /// Ignore list: one MAC address or OUI prefix per line, `#` comments.
    /// Matching devices (the auditor's own equipment) are dropped in the
    /// capture stage and only counted as `frames.ignored`.
    #[arg(long, value_name = "FILE")]
    ignore: Option<PathBuf>,
    /// k-anonymity: histogram bins and breakdowns with fewer members are
    /// suppressed; at least 2 [default: 5].
    #[arg(long)]
    k: Option<u32>,
    /// Devices heard weaker than this (dBm, -128 to 0) are counted as
    /// addresses but not as present devices in `devices.estimated`
    /// [default: -85].
    #[arg(long, value_name = "DBM", allow_negative_numbers = true)]
    presence_rssi: Option<i64>,
    /// Key epoch length in hours, 1 to 8760: pseudonyms are unlinkable
    /// across epochs [default: 24].
    #[arg(long, value_name = "HOURS")]
    epoch_hours: Option<u64>,
    /// Cap on per-device state (per window and per epoch), 1000 to
    /// 10000000; past it, distinct counts come from a HyperLogLog sketch
    /// [default: 200000].
    #[arg(long, value_name = "N")]
    max_devices: Option<u64>,
}

/// Publishing summaries to an MQTT broker, through a durable spool.
#[derive(Debug, clap::Args)]
struct PublishOpts {
    /// Also publish every summary, zstd-compressed, to this broker
    /// (`mqtt://host[:port]` or `mqtts://host[:port]`) on
    /// `vitrine/<site>/<rig>/wifi`, QoS 1 [default: `broker.url` of the
    /// configuration file, if any]. Needs a site and a rig id.
    #[arg(long, value_name = "URL")]
    publish: Option<String>,
    /// Site id in topics and payloads [default: site of the configuration
    /// file; required to publish].
    #[arg(long)]
    site: Option<String>,
    /// Rig id in topics and payloads, also the MQTT client id's suffix:
    /// unique per rig [default: rig of the configuration file; required to
    /// publish].
    #[arg(long)]
    rig: Option<String>,
    /// Spool folder: summaries wait here until the broker acknowledges them
    /// [default: /var/lib/vitrine/spool].
    #[arg(long, value_name = "DIR")]
    spool: Option<PathBuf>,
    /// How long to wait at the end for the broker to acknowledge everything,
    /// 0 to 86400 seconds; what is left stays spooled for the next run.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    drain_timeout: u64,
    /// CA certificate (PEM) the broker's certificate is verified against;
    /// required for `mqtts://` URLs.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Client certificate (PEM), for brokers that require one.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// MQTT user name.
    #[arg(long)]
    username: Option<String>,
    /// File holding the MQTT password (kept out of the command line);
    /// refused when others than its owner may read it.
    #[arg(long, value_name = "FILE", requires = "username")]
    password_file: Option<PathBuf>,
    /// Payload format: `zstd` (the envelope's JSON compressed with the
    /// shipped dictionary, about a tenth of its size) or `json` (plain, for
    /// mosquitto_sub, Home Assistant, Node-RED, Telegraf) [default: zstd]
    #[arg(long, value_name = "FORMAT")]
    payload: Option<String>,
    /// The topics' first levels: `<PREFIX>/<site>/<rig>/wifi`
    /// [default: vitrine]
    #[arg(long, value_name = "PREFIX")]
    topic_prefix: Option<String>,
    /// Also publish each window's main figures on topics of their own, one
    /// plain number each (`<prefix>/<site>/<rig>/wifi/devices/estimated`),
    /// retained [default: broker.metric_topics, else off]
    #[arg(long)]
    metric_topics: bool,
    /// Home Assistant MQTT discovery: the rig and its figures appear in
    /// Home Assistant as a device with sensors (implies --metric-topics)
    /// [default: broker.home_assistant, else off]
    #[arg(long)]
    home_assistant: bool,
    /// Home Assistant's discovery prefix [default: homeassistant]
    #[arg(long, value_name = "PREFIX")]
    home_assistant_prefix: Option<String>,
}

/// `--clip-start`: RFC 3339, as Unix microseconds.
fn rfc3339_us(text: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1000) as i64)
        .map_err(|e| format!("expected a time like 2024-01-06T15:52:00Z: {e}"))
}

/// `--speed`, by the rule `vitrine-audit inject` shares.
fn speed_factor(text: &str) -> Result<f64, String> {
    vitrine_config::rules::speed_factor(text)
}

/// `demo --arrivals-per-hour`: the simulated frames are held in memory.
fn arrivals_per_hour(text: &str) -> Result<f64, String> {
    vitrine_config::rules::finite_in(text, 0.0..=1200.0)
}

fn demo_seconds(text: &str) -> Result<f64, String> {
    vitrine_config::rules::finite_in(text, 0.1..=86_400.0)
}

/// How summaries are printed (`--format`).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One JSON summary per line (docs/schema.md).
    Jsonl,
    /// A readable table, its header repeated every 40 rows.
    Table,
}

impl From<Format> for vitrined::table::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Jsonl => vitrined::table::Format::Jsonl,
            Format::Table => vitrined::table::Format::Table,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl PipelineOpts {
    fn overrides(&self, o: &mut Overrides) {
        o.window_s = self.window;
        o.k = self.k;
        o.presence_rssi_dbm = self.presence_rssi;
        o.epoch_hours = self.epoch_hours;
        o.max_devices = self.max_devices;
    }

    fn stage(&self, settings: &Settings) -> anyhow::Result<CaptureStage> {
        let ignore = match &self.ignore {
            Some(path) => read_ignore_list(path)?,
            None => IgnoreList::default(),
        };
        Ok(CaptureStage::new(
            RotationPolicy {
                period_s: settings.epoch_hours * 3600,
            },
            ignore,
        ))
    }
}

/// The aggregator's configuration: the resolved settings.
fn aggregate_config(settings: &Settings) -> Config {
    Config {
        window_s: settings.window_s,
        k: settings.k,
        presence_rssi_dbm: settings.presence_rssi_dbm,
        // At most 10 million, by its rule.
        max_devices: usize::try_from(settings.max_devices).unwrap_or(usize::MAX),
        ..Config::default()
    }
}

/// An ignore list, read with the bound of every configuration file.
fn read_ignore_list(path: &std::path::Path) -> anyhow::Result<IgnoreList> {
    let text = vitrine_config::read_text(path, "ignore list")?;
    IgnoreList::parse(&text).map_err(|(line, message)| {
        vitrine_privacy::IgnoreListError::Syntax {
            path: path.to_owned(),
            line,
            message,
        }
        .into()
    })
}

impl PublishOpts {
    fn overrides(&self, o: &mut Overrides) {
        o.broker_url.clone_from(&self.publish);
        o.site.clone_from(&self.site);
        o.rig.clone_from(&self.rig);
        o.spool_dir.clone_from(&self.spool);
        o.ca_file.clone_from(&self.tls_ca);
        o.cert_file.clone_from(&self.tls_cert);
        o.key_file.clone_from(&self.tls_key);
        o.username.clone_from(&self.username);
        o.password_file.clone_from(&self.password_file);
        o.payload.clone_from(&self.payload);
        o.topic_prefix.clone_from(&self.topic_prefix);
        o.metric_topics = self.metric_topics.then_some(true);
        o.home_assistant = self.home_assistant.then_some(true);
        o.home_assistant_prefix
            .clone_from(&self.home_assistant_prefix);
    }
}

/// The configuration of a run: file, options and the broker's secret
/// files, all checked before anything starts.
struct Configured {
    settings: Settings,
    /// The broker to publish to, its files read.
    broker: Option<Broker>,
}

fn configure(cli: &Cli) -> Result<Configured, ConfigError> {
    let mut o = Overrides::default();
    match &cli.command {
        Command::Replay { opts, publish, .. } => {
            opts.overrides(&mut o);
            publish.overrides(&mut o);
        }
        #[cfg(feature = "live")]
        Command::Live {
            interface,
            monitor,
            channels,
            filter,
            camera,
            opts,
            publish,
            ..
        } => {
            opts.overrides(&mut o);
            publish.overrides(&mut o);
            o.interface.clone_from(interface);
            o.monitor.clone_from(monitor);
            o.channels.clone_from(channels);
            o.filter.clone_from(filter);
            o.camera_device.clone_from(camera);
        }
        Command::Demo { opts, .. } => opts.overrides(&mut o),
        Command::Firstboot(_) => {}
    }
    let mut settings = Settings::load(cli.config.as_deref(), &o)?;
    #[cfg(feature = "live")]
    if matches!(cli.command, Command::Live { .. }) {
        settings.capture.require_interface()?;
    }
    let broker = match (&cli.command, &settings.broker) {
        // The demo publishes to its own local broker.
        (Command::Demo { .. }, _) => {
            settings.broker = None;
            None
        }
        (_, Some(b)) => Some(Broker::load(&b.client)?),
        (_, None) => None,
    };
    Ok(Configured { settings, broker })
}

fn main() -> ExitCode {
    if let Some(code) = vitrine_runtime::docs_requested(<Cli as clap::CommandFactory>::command) {
        return code;
    }
    let cli = Cli::parse();
    // The demo talks to a person on the terminal: only warnings on stderr.
    let level = if matches!(cli.command, Command::Demo { .. }) {
        "warn,rumqttd=off"
    } else {
        "info"
    };
    vitrine_runtime::init_logging(level, matches!(cli.log_format, LogFormat::Json));
    // Checks and applies a file of its own: no configuration to load.
    if let Command::Firstboot(args) = &cli.command {
        return firstboot::main(args);
    }
    // Everything configured is checked before anything is opened or created.
    let configured = match configure(&cli) {
        Ok(c) => c,
        Err(e) => {
            vitrine_runtime::fatal(format_args!("vitrined: configuration error: {e}"));
            return ExitCode::from(vitrine_config::EXIT_CONFIG);
        }
    };
    if let Err(e) = vitrine_privacy::harden_process() {
        tracing::warn!(error = %e, "could not disable core dumps");
    }
    match run(cli.command, configured) {
        Ok(code) => code,
        Err(e) => {
            vitrine_runtime::fatal(format_args!("vitrined: error: {e:#}"));
            ExitCode::from(1)
        }
    }
}

fn run(command: Command, configured: Configured) -> anyhow::Result<ExitCode> {
    let Configured { settings, broker } = configured;
    match command {
        Command::Replay {
            pcap,
            clip,
            clip_start,
            format,
            speed,
            opts,
            publish,
        } => replay(
            &settings,
            broker,
            Replay {
                pcap,
                clip,
                clip_start,
                format,
                speed,
            },
            &opts,
            &publish,
        ),
        #[cfg(feature = "live")]
        Command::Live {
            format,
            opts,
            publish,
            ..
        } => live(&settings, broker, format, &opts, &publish),
        Command::Demo {
            minutes,
            seed,
            arrivals_per_hour,
            seconds,
            format,
            opts,
        } => {
            let cfg = Config {
                window_s: settings.demo_window_s(),
                ..aggregate_config(&settings)
            };
            let sim = vitrined::demo::sim_config(minutes, seed, arrivals_per_hour);
            // The camera's truth for the closing explanation (the scene is
            // drawn again, frame by frame, in the pipeline).
            let door = vitrined::demo::door_scene(&sim);
            let work =
                std::env::temp_dir().join(format!("vitrine-demo-{}", vitrine_privacy::random_id()));
            let broker = vitrined::demo::LocalBroker::start(&work.join("broker"));
            // Asked for the embedded broker by name, a build without it fails.
            if let Err(e) = &broker
                && e.forced
            {
                let _ = std::fs::remove_dir_all(&work);
                anyhow::bail!("no broker for the demo: {e}");
            }
            println!(
                "Simulating {minutes} minutes of a shop with about {arrivals_per_hour:.0} people an hour walking by or in,\n\
                 carrying phones, laptops and watches of several makes, each probing for Wi-Fi the way real ones do\n\
                 (some change their MAC address at every scan), and a camera over the door counting who goes in and out.\n\
                 Every frame and every image goes through the real pipeline."
            );
            let (summaries, truth, published) = match &broker {
                Ok(b) => {
                    println!(
                        "The rig publishes each {}-second window to an MQTT broker on {} ({}), through its spool;\n\
                         the rows below come back from the broker, decoded as `vitrine-audit tail` shows them.\n",
                        cfg.window_s,
                        b.url(),
                        b.kind
                    );
                    let (s, t, p) = vitrined::demo::simulate_live(
                        sim,
                        cfg,
                        opts.stage(&settings)?,
                        &b.url(),
                        &work.join("spool"),
                        format.into(),
                        seconds,
                        &mut std::io::stdout(),
                    )?;
                    (s, t, Some(p))
                }
                Err(no) => {
                    println!(
                        "No MQTT broker could be started on loopback ({no}),\n\
                         so the rows below are printed directly: counts only, one row per {}-second window.\n",
                        cfg.window_s
                    );
                    let (summaries, truth) =
                        vitrined::demo::simulate(sim, cfg, opts.stage(&settings)?);
                    let mut out = Output::new(format);
                    for s in &summaries {
                        out.write(s);
                    }
                    out.finish()?;
                    (summaries, truth, None)
                }
            };
            drop(broker);
            let _ = std::fs::remove_dir_all(&work);
            println!(
                "\n{}\n{}",
                vitrined::demo::report(&summaries, &truth, cfg.window_s),
                vitrined::demo::camera_report(&summaries, &door)
            );
            if let Some((count, bytes)) = published {
                let days = f64::from(minutes) / 1440.0;
                println!(
                    "Published {count} summaries, {bytes} bytes zstd-compressed with the shipped dictionary: {:.0} KB a day at this window length.",
                    bytes as f64 / days / 1000.0
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Firstboot(_) => unreachable!("run before any configuration is loaded"),
    }
}

#[cfg(feature = "live")]
fn live(
    settings: &Settings,
    broker: Option<Broker>,
    format: Format,
    opts: &PipelineOpts,
    publish: &PublishOpts,
) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    let capture = &settings.capture;
    let interface = capture.require_interface()?;
    let mut cfg = vitrine_radio::LiveConfig::new(interface, capture.channels.clone());
    if let Some(m) = &capture.monitor {
        cfg.monitor.clone_from(m);
    }
    if let Some(f) = &capture.filter {
        cfg.filter.clone_from(f);
    }
    let mut stage = opts.stage(settings)?;
    let mut publisher =
        start_publishing(settings, broker, (true, settings.camera.device.is_some()))?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("signal handler")?;
    }
    tracing::info!(
        interface = %cfg.interface,
        monitor = %cfg.monitor,
        channels = %cfg.plan,
        filter = %cfg.filter,
        "live capture"
    );
    // Lines requested before capture starts: a wrong chip or a busy line
    // stops the daemon here, not after it has captured anything.
    let mut gpio = open_gpio(&settings.gpio)?;
    // Capture starts in the loop (and restarts there after a loss).
    let mut capture = vitrine_radio::LiveCapture::new(cfg)?;
    let mut camera: Option<Box<dyn vitrined::live::CameraEvents>> =
        settings.camera.device.as_ref().map(|device| {
            let c = &settings.camera;
            tracing::info!(device = %device.display(), width = c.width, height = c.height, fps = c.fps, "camera capture");
            if device.as_os_str() == "-" {
                Box::new(vitrined::live::StdinCamera::start()) as Box<dyn vitrined::live::CameraEvents>
            } else {
                Box::new(vitrined::live::V4l2Camera::new(
                    vitrine_camera_capture::v4l2::V4l2Config::new(device, c.width, c.height, c.fps),
                ))
            }
        });
    let camera_settings =
        vitrined::camera::settings(&settings.camera, f64::from(settings.camera.fps));
    let mut out = (publisher.is_none()).then(|| Output::new(format));
    let mut supervisor = vitrined::live::Systemd::new();
    let mut spool_error = None;
    let status_sink = publisher.as_ref().map(|p| p.status_sink());
    let mut on_status = |s: vitrine_schema::SensorsStatus| {
        if let Some(sink) = &status_sink {
            sink.set_sensors(s);
        }
    };
    let stats = {
        let mut sensors = vitrined::live::LiveSensors {
            wifi: &mut capture,
            camera: camera
                .as_deref_mut()
                .map(|c| (c as &mut dyn vitrined::live::CameraEvents, camera_settings)),
            gpio: &mut gpio,
            on_status: &mut on_status,
        };
        vitrined::live::run_live_with(
            &mut sensors,
            &mut stage,
            aggregate_config(settings),
            &stop,
            &mut supervisor,
            &mut vitrined::live::now_us,
            &mut |s| {
                if let Some(o) = out.as_mut() {
                    o.write(&s);
                }
                if let Some(p) = publisher.as_mut()
                    && let Err(e) = p.push(s)
                {
                    let e = anyhow::Error::from(e);
                    tracing::error!(error = %format_args!("{e:#}"), "could not spool a summary");
                    spool_error.get_or_insert(e);
                }
            },
        )
    };
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let radio = capture.stats();
    drop(capture); // removes the monitor interface
    drop(camera); // stops the camera's thread, closes the device
    drop(gpio); // puts the indicator out, releases the lines
    if let Some(o) = out {
        o.finish().context("writing summaries")?;
    }
    if let Some(p) = publisher {
        p.finish(Duration::from_secs(publish.drain_timeout));
    }
    tracing::info!(
        packets = stats.packets,
        windows = stats.windows,
        key_rotations = stats.rotations,
        adapter_losses = radio.losses,
        restarts = radio.restarts,
        hops = radio.hops,
        hop_errors = radio.hop_errors,
        kernel_drops = radio.kernel_drops,
        cut_by_snaplen = stats.cut,
        time_outliers = stats.time_outliers,
        "live capture stopped"
    );
    match spool_error {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The configured GPIO lines, requested; none configured: a bundle that
/// does nothing.
#[cfg(feature = "live")]
fn open_gpio(cfg: &vitrine_config::GpioConfig) -> anyhow::Result<vitrine_gpio::Gpio> {
    use vitrine_gpio::{ChipId, Gpio, LineSpec};
    let line = |(line, active_low): (u32, bool)| LineSpec {
        chip: ChipId::parse(&cfg.chip),
        line,
        active_low,
    };
    let indicator = cfg.indicator.map(line);
    let switch = cfg.kill_switch.map(line);
    let mut gpio = Gpio::open(indicator.as_ref(), switch.as_ref())?;
    if let Some(path) = &cfg.test_only_kill_switch_file {
        let file = vitrine_gpio::test_file::FileSwitch::open(path)?;
        gpio = gpio.with_switch(Box::new(file));
    }
    if let Some(i) = &indicator {
        tracing::info!(indicator = %i, "recording indicator");
    }
    if let Some(s) = &switch {
        tracing::info!(kill_switch = %s, "kill switch");
    }
    Ok(gpio)
}

/// Starts publishing when a broker is configured: the spool is opened (and
/// created) only here, after every check.
fn start_publishing(
    settings: &Settings,
    broker: Option<Broker>,
    (wifi, camera): (bool, bool),
) -> anyhow::Result<Option<Publishing>> {
    let (Some(b), Some(broker)) = (&settings.broker, broker) else {
        return Ok(None);
    };
    let broker =
        vitrine_publish::BrokerConfig::new(broker, &b.site, &b.rig, &vitrine_privacy::random_id())
            .map_err(anyhow::Error::msg)?
            .with_prefix(&b.topic_prefix)
            .with_payload(b.payload)
            .with_metric_topics(b.metric_topics)
            .with_home_assistant(b.home_assistant.as_deref())
            .with_sensors(wifi, camera);
    let policy = vitrine_publish::SpoolPolicy {
        retention_s: settings.spool.retention_days * 86_400,
        // At most 1 TiB, by its rule.
        max_bytes: settings.spool.max_mb << 20,
    };
    Ok(Some(Publishing::start(
        broker,
        &settings.spool.dir,
        policy,
    )?))
}

/// The process's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Summaries to stdout, as JSON lines or table rows.
struct Output {
    format: Format,
    out: BufWriter<std::io::Stdout>,
    rows: u64,
}

impl Output {
    fn new(format: Format) -> Self {
        Output {
            format,
            out: BufWriter::new(std::io::stdout()),
            rows: 0,
        }
    }

    fn write(&mut self, s: &Summary) {
        // Stdout closed (e.g. piped into `head`) is not worth a panic.
        let _ = self
            .out
            .write_all(vitrined::table::render(s, self.rows, self.format.into()).as_bytes());
        self.rows += 1;
    }

    fn finish(mut self) -> std::io::Result<()> {
        match self.out.flush() {
            // The reader went away (`| head`): not an error of ours.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

/// What `vitrined replay` reads.
struct Replay {
    pcap: Option<PathBuf>,
    clip: Option<PathBuf>,
    clip_start: Option<i64>,
    format: Format,
    speed: Option<f64>,
}

/// A clip from a file, or from standard input for `-`; read unbuffered
/// (a buffer would keep a copy of pixels the clip reader cannot zeroize).
fn open_clip(path: &std::path::Path, start_us: i64) -> anyhow::Result<Y4mClip<std::fs::File>> {
    if path.as_os_str() == "-" {
        Ok(Y4mClip::new(
            vitrined::camera::stdin_unbuffered()?,
            "stdin",
            start_us,
        )?)
    } else {
        Ok(Y4mClip::open(path, start_us)?)
    }
}

/// The time of a capture file's first packet, for a clip beside it.
fn first_packet_us(path: &std::path::Path) -> anyhow::Result<Option<i64>> {
    let mut file = PcapFile::open(path)?;
    Ok(file.next_packet()?.map(|p| p.ts_us))
}

fn replay(
    settings: &Settings,
    broker: Option<Broker>,
    r: Replay,
    opts: &PipelineOpts,
    publish: &PublishOpts,
) -> anyhow::Result<ExitCode> {
    let sensors = (r.pcap.is_some(), r.clip.is_some());
    let mut publisher = start_publishing(settings, broker, sensors)?;
    let started = std::time::Instant::now();
    let mut out = Output::new(r.format);
    let mut spool_error = None;
    let mut emit = |s: Summary| {
        out.write(&s);
        if let Some(p) = publisher.as_mut()
            && let Err(e) = p.push(s)
        {
            spool_error.get_or_insert(e);
        }
    };
    let clip_start = match (&r.clip, r.clip_start, &r.pcap) {
        (Some(_), Some(t), _) => Some(t),
        (Some(_), None, Some(pcap)) => Some(first_packet_us(pcap)?.unwrap_or(0)),
        (Some(_), None, None) => Some(0),
        (None, ..) => None,
    };
    let mut clip = match (&r.clip, clip_start) {
        (Some(path), Some(start)) => Some(open_clip(path, start)?),
        _ => None,
    };
    let camera = clip
        .as_ref()
        .map(|c| vitrined::camera::settings(&settings.camera, c.fps()));
    let mut stats = None;
    let mut camera_stats = None;
    let mut failure: Option<anyhow::Error> = None;
    let mut truncated = None;
    match (&r.pcap, clip.as_mut(), camera) {
        (Some(pcap), clip, camera) => {
            let mut stage = opts.stage(settings)?;
            let mut file = PcapFile::open(pcap)?;
            let mut paced;
            let source: &mut dyn FrameSource = match r.speed {
                // Finite and positive, by its parser.
                Some(speed) => {
                    paced = Paced::new(&mut file, speed);
                    &mut paced
                }
                None => &mut file,
            };
            let cfg = aggregate_config(settings);
            let result = match (clip, camera) {
                (Some(clip), Some(camera)) => {
                    let (s, c, result) =
                        vitrined::run_with_clip(source, &mut stage, cfg, clip, camera, &mut emit);
                    stats = Some(s);
                    camera_stats = Some(c);
                    result
                }
                _ => {
                    let (s, result) = vitrined::run(source, &mut stage, cfg, &mut emit);
                    stats = Some(s);
                    result.map_err(ReplayError::Capture)
                }
            };
            match result {
                Ok(()) => {}
                Err(ReplayError::Capture(e @ SourceError::Truncated { .. })) => {
                    truncated = Some(e.to_string())
                }
                Err(ReplayError::Clip(e @ Y4mError::Truncated { .. })) => {
                    truncated = Some(e.to_string())
                }
                Err(ReplayError::Capture(e)) => failure = Some(e.into()),
                Err(ReplayError::Clip(e)) => failure = Some(e.into()),
            }
        }
        (None, Some(clip), Some(camera)) => {
            let (c, result) =
                vitrined::camera::run_clip(clip, camera, settings.window_s, settings.k, &mut emit);
            camera_stats = Some(c);
            match result {
                Ok(()) => {}
                Err(e @ Y4mError::Truncated { .. }) => truncated = Some(e.to_string()),
                Err(e) => failure = Some(e.into()),
            }
        }
        _ => unreachable!("clap requires --pcap or --clip"),
    }
    out.finish().context("writing summaries")?;
    if let Some(e) = spool_error {
        return Err(e.into());
    }
    if let Some(p) = publisher {
        p.finish(Duration::from_secs(publish.drain_timeout));
    }
    let secs = started.elapsed().as_secs_f64();
    if let Some(stats) = stats {
        tracing::info!(
            packets = stats.packets,
            windows = stats.windows,
            key_rotations = stats.rotations,
            cut_by_snaplen = stats.cut,
            other_link_skipped = stats.source.other_link,
            untimed = stats.source.untimed,
            time_outliers = stats.time_outliers,
            seconds = format!("{secs:.3}"),
            packets_per_s = (stats.packets as f64 / secs.max(1e-9)) as u64,
            peak_rss_kib = peak_rss_kib(),
            "replay done"
        );
        if stats.time_outliers > 0 {
            tracing::warn!(
                time_outliers = stats.time_outliers,
                "packets with timestamps far from the capture's course were counted at the time of the packets around them"
            );
        }
    }
    if let Some(c) = camera_stats {
        tracing::info!(
            frames = c.frames,
            lost_frames = c.lost,
            seconds = format!("{secs:.3}"),
            frames_per_s = (c.frames as f64 / secs.max(1e-9)) as u64,
            peak_rss_kib = peak_rss_kib(),
            "clip done"
        );
    }
    if let Some(e) = truncated {
        tracing::warn!("{e}; what came before it was analysed");
    }
    match failure {
        // The windows read so far were written above.
        Some(e) => Err(e.context("the windows read before the error were written")),
        None => Ok(ExitCode::SUCCESS),
    }
}
