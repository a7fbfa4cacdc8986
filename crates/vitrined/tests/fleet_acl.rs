//! A fleet on one broker: per-rig credentials and ACLs over TLS, against a
//! real mosquitto with the ACL file of docs/publishing.md ("Fleets: per-rig
//! credentials and ACLs"). Each rig user may write only its own topics and
//! read nothing; the collector reads the fleet's prefix and writes nothing.
//! Two real `vitrined replay` runs publish with their own credentials, one
//! in zstd, one in JSON; the collector receives every summary of both;
//! what a rig publishes outside its topics, or the collector publishes at
//! all, is refused and never delivered; a rig subscribed to another rig's
//! topics receives nothing while they flow.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vitrine_testkit::{Broker, Subscriber, capture, hex_payload};

const PREFIX: &str = "fleet/eu";
const COLLECTOR: (&str, &str) = ("collector", "c0llect-all");
/// (site, rig, password, payload format, capture)
const RIGS: [(&str, &str, &str, &str, &str); 2] = [
    (
        "store-1",
        "a",
        "rig-1a-secret",
        "zstd",
        "lab-occupancy/sc6-61_2023-04-13_anonymized.pcap",
    ),
    (
        "store-2",
        "b",
        "rig-2b-secret",
        "json",
        "lab-occupancy/sc6-61_2022-10-19_anonymized.pcap",
    ),
];
const WINDOW: &str = "600";

/// A rig's broker user: `rig-<site>-<rig>`.
fn user(site: &str, rig: &str) -> String {
    format!("rig-{site}-{rig}")
}

/// The ACL file of docs/publishing.md for these rigs.
fn acl() -> String {
    let mut acl = String::from("# Generated per fleet: one block per rig, and the collector.\n");
    for (site, rig, ..) in RIGS {
        acl += &format!(
            "\nuser {}\ntopic write {PREFIX}/{site}/{rig}/#\n",
            user(site, rig)
        );
    }
    acl += &format!("\nuser {}\ntopic read {PREFIX}/#\n", COLLECTOR.0);
    acl
}

