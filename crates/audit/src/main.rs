//! `vitrine-audit`: the companion verifier. It proves on a device (a Vitrine
//! rig or a vendor's box) whether retention and anonymization rules hold:
//! canaries go out over the air, then are searched for on disk, in the
//! journal, in the daemon's memory and in what it publishes, in clear and in
//! every common hashed form. See docs/audit.md.
//!
//! This file parses the command line (`cli.rs`) and hands each subcommand
//! to its module.

mod canaries;
mod cli;
mod collect;
mod inject;
mod inputs;
mod mqtt;
mod reverse_cli;
mod scan;
mod self_audit;
mod signed_reports;
mod tail;
mod verdict;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    if let Some(code) = vitrine_runtime::docs_requested(<Cli as clap::CommandFactory>::command) {
        return code;
    }
    vitrine_runtime::init_logging("info", false);
    match dispatch(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            vitrine_runtime::fatal(format_args!("vitrine-audit: {e:#}"));
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::SelfAudit(args) => self_audit::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Mqtt(args) => mqtt::run(args),
        Command::Reverse(args) => reverse_cli::command(args),
        Command::Canaries {
            macs,
            ssids,
            top,
            oui_file,
            out,
        } => canaries::make(macs, ssids, top, &oui_file, &out),
        Command::Emit { registry, radio } => canaries::emit(&registry, &radio),
        Command::VerifyReport { file, public_key } => {
            signed_reports::verify(&file, public_key.as_deref())
        }
        Command::Report { file, html } => signed_reports::render(&file, &html),
        Command::Tail {
            broker,
            topic,
            topic_prefix,
            format,
            count,
        } => {
            let topic = topic.unwrap_or_else(|| format!("{topic_prefix}/+/+/wifi"));
            tail::run(&broker.load()?, &topic, format, count)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Collect {
            broker,
            topic_prefix,
            group,
            partition,
            client_id,
            db,
            metrics,
            retention_days,
        } => {
            let broker = broker.load()?;
            let mut store = collect::store::open(&db)?;
            let counters = collect::metrics::Metrics::default();
            if let Some(addr) = metrics {
                let bound = counters.serve(&addr)?;
                tracing::info!(%bound, "metrics served at /metrics");
            }
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(signal, stop.clone())?;
            }
            let cfg = collect::Collect {
                prefix: topic_prefix,
                group,
                partition,
                client_id,
                retention_days,
            };
            collect::run(&broker, &cfg, store.as_mut(), &counters, &stop)?;
            tracing::info!(stored = counters.stored_total(), "collector stopped");
            Ok(ExitCode::SUCCESS)
        }
        Command::Inject {
            interface,
            monitor,
            channel,
            pcap,
            speed,
        } => {
            inject::run(&interface, &monitor, channel, &pcap, speed)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
