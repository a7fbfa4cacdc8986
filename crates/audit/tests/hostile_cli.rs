//! Hostile command lines: every option of every subcommand of
//! `vitrine-audit` given values meant to break it (NaN, infinities, zero,
//! negative, tiny and huge numbers, empty strings, `/dev/zero` as a file).
//! None may panic or run away: each run ends by itself within a bound, or,
//! for what waits by design (`tail` for its broker, `reverse` searching),
//! on SIGTERM. The cases once fatal are checked for their exact refusal.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vitrine_testkit::hostile::{Case, Program, Run, case, matrix};

fn run_all(cases: &[Case]) -> Vec<Run> {
    Program {
        path: env!("CARGO_BIN_EXE_vitrine-audit").into(),
        env: vec![
            // The self-audit's state (registry, reports, key) stays here.
            ("STATE_DIRECTORY", "{cwd}/state"),
        ],
        parallel: 6,
    }
    .run_all(cases)
}

/// The files the subcommands are given when the option under test is not
/// theirs: a one-vendor OUI registry, a canary registry, a report that is
/// not one, a rig configuration, a tree to scan.
struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_owned();
        std::fs::write(
            d.join("oui.csv"),
            "Registry,Assignment,Organization Name,Organization Address\n\
             MA-L,001B63,Apple Inc.,Cupertino CA US\n",
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"))
            .args(["canaries", "--oui-file"])
            .arg(d.join("oui.csv"))
            .arg("--out")
            .arg(d.join("registry.json"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(d.join("report.json"), "{\"not\": \"a report\"}\n").unwrap();
        std::fs::write(
            d.join("vitrine.toml"),
            "site = \"s\"\nrig = \"r\"\n\n[broker]\nurl = \"mqtt://127.0.0.1:1\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.join("tree")).unwrap();
        std::fs::write(d.join("tree/notes.txt"), "nothing to see\n").unwrap();
        Fixture { _dir: dir, dir: d }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }
}

/// SHA-256 of the first MAC of the fixture's OUI (raw bytes): found at once.
const DIGEST: &str = "sha256:ccd968108532b74ed2c467c72901a8661c04f176256b0ac75967e5bedf53f54e";

fn small_capture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/captures/phones/S21Ultra-M_anonymized.pcap")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_subcommand_survives_hostile_values_of_every_option() {
    let f = Fixture::new();
    let (oui, registry, report, config, tree) = (
        f.path("oui.csv"),
        f.path("registry.json"),
        f.path("report.json"),
        f.path("vitrine.toml"),
        f.path("tree"),
    );
    let key = f.path("key/report-key");
    let out = f.path("out");
    let pcap = small_capture();
    let mut cases = Vec::new();
    cases.extend(matrix(
        &["canaries", "--oui-file", &oui, "--out", &f.path("c.json")],
        &["--macs", "--ssids", "--top", "--oui-file", "--out"],
    ));
    cases.extend(matrix(
        &["emit", "--registry", &registry, "--interface", "hostile0"],
        &[
            "--registry",
            "--interface",
            "--monitor",
            "--channel",
            "--rounds",
        ],
    ));
    cases.extend(matrix(&["verify-report", &report], &["--public-key"]));
    cases.extend(matrix(&["verify-report"], &["--"]));
    cases.extend(matrix(
        &["report", &report, "--html", &f.path("r.html")],
        &["--html"],
    ));
    cases.extend(matrix(&["report", "--html", &f.path("r.html")], &["--"]));
    cases.extend(matrix(
        &["inject", "--interface", "hostile0", "--pcap", &pcap],
        &["--interface", "--monitor", "--channel", "--pcap", "--speed"],
    ));
    let audit = ["--key", key.as_str(), "--out", out.as_str()];
    fn joined<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
        [a, b].concat()
    }
    let report_options = ["--policy", "--out", "--key", "--subject"];
    cases.extend(matrix(
        &joined(
            &[
                "mqtt",
                "--broker",
                "mqtt://127.0.0.1:1",
                "--registry",
                &registry,
                "--duration",
                "1",
            ],
            &audit,
        ),
        &[
            &[
                "--broker",
                "--topic",
                "--topic-prefix",
                "--registry",
                "--duration",
                "--rotation-at",
                "--expect",
            ][..],
            &report_options,
        ]
        .concat(),
    ));
    cases.extend(matrix(
        &joined(&["scan", &tree, "--registry", &registry], &audit),
        &[
            &["--registry", "--data-root", "--journal-dir", "--process"][..],
            &report_options,
        ]
        .concat(),
    ));
    cases.extend(matrix(
        &joined(&["scan", "--registry", &registry], &audit),
        &["--"],
    ));
    cases.extend(matrix(
        &joined(
            &["self", "--config", &config, "--watch", "1", "--root", &tree],
            &audit,
        ),
        // The report's options are the same code in every audit: tried
        // above, where a run is quicker than the self-audit's.
        &[
            "--config",
            "--inject-interface",
            "--channel",
            "--canaries",
            "--watch",
            "--root",
            "--process",
        ],
    ));
    let mut searches = matrix(
        &["reverse", "--oui-file", &oui, "--inputs", "raw", DIGEST],
        &["--file", "--oui-file", "--top", "--inputs", "--threads"],
    );
    searches.extend(matrix(
        &["reverse", "--oui-file", &oui, "--top", "1"],
        &["--"],
    ));
    let mut waits = matrix(
        &["tail", "--broker", "mqtt://127.0.0.1:1", "--count", "1"],
        &[
            "--broker",
            "--tls-ca",
            "--tls-cert",
            "--tls-key",
            "--username",
            "--password-file",
            "--topic",
            "--topic-prefix",
            "--format",
            "--count",
        ],
    );
    let db = f.path("fleet.db");
    waits.extend(matrix(
        &[
            "collect",
            "--broker",
            "mqtt://127.0.0.1:1",
            "--client-id",
            "c1",
            "--db",
            &db,
        ],
        &[
            "--broker",
            "--topic-prefix",
            "--group",
            "--client-id",
            "--db",
            "--metrics",
            "--retention-days",
        ],
    ));
    for c in searches.iter_mut().chain(waits.iter_mut()) {
        c.stop_after = Some(Duration::from_secs(2));
    }
    cases.extend(searches);
    cases.extend(waits);
    run_all(&cases);
}

