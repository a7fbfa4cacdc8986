//! Publishing against a real broker (mosquitto) and real consumers
//! (`mosquitto_sub`, the `zstd` command line tool), all installed by the test
//! command.

use std::process::{Command, Stdio};
use std::time::Duration;

use vitrine_testkit::{
    Broker, capture, distinct_payloads, free_port, hex_lines, hex_payload, spooled_files,
};

/// `vitrined replay` of the quiet lab day in hour windows, publishing as
/// site `s`, rig `r` to `url` through `spool`; callers add what differs.
fn hourly_rig(url: &str, spool: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vitrined"));
    c.args(["replay", "--window", "3600", "--pcap"])
        .arg(capture("lab-occupancy/sc6-61_2023-04-13_anonymized.pcap"))
        .args([
            "--publish",
            url,
            "--site",
            "s",
            "--rig",
            "r",
            "--drain-timeout",
            "3",
            "--spool",
        ])
        .arg(spool);
    c
}

#[test]
fn mosquitto_sub_and_zstd_recover_exactly_what_replay_prints() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let pcap = capture("lab-occupancy/sc6-61_2022-10-19_anonymized.pcap");
    // How many summaries to expect: the same replay without publishing.
    let plain = Command::new(env!("CARGO_BIN_EXE_vitrined"))
        .args(["replay", "--pcap"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(plain.status.success());
    let expected: Vec<serde_json::Value> = String::from_utf8(plain.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(expected.len() > 100);

    let sub = broker.subscribe("vitrine/store-7/rig-a/wifi", 100_000);
    let out = Command::new(env!("CARGO_BIN_EXE_vitrined"))
        .args(["replay", "--pcap"])
        .arg(&pcap)
        .args([
            "--publish",
            &broker.url(),
            "--site",
            "store-7",
            "--rig",
            "rig-a",
            "--spool",
        ])
        .arg(dir.path().join("spool"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        printed, expected,
        "publishing does not change what replay prints"
    );
    let payloads = distinct_payloads(sub, expected.len());

    // The dictionary comes from the broker too (retained), as a consumer gets it.
    let dict = hex_lines(broker.subscribe("vitrine/store-7/rig-a/dict", 1)).remove(0);
    let dict_path = dir.path().join("dict");
    std::fs::write(&dict_path, &dict).unwrap();

    let mut boots = std::collections::BTreeSet::new();
    for (i, (payload, want)) in payloads.iter().zip(&expected).enumerate() {
        let file = dir.path().join(format!("p{i}.zst"));
        std::fs::write(&file, payload).unwrap();
        let z = Command::new("zstd")
            .args(["-d", "-c", "-q", "-D"])
            .arg(&dict_path)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            z.status.success(),
            "zstd: {}",
            String::from_utf8_lossy(&z.stderr)
        );
        let envelope: serde_json::Value = serde_json::from_slice(&z.stdout).unwrap();
        assert_eq!(&envelope["summary"], want, "payload {i}");
        assert_eq!(envelope["seq"], i as u64);
        assert_eq!(envelope["site"], "store-7");
        boots.insert(envelope["boot"].as_str().unwrap().to_string());
    }
    assert_eq!(boots.len(), 1);

    // A clean exit leaves the retained status and availability at offline,
    // and the spool empty.
    let availability =
        hex_lines(broker.subscribe("vitrine/store-7/rig-a/availability", 1)).remove(0);
    assert_eq!(String::from_utf8_lossy(&availability), "offline");
    let status = hex_lines(broker.subscribe("vitrine/store-7/rig-a/status", 1)).remove(0);
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["state"], "offline");
    assert_eq!(status["spool"]["held"], 0);
    assert_eq!(status["spool"]["acknowledged"], expected.len() as u64);
    assert_eq!(status["spool"]["quarantined"], 0);
    assert_eq!(status["boot"].as_str(), boots.first().map(String::as_str));
    assert_eq!(spooled_files(dir.path().join("spool")), 0);
}

#[test]
fn without_a_broker_summaries_stay_spooled_and_go_out_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let port = free_port();
    let run = |url: &str| hourly_rig(url, &spool).output().unwrap();
    // Nobody listens on the port: the run ends with everything spooled.
    let out = run(&format!("mqtt://127.0.0.1:{port}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let windows = String::from_utf8(out.stdout).unwrap().lines().count();
    let spooled = || spooled_files(&spool);
    assert_eq!(spooled(), windows);

    // Next run, with a broker: the old summaries go out first, then the new.
    let broker = Broker::start(dir.path());
    let sub = broker.subscribe("vitrine/s/r/wifi", 2 * windows);
    let out = run(&broker.url());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first run's summaries first, in order, then the second run's.
    let codec = vitrine_publish::Codec::shipped();
    let got: Vec<(String, u64)> = hex_lines(sub)
        .iter()
        .map(|p| codec.decode(p).unwrap())
        .map(|e| (e.boot, e.seq))
        .collect();
    assert_eq!(got.len(), 2 * windows);
    let (first, second) = got.split_at(windows);
    assert!(
        first.iter().all(|(b, _)| *b == first[0].0)
            && second.iter().all(|(b, _)| *b == second[0].0)
    );
    assert_ne!(first[0].0, second[0].0, "two runs, two boots");
    for run in [first, second] {
        assert!(
            run.iter().enumerate().all(|(i, (_, seq))| *seq == i as u64),
            "{run:?}"
        );
    }
    assert_eq!(spooled(), 0);
}

#[test]
fn a_broker_outage_loses_nothing_and_keeps_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path());
    let pcap = capture("lab-occupancy/sc6-61_2022-10-19_anonymized.pcap");
    let expected = String::from_utf8(
        Command::new(env!("CARGO_BIN_EXE_vitrined"))
            .args(["replay", "--pcap"])
            .arg(&pcap)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .lines()
    .count();
    // A consumer with a persistent session: the broker queues for it while
    // it is away. Duplicates are allowed, so no count limit.
    let sub = broker.subscribe_as(
        "vitrine/s/r/wifi",
        100_000,
        &["-c", "-i", "outage-consumer"],
    );
    // About 6 s of replay (two hours of capture at 1200 times its pace).
    let mut rig = Command::new(env!("CARGO_BIN_EXE_vitrined"))
        .args(["replay", "--speed", "1200", "--pcap"])
        .arg(&pcap)
        .args([
            "--publish",
            &broker.url(),
            "--site",
            "s",
            "--rig",
            "r",
            "--spool",
        ])
        .arg(dir.path().join("spool"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // Down for about a quarter of the windows.
    broker.restart_after(Duration::from_millis(1500));

    // Every summary arrives, first arrivals in sequence order (both checked
    // there), once duplicates are dropped by (rig, boot, seq).
    let payloads = distinct_payloads(sub, expected);
    let status = rig.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut rig.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("lost the broker"),
        "the outage happened while the rig ran: {stderr}"
    );
    assert_eq!(payloads.len(), expected);
}

#[test]
fn killing_the_publishing_daemon_200_times_loses_and_corrupts_nothing() {
    use std::collections::BTreeSet;
    use vitrine_publish::{Codec, Spool, SpoolPolicy};

    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let spool_dir = dir.path().join("spool");
    let pcap = capture("probe-generator/out_file.pcap");
    let sub = broker.subscribe_as("vitrine/s/r/wifi", 1_000_000, &[]);
    let codec = Codec::shipped();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_vitrined"))
            .args(["replay", "--window", "600", "--speed", "50000", "--pcap"])
            .arg(&pcap)
            .args([
                "--publish",
                &broker.url(),
                "--site",
                "s",
                "--rig",
                "r",
                "--spool",
            ])
            .arg(&spool_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // Every (boot, seq) ever seen durably spooled must reach the broker.
    let mut spooled: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for round in 0..200 {
        let mut rig = run();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(20 + rng % 180));
        rig.kill().unwrap(); // SIGKILL
        rig.wait().unwrap();
        let mut spool = Spool::open(&spool_dir, SpoolPolicy::default()).unwrap();
        assert_eq!(
            spool.stats().quarantined,
            0,
            "round {round}: a spool file was torn"
        );
        for entry in spool.oldest(usize::MAX).unwrap() {
            let e = codec
                .decode(&entry.payload)
                .unwrap_or_else(|err| panic!("round {round}: spooled payload damaged: {err}"));
            spooled.insert((e.boot, e.seq));
        }
    }
    // A killed rig cannot say goodbye: the broker published its last will,
    // plain `offline` on the availability topic.
    let availability = hex_lines(broker.subscribe("vitrine/s/r/availability", 1)).remove(0);
    assert_eq!(
        String::from_utf8_lossy(&availability),
        "offline",
        "the last will"
    );
    // One run to the end: it publishes what the killed runs left, then its own.
    let mut last = run();
    assert!(last.wait().unwrap().success());
    assert_eq!(
        spooled_files(&spool_dir),
        0,
        "everything was acknowledged in the end"
    );

    let mut delivered = BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !spooled.is_subset(&delivered) && std::time::Instant::now() < deadline {
        let Ok(line) = sub.lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let Some(bytes) = hex_payload(&line) else {
            continue;
        };
        // Nothing corrupt is ever published.
        let e = codec
            .decode(&bytes)
            .expect("every published payload decodes");
        delivered.insert((e.boot, e.seq));
    }
    let missing: Vec<_> = spooled.difference(&delivered).collect();
    assert!(
        missing.is_empty(),
        "{} spooled summaries never reached the broker: {missing:?}",
        missing.len()
    );
    // Kills that catch summaries spooled but not yet acknowledged: the case
    // under test (about 20 of them in 200 kills).
    assert!(
        spooled.len() >= 10,
        "the kills left work behind ({} summaries)",
        spooled.len()
    );
    let mut sub = sub;
    let _ = sub.child.kill();
}

#[test]
fn tls_to_a_verified_broker_delivers_and_an_unknown_ca_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, ca) = Broker::start_tls(dir.path());
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let ca_arg = ca.display().to_string();
    let sub = broker.subscribe_as("vitrine/s/r/wifi", 1_000, &["--cafile", &ca_arg]);
    let replay = |ca: &std::path::Path, spool: &str| {
        hourly_rig(&url, &dir.path().join(spool))
            .arg("--tls-ca")
            .arg(ca)
            .output()
            .unwrap()
    };
    let out = replay(&ca, "spool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let windows = String::from_utf8(out.stdout).unwrap().lines().count();
    assert_eq!(distinct_payloads(sub, windows).len(), windows);
    assert_eq!(spooled_files(dir.path().join("spool")), 0);

    // A CA that did not sign the broker's certificate: the rig refuses the
    // broker, and keeps everything spooled.
    let (other_ca, _, _) = vitrine_testkit::make_certificates(dir.path(), "other");
    let out = replay(&other_ca, "spool-2");
    assert!(out.status.success());
    assert_eq!(spooled_files(dir.path().join("spool-2")), windows);
}

#[test]
fn credentials_from_a_password_file_are_accepted_and_wrong_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start_with_user(dir.path(), "rig-a", "s3cret-pass");
    let sub = broker.subscribe_as(
        "vitrine/s/r/wifi",
        1_000,
        &["-u", "rig-a", "-P", "s3cret-pass"],
    );
    let replay = |password: &str, spool: &str| {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.path().join(format!("{spool}.password"));
        std::fs::write(&file, format!("{password}\n")).unwrap();
        // Readable by its owner only, or it is refused.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        hourly_rig(&broker.url(), &dir.path().join(spool))
            .args(["--username", "rig-a", "--password-file"])
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = replay("s3cret-pass", "spool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let windows = String::from_utf8(out.stdout).unwrap().lines().count();
    assert_eq!(distinct_payloads(sub, windows).len(), windows);
    let out = replay("wrong", "spool-2");
    assert!(out.status.success());
    assert_eq!(
        spooled_files(dir.path().join("spool-2")),
        windows,
        "refused: everything stays spooled"
    );
    // The password never shows in the logs.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong"));
}

#[test]
fn a_broker_requiring_client_certificates_accepts_the_rig_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, ca) = Broker::start_tls_with(dir.path(), true);
    let pki = ca.parent().unwrap().to_owned();
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let replay = |client: bool, spool: &str| {
        let mut c = hourly_rig(&url, &dir.path().join(spool));
        c.arg("--tls-ca").arg(&ca);
        if client {
            c.arg("--tls-cert")
                .arg(pki.join("client.pem"))
                .arg("--tls-key")
                .arg(pki.join("client.key"));
        }
        c.output().unwrap()
    };
    let with = replay(true, "spool");
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let windows = String::from_utf8(with.stdout).unwrap().lines().count();
    assert_eq!(
        spooled_files(dir.path().join("spool")),
        0,
        "acknowledged: the broker let the rig in"
    );
    let without = replay(false, "spool-2");
    assert!(without.status.success());
    assert_eq!(
        spooled_files(dir.path().join("spool-2")),
        windows,
        "refused without a client certificate"
    );
}

