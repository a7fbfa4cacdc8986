//! The command line: the subcommands, their options and the parsers that
//! check each value (by the rules of the rig's configuration where the value
//! is one of its keys).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vitrine_publish::Broker;

use crate::reverse_cli;

/// Prove on a sensing device that raw identifiers are not kept or published.
///
/// Exit status of the audits (self, scan, mqtt): 0 when every check passed,
/// 1 when anything was found, 3 when nothing was found but some checks could
/// not run; 2 for usage errors.
#[derive(Debug, Parser)]
#[command(name = "vitrine-audit", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The rig audits itself (run by vitrine-audit.timer): fresh canaries go
    /// out over the air from a second adapter, the stream is watched, then
    /// storage, the journal, the daemon's memory and confinement, swap and
    /// the stream are checked. The signed report goes to the state
    /// directory (/var/lib/vitrine-audit/reports).
    #[command(name = "self")]
    SelfAudit(SelfArgs),
    /// Search a vendor's file tree or mounted image for the canaries of a
    /// registry (in every encoding, inside compressed files too), camera
    /// images, data past retention and key material.
    Scan(ScanArgs),
    /// Watch a device's MQTT stream for the length of the audit: schema,
    /// k-anonymity, canaries, per-device identifiers, linking across a key
    /// rotation.
    Mqtt(MqttArgs),
    /// Recover MAC addresses from digests found on a device, by trying the
    /// allocated address space OUI by OUI. Hashing a MAC is not anonymization.
    Reverse(reverse_cli::ReverseArgs),
    /// Make a canary registry: MAC addresses under real vendors' OUIs, drawn
    /// as often as each vendor is common, with random device parts, and SSIDs
    /// that read like ordinary network names, all from a seed kept only in
    /// the registry, so that a device cannot filter them out. Keep the
    /// registry off the device under audit.
    Canaries {
        /// MAC canaries (0 to 1000).
        #[arg(long, default_value_t = 8, value_parser = count_in(0, 1000))]
        macs: usize,
        /// SSID canaries (0 to 1000).
        #[arg(long, default_value_t = 2, value_parser = count_in(0, 1000))]
        ssids: usize,
        /// Draw OUIs from the blocks of this many vendors, those with the
        /// most blocks in the registry, each vendor as often as it has
        /// blocks (at least 1).
        #[arg(long, default_value_t = 100, value_parser = count_in(1, u64::MAX))]
        top: usize,
        /// The IEEE OUI registry (Debian package ieee-data).
        #[arg(long, value_name = "FILE", default_value = vitrine_reverse::oui::DEFAULT_PATH)]
        oui_file: PathBuf,
        /// Where to write the registry (JSON).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Send a registry's canaries over the air as probe requests, from a
    /// second adapter, and note when in the registry.
    Emit {
        #[arg(long, value_name = "FILE")]
        registry: PathBuf,
        #[command(flatten)]
        radio: RadioArgs,
    },
    /// Check a report's signature; with --public-key, also that it was signed
    /// by that device. Prints the verdict and the signer's fingerprint.
    VerifyReport {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The expected signer (base64 ed25519 public key).
        #[arg(long, value_name = "BASE64")]
        public_key: Option<String>,
    },
    /// Render a signed report (JSON) as its HTML page, after checking the
    /// signature.
    Report {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The HTML page to write.
        #[arg(long, value_name = "FILE")]
        html: PathBuf,
    },
    /// Subscribe to a broker and print the summaries rigs publish, decoded
    /// (zstd with the dictionary each payload names) and without the
    /// duplicates MQTT QoS 1 allows.
    Tail {
        #[command(flatten)]
        broker: BrokerArgs,
        /// Topic filter [default: `<PREFIX>/+/+/wifi`, the Wi-Fi summaries
        /// of every rig under --topic-prefix].
        #[arg(long, value_parser = topic_filter)]
        topic: Option<String>,
        /// The rigs' topic prefix (their `broker.topic_prefix`), for the
        /// default --topic.
        #[arg(long, value_name = "PREFIX", default_value = vitrine_config::defaults::TOPIC_PREFIX,
              value_parser = topic_prefix, conflicts_with = "topic")]
        topic_prefix: String,
        /// `table` for people, `jsonl` for programs (one envelope per line).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Stop after this many summaries (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
    },
    /// Collect a fleet's summaries and statuses into a database (SQLite),
    /// several collectors sharing the load through a shared subscription;
    /// duplicates dropped, undecodable payloads counted; Prometheus metrics
    /// on --metrics (docs/fleet.md). Runs until SIGINT or SIGTERM.
    Collect {
        #[command(flatten)]
        broker: BrokerArgs,
        /// The rigs' topic prefix (their `broker.topic_prefix`).
        #[arg(long, default_value = "vitrine", value_parser = topic_prefix)]
        topic_prefix: String,
        /// Collectors of one group split the summaries between them
        /// (`$share/<group>/...`).
        #[arg(long, default_value = "vitrine-collectors", value_parser = share_group)]
        group: String,
        /// Split the fleet by rig instead: this collector keeps the rigs
        /// of partition K of N (a hash of site and rig), on a plain
        /// persistent subscription. For brokers whose shared subscriptions
        /// lose messages across a restart, mosquitto 2.0.11 among them
        /// (docs/fleet.md).
        #[arg(long, value_name = "K/N", value_parser = partition, conflicts_with = "group")]
        partition: Option<(u32, u32)>,
        /// This collector's MQTT client id: stable across restarts (the
        /// broker keeps its session and what arrived meanwhile), distinct
        /// for each collector.
        #[arg(long, value_name = "ID", value_parser = non_empty)]
        client_id: String,
        /// Where summaries and statuses go, with the schema created if
        /// missing: a SQLite file (the embedded default), or a PostgreSQL
        /// connection, `postgresql://user[:password]@host[:port]/database`
        /// or libpq's `host=/run/postgresql dbname=fleet` (no TLS: loopback,
        /// a Unix socket or a tunnel).
        #[arg(long, value_name = "PATH|URL")]
        db: String,
        /// Serve Prometheus/OpenMetrics metrics at http://ADDR/metrics
        /// (e.g. 127.0.0.1:9108).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
        /// Summaries whose window started longer ago are deleted (checked
        /// hourly).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=36500))]
        retention_days: u64,
    },
    /// Transmit the 802.11 frames of a capture file over the air, from a
    /// monitor interface created on a second adapter (never the rig's own),
    /// paced by the capture's timestamps. For over-the-air tests and
    /// canaries. Needs CAP_NET_ADMIN and CAP_NET_RAW. Prints one JSON line:
    /// frames sent and skipped, and seconds taken.
    Inject {
        /// The injecting adapter's interface, e.g. wlan2.
        #[arg(long, value_name = "IFACE", value_parser = interface_name)]
        interface: String,
        /// Name of the monitor interface to create (removed at the end).
        #[arg(long, value_name = "IFACE", default_value = "vinj0", value_parser = interface_name)]
        monitor: String,
        /// Channel to transmit on.
        #[arg(long, default_value_t = 6, value_parser = channel)]
        channel: u8,
        /// Frames to send: pcap or pcapng, radiotap or bare 802.11. Each
        /// frame's own radiotap header (and FCS) is dropped.
        #[arg(long, value_name = "FILE")]
        pcap: std::path::PathBuf,
        /// Pace: this many times the capture's own pace (0.001 to 1000000);
        /// 0 sends as fast as the radio takes them.
        #[arg(long, default_value_t = 1.0, value_parser = speed_factor)]
        speed: f64,
    },
}

