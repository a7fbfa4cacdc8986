//! `vitrine-audit self`: what the rig audits in itself, decided from its
//! configuration (resolved as the daemon resolves it) and its policy: the
//! broker and topics watched and for how long, the canaries sent, the trees
//! searched with the spool as the rig's data, and the daemon checked.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use time::OffsetDateTime;
use vitrine_audit::audit::{self, Plan, ProcessPlan, Watched};
use vitrine_audit::checks::{hardening, journal, storage, stream};
use vitrine_canary::Registry;

use crate::cli::{CANARY_MONITOR, CANARY_ROUNDS, SelfArgs};
use crate::inputs::load_policy;
use crate::verdict::finish;

pub fn run(args: SelfArgs) -> anyhow::Result<ExitCode> {
    let started = OffsetDateTime::now_utc();
    // The rig's configuration as the daemon resolves it (same rules, same
    // defaults).
    let rig =
        vitrine_config::Settings::load(Some(&args.config), &vitrine_config::Overrides::default())?;
    let policy_path = args.report.policy.clone().or_else(|| {
        let p = PathBuf::from(vitrine_config::defaults::POLICY_FILE);
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
    // Two windows and a half of the rig's.
    let watch = Duration::from_secs(args.watch.unwrap_or(u64::from(rig.window_s) * 5 / 2));
    let broker = stream::rig_broker(&rig)?;
    let site = rig.site.clone().unwrap_or_else(|| "+".into());
    let rig_name = rig.rig.clone().unwrap_or_else(|| "+".into());
    let prefix = rig
        .broker
        .as_ref()
        .map_or(vitrine_config::defaults::TOPIC_PREFIX, |b| {
            b.topic_prefix.as_str()
        });
    let topics = vec![format!("{prefix}/{site}/{rig_name}/#")];
    // Watch the stream from before the canaries go out until after the
    // windows they fall in are published.
    // Recorded in the state directory, the one place the service may write.
    let recording = stream::Recording::in_dir(&state);
    let watcher =
        std::thread::spawn(move || stream::collect(&broker, &topics, watch, recording, |_| {}));
    std::thread::sleep(Duration::from_secs(2));
    let emitted = match &args.inject_interface {
        Some(iface) => {
            let sent = vitrine_audit::emit::over_the_air(
                &mut fresh,
                iface,
                CANARY_MONITOR,
                args.channel,
                CANARY_ROUNDS,
            )?;
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
