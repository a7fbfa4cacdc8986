//! `vitrine-audit`: the companion verifier. Today: `tail`, to watch what a
//! rig publishes.

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
    }
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
