//! The command line as a user meets it.

use std::process::Command;

fn vitrined() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrined"))
}

#[test]
fn a_bad_ignore_list_names_the_file_and_line_and_nothing_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let ignore = dir.path().join("mine.txt");
    std::fs::write(&ignore, "# our laptops\ndc:fb:48:68:be:e4\nnot-a-mac\n").unwrap();
    let out = vitrined()
        .args(["replay", "--pcap", "/nonexistent.pcap", "--ignore"])
        .arg(&ignore)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mine.txt:3"), "{stderr}");
    assert!(
        !stderr.contains("nonexistent"),
        "the ignore list is checked before the capture is opened: {stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_capture_is_a_clear_error() {
    let out = vitrined()
        .args(["replay", "--pcap", "/nonexistent/day1.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open /nonexistent/day1.pcap"));
}

#[test]
fn help_explains_the_replay_options() {
    let out = vitrined().args(["replay", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--pcap",
        "--format",
        "--window",
        "--ignore",
        "--k",
        "--presence-rssi",
        "--epoch-hours",
    ] {
        assert!(help.contains(option), "{option} missing from --help");
    }
}

#[test]
fn the_demo_prints_a_table_and_compares_with_the_truth() {
    let out = vitrined()
        .args(["demo", "--minutes", "5", "--window", "60", "--seconds", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("window (UTC)"));
    // The test command installs mosquitto, so the rows came through a broker.
    assert!(text.contains("come back from the broker"), "{text}");
    assert!(text.contains("Published 5 summaries"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("2024-")).count(),
        5,
        "{text}"
    );
    assert!(text.contains("probe requests counted (truth"), "{text}");
    // Counted exactly what the simulator sent.
    let line = text
        .lines()
        .find(|l| l.contains("probe requests counted"))
        .unwrap();
    let nums: Vec<&str> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(nums[0], nums[1], "{line}");
    // The camera's columns, joined from its own topic, on every row, and
    // its crossings beside the scene's truth: 5 minutes at 10 frames/s.
    assert!(text.contains("images    in   out people"), "{text}");
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("2024-")).collect();
    assert!(rows.iter().all(|r| r.contains("   600 ")), "{rows:?}");
    let camera = text
        .lines()
        .find(|l| l.contains("The camera watched the door"))
        .expect("the camera's part of the report");
    assert!(camera.contains("in 3000 simulated frames"), "{camera}");
    let truth = text
        .lines()
        .find(|l| l.contains("the scene's truth"))
        .unwrap();
    let counted: Vec<u64> = numbers_after(camera, "counted");
    let true_: Vec<u64> = numbers_after(truth, "truth:");
    assert_eq!(counted.len(), 2, "{camera}");
    for (c, t) in counted.iter().zip(&true_) {
        assert!(c.abs_diff(*t) <= 1 + t / 10, "{camera} / {truth}");
    }
}

/// The numbers in `line` after `word`.
fn numbers_after(line: &str, word: &str) -> Vec<u64> {
    let rest = &line[line.find(word).expect(word) + word.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[test]
fn a_bad_configuration_names_file_line_and_key_and_nothing_starts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vitrine.toml");
    let spool = dir.path().join("spool");
    std::fs::write(
        &config,
        format!(
            "site = \"s\"\nrig = \"r\"\n\n[windows]\nk = 1\n\n[spool]\ndir = \"{}\"\n",
            spool.display()
        ),
    )
    .unwrap();
    let out = vitrined()
        .arg("--config")
        .arg(&config)
        .args([
            "replay",
            "--pcap",
            "/nonexistent.pcap",
            "--publish",
            "mqtt://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("vitrine.toml:5:5: windows.k:"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(!spool.exists(), "nothing started");
}

#[test]
fn the_configuration_file_sets_defaults_that_options_override() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vitrine.toml");
    std::fs::write(&config, "[windows]\nlength_s = 600\nk = 7\n").unwrap();
    let pcap = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/captures/lab-occupancy/sc6-61_2023-04-13_anonymized.pcap");
    let first = |extra: &[&str]| {
        let out = vitrined()
            .arg("--config")
            .arg(&config)
            .args(["replay", "--pcap"])
            .arg(&pcap)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        let line = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        (v["window_s"].as_u64().unwrap(), v["k"].as_u64().unwrap())
    };
    assert_eq!(first(&[]), (600, 7));
    assert_eq!(first(&["--window", "60"]), (60, 7));
}

#[test]
fn without_mosquitto_the_demo_embeds_a_broker() {
    let out = vitrined()
        .env("VITRINE_DEMO_BROKER", "embedded")
        .args(["demo", "--minutes", "5", "--window", "60", "--seconds", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(rumqttd, embedded)"), "{text}");
    assert!(text.contains("Published 5 summaries"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("2024-")).count(),
        5,
        "{text}"
    );
    assert!(
        out.stderr.is_empty(),
        "the demo's terminal stays clean: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn one_set_of_defaults_the_configurations_are_the_aggregators() {
    let aggregate = vitrine_wifi_aggregate::Config::default();
    let d = vitrine_config::Settings::load(None, &vitrine_config::Overrides::default()).unwrap();
    assert_eq!(aggregate.k, d.k);
    assert_eq!(aggregate.presence_rssi_dbm, d.presence_rssi_dbm);
    assert_eq!(aggregate.max_devices as u64, d.max_devices);
    assert_eq!(aggregate.window_s, vitrine_config::defaults::WINDOW_S);
}

#[test]
fn the_packaged_configuration_is_valid_and_refuses_to_publish_until_the_rig_is_named() {
    let packaged =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/vitrine.toml");
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let out = vitrined()
        .arg("--config")
        .arg(&packaged)
        .args(["replay", "--pcap", "/nonexistent.pcap", "--spool"])
        .arg(&spool)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("missing: site, rig"), "{stderr}");
    assert!(!spool.exists(), "nothing is created before the refusal");
    // Named on the command line, the same file is accepted: the refusal was
    // the missing ids, not the file (the capture is what fails next).
    let out = vitrined()
        .arg("--config")
        .arg(&packaged)
        .args(["replay", "--pcap", "/nonexistent.pcap", "--site", "s1"])
        .args(["--rig", "r1", "--spool"])
        .arg(&spool)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open /nonexistent.pcap"), "{stderr}");
}
