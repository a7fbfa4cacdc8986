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
    let settings = rig.configure(&rig.config(120));
    let window_s = settings.window_s;
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("shoppers.pcap");
    // 110 s of a shop with 240 arrivals an hour, at its own pace.
    let truth = shoppers(11, 110, 240.0, &pcap);
    assert!(
        truth.devices >= 10 && truth.probe_requests >= 100,
        "a meaningful crowd: {truth:?}"
    );
    let collector = Collector::start(rig, &settings, "hil-over-the-air", false);
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
    let w = s.wifi.as_ref().unwrap();
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
    assert_eq!(next.summary.wifi.as_ref().unwrap().frames.total, 0);
}

#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn c_capture_resumes_after_the_adapter_is_removed_and_returns() {
    let rig = rig();
    let settings = rig.configure(&rig.config(10));
    let window_s = settings.window_s;
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("burst.pcap");
    let truth = shoppers(12, 5, 3600.0, &pcap);
    assert!(truth.frames > 0);
    let collector = Collector::start(rig, &settings, "hil-unplug", false);
    let pid = rig.run("systemctl show -p MainPID --value vitrined");

    let heard = |got: &[vitrine_publish::Envelope], after: i64| {
        got.iter()
            .filter(|e| window_start_s(&e.summary) >= after)
            .map(|e| e.summary.wifi.as_ref().unwrap().frames.probe_req)
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
    // With the level journald read from the line's <N> prefix: the warning
    // is among the warnings, the routine start is not.
    let pid = pid.trim();
    let warnings = rig.run(&format!(
        "journalctl -p warning _PID={pid} -o cat --no-pager -n 200"
    ));
    assert!(
        warnings.contains("the adapter went away"),
        "journalctl -p warning shows the daemon's warning:\n{warnings}"
    );
    assert!(
        !warnings.contains("capture started"),
        "an info line is not a warning:\n{warnings}"
    );
    let infos = rig.run(&format!(
        "journalctl -p info..info _PID={pid} -o cat --no-pager -n 200"
    ));
    assert!(infos.contains("capture started"), "{infos}");
}

#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn d_a_reboot_keeps_the_spool_and_loses_no_summary() {
    let rig = rig();
    let settings = rig.configure(&rig.config(10));
    // The spool's files, counted on the rig.
    let spooled = format!(
        "ls {} | grep -c '\\.vsp$' || true",
        settings.spool.dir.display()
    );
    // A persistent session: the broker queues what is published while this
    // client cannot reach it (the board reboots, broker included).
    let collector = Collector::start(rig, &settings, "hil-reboot", true);
    let first = collector.wait_until("a first summary", Duration::from_secs(60), |g| {
        !g.is_empty()
    });
    let boot = first[0].boot.clone();
    rig.run("systemctl stop mosquitto");
    rig.wait_for(
        "summaries to wait in the spool",
        Duration::from_secs(90),
        || rig.run(&spooled).trim().parse::<u32>().unwrap_or(0) >= 2,
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
        rig.run(&spooled).trim() == "0"
    });
}

/// The rig's own claim, as the self-audit measures it: the windows' k, and
/// raw identifiers gone from the daemon's memory within a minute.
const RIG_POLICY: &str =
    "[retention]\ndevice_state_s = 60\nkey_epoch_s = 3600\n\n[anonymity]\nk = 2\n";