/// The broker a consumer subscribes to, named with vitrined's options
/// (docs/configuration.md, `[broker]`).
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// The broker, `mqtt://host[:port]` or `mqtts://host[:port]` (TLS, with
    /// --tls-ca).
    #[arg(long, value_name = "URL", value_parser = broker_url)]
    pub broker: String,
    /// The CA certificate (PEM) the broker's certificate is checked
    /// against; needed for mqtts://.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// A client certificate (PEM), for a broker that asks for one (with
    /// --tls-key).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's key (PEM; readable by its owner only).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// User name for the broker.
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// A file holding the password (its first line; readable by its owner
    /// only). Never on the command line.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

impl BrokerArgs {
    /// Checked by the rules of the configuration file's `[broker]`, and
    /// its files read.
    pub fn load(&self) -> anyhow::Result<Broker> {
        let client = vitrine_config::BrokerClient::from_options(&vitrine_config::BrokerOptions {
            url: self.broker.clone(),
            ca_file: self.tls_ca.clone(),
            cert_file: self.tls_cert.clone(),
            key_file: self.tls_key.clone(),
            username: self.username.clone(),
            password_file: self.password_file.clone(),
        })?;
        Ok(Broker::load(&client)?)
    }
}

#[derive(Debug, Args)]
pub struct RadioArgs {
    /// The injecting adapter's interface (not the one the device captures on).
    #[arg(long, value_name = "IFACE", value_parser = interface_name)]
    pub interface: String,
    /// Name of the monitor interface to create (removed at the end).
    #[arg(long, value_name = "IFACE", default_value = CANARY_MONITOR, value_parser = interface_name)]
    pub monitor: String,
    /// Channel to transmit on: one the device listens on.
    #[arg(long, default_value_t = 6, value_parser = channel)]
    pub channel: u8,
    /// Probe requests per canary (1 to 100).
    #[arg(long, default_value_t = CANARY_ROUNDS, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
}

