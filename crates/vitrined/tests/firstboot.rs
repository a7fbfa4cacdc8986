//! `vitrined firstboot`, the real binary on temporary folders: a good
//! first-boot file is applied and removed, a bad one changes nothing, stays
//! in place and is reported (on stderr, and as a retained `refused` status
//! when its broker answers), and a broker that does not answer does not
//! hold the exit.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use vitrine_config::{EXIT_CONFIG, Overrides, Settings};
use vitrine_testkit::{Broker, hex_lines, make_certificates};

fn firstboot(from: &Path, to: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vitrined"));
    c.arg("firstboot")
        .arg("--from")
        .arg(from)
        .arg("--to")
        .arg(to);
    c
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file of a folder: name, mode, owner and contents.
fn snapshot(dir: &Path) -> BTreeMap<String, (u32, u32, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                (m.mode(), m.uid(), std::fs::read(e.path()).unwrap()),
            )
        })
        .collect()
}

/// The mode a private secret gets: `root:vitrine 0640` where that group
/// exists and the test runs as root, else 0600.
fn private_mode() -> u32 {
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let group = std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("vitrine:"));
    if root && group { 0o640 } else { 0o600 }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_good_file_is_applied_its_secrets_moved_to_private_files_and_it_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_path, _, _) = make_certificates(dir.path(), "pki");
    let ca = std::fs::read_to_string(&ca_path).unwrap();
    let cert = std::fs::read_to_string(dir.path().join("pki/client.pem")).unwrap();
    let key = std::fs::read_to_string(dir.path().join("pki/client.key")).unwrap();
    let from = dir.path().join("boot/vitrine.toml");
    std::fs::create_dir_all(from.parent().unwrap()).unwrap();
    let to = dir.path().join("etc/vitrine");
    std::fs::create_dir_all(&to).unwrap();
    // The packaged file, which the first boot replaces.
    std::fs::write(
        to.join("vitrine.toml"),
        "[capture]\ninterface = \"wlan9\"\n",
    )
    .unwrap();
    std::fs::write(
        &from,
        format!(
            "# Store 42, back office\nsite = \"store-42\"\nrig = \"rig-01\"\n\n\
             [broker]\nurl = \"mqtts://broker.example:8883\"\nusername = \"rig-01\"\n\n\
             [secrets]\nmqtt_password = \"correct horse\"\n\
             tls_ca = \"\"\"\n{ca}\"\"\"\ntls_cert = \"\"\"\n{cert}\"\"\"\ntls_key = \"\"\"\n{key}\"\"\"\n\n\
             [windows]\nlength_s = 120\n\n[capture]\ninterface = \"wlan1\"\n"
        ),
    )
    .unwrap();
    let out = firstboot(&from, &to).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!from.exists(), "the first-boot file holds secrets in clear");

    let password = to.join("mqtt-password");
    assert_eq!(
        std::fs::read_to_string(&password).unwrap(),
        "correct horse\n"
    );
    assert_eq!(mode(&password), private_mode());
    assert_eq!(std::fs::read_to_string(to.join("rig.key")).unwrap(), key);
    assert_eq!(mode(&to.join("rig.key")), private_mode());
    assert_eq!(std::fs::read_to_string(to.join("rig.pem")).unwrap(), cert);
    assert_eq!(mode(&to.join("rig.pem")), 0o644);
    assert_eq!(std::fs::read_to_string(to.join("ca.pem")).unwrap(), ca);
    assert_eq!(mode(&to.join("ca.pem")), 0o644);
    // Nothing staged is left behind.
    let names: Vec<String> = snapshot(&to).into_keys().collect();
    assert_eq!(
        names,
        [
            "ca.pem",
            "mqtt-password",
            "rig.key",
            "rig.pem",
            "vitrine.toml"
        ]
    );

    // The written configuration resolves as the daemon resolves it, its
    // secret files read and their modes checked.
    let config = std::fs::read_to_string(to.join("vitrine.toml")).unwrap();
    assert!(!config.contains("correct horse") && !config.contains("PRIVATE KEY"));
    assert!(config.contains("# Store 42, back office"), "{config}");
    let settings = Settings::load(Some(&to.join("vitrine.toml")), &Overrides::default()).unwrap();
    assert_eq!(settings.window_s, 120);
    assert_eq!(settings.capture.interface.as_deref(), Some("wlan1"));
    let b = settings.broker.expect("a broker");
    assert_eq!((b.site.as_str(), b.rig.as_str()), ("store-42", "rig-01"));
    assert_eq!(b.client.password_file.unwrap().value, password);
    assert_eq!(b.client.ca_file.unwrap().value, to.join("ca.pem"));
    let (c, k) = b.client.client_cert.clone().unwrap();
    assert_eq!((c.value, k.value), (to.join("rig.pem"), to.join("rig.key")));
    let settings = Settings::load(Some(&to.join("vitrine.toml")), &Overrides::default()).unwrap();
    let broker = vitrine_publish::Broker::load(&settings.broker.unwrap().client).unwrap();
    assert_eq!(broker.password.as_deref(), Some("correct horse"));
}