/// Makes vitrine-audit.timer fire in a few seconds, waits for the audit it
/// starts to end, and returns the unit's result and the newest report
/// (verified on the rig with `vitrine-audit verify-report`).
fn timer_driven_audit(rig: &vitrine_hil_tests::Rig) -> (String, serde_json::Value) {
    let f = &rig.file;
    let defaults = format!(
        "VITRINE_AUDIT_INJECT={}\nVITRINE_AUDIT_CHANNEL={}\nVITRINE_AUDIT_WATCH=75\n",
        f.injector_interface, f.channel
    );
    assert!(
        rig.sh_with_input("cat > /etc/default/vitrine-audit", defaults.as_bytes())
            .status
            .success()
    );
    assert!(
        rig.sh_with_input(
            &format!("cat > {}", vitrine_config::defaults::POLICY_FILE),
            RIG_POLICY.as_bytes()
        )
        .status
        .success()
    );
    assert_eq!(
        rig.run("systemctl is-enabled vitrine-audit.timer").trim(),
        "enabled"
    );
    let before = rig.run("ls /var/lib/vitrine-audit/reports 2>/dev/null | grep -c json || true");
    let runs = rig.run("systemctl show -p NRestarts,InvocationID --value vitrine-audit.service");
    rig.run(
        "mkdir -p /etc/systemd/system/vitrine-audit.timer.d && \
         printf '[Timer]\\nOnActiveSec=3s\\nRandomizedDelaySec=0\\n' > /etc/systemd/system/vitrine-audit.timer.d/soon.conf && \
         systemctl daemon-reload && systemctl restart vitrine-audit.timer",
    );
    rig.wait_for(
        "the timer to start the audit",
        Duration::from_secs(60),
        || {
            rig.run("systemctl show -p InvocationID --value vitrine-audit.service") != runs
                || rig.run("systemctl is-active vitrine-audit.service").trim() == "activating"
        },
    );
    rig.wait_for("the audit to end", Duration::from_secs(600), || {
        let active = rig.run("systemctl is-active vitrine-audit.service || true");
        let reports =
            rig.run("ls /var/lib/vitrine-audit/reports 2>/dev/null | grep -c json || true");
        active.trim() != "activating" && reports != before
    });
    rig.run("rm -rf /etc/systemd/system/vitrine-audit.timer.d && systemctl daemon-reload");
    let result = rig
        .run("systemctl show -p Result --value vitrine-audit.service")
        .trim()
        .to_string();
    let newest = rig
        .run("ls -t /var/lib/vitrine-audit/reports/*.json | head -1")
        .trim()
        .to_string();
    let verified = rig.run(&format!("vitrine-audit verify-report {newest}"));
    assert!(verified.contains("signature valid"), "{verified}");
    let signed: serde_json::Value =
        serde_json::from_str(&rig.run(&format!("cat {newest}"))).unwrap();
    let log = rig.run("journalctl -u vitrine-audit -o cat --no-pager -n 40");
    eprintln!("{log}");
    (result, signed["report"].clone())
}

fn findings_of(report: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["findings"].as_array().unwrap().iter().map(|f| {
                (
                    f["check"].as_str().unwrap().to_string(),
                    f["evidence"].clone(),
                )
            })
        })
        .collect()
}

/// A timer-driven audit of a compliant rig: no finding, a signed pass (every
/// check ran), and the unit ended in success.
fn assert_compliant_pass(result: &str, report: &serde_json::Value) {
    assert_eq!(
        findings_of(report),
        vec![],
        "a compliant rig has no finding"
    );
    assert_eq!(report["verdict"], "pass", "every check ran: {report}");
    assert_eq!(result, "success");
}

#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn e_self_audit_by_the_timer_passes_on_the_compliant_rig() {
    let rig = rig();
    rig.configure(&rig.config(30));
    let (result, report) = timer_driven_audit(rig);
    assert_compliant_pass(&result, &report);
    // The canaries of this run went out over the air and were counted.
    let emitted = report["canaries"].as_array().unwrap();
    assert!(
        emitted
            .iter()
            .filter(|c| !c["emitted"].as_array().unwrap().is_empty())
            .count()
            >= 5
    );
    let windows = report["windows"].as_array().unwrap();
    assert!(windows.len() >= 2, "the stream was watched: {windows:?}");
    assert!(
        windows
            .iter()
            .any(|w| w["distinct_macs"].as_u64().unwrap() >= 4),
        "the canaries were heard: {windows:?}"
    );
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "storage.canary",
        "journal.canary",
        "memory.canary",
        "stream.canary",
        "stream.k_anonymity",
        "hardening.core_dumps",
        "hardening.sandbox",
        "keys.swap",
    ] {
        assert!(ids.contains(&id), "{id} ran");
    }
}