/// How canaries are sent, by `emit` unless told otherwise and always by
/// `self`: from this monitor interface, each this many times.
pub const CANARY_MONITOR: &str = "vcanary0";
pub const CANARY_ROUNDS: u32 = 3;

/// Options every audit shares.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The policy to measure against (TOML, docs/configuration.md); the
    /// honest defaults when absent.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Folder for the signed report (JSON) and its HTML page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The report-signing key (32-byte seed, created on first use, mode 0600).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The device audited, as the report should name it [default: host name].
    #[arg(long, value_parser = non_empty)]
    pub subject: Option<String>,
    /// Also print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Trees to search (a vendor's root file system, a mounted image...).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// The canaries emitted or planted (see `canaries` and `emit`).
    #[arg(long, value_name = "FILE")]
    pub registry: PathBuf,
    /// Folders where the device keeps its data: files older than the
    /// policy's retention there are findings.
    #[arg(long, value_name = "DIR")]
    pub data_root: Vec<PathBuf>,
    /// A journal directory of the device (e.g. MOUNT/var/log/journal).
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// When scanning the running device: its tracking daemon's process
    /// name; its memory and confinement, and the system's swap, are
    /// checked too.
    #[arg(long, value_name = "NAME", value_parser = non_empty)]
    pub process: Option<String>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct MqttArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Topic filters to watch (repeat for several) [default: `<PREFIX>/#`
    /// with --topic-prefix or --expect vitrine, `#` otherwise].
    #[arg(long, value_parser = topic_filter)]
    pub topic: Vec<String>,
    /// The prefix the device publishes under (a Vitrine rig's
    /// `broker.topic_prefix`): `<PREFIX>/#` is watched [default: vitrine
    /// with --expect vitrine].
    #[arg(long, value_name = "PREFIX", value_parser = topic_prefix, conflicts_with = "topic")]
    pub topic_prefix: Option<String>,
    /// The canaries emitted during the watch.
    #[arg(long, value_name = "FILE")]
    pub registry: PathBuf,
    /// How long to watch, in seconds (1 to 604800, a week).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub duration: u64,
    /// When the device claims its key or salt rotated (RFC 3339): values
    /// seen before and after it are linkable.
    #[arg(long, value_name = "TIME")]
    pub rotation_at: Option<String>,
    /// What the stream is: Vitrine summaries, or a vendor's JSON.
    #[arg(long, value_enum, default_value_t = Expect::Json)]
    pub expect: Expect,
    #[command(flatten)]
    pub report: ReportArgs,
}

impl MqttArgs {
    /// The topic filters watched: those given, else everything under the
    /// prefix (a Vitrine rig's `vitrine` unless told), else everything.
    pub fn topics(&self) -> Vec<String> {
        if !self.topic.is_empty() {
            return self.topic.clone();
        }
        match (&self.topic_prefix, self.expect) {
            (Some(prefix), _) => vec![format!("{prefix}/#")],
            (None, Expect::Vitrine) => {
                vec![format!("{}/#", vitrine_config::defaults::TOPIC_PREFIX)]
            }
            (None, Expect::Json) => vec!["#".to_string()],
        }
    }
}

