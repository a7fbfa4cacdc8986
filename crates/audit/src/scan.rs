//! `vitrine-audit scan`: a vendor's file tree or mounted image (and, on the
//! running device, its daemon and swap) searched against a registry.

use std::process::ExitCode;

use time::OffsetDateTime;
use vitrine_audit::audit::{self, Plan, ProcessPlan};
use vitrine_audit::checks::{hardening, journal, storage};
use vitrine_canary::Registry;

use crate::cli::ScanArgs;
use crate::inputs::{MAX_REGISTRY_BYTES, input_file, load_policy};
use crate::verdict::{finish, user_key_path};

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
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