#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn f_self_audit_fails_when_a_leaky_vendor_runs_beside_the_rig() {
    let rig = rig();
    rig.configure(&rig.config(30));
    // A vendor tracker on the same radio, logging every transmitter it hears
    // (the rig's monitor interface is vmon<N> for wlan<N>), and the camera
    // frames it leaves behind.
    let monitor = format!("vmon{}", rig.file.rig_interface.trim_start_matches("wlan"));
    rig.run(&format!(
        "mkdir -p /var/log/vendor /var/tmp/vendor-frames && \
         (setsid tcpdump -i {monitor} -e -l -n 'type mgt subtype probe-req' > /var/log/vendor/tracker.log 2>/dev/null &) && sleep 1"
    ));
    let jpeg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(jpeg.path(), vitrine_hil_tests::fixtures::JPEG).unwrap();
    rig.put(jpeg.path(), "/var/tmp/vendor-frames/frame-00000.jpg");
    let (result, report) = timer_driven_audit(rig);
    rig.run("pkill tcpdump; rm -rf /var/log/vendor /var/tmp/vendor-frames");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(result, "exit-code", "a finding leaves the unit failed");
    let found = findings_of(&report);
    let logged: Vec<&serde_json::Value> = found
        .iter()
        .filter(|(check, e)| {
            check == "storage.canary" && e["path"] == "/var/log/vendor/tracker.log"
        })
        .map(|(_, e)| e)
        .collect();
    // tcpdump prints transmitters in lower case with colons, and the
    // network names probed for.
    assert!(
        logged
            .iter()
            .all(|e| e["encoding"] == "clear(colon-lower)" || e["encoding"] == "ssid-clear"),
        "{logged:?}"
    );
    let macs: std::collections::BTreeSet<&str> = logged
        .iter()
        .filter(|e| e["encoding"] == "clear(colon-lower)")
        .map(|e| e["canary"].as_str().unwrap())
        .collect();
    assert_eq!(
        macs.len(),
        4,
        "every MAC canary of the run is caught in the log: {macs:?}"
    );
    let run_canaries: Vec<&str> = report["canaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        logged
            .iter()
            .all(|e| run_canaries.contains(&e["canary"].as_str().unwrap()))
    );
    assert!(found.iter().any(|(check, e)| check == "storage.media"
        && e["path"] == "/var/tmp/vendor-frames/frame-00000.jpg"));
    // Nothing else: the rig itself stays compliant.
    assert!(
        found
            .iter()
            .all(|(c, _)| c == "storage.canary" || c == "storage.media"),
        "{found:?}"
    );
}