#[test]
fn dotted_keys_and_a_file_without_a_broker_table_are_applied_too() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (dir.path().join("first.toml"), dir.path().join("etc"));
    std::fs::write(
        &from,
        "site = \"s\"\nrig = \"r\"\nbroker.url = \"mqtt://127.0.0.1:1883\"\n\
         broker.username = \"r\"\nsecrets.mqtt_password = \"pw\"\ncapture.interface = \"wlan1\"\n",
    )
    .unwrap();
    let out = firstboot(&from, &to).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let settings = Settings::load(Some(&to.join("vitrine.toml")), &Overrides::default()).unwrap();
    let client = settings.broker.unwrap().client;
    assert_eq!(
        client.password_file.unwrap().value,
        to.join("mqtt-password")
    );

    // A password and no [broker] at all: the table is added, and the rule
    // between keys (a password needs a user name) is the daemon's, at the
    // secret's line.
    std::fs::write(
        &from,
        "[capture]\ninterface = \"wlan1\"\n[secrets]\nmqtt_password = \"pw\"\n",
    )
    .unwrap();
    let to2 = dir.path().join("etc2");
    let out = firstboot(&from, &to2).output().unwrap();
    assert_eq!(out.status.code(), Some(EXIT_CONFIG.into()));
    let expected = format!(
        "{}:4:1: secrets.mqtt_password: a password needs a user name",
        from.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    assert!(!to2.exists());
}

/// A refused file: exit 78, the error as given (`@` for the file's path),
/// the folder as it was, the first-boot file in place.
fn assert_refused(from: &Path, to: &Path, error: &str) -> String {
    let before = snapshot(to);
    let text = std::fs::read(from).unwrap();
    let out = firstboot(from, to).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(EXIT_CONFIG.into()), "{err}");
    assert!(
        err.contains(&format!(
            "configuration error: {}",
            error.replace('@', &from.display().to_string())
        )),
        "{err}"
    );
    assert_eq!(snapshot(to), before, "the configuration folder changed");
    assert_eq!(
        std::fs::read(from).unwrap(),
        text,
        "the first-boot file changed"
    );
    err
}

