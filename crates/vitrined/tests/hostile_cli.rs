//! Hostile command lines: every option of every subcommand given values
//! meant to break it (NaN, infinities, zero, negative, tiny and huge
//! numbers, empty strings, `/dev/zero` as a file). None may panic or run
//! away: each run ends by itself within a bound (live capture, which runs
//! until stopped, must stop on SIGTERM). The cases the daemon once got
//! wrong are checked for their exact refusal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vitrine_testkit::hostile::{Case, Program, Run, case, matrix};

fn run_all(cases: &[Case]) -> Vec<Run> {
    Program {
        path: env!("CARGO_BIN_EXE_vitrined").into(),
        env: vec![("VITRINE_DEMO_BROKER", "embedded")],
        parallel: 3,
    }
    .run_all(cases)
}

fn small_capture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/captures/phones/S21Ultra-M_anonymized.pcap")
}

#[test]
fn replay_survives_hostile_values_of_every_option() {
    let pcap = small_capture();
    let pcap = pcap.to_str().unwrap();
    let mut cases = matrix(
        &["replay", "--pcap", pcap],
        &[
            "--pcap",
            "--format",
            "--speed",
            "--window",
            "--ignore",
            "--k",
            "--presence-rssi",
            "--epoch-hours",
            "--max-devices",
            "--publish",
            "--site",
            "--rig",
            "--spool",
            "--drain-timeout",
            "--tls-ca",
            "--tls-cert",
            "--tls-key",
            "--username",
            "--password-file",
            "--config",
            "--log-format",
        ],
    );
    // The same, publishing (to a port nobody listens on).
    cases.extend(matrix(
        &[
            "replay",
            "--pcap",
            pcap,
            "--publish",
            "mqtts://127.0.0.1:1",
            "--site",
            "s",
            "--rig",
            "r",
            "--drain-timeout",
            "0",
            "--tls-ca",
            "/dev/null",
            "--username",
            "u",
        ],
        &[
            "--site",
            "--rig",
            "--spool",
            "--tls-ca",
            "--tls-cert",
            "--tls-key",
            "--username",
            "--password-file",
        ],
    ));
    run_all(&cases);
}

#[test]
fn demo_survives_hostile_values_of_every_option() {
    let cases = matrix(
        &[
            "demo",
            "--minutes",
            "1",
            "--seconds",
            "0.1",
            "--format",
            "jsonl",
        ],
        &[
            "--minutes",
            "--seed",
            "--arrivals-per-hour",
            "--seconds",
            "--format",
            "--window",
            "--ignore",
            "--k",
            "--presence-rssi",
            "--epoch-hours",
            "--max-devices",
        ],
    );
    run_all(&cases);
}

/// Options shared with `replay` (pipeline, publishing) go through the same
/// resolution and are covered there; these are live capture's own.
#[cfg(feature = "live")]
#[test]
fn live_survives_hostile_values_and_stops_on_sigterm() {
    let mut cases = matrix(
        &["live", "--interface", "hostile0", "--window", "1"],
        &[
            "--interface",
            "--monitor",
            "--channels",
            "--filter",
            "--format",
            "--k",
        ],
    );
    for c in &mut cases {
        c.stop_after = Some(Duration::from_secs(1));
    }
    run_all(&cases);
}

/// One run, checked for its exit status and a line of its stderr.
fn refused(args: &[&str], code: i32, message: &str) -> Run {
    let r = run_all(&[case(args)]).remove(0);
    assert_eq!(r.code, Some(code), "{args:?}: {}", r.stderr);
    assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    r
}

