//! Scenarios on the rig under test (`cargo xtask hil`; ignored by a plain
//! `cargo test`). They run one at a time, in this order of names.

use std::time::Duration;

use vitrine_hil_tests::{Collector, align_to_window, rig, window_start_s};
use vitrine_sim::{GroundTruth, SimConfig, Simulator, write_pcap};

/// Simulated shoppers for `seconds`, probe requests only (no access points,
/// no data frames: the rig's kernel filter keeps management frames).
fn shoppers(
    seed: u64,
    seconds: u32,
    arrivals_per_hour: f64,
    path: &std::path::Path,
) -> GroundTruth {
    let cfg = SimConfig {
        seed,
        start_unix_s: 1_717_236_000,
        duration_s: seconds,
        arrivals_per_hour,
        mean_dwell_s: 600.0,
        access_points: 0,
        data_frame_rate: 0.0,
    };
    let (frames, truth) = Simulator::new(cfg).run();
    write_pcap(path, &frames).unwrap();
    truth
}

#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn a_packages_install_and_the_daemon_runs_hardened_under_systemd() {
    let rig = rig(); // installs the packages
    assert_eq!(rig.run("systemctl is-enabled vitrined").trim(), "enabled");
    rig.configure(&rig.config(60));
    assert_eq!(rig.run("systemctl is-active vitrined").trim(), "active");
    let pid = rig
        .run("systemctl show -p MainPID --value vitrined")
        .trim()
        .to_string();
    let status = rig.run(&format!("cat /proc/{pid}/status"));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name} in /proc/PID/status"))
            .trim()
            .to_string()
    };
    // CAP_NET_ADMIN (12) and CAP_NET_RAW (13), nothing else.
    assert_eq!(field("CapEff"), "0000000000003000");
    assert_eq!(field("CapBnd"), "0000000000003000");
    assert_eq!(field("NoNewPrivs"), "1");
    assert_eq!(field("Seccomp"), "2", "a system-call filter is in force");
    let user = rig.run(&format!("ps -o user= -p {pid}"));
    assert_eq!(user.trim(), "vitrine");
    let limits = rig.run(&format!("cat /proc/{pid}/limits"));
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(core.split_whitespace().nth(4), Some("0"), "{core}");
    // The unit as loaded by the rig's systemd, not only the file.
    let out = rig.sh("systemd-analyze security --threshold=20 --no-pager vitrined.service");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{}", text.lines().last().unwrap_or_default());
    assert!(
        out.status.success(),
        "exposure above 2.0 on the rig:\n{text}"
    );
}

#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn b_over_the_air_shoppers_are_counted_exactly() {
    let rig = rig();
    let window_s = 120;
    rig.configure(&rig.config(window_s));
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("shoppers.pcap");
    // 110 s of a shop with 240 arrivals an hour, at its own pace.
    let truth = shoppers(11, 110, 240.0, &pcap);
    assert!(
        truth.devices >= 10 && truth.probe_requests >= 100,
        "a meaningful crowd: {truth:?}"
    );
    let collector = Collector::start(rig, "hil-over-the-air", false);
    // All of it inside one window: start 3 to 8 s into it.
    let window = align_to_window(window_s, 3.0, 8.0);
    let sent = rig.inject(&pcap, 1.0);
    assert_eq!(sent, truth.frames, "every simulated frame was transmitted");
    let got = collector.wait_until(
        "the window after the injection",
        Duration::from_secs(300),
        |got| got.iter().any(|e| window_start_s(&e.summary) > window),
    );
    let s = &got
        .iter()
        .find(|e| window_start_s(&e.summary) == window)
        .expect("the window of the injection was published")
        .summary;
    let w = &s.wifi;
    eprintln!(
        "published: probe requests {} distinct MACs {} estimated devices {}; truth: {} {} {}",
        w.frames.probe_req,
        w.devices.distinct_macs,
        w.devices.estimated,
        truth.probe_requests,
        truth.distinct_macs,
        truth.devices
    );
    assert_eq!(w.frames.probe_req, truth.probe_requests);
    assert_eq!(w.frames.total, truth.frames);
    assert_eq!(w.devices.distinct_macs, truth.distinct_macs);
    assert_eq!(w.malformed.values().sum::<u64>(), 0);
    // docs/estimator.md, "Short windows": a lower bound, at least half the
    // devices present.
    let est = w.devices.estimated;
    assert!(
        2 * est >= truth.devices && est <= truth.devices,
        "estimated {est} of {} devices",
        truth.devices
    );
    // Nothing else on the air: the next window heard nothing.
    let next = got
        .iter()
        .find(|e| window_start_s(&e.summary) == window + i64::from(window_s))
        .unwrap();
    assert_eq!(next.summary.wifi.frames.total, 0);
}