/// The envelope's JSON Schema with the summary's inlined where it refers
/// to it by name (`summary-v3.schema.json`, beside it in docs/schema/),
/// so that no reference is fetched.
fn envelope_validator() -> jsonschema::Validator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let mut envelope = read("envelope-v1.schema.json");
    let reference = &envelope["properties"]["summary"]["$ref"];
    assert_eq!(reference, "summary-v3.schema.json");
    let mut summary = read("summary-v3.schema.json");
    let summary = summary.as_object_mut().unwrap();
    summary.remove("$id");
    summary.remove("$schema");
    // Its `#/$defs/...` pointers then resolve at the envelope's root.
    if let Some(defs) = summary.remove("$defs") {
        envelope["$defs"] = defs;
    }
    envelope["properties"]["summary"] = serde_json::Value::Object(summary.clone());
    jsonschema::draft202012::new(&envelope).unwrap()
}

#[test]
fn json_payloads_are_the_envelope_as_published_under_the_configured_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let pcap = capture("lab-occupancy/sc6-61_2023-04-13_anonymized.pcap");
    let replay = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_vitrined"))
            .args(["replay", "--window", "3600", "--pcap"])
            .arg(&pcap)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let expected = replay(&[]);
    assert!(expected.len() > 5);

    let sub = broker.subscribe("lab/vitrine/store-7/rig-a/wifi", 10_000);
    let spool = dir.path().join("spool");
    replay(&[
        "--publish",
        &broker.url(),
        "--site",
        "store-7",
        "--rig",
        "rig-a",
        "--payload",
        "json",
        "--topic-prefix",
        "lab/vitrine",
        "--spool",
        spool.to_str().unwrap(),
    ]);
    let payloads = distinct_payloads(sub, expected.len());
    let validator = envelope_validator();
    for (i, (payload, want)) in payloads.iter().zip(&expected).enumerate() {
        // What mosquitto_sub printed is the envelope's JSON itself.
        let envelope: serde_json::Value = serde_json::from_slice(payload)
            .unwrap_or_else(|e| panic!("payload {i} is not JSON: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&envelope)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "payload {i}: {errors:?}");
        assert_eq!(&envelope["summary"], want, "payload {i}");
        assert_eq!(envelope["seq"], i as u64);
        assert_eq!(
            (&envelope["site"], &envelope["rig"]),
            (&"store-7".into(), &"rig-a".into())
        );
    }
    // The status is under the prefix too.
    let status = hex_lines(broker.subscribe("lab/vitrine/store-7/rig-a/status", 1)).remove(0);
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["spool"]["acknowledged"], expected.len() as u64);

    // The schema refuses what is not an envelope.
    let mut bad: serde_json::Value = serde_json::from_slice(&payloads[0]).unwrap();
    bad["mac"] = "60:8b:0e:2a:65:2b".into();
    assert!(!validator.is_valid(&bad));
    bad.as_object_mut().unwrap().remove("mac");
    bad["seq"] = (-1).into();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn a_bad_payload_format_or_prefix_stops_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    for (option, value) in [("--payload", "gzip"), ("--topic-prefix", "a/+/b")] {
        let out = Command::new(env!("CARGO_BIN_EXE_vitrined"))
            .args(["replay", "--pcap"])
            .arg(capture("lab-occupancy/sc6-61_2023-04-13_anonymized.pcap"))
            .args([
                "--publish",
                "mqtt://127.0.0.1:1",
                "--site",
                "s",
                "--rig",
                "r",
                option,
                value,
                "--spool",
            ])
            .arg(dir.path().join("spool"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{option}: {stderr}");
        assert!(stderr.contains(option), "{stderr}");
        assert!(out.stdout.is_empty());
        assert!(!dir.path().join("spool").exists(), "nothing starts");
    }
}