#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn g_an_unconfined_vendor_service_and_plain_swap_fail_through_systemd_and_proc() {
    let rig = rig();
    // A vendor daemon run as a plain service (none of the sandbox
    // properties), and an unencrypted swap file: what systemctl show and
    // /proc/swaps must reveal on a real system.
    rig.run(
        "rm -rf /tmp/g && mkdir -p /tmp/g/empty && \
         cp /bin/sleep /usr/local/bin/vendord && \
         systemd-run --unit=vendord --quiet /usr/local/bin/vendord 600 && \
         fallocate -l 32M /swapfile && chmod 600 /swapfile && mkswap /swapfile >/dev/null && \
         swapon /swapfile && vitrine-audit canaries --out /tmp/g/canaries.json >/dev/null",
    );
    let scan = |label: &str| -> serde_json::Value {
        let out = rig.sh(
            "vitrine-audit scan /tmp/g/empty --registry /tmp/g/canaries.json --process vendord \
             --out /tmp/g/reports --key /tmp/g/key --json",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let signed: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{label}: {e}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(
            out.status.code(),
            Some(1),
            "{label}: a finding exits 1: {}",
            signed["report"]["verdict"]
        );
        signed["report"].clone()
    };
    let report = scan("vendor service with swap on");
    let swaps = rig.run("cat /proc/swaps");
    rig.run("swapoff /swapfile && rm -f /swapfile");
    let without_swap = scan("vendor service, swap off");
    rig.run("systemctl stop vendord; rm -rf /usr/local/bin/vendord /tmp/g");
    assert!(swaps.contains("/swapfile"), "{swaps}");

    let found = findings_of(&report);
    let sandbox: Vec<&serde_json::Value> = found
        .iter()
        .filter(|(c, _)| c == "hardening.sandbox")
        .map(|(_, e)| e)
        .collect();
    // Every property the check asks for is unset on a plain service.
    assert_eq!(sandbox.len(), 10, "{found:?}");
    assert!(sandbox.iter().all(|e| e["process"] == "vendord"));
    assert!(
        sandbox
            .iter()
            .any(|e| e["detail"] == "ProtectSystem=no" || e["detail"] == "ProtectSystem="),
        "{sandbox:?}"
    );
    let summaries: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == "hardening.sandbox")
        .flat_map(|c| c["findings"].as_array().unwrap())
        .map(|f| f["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries
            .iter()
            .all(|s| s.starts_with("vendord.service does not set")),
        "{summaries:?}"
    );
    let swap: Vec<&serde_json::Value> = found
        .iter()
        .filter(|(c, _)| c == "keys.swap")
        .map(|(_, e)| e)
        .collect();
    assert_eq!(swap.len(), 1, "{found:?}");
    assert_eq!(swap[0]["path"], "/swapfile");
    assert_eq!(swap[0]["detail"], "swap file, no dm-crypt");
    // With the swap file gone, the same check passes on the same system.
    let swap_check = without_swap["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "keys.swap")
        .expect("keys.swap ran")
        .clone();
    assert_eq!(swap_check["status"], "passed", "{swap_check}");
}

/// An admin's `systemctl disable` outlives an upgrade, as with Debian's own
/// packages: the postinst enables units on first install only
/// (deb-systemd-helper), and the upgrade restarts only what runs.
#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn h_an_upgrade_keeps_a_daemon_and_a_timer_the_admin_disabled_disabled() {
    let rig = rig();
    rig.configure(&rig.config(60)); // running, as an admin finds it
    let version = rig.run("dpkg-query -W -f '${Version}' vitrined");
    // The installed packages, rebuilt on the rig with the next Debian
    // revision: a real upgrade through dpkg's maintainer scripts. Copied
    // again, as a reboot (scenario d) empties the rig's /tmp.
    let debs = std::env::var_os("VITRINE_DEBS").expect("VITRINE_DEBS names the packages");
    rig.run("rm -rf /tmp/upgrade && mkdir -p /tmp/upgrade/installed");
    for deb in std::env::split_paths(&debs) {
        let name = deb.file_name().unwrap().to_string_lossy().into_owned();
        rig.put(&deb, &format!("/tmp/upgrade/installed/{name}"));
    }
    let next = format!("{}.1", version.trim());
    rig.run(&format!(
        "set -e; cd /tmp/upgrade
         for p in vitrined vitrine-audit; do
           deb=$(ls installed/${{p}}_*.deb)
           dpkg-deb -R \"$deb\" $p
           sed -i 's/^Version: .*/Version: {next}/' $p/DEBIAN/control
           dpkg-deb -b $p ${{p}}_next.deb >/dev/null
         done"
    ));
    rig.run("systemctl disable --now vitrined vitrine-audit.timer");
    rig.run(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y /tmp/upgrade/vitrined_next.deb /tmp/upgrade/vitrine-audit_next.deb",
    );
    assert_eq!(
        rig.run("dpkg-query -W -f '${Version}' vitrined").trim(),
        next,
        "the upgrade was installed"
    );
    let state = |unit: &str| {
        let out = rig.sh(&format!("systemctl is-enabled {unit}"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(state("vitrined"), "disabled", "the daemon stays disabled");
    assert_eq!(
        state("vitrine-audit.timer"),
        "disabled",
        "the timer stays disabled"
    );
    let active = rig.sh("systemctl is-active vitrined");
    assert_eq!(
        String::from_utf8_lossy(&active.stdout).trim(),
        "inactive",
        "the upgrade did not start a daemon the admin stopped"
    );

    // Enabled again, an upgrade restarts the running daemon and keeps it enabled.
    rig.run("systemctl enable --now vitrined vitrine-audit.timer");
    let pid = rig.run("systemctl show -p MainPID --value vitrined");
    rig.run(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall /tmp/upgrade/vitrined_next.deb",
    );
    assert_eq!(state("vitrined"), "enabled");
    assert_eq!(rig.run("systemctl is-active vitrined").trim(), "active");
    assert_ne!(
        rig.run("systemctl show -p MainPID --value vitrined"),
        pid,
        "the upgrade restarted the daemon on the new binary"
    );
}

/// The rig side of the camera scenario: vivid's output set up and fed.
const VIVID_LOOP: &str = include_str!("../rig/vivid-loop.sh");

/// Where the scene and the feeder live on the rig (a disk, not /tmp, which
/// a reboot empties and which can be small).
const SCENE_DIR: &str = "/var/tmp/vitrine-scene";

/// The test-only kill switch and the feeder's flags: outside the unit's
/// private /tmp, readable by the daemon.
const TEST_RUN_DIR: &str = "/run/vitrine-test";

/// The feeder and the files stop and go however the scenario ends.
struct Feeder<'a>(&'a vitrine_hil_tests::Rig);

impl Drop for Feeder<'_> {
    fn drop(&mut self) {
        let _ = self.0.sh(&format!(
            "[ -f {TEST_RUN_DIR}/feed.pid ] && kill -- -$(cat {TEST_RUN_DIR}/feed.pid); \
             rm -rf {SCENE_DIR} {TEST_RUN_DIR}"
        ));
    }
}

/// The camera on the rig end to end: the dense benchmark scene (640x480,
/// 10 frames/s, its truth known) is written into vivid's video output,
/// which vivid loops into the capture device the daemon reads under
/// systemd; the crossings it publishes on the camera topic are those of the
/// scene within 5 % each way. The recording indicator is a real line of the
/// rig's GPIO chip (the PL061 on the emulated board), high while capturing.
/// The kill switch is the test-only file source (`[gpio]
/// test_only_kill_switch_file`: nothing can drive a PL061 input), through
/// the same switch trait as a line: engaged, the status says so with both
/// sensors stopped, the line goes low and no frame is counted; released,
/// capture resumes.
#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn i_the_camera_counts_a_scene_looped_into_vivid_and_the_kill_switch_stops_it() {
    use std::io::Write;
    use vitrine_hil_tests::{StatusWatcher, unix_now};
    use vitrine_schema::{SensorState, SwitchState};
    use vitrine_sim::scene::{Scene, SceneConfig};

    let rig = rig();
    let f = &rig.file;
    let (Some(camera), Some(output), Some(chip), Some(line)) = (
        f.camera.clone(),
        f.camera_loop.clone(),
        f.gpio_chip.clone(),
        f.indicator_line,
    ) else {
        eprintln!("skipped: the rig file names no camera_loop, gpio_chip or indicator_line");
        return;
    };

    // 90 s of the dense scene with groups and light changes, and its truth.
    let scene = Scene::new(SceneConfig::benchmark(900)).unwrap();
    let (w, h) = (scene.width(), scene.height());
    let truths = scene.truths();
    let truth_in: u32 = truths.iter().map(|t| t.inward).sum();
    let truth_out: u32 = truths.iter().map(|t| t.outward).sum();
    // The lead-in shown before and after the scene: its first 2 s, nobody
    // in them.
    let leadin = 2 * scene.config().fps as usize;
    assert!(
        truths[..leadin]
            .iter()
            .all(|t| t.occupancy == 0 && t.inward == 0 && t.outward == 0),
        "the scene starts empty"
    );
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("scene.grey.zst");
    {
        let mut out = zstd::Encoder::new(std::fs::File::create(&clip).unwrap(), 3).unwrap();
        let mut luma = vec![0u8; (w * h) as usize];
        for frame in 0..scene.frames() {
            scene.render(frame, &mut luma);
            out.write_all(&luma).unwrap();
        }
        out.finish().unwrap();
    }

    // vivid is set up while nothing streams from it.
    let _feeder = Feeder(rig);
    rig.run(&format!(
        "systemctl stop vitrined; rm -rf {SCENE_DIR} {TEST_RUN_DIR} && mkdir -p {SCENE_DIR} {TEST_RUN_DIR} && \
         chmod 755 {TEST_RUN_DIR} && echo 0 > {TEST_RUN_DIR}/kill-switch && chmod 644 {TEST_RUN_DIR}/kill-switch"
    ));
    let script = format!("{SCENE_DIR}/vivid-loop.sh");
    assert!(
        rig.sh_with_input(&format!("cat > {script}"), VIVID_LOOP.as_bytes())
            .status
            .success()
    );
    rig.put(&clip, &format!("{SCENE_DIR}/scene.grey.zst"));
    let rate: f64 = rig
        .run(&format!("sh {script} setup {camera} {output} {w} {h}"))
        .trim()
        .parse()
        .expect("the setup prints the capture's frames per second");
    // Each scene frame shown for a tenth of a second at vivid's rate.
    let repeat = (rate / f64::from(scene.config().fps)).round().max(1.0) as u32;
    rig.run(&format!(
        "cd {TEST_RUN_DIR} && setsid sh {script} feed {output} {w} {h} {repeat} {leadin} \
         {SCENE_DIR}/scene.grey.zst {TEST_RUN_DIR} </dev/null >/dev/null 2>&1 & echo $! > {TEST_RUN_DIR}/feed.pid"
    ));

    let c = scene.config();
    let point = |p: (f32, f32)| format!("[{}, {}]", p.0, p.1);
    let region: Vec<String> = c.region.iter().map(|&p| point(p)).collect();
    let toml = format!(
        "{}\n[camera]\ndevice = \"{camera}\"\nwidth = {w}\nheight = {h}\nfps = {}\n\
         line = [{}, {}]\ninside = {}\nregion = [{}]\n\n\
         [gpio]\nchip = \"{chip}\"\nindicator = {line}\n\
         test_only_kill_switch_file = \"{TEST_RUN_DIR}/kill-switch\"\n",
        rig.config(15),
        // The rate of distinct frames: vivid shows each scene frame
        // `repeat` times and the analytics passes over the repeats.
        c.fps,
        point(c.line.0),
        point(c.line.1),
        point(c.inside),
        region.join(", ")
    );
    let settings = rig.configure(&toml);
    let status = StatusWatcher::start(rig, &settings, "hil-camera-status");
    let collector = Collector::start_sensor(rig, &settings, "camera", "hil-camera", false);
    let capturing = status.wait_until(
        "the camera to capture with the lamp lit",
        Duration::from_secs(60),
        |s| {
            s.sensors.as_ref().is_some_and(|x| {
                x.camera
                    .as_ref()
                    .is_some_and(|c| c.state == SensorState::Capturing)
                    && x.indicator == Some(true)
                    && x.kill_switch == Some(SwitchState::Released)
            })
        },
    );
    let boot = capturing.boot.clone();
    assert_eq!(
        rig.gpio_level(&chip, line),
        Some(true),
        "the indicator's line is driven high while capturing"
    );
    // The background learns the empty floor for a while, then the scene.
    std::thread::sleep(Duration::from_secs(10));
    rig.run(&format!("touch {TEST_RUN_DIR}/play"));
    let started = std::time::Instant::now();
    rig.wait_for("the scene to be shown", Duration::from_secs(900), || {
        rig.sh(&format!("test -e {TEST_RUN_DIR}/played"))
            .status
            .success()
    });
    eprintln!(
        "scene of {} frames shown in {:.0} s at {rate} frames/s (each {repeat} times)",
        scene.frames(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(rig.gpio_level(&chip, line), Some(true));
    // Every window holding a scene frame is published.
    let played = unix_now() as i64 + 1;
    let got = collector.wait_until(
        "the camera window after the scene",
        Duration::from_secs(120),
        |g| {
            g.iter()
                .any(|e| e.boot == boot && window_start_s(&e.summary) > played)
        },
    );
    let cams: Vec<&vitrine_schema::CameraSummary> = got
        .iter()
        .filter(|e| e.boot == boot)
        .filter_map(|e| e.summary.camera.as_ref())
        .collect();
    let inward: u64 = cams.iter().map(|c| c.crossings.inward).sum();
    let outward: u64 = cams.iter().map(|c| c.crossings.outward).sum();
    let frames: u64 = cams.iter().map(|c| c.frames).sum();
    let lost: u64 = cams.iter().map(|c| c.lost_frames).sum();
    let health: Vec<&str> = cams.iter().map(|c| c.health.state.as_str()).collect();
    eprintln!(
        "camera: crossings in {inward} out {outward} (truth {truth_in} {truth_out}), \
         {frames} frames, {lost} lost, health {health:?}"
    );
    let within =
        |got: u64, truth: u32| (got as f64 - f64::from(truth)).abs() <= 0.05 * f64::from(truth);
    assert!(
        within(inward, truth_in) && within(outward, truth_out),
        "crossings within 5 % each way: in {inward} of {truth_in}, out {outward} of {truth_out}"
    );

    // The kill switch, engaged.
    let engaged_at = unix_now() as i64 + 1;
    rig.run(&format!("echo 1 > {TEST_RUN_DIR}/kill-switch"));
    let stopped = status.wait_until(
        "the status to say the kill switch stopped both sensors",
        Duration::from_secs(30),
        |s| {
            s.sensors.as_ref().is_some_and(|x| {
                x.kill_switch == Some(SwitchState::Engaged)
                    && x.wifi == Some(SensorState::Stopped)
                    && x.camera
                        .as_ref()
                        .is_some_and(|c| c.state == SensorState::Stopped)
                    && x.indicator == Some(false)
            })
        },
    );
    eprintln!("engaged: {:?}", stopped.sensors);
    assert_eq!(
        rig.gpio_level(&chip, line),
        Some(false),
        "the indicator's line is driven low while the switch is engaged"
    );
    let window_s = i64::from(settings.window_s);
    let got = collector.wait_until(
        "a camera window wholly after the switch engaged",
        Duration::from_secs(120),
        |g| {
            g.iter()
                .any(|e| e.boot == boot && window_start_s(&e.summary) > engaged_at)
        },
    );
    let after: Vec<u64> = got
        .iter()
        .filter(|e| e.boot == boot && window_start_s(&e.summary) > engaged_at)
        .map(|e| e.summary.camera.as_ref().map_or(0, |c| c.frames))
        .collect();
    assert!(
        after.iter().all(|&n| n == 0),
        "no frame is counted while the switch is engaged: {after:?}"
    );

    // Released: capture resumes, the lamp is lit again.
    let released_at = unix_now() as i64 + 1;
    rig.run(&format!("echo 0 > {TEST_RUN_DIR}/kill-switch"));
    status.wait_until(
        "the camera to capture again after the switch is released",
        Duration::from_secs(60),
        |s| {
            s.sensors.as_ref().is_some_and(|x| {
                x.kill_switch == Some(SwitchState::Released)
                    && x.camera
                        .as_ref()
                        .is_some_and(|c| c.state == SensorState::Capturing)
                    && x.indicator == Some(true)
            })
        },
    );
    assert_eq!(rig.gpio_level(&chip, line), Some(true));
    collector.wait_until(
        "a camera window with frames after the release",
        Duration::from_secs(60 + 2 * window_s as u64),
        |g| {
            g.iter().any(|e| {
                e.boot == boot
                    && window_start_s(&e.summary) >= released_at - window_s
                    && window_start_s(&e.summary) + window_s > released_at
                    && e.summary.camera.as_ref().is_some_and(|c| c.frames > 0)
            })
        },
    );
}

/// The compliant rig publishing plain JSON under a fleet's prefix
/// (`broker.payload`, `broker.topic_prefix`): the timer's self-audit,
/// which reads both from the rig's configuration, passes with every check
/// run, memory and confinement included (which the host's test of the same
/// layouts cannot run: crates/audit/tests/topic_layouts.rs).
#[test]
#[ignore = "needs a rig: cargo xtask hil"]
fn j_self_audit_passes_with_plain_json_payloads_under_a_fleet_prefix() {
    let rig = rig();
    let config = rig.config(30).replace(
        "[broker]\n",
        "[broker]\npayload = \"json\"\ntopic_prefix = \"fleet/eu\"\n",
    );
    let settings = rig.configure(&config);
    let broker = settings.broker.expect("the rig publishes");
    assert_eq!(broker.topic_prefix, "fleet/eu");
    assert_eq!(broker.payload, vitrine_config::PayloadFormat::Json);
    let (result, report) = timer_driven_audit(rig);
    // Restore the default layout for whatever runs next on this rig.
    rig.configure(&rig.config(30));
    assert_compliant_pass(&result, &report);
    let windows = report["windows"].as_array().unwrap();
    assert!(
        windows.len() >= 2,
        "the stream was heard under fleet/eu: {windows:?}"
    );
    for id in ["memory.canary", "stream.canary", "hardening.sandbox"] {
        assert!(
            report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == id),
            "{id} ran"
        );
    }
}