/// One run, checked for its exit status and a line of its stderr.
fn refused(args: &[&str], code: i32, message: &str) {
    let r = run_all(&[case(args)]).remove(0);
    assert_eq!(r.code, Some(code), "{args:?}: {}", r.stderr);
    assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
}

#[test]
fn the_values_once_fatal_are_refused() {
    let f = Fixture::new();
    let oui = f.path("oui.csv");
    let out = f.path("c.json");
    refused(
        &["canaries", "--top", "0", "--oui-file", &oui, "--out", &out],
        2,
        "0 is not in 1..=18446744073709551615",
    );
    refused(
        &["canaries", "--oui-file", "/dev/zero", "--out", &out],
        2,
        "OUI registry /dev/zero is not a regular file",
    );
    refused(
        &[
            "canaries",
            "--macs",
            "0",
            "--ssids",
            "0",
            "--oui-file",
            &oui,
            "--out",
            &out,
        ],
        2,
        "a registry needs at least one canary",
    );
    refused(
        &["tail", "--broker", "mqtt://127.0.0.1:1", "--count", "0"],
        2,
        "0 is not in 1..18446744073709551615",
    );
    refused(&["tail", "--broker", "mqtt://"], 2, "no host name");
    refused(
        &[
            "inject",
            "--interface",
            "wlan2",
            "--pcap",
            "x.pcap",
            "--speed",
            "1e-300",
        ],
        2,
        "must be a number from 0.001 to 1000000, or 0 for as fast as possible",
    );
    refused(
        &[
            "inject",
            "--interface",
            "wlan2",
            "--pcap",
            "x.pcap",
            "--channel",
            "15",
        ],
        2,
        "channel 15 is not a 2.4 or 5 GHz Wi-Fi channel",
    );
    refused(
        &[
            "mqtt",
            "--broker",
            "mqtt://127.0.0.1:1",
            "--registry",
            "r.json",
            "--duration",
            "18446744073709551615",
        ],
        2,
        "--duration",
    );
    refused(
        &["self", "--config", "/dev/zero"],
        2,
        "configuration /dev/zero is longer than 1 MiB",
    );
    refused(
        &["verify-report", "/dev/zero"],
        2,
        "report /dev/zero is not a regular file",
    );
}