#[test]
fn k_below_2_is_refused_on_the_command_line_as_in_the_file() {
    let rule = vitrine_config::rules::k(&1).unwrap_err();
    let pcap = small_capture();
    let pcap = pcap.to_str().unwrap();
    refused(
        &["replay", "--pcap", pcap, "--k", "1"],
        78,
        &format!("vitrined: configuration error: --k 1: {rule}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vitrine.toml");
    std::fs::write(&config, "[windows]\nk = 1\n").unwrap();
    refused(
        &[
            "--config",
            config.to_str().unwrap(),
            "replay",
            "--pcap",
            pcap,
        ],
        78,
        &format!("vitrine.toml:2:5: windows.k: {rule}"),
    );
    // The demo and live capture too, before anything starts.
    refused(&["demo", "--k", "1"], 78, &rule);
    #[cfg(feature = "live")]
    refused(&["live", "--interface", "wlan1", "--k", "1"], 78, &rule);
}

#[test]
fn the_values_once_accepted_or_fatal_are_refused_with_their_rule() {
    let pcap = small_capture();
    let pcap = pcap.to_str().unwrap();
    let replay = |extra: &[&str]| {
        let mut args = vec!["replay", "--pcap", pcap];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let refused_replay = |extra: &[&str], code: i32, message: &str| {
        let args = replay(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, code, message)
    };
    refused_replay(
        &["--max-devices", "0"],
        78,
        "--max-devices 0: must be 1000 to 10000000",
    );
    refused_replay(
        &["--presence-rssi", "50"],
        78,
        "--presence-rssi 50: must be -128 to 0 dBm",
    );
    refused_replay(
        &["--speed", "1e-300"],
        2,
        "must be a number from 0.001 to 1000000",
    );
    refused_replay(&["--speed", "NaN"], 2, "must be a number from");
    refused_replay(
        &["--drain-timeout", "18446744073709551615"],
        2,
        "--drain-timeout",
    );
    refused_replay(
        &["--ignore", "/dev/zero"],
        1,
        "ignore list /dev/zero is longer than 1 MiB",
    );
    refused(
        &["--config", "/dev/zero", "replay", "--pcap", pcap],
        78,
        "configuration /dev/zero is longer than 1 MiB, the most read from such a file",
    );
    refused(
        &["demo", "--arrivals-per-hour", "NaN"],
        2,
        "must be a number from 0 to 1200",
    );
    refused(
        &["demo", "--seconds", "inf"],
        2,
        "must be a number from 0.1",
    );
    refused(&["demo", "--minutes", "0"], 2, "--minutes");
}

#[test]
fn secrets_are_checked_before_the_spool_is_created() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let pcap = small_capture();
    let publishing = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "replay",
            "--pcap",
            pcap.to_str().unwrap(),
            "--publish",
            "mqtt://127.0.0.1:1",
            "--site",
            "s",
            "--rig",
            "r",
            "--drain-timeout",
            "0",
            "--spool",
            spool.to_str().unwrap(),
        ]
        .into_iter()
        .map(str::to_string)
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let check = |extra: &[&str], message: &str| {
        let args = publishing(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, 78, message);
        assert!(!spool.exists(), "{extra:?}: the spool was created");
    };
    check(
        &[
            "--username",
            "u",
            "--password-file",
            "/nonexistent/password",
        ],
        "--password-file /nonexistent/password: cannot read /nonexistent/password",
    );
    let password = dir.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();
    let password = password.to_str().unwrap();
    check(
        &["--username", "u", "--password-file", password],
        "is open to others (mode 0644)",
    );
    let huge = dir.path().join("huge-password");
    std::fs::write(&huge, vec![b'x'; 2 << 20]).unwrap();
    std::fs::set_permissions(&huge, std::fs::Permissions::from_mode(0o600)).unwrap();
    check(
        &["--username", "u", "--password-file", huge.to_str().unwrap()],
        "is longer than 1 MiB",
    );
    // TLS: the CA is public (no mode check) but must be there, and bounded.
    let tls = |extra: &[&str], message: &str| {
        let mut args = publishing(extra);
        args[4] = "mqtts://127.0.0.1:1".into();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, 78, message);
        assert!(!spool.exists(), "{extra:?}: the spool was created");
    };
    tls(
        &[],
        "mqtts:// needs a CA certificate: broker.ca_file or --tls-ca",
    );
    tls(
        &["--tls-ca", "/nonexistent/ca.pem"],
        "--tls-ca /nonexistent/ca.pem: cannot read CA certificate /nonexistent/ca.pem",
    );
    tls(
        &["--tls-ca", "/dev/zero"],
        "CA certificate /dev/zero is longer than 1 MiB",
    );
    tls(
        &[
            "--tls-ca",
            "/dev/null",
            "--tls-cert",
            "/dev/null",
            "--tls-key",
            "/nonexistent/rig.key",
        ],
        "--tls-key /nonexistent/rig.key: cannot read /nonexistent/rig.key",
    );
}

#[test]
fn publishing_without_a_site_or_rig_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let pcap = small_capture();
    let pcap = pcap.to_str().unwrap();
    let spool_arg = spool.to_str().unwrap();
    refused(
        &[
            "replay",
            "--pcap",
            pcap,
            "--publish",
            "mqtt://127.0.0.1:1",
            "--spool",
            spool_arg,
        ],
        78,
        "--publish mqtt://127.0.0.1:1: publishing needs a site and a rig id \
         (--site and --rig, or site and rig in the configuration file); missing: site, rig.",
    );
    refused(
        &[
            "replay",
            "--pcap",
            pcap,
            "--publish",
            "mqtt://127.0.0.1:1",
            "--site",
            "store-7",
            "--spool",
            spool_arg,
        ],
        78,
        "missing: rig.",
    );
    assert!(!spool.exists());
}