/// A password file, readable by its owner only.
fn password_file(dir: &Path, name: &str, password: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let file = dir.join(name);
    std::fs::write(&file, format!("{password}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    file
}

/// mosquitto_sub/mosquitto_pub options: TLS with the CA, as `user`.
fn tls_as(ca: &Path, user: &str, password: &str) -> Vec<String> {
    ["--cafile", ca.to_str().unwrap(), "-u", user, "-P", password]
        .map(String::from)
        .to_vec()
}

/// `mosquitto_pub` of `payload` to `topic` at QoS 1 as `user`, in MQTT
/// `version`; its stderr (the connection itself must succeed).
fn publish_as(
    broker: &Broker,
    ca: &Path,
    (user, password): (&str, &str),
    version: &str,
    topic: &str,
    payload: &str,
) -> String {
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
        .args(tls_as(ca, user, password))
        .args(["-V", version, "-q", "1", "-t", topic, "-s"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "mosquitto_pub as {user}: {stderr}");
    stderr
}

/// The summaries a replay of `pcap` prints (and so publishes).
fn expected_summaries(pcap: &str) -> usize {
    let out = Command::new(env!("CARGO_BIN_EXE_vitrined"))
        .args(["replay", "--window", WINDOW, "--pcap"])
        .arg(capture(pcap))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().count()
}

/// `(topic, payload)` of a `-F '%t %x'` line; `None` for debug lines.
fn topic_and_payload(line: &str) -> Option<(String, Vec<u8>)> {
    let (topic, hex) = line.rsplit_once(' ')?;
    if topic.contains(' ') {
        return None;
    }
    Some((topic.to_string(), hex_payload(hex)?))
}

/// Lines of `sub` until `done` says so or `within` passes.
fn read_until(
    sub: &Subscriber,
    within: Duration,
    mut done: impl FnMut(&[(String, Vec<u8>)]) -> bool,
) -> Vec<(String, Vec<u8>)> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while Instant::now() < deadline && !done(&got) {
        if let Ok(line) = sub.lines.recv_timeout(Duration::from_millis(100))
            && let Some(m) = topic_and_payload(&line)
        {
            got.push(m);
        }
    }
    got
}

#[test]
fn each_rig_writes_only_its_topics_and_the_collector_reads_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rig_users: Vec<(String, &str)> = RIGS
        .iter()
        .map(|(site, rig, password, ..)| (user(site, rig), *password))
        .collect();
    let mut users: Vec<(&str, &str)> = rig_users.iter().map(|(u, p)| (u.as_str(), *p)).collect();
    users.push(COLLECTOR);
    let (broker, ca) = Broker::start_tls_with_acl(d, &users, &acl());
    let expected: Vec<usize> = RIGS
        .iter()
        .map(|(.., pcap)| expected_summaries(pcap))
        .collect();
    assert!(expected.iter().all(|&n| n >= 5), "{expected:?}");

    // The collector, on the whole prefix; rig 1, on rig 2's topics and on
    // the whole prefix.
    let collector = broker.subscribe_formatted(
        &format!("{PREFIX}/#"),
        100_000,
        &tls_as(&ca, COLLECTOR.0, COLLECTOR.1)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "%t %x",
    );
    let (site1, rig1, password1, ..) = RIGS[0];
    let (site2, rig2, ..) = RIGS[1];
    let user1 = user(site1, rig1);
    let snoop_args = tls_as(&ca, &user1, password1);
    let snoop_args: Vec<&str> = snoop_args.iter().map(String::as_str).collect();
    let snoops = [
        broker.subscribe_formatted(
            &format!("{PREFIX}/{site2}/{rig2}/#"),
            100_000,
            &snoop_args,
            "%t %x",
        ),
        broker.subscribe_formatted(&format!("{PREFIX}/#"), 100_000, &snoop_args, "%t %x"),
    ];

    // Rig 1 writes outside its topics: on rig 2's, outside the prefix, in
    // MQTT 3.1.1 (dropped in silence) and 5 (refused with a reason code).
    let forged_topics = [
        format!("{PREFIX}/{site2}/{rig2}/wifi"),
        format!("{PREFIX}/{site2}/{rig2}/status"),
        "elsewhere/wifi".to_string(),
    ];
    for topic in &forged_topics {
        let err = publish_as(
            &broker,
            &ca,
            (&user1, password1),
            "mqttv311",
            topic,
            "forged",
        );
        assert!(!err.contains("failed"), "3.1.1 says nothing: {err}");
        let err = publish_as(&broker, &ca, (&user1, password1), "mqttv5", topic, "forged");
        assert!(
            err.contains("Publish 1 failed: Not authorized"),
            "MQTT 5 gives the reason: {err}"
        );
    }
    // The collector writes nothing, not even on a rig's topics.
    let err = publish_as(
        &broker,
        &ca,
        COLLECTOR,
        "mqttv5",
        &format!("{PREFIX}/{site1}/{rig1}/wifi"),
        "forged",
    );
    assert!(err.contains("Publish 1 failed: Not authorized"), "{err}");
    // A control: what rig 1 writes on its own topics does arrive.
    publish_as(
        &broker,
        &ca,
        (&user1, password1),
        "mqttv5",
        &format!("{PREFIX}/{site1}/{rig1}/probe"),
        "allowed",
    );

    // The two rigs, each with its credentials over TLS.
    let rigs: Vec<_> = RIGS
        .iter()
        .map(|(site, rig, password, payload, pcap)| {
            let pw = password_file(d, &format!("password-{rig}"), password);
            Command::new(env!("CARGO_BIN_EXE_vitrined"))
                .args(["replay", "--window", WINDOW, "--pcap"])
                .arg(capture(pcap))
                .args(["--publish", &format!("mqtts://127.0.0.1:{}", broker.port)])
                .arg("--tls-ca")
                .arg(&ca)
                .args(["--username", &user(site, rig), "--password-file"])
                .arg(&pw)
                .args(["--site", site, "--rig", rig, "--payload", payload])
                .args(["--topic-prefix", PREFIX, "--drain-timeout", "20", "--spool"])
                .arg(d.join(format!("spool-{rig}")))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for rig in rigs {
        let out = rig.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Every summary of both rigs, decoded whatever its format, counted
    // once per (rig, boot, seq).
    let wifi = |site: &str, rig: &str| format!("{PREFIX}/{site}/{rig}/wifi");
    let total: usize = expected.iter().sum();
    let mut dicts = vitrine_publish::consume::Dictionaries::default();
    let mut seen = std::collections::BTreeSet::new();
    let mut per_rig: BTreeMap<String, usize> = BTreeMap::new();
    let mut formats: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    let got = read_until(&collector, Duration::from_secs(60), |got| {
        got.iter().filter(|(t, _)| t.ends_with("/wifi")).count() >= total
    });
    // A moment more for anything that should not be there.
    let later = read_until(&collector, Duration::from_secs(1), |_| false);
    let got: Vec<_> = got.into_iter().chain(later).collect();
    for (topic, payload) in &got {
        assert_ne!(payload.as_slice(), b"forged", "delivered on {topic}");
        if !topic.ends_with("/wifi") {
            continue;
        }
        let e = vitrine_publish::consume::decode(&mut dicts, payload)
            .unwrap()
            .envelope;
        assert_eq!(topic, &wifi(&e.site, &e.rig), "on the rig's own topic");
        formats
            .entry(e.rig.clone())
            .or_default()
            .push(payload.first() == Some(&b'{'));
        if seen.insert((e.rig.clone(), e.boot.clone(), e.seq)) {
            *per_rig.entry(e.rig).or_default() += 1;
        }
    }
    assert_eq!(
        per_rig,
        BTreeMap::from([
            (rig1.to_string(), expected[0]),
            (rig2.to_string(), expected[1])
        ]),
        "every summary of both rigs"
    );
    assert!(
        formats[rig1].iter().all(|json| !json),
        "rig a publishes zstd"
    );
    assert!(
        formats[rig2].iter().all(|json| *json),
        "rig b publishes JSON"
    );
    let topics: std::collections::BTreeSet<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    for (site, rig, ..) in RIGS {
        for leaf in ["wifi", "status", "dict"] {
            assert!(
                topics.contains(format!("{PREFIX}/{site}/{rig}/{leaf}").as_str()),
                "{leaf} of {rig}: {topics:?}"
            );
        }
    }
    assert!(
        got.iter()
            .any(|(t, p)| *t == format!("{PREFIX}/{site1}/{rig1}/probe") && p == b"allowed"),
        "the control publish arrives"
    );

    // Rig 1 received nothing at all: not rig 2's summaries, status or
    // dictionary, not its own.
    for snoop in snoops {
        let heard = read_until(&snoop, Duration::from_millis(500), |_| false);
        assert_eq!(heard, Vec::new(), "a rig reads nothing");
        let mut child = snoop.child;
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut child = collector.child;
    let _ = child.kill();
    let _ = child.wait();

    // The broker says why: each forged publish denied, by user.
    let log = broker.log();
    let denied = log.lines().filter(|l| l.contains("Denied PUBLISH")).count();
    assert_eq!(denied, 2 * forged_topics.len() + 1, "{log}");
}
