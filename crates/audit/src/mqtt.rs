//! `vitrine-audit mqtt`: a device's stream watched for the length of the
//! audit, then checked.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use time::OffsetDateTime;
use vitrine_audit::audit::{self, Plan, Watched};
use vitrine_audit::checks::stream;
use vitrine_canary::Registry;

use crate::cli::{Expect, MqttArgs};
use crate::inputs::{MAX_REGISTRY_BYTES, input_file, load_policy};
use crate::verdict::{finish, user_key_path};

pub fn run(args: MqttArgs) -> anyhow::Result<ExitCode> {
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
    let topics = args.topics();
    let messages = stream::collect(
        &broker,
        &topics,
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
            .unwrap_or_else(|| format!("{} {}", broker.url, topics.join(" "))),
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