#[derive(Debug, Args)]
pub struct SelfArgs {
    /// The rig's configuration (broker, site, rig, spool).
    #[arg(long, value_name = "FILE", default_value = vitrine_config::defaults::CONFIG_FILE)]
    pub config: PathBuf,
    /// The second adapter canaries are sent from; without it canaries are
    /// only searched for, not emitted.
    #[arg(long, value_name = "IFACE", env = "VITRINE_AUDIT_INJECT", value_parser = interface_name)]
    pub inject_interface: Option<String>,
    /// Channel to send canaries on (one the rig listens on).
    #[arg(long, default_value_t = 6, env = "VITRINE_AUDIT_CHANNEL", value_parser = channel)]
    pub channel: u8,
    /// Fresh MAC canaries per run, 1 to 64 (one SSID canary goes with them).
    #[arg(long, default_value_t = 4, value_parser = count_in(1, 64))]
    pub canaries: usize,
    /// Seconds to watch the stream after emitting, 1 to 86400 [default: two
    /// windows and a half].
    #[arg(long, env = "VITRINE_AUDIT_WATCH", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub watch: Option<u64>,
    /// Trees searched for canaries, images and keys.
    #[arg(long, value_name = "DIR", default_values = ["/var/lib", "/var/log", "/var/cache", "/var/spool", "/var/tmp", "/tmp", "/etc", "/home", "/root", "/srv", "/opt"])]
    pub root: Vec<PathBuf>,
    /// The daemon to check.
    #[arg(long, default_value = "vitrined", value_parser = non_empty)]
    pub process: String,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Expect {
    Vitrine,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Jsonl,
}

/// A count between `min` and `max`.
fn count_in(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(min..=max)
}

/// Interface names, by the rule of the rig's configuration file.
fn interface_name(text: &str) -> Result<String, String> {
    vitrine_config::rules::interface(text).map(|()| text.to_string())
}

/// A 2.4 or 5 GHz channel, by the rule of the rig's channel plans.
fn channel(text: &str) -> Result<u8, String> {
    let ch: u8 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a channel number"))?;
    vitrine_config::rules::channel(&ch).map(|()| ch)
}

/// `inject --speed`: 0 (as fast as the radio goes), or a finite factor.
fn speed_factor(text: &str) -> Result<f64, String> {
    if text.trim().parse::<f64>() == Ok(0.0) {
        return Ok(0.0);
    }
    vitrine_config::rules::speed_factor(text)
        .map_err(|e| format!("{e}, or 0 for as fast as possible"))
}

/// A broker URL, by the rule of the rig's configuration file.
fn broker_url(text: &str) -> Result<String, String> {
    vitrine_config::rules::broker_url(text).map(|()| text.to_string())
}

/// A topic prefix, by the rule of the rig's `broker.topic_prefix`.
fn topic_prefix(text: &str) -> Result<String, String> {
    vitrine_config::rules::topic_prefix(text).map(|()| text.to_string())
}

/// An MQTT topic filter: non-empty, `#` only last, wildcards whole levels.
fn topic_filter(text: &str) -> Result<String, String> {
    let levels: Vec<&str> = text.split('/').collect();
    let ok = !text.is_empty()
        && !text.contains('\0')
        && levels.iter().enumerate().all(|(i, l)| {
            (*l == "#" && i == levels.len() - 1) || *l == "+" || !l.contains(['#', '+'])
        });
    if ok {
        Ok(text.to_string())
    } else {
        Err("must be an MQTT topic filter: levels split by /, + for one level, # last".into())
    }
}

/// A shared subscription's group name: one topic level.
fn share_group(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(['/', '+', '#']) || text.chars().any(char::is_control) {
        Err("must be one topic level: not empty, without / + # or control characters".into())
    } else {
        Ok(text.to_string())
    }
}

/// `K/N` with K < N.
fn partition(text: &str) -> Result<(u32, u32), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not K/N (e.g. 0/2)"))?;
    let (k, n): (u32, u32) = (
        k.parse().map_err(|e| format!("K in {text:?}: {e}"))?,
        n.parse().map_err(|e| format!("N in {text:?}: {e}"))?,
    );
    if k >= n {
        return Err(format!("{text:?}: K counts from 0 and is less than N"));
    }
    Ok((k, n))
}

fn non_empty(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(text.to_string())
    }
}