#[test]
fn a_bad_value_or_an_unknown_key_changes_nothing_and_is_located_as_the_daemon_locates_it() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("etc");
    std::fs::create_dir_all(&to).unwrap();
    std::fs::write(
        to.join("vitrine.toml"),
        "[capture]\ninterface = \"wlan1\"\n",
    )
    .unwrap();
    std::fs::write(to.join("mqtt-password"), "old\n").unwrap();
    std::fs::set_permissions(
        to.join("mqtt-password"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let from = dir.path().join("vitrine.toml");
    let secrets = "[secrets]\nmqtt_password = \"hunter2\"\n\n";
    let rest = "site = \"s\"\nrig = \"r\"\n";
    for (body, located) in [
        ("[windows]\nlength_s = -3\n", "@:9:12: windows.length_s:"),
        (
            "[windows]\nlenght_s = 60\n",
            "@:9:1: lenght_s: unknown field `lenght_s`",
        ),
        ("[windows]\nk = 1\n", "@:9:5: windows.k: must be at least 2"),
    ] {
        // Secrets first, so that a line count off by their table shows.
        let text = format!("{rest}{secrets}[broker]\nusername = \"r\"\n{body}");
        std::fs::write(&from, &text).unwrap();
        let err = assert_refused(&from, &to, located);
        assert!(!err.contains("hunter2"), "{err}");

        // The daemon's words for the same file, its secrets' lines left empty.
        let daemon_file = dir.path().join("daemon.toml");
        std::fs::write(
            &daemon_file,
            text.replace("[secrets]", "")
                .replace("mqtt_password = \"hunter2\"", ""),
        )
        .unwrap();
        let daemon = Command::new(env!("CARGO_BIN_EXE_vitrined"))
            .arg("--config")
            .arg(&daemon_file)
            .args(["replay", "--pcap", "/nonexistent.pcap"])
            .output()
            .unwrap();
        assert_eq!(daemon.status.code(), Some(EXIT_CONFIG.into()));
        let daemon = stderr(&daemon).replace(&daemon_file.display().to_string(), "FILE");
        let ours = err.replace(&from.display().to_string(), "FILE");
        assert!(
            ours.starts_with(daemon.trim_end()),
            "{ours}\nvs the daemon's\n{daemon}"
        );
    }
    // Secrets of its own: a name it does not know, a key that is no key.
    std::fs::write(&from, "[secrets]\nmqtt_pasword = \"x\"\n").unwrap();
    assert_refused(&from, &to, "@:2:1: secrets.mqtt_pasword: unknown secret");
    std::fs::write(&from, "[secrets]\ntls_key = \"not a key\"\n").unwrap();
    assert_refused(
        &from,
        &to,
        "@:2:11: secrets.tls_key: holds no PEM private key",
    );
    std::fs::write(
        &from,
        "[broker]\nusername = \"u\"\npassword_file = \"/p\"\n[secrets]\nmqtt_password = \"x\"\n",
    )
    .unwrap();
    assert_refused(&from, &to, "@:5:1: secrets.mqtt_password: given twice");
    // No adapter: `vitrined live` would not start.
    std::fs::write(&from, "site = \"s\"\n").unwrap();
    assert_refused(&from, &to, "no capture.interface (or --interface)");
}

#[test]
fn a_refusal_is_published_as_the_retained_status_when_the_broker_answers() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let from = dir.path().join("vitrine.toml");
    let to = dir.path().join("etc");
    std::fs::create_dir_all(&to).unwrap();
    std::fs::write(
        &from,
        format!(
            "site = \"store-9\"\nrig = \"rig-b\"\n[broker]\nurl = \"{}\"\n[windows]\nlength_s = -3\n",
            broker.url()
        ),
    )
    .unwrap();
    let err = assert_refused(&from, &to, "@:6:12: windows.length_s:");
    assert!(
        err.contains("the refusal is on vitrine/store-9/rig-b/status"),
        "{err}"
    );
    // Retained: a consumer that comes later still reads it.
    let status = hex_lines(broker.subscribe("vitrine/store-9/rig-b/status", 1)).remove(0);
    let json: serde_json::Value = serde_json::from_slice(&status).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schema/status-v1.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&json), "{json}");
    let status: vitrine_schema::Status = serde_json::from_value(json).unwrap();
    assert_eq!(status.state, vitrine_schema::RigState::Refused);
    let reason = status.reason.unwrap();
    assert!(
        reason.starts_with(&format!("{}:6:12: windows.length_s:", from.display())),
        "{reason}"
    );
}

#[test]
fn a_broker_that_never_answers_does_not_hold_the_exit() {
    let dir = tempfile::tempdir().unwrap();
    // Takes connections (the kernel completes them) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let from = dir.path().join("vitrine.toml");
    let to = dir.path().join("etc");
    std::fs::create_dir_all(&to).unwrap();
    std::fs::write(
        &from,
        format!(
            "site = \"s\"\nrig = \"r\"\n[broker]\nurl = \"mqtt://127.0.0.1:{port}\"\n[windows]\nk = 1\n"
        ),
    )
    .unwrap();
    let mut child = firstboot(&from, &to)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Generous: this only tells a bounded attempt from one without end.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vitrined firstboot still waits for a silent broker");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(EXIT_CONFIG.into()));
    assert!(
        stderr(&out).contains("the broker was not told"),
        "{}",
        stderr(&out)
    );
    assert!(from.exists());
    drop(silent);
}

#[test]
fn a_device_as_the_file_or_a_file_as_the_folder_fails_without_harm() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("etc");
    // Read with the bound of every configuration file.
    let out = firstboot(Path::new("/dev/zero"), &to).output().unwrap();
    assert_eq!(out.status.code(), Some(EXIT_CONFIG.into()));
    assert!(
        stderr(&out).contains("longer than 1 MiB"),
        "{}",
        stderr(&out)
    );
    assert!(!to.exists());
    // A folder that cannot be written is no configuration error, and the
    // first-boot file, not applied, stays.
    let from = dir.path().join("vitrine.toml");
    std::fs::write(&from, "[capture]\ninterface = \"wlan1\"\n").unwrap();
    let not_a_folder = dir.path().join("file");
    std::fs::write(&not_a_folder, "").unwrap();
    let out = firstboot(&from, &not_a_folder).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(from.exists());
}
