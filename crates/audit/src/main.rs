//! `vitrine-audit`: the companion verifier. It proves on a device (a Vitrine
//! rig or a vendor's box) whether retention and anonymization rules hold:
//! canaries go out over the air, then are searched for on disk, in the
//! journal, in the daemon's memory and in what it publishes, in clear and in
//! every common hashed form. See docs/audit.md.

mod reverse_cli;

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use time::OffsetDateTime;
use vitrine_audit::audit::{self, Plan, ProcessPlan, Watched};
use vitrine_audit::checks::{hardening, journal, storage, stream};
use vitrine_audit::report::{self, DeviceKey, Report, Verdict};
use vitrine_canary::Registry;
use vitrine_config::policy::Policy;
use vitrine_publish::Broker;
use vitrine_publish::consume::{self, Received, printable, subscribe};

/// Prove on a sensing device that raw identifiers are not kept or published.
///
/// Exit status of the audits (self, scan, mqtt): 0 when every check passed,
/// 1 when anything was found, 3 when nothing was found but some checks could
/// not run; 2 for usage errors.
#[derive(Debug, Parser)]
#[command(name = "vitrine-audit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
        /// Topic filter.
        #[arg(long, default_value = "vitrine/+/+/wifi", value_parser = topic_filter)]
        topic: String,
        /// `table` for people, `jsonl` for programs (one envelope per line).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Stop after this many summaries (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
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
struct BrokerArgs {
    /// The broker, `mqtt://host[:port]` or `mqtts://host[:port]` (TLS, with
    /// --tls-ca).
    #[arg(long, value_name = "URL", value_parser = broker_url)]
    broker: String,
    /// The CA certificate (PEM) the broker's certificate is checked
    /// against; needed for mqtts://.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// A client certificate (PEM), for a broker that asks for one (with
    /// --tls-key).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The client certificate's key (PEM; readable by its owner only).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// User name for the broker.
    #[arg(long, value_name = "NAME")]
    username: Option<String>,
    /// A file holding the password (its first line; readable by its owner
    /// only). Never on the command line.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

impl BrokerArgs {
    /// Checked by the rules of the configuration file's `[broker]`, and
    /// its files read.
    fn load(&self) -> anyhow::Result<Broker> {
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
struct RadioArgs {
    /// The injecting adapter's interface (not the one the device captures on).
    #[arg(long, value_name = "IFACE", value_parser = interface_name)]
    interface: String,
    /// Name of the monitor interface to create (removed at the end).
    #[arg(long, value_name = "IFACE", default_value = "vcanary0", value_parser = interface_name)]
    monitor: String,
    /// Channel to transmit on: one the device listens on.
    #[arg(long, default_value_t = 6, value_parser = channel)]
    channel: u8,
    /// Probe requests per canary (1 to 100).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
}

/// Options every audit shares.
#[derive(Debug, Args)]
struct ReportArgs {
    /// The policy to measure against (TOML, docs/configuration.md); the
    /// honest defaults when absent.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Folder for the signed report (JSON) and its HTML page.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The report-signing key (32-byte seed, created on first use, mode 0600).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// The device audited, as the report should name it [default: host name].
    #[arg(long, value_parser = non_empty)]
    subject: Option<String>,
    /// Also print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// Trees to search (a vendor's root file system, a mounted image...).
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// The canaries emitted or planted (see `canaries` and `emit`).
    #[arg(long, value_name = "FILE")]
    registry: PathBuf,
    /// Folders where the device keeps its data: files older than the
    /// policy's retention there are findings.
    #[arg(long, value_name = "DIR")]
    data_root: Vec<PathBuf>,
    /// A journal directory of the device (e.g. MOUNT/var/log/journal).
    #[arg(long, value_name = "DIR")]
    journal_dir: Option<PathBuf>,
    /// When scanning the running device: its tracking daemon's process
    /// name; its memory and confinement, and the system's swap, are
    /// checked too.
    #[arg(long, value_name = "NAME", value_parser = non_empty)]
    process: Option<String>,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(Debug, Args)]
struct MqttArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Topic filters to watch (repeat for several).
    #[arg(long, default_value = "#", value_parser = topic_filter)]
    topic: Vec<String>,
    /// The canaries emitted during the watch.
    #[arg(long, value_name = "FILE")]
    registry: PathBuf,
    /// How long to watch, in seconds (1 to 604800, a week).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    duration: u64,
    /// When the device claims its key or salt rotated (RFC 3339): values
    /// seen before and after it are linkable.
    #[arg(long, value_name = "TIME")]
    rotation_at: Option<String>,
    /// What the stream is: Vitrine summaries, or a vendor's JSON.
    #[arg(long, value_enum, default_value_t = Expect::Json)]
    expect: Expect,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(Debug, Args)]
struct SelfArgs {
    /// The rig's configuration (broker, site, rig, spool).
    #[arg(long, value_name = "FILE", default_value = "/etc/vitrine/vitrine.toml")]
    config: PathBuf,
    /// The second adapter canaries are sent from; without it canaries are
    /// only searched for, not emitted.
    #[arg(long, value_name = "IFACE", env = "VITRINE_AUDIT_INJECT", value_parser = interface_name)]
    inject_interface: Option<String>,
    /// Channel to send canaries on (one the rig listens on).
    #[arg(long, default_value_t = 6, env = "VITRINE_AUDIT_CHANNEL", value_parser = channel)]
    channel: u8,
    /// Fresh MAC canaries per run, 1 to 64 (one SSID canary goes with them).
    #[arg(long, default_value_t = 4, value_parser = count_in(1, 64))]
    canaries: usize,
    /// Seconds to watch the stream after emitting, 1 to 86400 [default: two
    /// windows and a half].
    #[arg(long, env = "VITRINE_AUDIT_WATCH", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    watch: Option<u64>,
    /// Trees searched for canaries, images and keys.
    #[arg(long, value_name = "DIR", default_values = ["/var/lib", "/var/log", "/var/cache", "/var/spool", "/var/tmp", "/tmp", "/etc", "/home", "/root", "/srv", "/opt"])]
    root: Vec<PathBuf>,
    /// The daemon to check.
    #[arg(long, default_value = "vitrined", value_parser = non_empty)]
    process: String,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Expect {
    Vitrine,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
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
    vitrine_config::rules::finite_in(text, 0.001..=1_000_000.0)
        .map_err(|e| format!("{e}, or 0 for as fast as possible"))
}

/// A broker URL, by the rule of the rig's configuration file.
fn broker_url(text: &str) -> Result<String, String> {
    vitrine_config::rules::broker_url(text).map(|()| text.to_string())
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

fn non_empty(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(text.to_string())
    }
}

/// Largest input files given to the audit, read whole: an OUI registry or
/// a canary registry is a few MiB; a report or a list of digests more.
const MAX_REGISTRY_BYTES: u64 = 64 << 20;
const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Checks that `path` is a regular file of at most `max` bytes before it is
/// read whole, so that a device (`/dev/zero`) or a huge file is refused
/// instead of filling the memory.
fn input_file(path: &Path, what: &str, max: u64) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    anyhow::ensure!(
        meta.is_file(),
        "{what} {} is not a regular file",
        path.display()
    );
    anyhow::ensure!(
        meta.len() <= max,
        "{what} {} is larger than {} MiB, the most read",
        path.display(),
        max >> 20
    );
    Ok(())
}

/// Reads a text file that [`input_file`] accepts.
fn read_input(path: &Path, what: &str, max: u64) -> anyhow::Result<String> {
    input_file(path, what, max)?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(path)
                .with_context(|| format!("cannot read {what} {}", path.display()))?,
            max,
        ),
        &mut text,
    )
    .with_context(|| format!("cannot read {what} {}", path.display()))?;
    Ok(text)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VITRINE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match dispatch(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vitrine-audit: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::SelfAudit(args) => self_audit(args),
        Command::Scan(args) => scan(args),
        Command::Mqtt(args) => mqtt(args),
        Command::Reverse(args) => {
            if let Some(file) = &args.file {
                input_file(file, "digest file", MAX_INPUT_BYTES)?;
            }
            input_file(&args.oui_file, "OUI registry", MAX_REGISTRY_BYTES)?;
            anyhow::ensure!(
                args.threads <= 1024,
                "--threads {}: at most 1024 (0 uses every core)",
                args.threads
            );
            let all = reverse_cli::run(args)?;
            Ok(if all {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Canaries {
            macs,
            ssids,
            top,
            oui_file,
            out,
        } => {
            anyhow::ensure!(
                macs + ssids > 0,
                "a registry needs at least one canary: --macs or --ssids"
            );
            input_file(&oui_file, "OUI registry", MAX_REGISTRY_BYTES)?;
            let table = vitrine_reverse::OuiTable::load(&oui_file)?;
            let ouis = vitrine_canary::registry::vendor_pool(&table.entries, top);
            anyhow::ensure!(
                !ouis.is_empty() || macs == 0,
                "{} holds no vendor block to draw MAC canaries from",
                oui_file.display()
            );
            let registry = Registry::generate(macs, ssids, &ouis, &mut rand::rng());
            registry.save(&out)?;
            println!(
                "{} canaries written to {}",
                registry.canaries.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Emit { registry, radio } => {
            input_file(&registry, "canary registry", MAX_REGISTRY_BYTES)?;
            let mut reg = Registry::load(&registry)?;
            let sent = vitrine_audit::emit::over_the_air(
                &mut reg,
                &radio.interface,
                &radio.monitor,
                radio.channel,
                radio.rounds,
            )?;
            reg.save(&registry)?;
            println!(
                "{sent} probe requests sent from {} canaries",
                reg.macs().count()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::VerifyReport { file, public_key } => {
            let text = read_input(&file, "report", MAX_INPUT_BYTES)?;
            match report::open(&text, public_key.as_deref()) {
                Ok(signed) => {
                    let r: Report = serde_json::from_value(signed.record().clone())?;
                    println!(
                        "{}: signature valid, signed by {}; verdict {:?}, {} findings",
                        file.display(),
                        signed.fingerprint(),
                        r.verdict,
                        r.findings().len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("{}: {e}", file.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Report { file, html } => {
            let text = read_input(&file, "report", MAX_INPUT_BYTES)?;
            let signed =
                report::open(&text, None).with_context(|| format!("{}", file.display()))?;
            std::fs::write(&html, report::render_html(&signed))
                .with_context(|| format!("cannot write {}", html.display()))?;
            println!("{}", html.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Tail {
            broker,
            topic,
            format,
            count,
        } => {
            tail(&broker.load()?, &topic, format, count)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Inject {
            interface,
            monitor,
            channel,
            pcap,
            speed,
        } => {
            inject(&interface, &monitor, channel, &pcap, speed)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_policy(path: Option<&Path>) -> anyhow::Result<(Policy, String)> {
    match path {
        Some(p) => Ok((Policy::from_file(p)?, p.display().to_string())),
        None => Ok((Policy::default(), "defaults (an honest rig's)".into())),
    }
}

/// Signs and writes the report, prints its verdict, and turns it into the
/// exit status.
fn finish(
    report: Report,
    args: &ReportArgs,
    default_out: Option<PathBuf>,
    default_key: PathBuf,
) -> anyhow::Result<ExitCode> {
    let key_path = args.key.clone().unwrap_or(default_key);
    let key = DeviceKey::load_or_create(&key_path)
        .with_context(|| format!("report-signing key {}", key_path.display()))?;
    let signed = report::sign(&report, &key);
    if let Some(dir) = args.out.clone().or(default_out) {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let stamp = report.started.unix_timestamp();
        let json = dir.join(format!("audit-{stamp}.json"));
        let html = dir.join(format!("audit-{stamp}.html"));
        report::write_report(&signed, &json, &html)
            .with_context(|| format!("cannot write the report to {}", dir.display()))?;
        eprintln!("report: {} and {}", json.display(), html.display());
    }
    if args.json {
        println!("{}", signed.to_json_pretty());
    }
    let findings = report.findings();
    eprintln!(
        "verdict: {:?}, {} findings, signed by {}",
        report.verdict,
        findings.len(),
        key.fingerprint()
    );
    for f in findings.iter().take(20) {
        // Summaries quote topics and paths from the device.
        eprintln!("  [{}] {:?} {}", f.check, f.severity, printable(&f.summary));
    }
    for c in &report.checks {
        match &c.status {
            report::Status::Skipped { reason } => {
                eprintln!("  not run: {}: {}", c.id, printable(reason));
            }
            report::Status::Incomplete { reason } => {
                eprintln!("  incomplete: {}: {}", c.id, printable(reason));
            }
            _ => {}
        }
    }
    Ok(match report.verdict {
        Verdict::Pass => ExitCode::SUCCESS,
        Verdict::Fail => ExitCode::from(1),
        Verdict::Incomplete => ExitCode::from(3),
    })
}

fn user_key_path() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("vitrine-audit/report-key")
}

fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let started = OffsetDateTime::now_utc();
    input_file(&args.registry, "canary registry", MAX_REGISTRY_BYTES)?;
    let registry = Registry::load(&args.registry)?;
    let (policy, policy_source) = load_policy(args.report.policy.as_deref())?;
    let plan = Plan {
        mode: "scan".into(),
        subject: args.report.subject.clone().unwrap_or_else(|| {
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }),
        policy,
        policy_source,
        storage: Some(storage::StorageScope {
            roots: args.paths.clone(),
            data_roots: args.data_root.clone(),
            exclude: vec![args.registry.clone()],
            progress: true,
        }),
        journal: args
            .journal_dir
            .clone()
            .map(journal::JournalSource::Directory),
        process: args.process.clone().map(|name| ProcessPlan {
            name,
            allowed_caps: hardening::CAPTURE_CAPABILITIES,
        }),
        // On the running device, what its daemon held in memory may have
        // been paged out: its swap is part of the audit.
        swap: args.process.is_some(),
    };
    let report = audit::run(&plan, &registry, None, started);
    finish(report, &args.report, None, user_key_path())
}

fn mqtt(args: MqttArgs) -> anyhow::Result<ExitCode> {
    let started = OffsetDateTime::now_utc();
    input_file(&args.registry, "canary registry", MAX_REGISTRY_BYTES)?;
    let registry = Registry::load(&args.registry)?;
    let (policy, policy_source) = load_policy(args.report.policy.as_deref())?;
    let rotation = args
        .rotation_at
        .as_deref()
        .map(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339))
        .transpose()
        .context("--rotation-at: expected an RFC 3339 time, e.g. 2026-11-24T10:00:00Z")?;
    let broker = args.broker.load()?;
    let bar = indicatif::ProgressBar::new(args.duration);
    bar.set_style(
        indicatif::ProgressStyle::with_template("watching {bar:40} {pos}/{len} s, {msg}")
            .expect("a valid template"),
    );
    let t0 = std::time::Instant::now();
    let mut n = 0u64;
    // Recorded to a temporary file, not held in memory.
    let messages = stream::collect(
        &broker,
        &args.topic,
        Duration::from_secs(args.duration),
        stream::Recording::in_dir(&std::env::temp_dir()),
        |_| {
            n += 1;
            bar.set_position(t0.elapsed().as_secs());
            bar.set_message(format!("{n} messages"));
        },
    )
    .context("cannot watch the stream")?;
    bar.finish_and_clear();
    let expect = match args.expect {
        Expect::Vitrine => stream::Expect::Vitrine,
        Expect::Json => stream::Expect::Json,
    };
    let plan = Plan {
        mode: "mqtt".into(),
        subject: args
            .report
            .subject
            .clone()
            .unwrap_or_else(|| format!("{} {}", broker.url, args.topic.join(" "))),
        policy,
        policy_source,
        storage: None,
        journal: None,
        process: None,
        swap: false,
    };
    let watched = Watched {
        messages,
        expect,
        rotation,
    };
    let report = audit::run(&plan, &registry, Some(&watched), started);
    finish(report, &args.report, None, user_key_path())
}

fn self_audit(args: SelfArgs) -> anyhow::Result<ExitCode> {
    let started = OffsetDateTime::now_utc();
    // The rig's configuration as the daemon resolves it (same rules, same
    // defaults).
    let rig =
        vitrine_config::Settings::load(Some(&args.config), &vitrine_config::Overrides::default())?;
    let policy_path = args.report.policy.clone().or_else(|| {
        let p = PathBuf::from("/etc/vitrine/policy.toml");
        p.exists().then_some(p)
    });
    let (policy, policy_source) = load_policy(policy_path.as_deref())?;
    let state = audit::state_dir();
    std::fs::create_dir_all(&state)
        .with_context(|| format!("cannot create {}", state.display()))?;
    // The registry outlives one run: canaries of earlier runs are older
    // than the in-memory retention by the time later runs look for them.
    let registry_path = state.join("canaries.json");
    let mut registry = if registry_path.exists() {
        Registry::load(&registry_path)?
    } else {
        Registry::default()
    };
    let keep_after = started - time::Duration::days(31);
    registry
        .canaries
        .retain(|c| c.emitted.last().is_some_and(|t| *t > keep_after));
    let ouis = vitrine_reverse::OuiTable::load(&vitrine_reverse::OuiTable::default_path())
        .map(|t| vitrine_canary::registry::vendor_pool(&t.entries, 100))
        .unwrap_or_default();
    // Without the registry file, a few common phone vendors' blocks.
    let ouis = if ouis.is_empty() {
        vec![[0x3c, 0x22, 0xfb], [0xf0, 0x18, 0x98], [0x00, 0x1b, 0x63]]
    } else {
        ouis
    };
    let mut fresh = Registry::generate(args.canaries, 1, &ouis, &mut rand::rng());
    let run_tag = started.unix_timestamp();
    for c in &mut fresh.canaries {
        c.id = format!("{}-{run_tag}", c.id);
    }
    let window_s = u64::from(rig.window_s.unwrap_or(vitrine_config::defaults::WINDOW_S));
    let watch = Duration::from_secs(args.watch.unwrap_or(window_s * 5 / 2));
    let broker = stream::rig_broker(&rig)?;
    let site = rig.site.clone().unwrap_or_else(|| "+".into());
    let rig_name = rig.rig.clone().unwrap_or_else(|| "+".into());
    let topics = vec![format!("vitrine/{site}/{rig_name}/#")];
    // Watch the stream from before the canaries go out until after the
    // windows they fall in are published.
    // Recorded in the state directory, the one place the service may write.
    let recording = stream::Recording::in_dir(&state);
    let watcher =
        std::thread::spawn(move || stream::collect(&broker, &topics, watch, recording, |_| {}));
    std::thread::sleep(Duration::from_secs(2));
    let emitted = match &args.inject_interface {
        Some(iface) => {
            let sent =
                vitrine_audit::emit::over_the_air(&mut fresh, iface, "vcanary0", args.channel, 3)?;
            tracing::info!(
                sent,
                interface = iface.as_str(),
                "canaries sent over the air"
            );
            true
        }
        None => {
            tracing::warn!("no --inject-interface: canaries are searched for but not emitted");
            false
        }
    };
    if emitted {
        registry.canaries.extend(fresh.canaries);
    }
    registry.save(&registry_path)?;
    restrict(&registry_path);
    let messages = watcher
        .join()
        .map_err(|_| anyhow::anyhow!("the stream watcher panicked"))?
        .context("cannot watch the stream")?;
    let spool = rig.spool.dir.clone();
    let plan = Plan {
        mode: "self".into(),
        subject: args.report.subject.clone().unwrap_or_else(audit::hostname),
        policy,
        policy_source,
        storage: Some(storage::StorageScope {
            roots: args.root.clone(),
            data_roots: vec![spool],
            exclude: walk_files(&state),
            progress: false,
        }),
        journal: Some(journal::JournalSource::Local),
        process: Some(ProcessPlan {
            name: args.process.clone(),
            allowed_caps: hardening::CAPTURE_CAPABILITIES,
        }),
        swap: true,
    };
    let watched = Watched {
        messages,
        expect: stream::Expect::Vitrine,
        rotation: None,
    };
    let report = audit::run(&plan, &registry, Some(&watched), started);
    finish(
        report,
        &args.report,
        Some(state.join("reports")),
        state.join("report-key"),
    )
}

/// Owner-only: the registry holds canary values in clear.
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

fn inject(
    interface: &str,
    monitor: &str,
    channel: u8,
    pcap: &std::path::Path,
    speed: f64,
) -> anyhow::Result<()> {
    use vitrine_wifi_capture::{FrameSource, LinkType, PcapFile};
    let mut file = PcapFile::open(pcap)?;
    let mut injector = vitrine_radio::Injector::open(interface, monitor, channel)?;
    let mut paced;
    let source: &mut dyn FrameSource = if speed > 0.0 {
        paced = vitrine_wifi_capture::Paced::new(&mut file, speed);
        &mut paced
    } else {
        &mut file
    };
    let started = std::time::Instant::now();
    let mut skipped = 0u64;
    while let Some(packet) = source.next_packet()? {
        let frame = match packet.link {
            LinkType::Ieee80211 => packet.data,
            LinkType::Radiotap => match vitrine_dot11::radiotap::parse(packet.data) {
                Ok((radio, frame)) if radio.fcs_at_end && frame.len() >= 4 => {
                    &frame[..frame.len() - 4]
                }
                Ok((_, frame)) => frame,
                Err(_) => {
                    skipped += 1;
                    continue;
                }
            },
        };
        injector.send(frame)?;
    }
    let line = serde_json::json!({
        "sent": injector.sent(),
        "skipped": skipped,
        "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    });
    println!("{line}");
    Ok(())
}

fn tail(broker: &Broker, topic: &str, format: Format, count: Option<u64>) -> anyhow::Result<()> {
    let client_id = format!("vitrine-audit-tail-{}", std::process::id());
    let mut out = std::io::stdout().lock();
    let mut shown = 0u64;
    subscribe(broker, &client_id, topic, |received| {
        // Everything printed comes from other devices: control characters
        // escaped (serde_json leaves DEL and C1 as they are).
        let line = match received {
            Received::Summary {
                topic,
                envelope,
                unknown,
            } => {
                if !unknown.is_empty() {
                    // The typed envelope leaves them out: say so, since the
                    // schema allows none.
                    tracing::warn!(
                        topic = %printable(&topic),
                        seq = envelope.seq,
                        fields = %printable(&unknown.join(", ")),
                        "summary with fields its schema does not have (not shown)"
                    );
                }
                match format {
                    Format::Jsonl => consume::printable_json(
                        &serde_json::to_string(&envelope).expect("envelopes serialize"),
                    )
                    .into_owned(),
                    Format::Table => {
                        let mut text = String::new();
                        if shown.is_multiple_of(40) {
                            // The summary table's header, with a rig column in front.
                            for (i, line) in vitrine_schema::table::header().lines().enumerate() {
                                text += &format!(
                                    "{:<24} {line}\n",
                                    if i == 0 { "rig #seq" } else { "" }
                                );
                            }
                        }
                        let rig = format!("{}/{} #{}", envelope.site, envelope.rig, envelope.seq);
                        let mark = if unknown.is_empty() { "" } else { " +unknown fields" };
                        text + &printable(&format!(
                            "{rig:<24} {}{mark}",
                            vitrine_schema::table::row(&envelope.summary)
                        ))
                    }
                }
            }
            Received::Idle => return ControlFlow::Continue(()),
            Received::Undecodable { topic, reason } => {
                tracing::warn!(topic = %printable(&topic), reason = %printable(&reason), "payload not decoded");
                return ControlFlow::Continue(());
            }
            Received::Oversized { topic, size } => {
                tracing::warn!(
                    topic = %printable(&topic),
                    size,
                    limit = consume::PAYLOAD_LIMIT,
                    "message over the payload bound skipped"
                );
                return ControlFlow::Continue(());
            }
            Received::Refused { size } => {
                tracing::warn!(
                    size,
                    limit = consume::READ_LIMIT,
                    "a packet over the read bound broke the connection; reconnecting"
                );
                return ControlFlow::Continue(());
            }
        };
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return ControlFlow::Break(());
        }
        shown += 1;
        if count.is_some_and(|c| shown >= c) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .context("cannot watch the stream")
}