#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn c_capture_resumes_after_the_adapter_is_removed_and_returns() {
    let rig = rig();
    let window_s = 10;
    rig.configure(&rig.config(window_s));
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("burst.pcap");
    let truth = shoppers(12, 5, 3600.0, &pcap);
    assert!(truth.frames > 0);
    let collector = Collector::start(rig, "hil-unplug", false);
    let pid = rig.run("systemctl show -p MainPID --value vitrined");

    let heard = |got: &[vitrine_publish::Envelope], after: i64| {
        got.iter()
            .filter(|e| window_start_s(&e.summary) >= after)
            .map(|e| e.summary.wifi.frames.probe_req)
            .sum::<u64>()
    };
    let t0 = vitrine_hil_tests::unix_now() as i64 - 1;
    rig.inject(&pcap, 0.0);
    collector.wait_until("the first burst", Duration::from_secs(60), |g| {
        heard(g, t0 - 10) >= truth.frames
    });

    rig.run(&rig.file.unplug);
    rig.wait_for("the daemon to notice", Duration::from_secs(30), || {
        rig.status_text().starts_with("adapter lost")
    });
    // Windows keep coming while the adapter is away.
    let gone = vitrine_hil_tests::unix_now() as i64;
    collector.wait_until(
        "a window closed while the adapter is away",
        Duration::from_secs(60),
        |g| g.iter().any(|e| window_start_s(&e.summary) > gone),
    );
    rig.run(&rig.file.replug);
    rig.wait_for("capture to resume", Duration::from_secs(60), || {
        rig.status_text().starts_with("capturing on")
    });
    assert_eq!(
        rig.run("systemctl show -p MainPID --value vitrined"),
        pid,
        "the same process, not a restart"
    );

    let t1 = vitrine_hil_tests::unix_now() as i64 - 1;
    let sent = rig.inject(&pcap, 0.0);
    assert_eq!(sent, truth.frames);
    collector.wait_until(
        "the second burst after the adapter returned",
        Duration::from_secs(60),
        |g| heard(g, t1 - i64::from(window_s)) >= truth.frames,
    );
    let log = rig.run("journalctl -u vitrined -o cat --no-pager -n 200");
    assert!(log.contains("the adapter went away"), "the loss is logged");
}

#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn d_a_reboot_keeps_the_spool_and_loses_no_summary() {
    let rig = rig();
    let window_s = 10;
    rig.configure(&rig.config(window_s));
    // A persistent session: the broker queues what is published while this
    // client cannot reach it (the board reboots, broker included).
    let collector = Collector::start(rig, "hil-reboot", true);
    let first = collector.wait_until("a first summary", Duration::from_secs(60), |g| {
        !g.is_empty()
    });
    let boot = first[0].boot.clone();
    rig.run("systemctl stop mosquitto");
    rig.wait_for(
        "summaries to wait in the spool",
        Duration::from_secs(90),
        || {
            rig.run("ls /var/lib/vitrine/spool | grep -c '\\.vsp$' || true")
                .trim()
                .parse::<u32>()
                .unwrap_or(0)
                >= 2
        },
    );
    rig.reboot(Duration::from_secs(600));

    // The previous run's last log line says how many summaries it made.
    let log = rig.run("journalctl -b -1 -u vitrined -o cat --no-pager");
    let stopped: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["fields"]["message"] == "live capture stopped")
        .expect("the daemon stopped cleanly before the reboot");
    let windows = stopped["fields"]["windows"].as_u64().unwrap();
    let got = collector.wait_until(
        "every summary of the run before the reboot",
        Duration::from_secs(180),
        |g| g.iter().filter(|e| e.boot == boot).count() as u64 >= windows,
    );
    let mut seqs: Vec<u64> = got
        .iter()
        .filter(|e| e.boot == boot)
        .map(|e| e.seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..windows).collect::<Vec<_>>(),
        "every summary once, none lost"
    );
    rig.wait_for("the spool to empty", Duration::from_secs(60), || {
        rig.run("ls /var/lib/vitrine/spool | grep -c '\\.vsp$' || true")
            .trim()
            == "0"
    });
}
