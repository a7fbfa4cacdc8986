//! `vitrine-audit`: the companion verifier: `tail` watches what a rig
//! publishes, `inject` transmits test frames over the air.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use vitrine_publish::consume::{Received, subscribe};

/// Watch and check what a sensing device publishes.
#[derive(Debug, Parser)]
#[command(name = "vitrine-audit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Subscribe to a broker and print the summaries rigs publish, decoded
    /// (zstd with the dictionary each payload names) and without the
    /// duplicates MQTT QoS 1 allows.
    Tail {
        /// The broker, `mqtt://host[:port]`.
        #[arg(long, value_name = "URL")]
        broker: String,
        /// Topic filter.
        #[arg(long, default_value = "vitrine/+/+/wifi")]
        topic: String,
        /// `table` for people, `jsonl` for programs (one envelope per line).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Stop after this many summaries.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Transmit the 802.11 frames of a capture file over the air, from a
    /// monitor interface created on a second adapter (never the rig's own),
    /// paced by the capture's timestamps. For over-the-air tests and
    /// canaries. Needs CAP_NET_ADMIN and CAP_NET_RAW. Prints one JSON line:
    /// frames sent and skipped, and seconds taken.
    Inject {
        /// The injecting adapter's interface, e.g. wlan2.
        #[arg(long, value_name = "IFACE")]
        interface: String,
        /// Name of the monitor interface to create (removed at the end).
        #[arg(long, value_name = "IFACE", default_value = "vinj0")]
        monitor: String,
        /// Channel to transmit on.
        #[arg(long, default_value_t = 6)]
        channel: u8,
        /// Frames to send: pcap or pcapng, radiotap or bare 802.11. Each
        /// frame's own radiotap header (and FCS) is dropped.
        #[arg(long, value_name = "FILE")]
        pcap: std::path::PathBuf,
        /// Pace: this many times the capture's own pace; 0 sends as fast as
        /// the radio takes them.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Jsonl,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VITRINE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Tail {
            broker,
            topic,
            format,
            count,
        } => tail(&broker, &topic, format, count),
        Command::Inject {
            interface,
            monitor,
            channel,
            pcap,
            speed,
        } => inject(&interface, &monitor, channel, &pcap, speed),
    }
}

fn inject(
    interface: &str,
    monitor: &str,
    channel: u8,
    pcap: &std::path::Path,
    speed: f64,
) -> anyhow::Result<()> {
    use vitrine_capture::{FrameSource, LinkType, PcapFile};
    anyhow::ensure!(speed >= 0.0, "--speed must not be negative");
    let mut file = PcapFile::open(pcap)?;
    let mut injector = vitrine_radio::Injector::open(interface, monitor, channel)?;
    let mut paced;
    let source: &mut dyn FrameSource = if speed > 0.0 {
        paced = vitrined::Paced::new(&mut file, speed);
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

fn tail(broker: &str, topic: &str, format: Format, count: Option<u64>) -> anyhow::Result<()> {
    let rest = broker
        .strip_prefix("mqtt://")
        .with_context(|| format!("{broker}: expected mqtt://host[:port]"))?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().with_context(|| format!("{broker}: bad port"))?),
        None => (rest, 1883),
    };
    let client_id = format!("vitrine-audit-tail-{}", std::process::id());
    let mut out = std::io::stdout().lock();
    let mut shown = 0u64;
    subscribe(host, port, &client_id, topic, |received| {
        let line = match received {
            Received::Summary { envelope, .. } => match format {
                Format::Jsonl => serde_json::to_string(&envelope).expect("envelopes serialize"),
                Format::Table => {
                    let mut text = String::new();
                    if shown.is_multiple_of(40) {
                        // The summary table's header, with a rig column in front.
                        for (i, line) in vitrined::table::header().lines().enumerate() {
                            text +=
                                &format!("{:<24} {line}\n", if i == 0 { "rig #seq" } else { "" });
                        }
                    }
                    let rig = format!("{}/{} #{}", envelope.site, envelope.rig, envelope.seq);
                    text + &format!("{rig:<24} {}", vitrined::table::row(&envelope.summary))
                }
            },
            Received::Idle => return ControlFlow::Continue(()),
            Received::Undecodable { topic, reason } => {
                tracing::warn!(topic, reason, "payload not decoded");
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
    .map_err(anyhow::Error::msg)
}
