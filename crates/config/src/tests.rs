use super::*;

const GOOD: &str = r#"
site = "store-0042"
rig = "rig-01"

[broker]
url = "mqtt://broker.example:1883"

[windows]
length_s = 300
k = 5
presence_rssi_dbm = -80

[privacy]
epoch_hours = 24

[spool]
dir = "/var/lib/vitrine/spool"
retention_days = 7

[capture]
interface = "wlan1"
channels = "1,6,11"
"#;

fn error(text: &str) -> (usize, usize, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vitrine.toml");
    std::fs::write(&path, text).unwrap();
    match Settings::load(Some(&path), &Overrides::default()).unwrap_err() {
        ConfigError::Invalid {
            line,
            column,
            key,
            message,
            path: p,
        } => {
            assert_eq!(p, path);
            (line, column, key, message)
        }
        other => panic!("{other}"),
    }
}

/// Resolves `text` as a configuration file with `overrides`.
fn resolve(text: &str, overrides: &Overrides) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vitrine.toml");
    std::fs::write(&path, text).unwrap();
    Settings::load(Some(&path), overrides)
}

fn option_error(overrides: &Overrides) -> (String, String, String) {
    match Settings::load(None, overrides).unwrap_err() {
        ConfigError::Option {
            option,
            value,
            message,
        } => (option.to_string(), value, message),
        other => panic!("{other}"),
    }
}

#[test]
fn a_good_file_parses() {
    let c = RigConfig::parse(GOOD).unwrap();
    assert_eq!(c.site.unwrap().into_inner(), "store-0042");
    assert_eq!(c.windows.length_s.unwrap().into_inner(), 300);
    assert_eq!(c.spool.retention_days.unwrap().into_inner(), 7);
    assert!(c.privacy.max_devices.is_none());
}

#[test]
fn an_out_of_range_value_names_its_line_and_key() {
    let text = GOOD.replace("k = 5", "k = 1");
    let (line, column, key, message) = error(&text);
    assert_eq!((line, column, key.as_str()), (10, 5, "windows.k"));
    assert!(message.contains("at least 2"), "{message}");
}

#[test]
fn an_unknown_key_is_an_error_not_a_silent_default() {
    let text = GOOD.replace("retention_days = 7", "retention_dayz = 7");
    let (line, _, key, message) = error(&text);
    assert_eq!((line, key.as_str()), (18, "retention_dayz"), "{message}");
}

#[test]
fn a_wrong_type_and_a_syntax_error_are_located() {
    let (line, _, key, _) = error(&GOOD.replace("length_s = 300", "length_s = \"five minutes\""));
    assert_eq!((line, key.as_str()), (9, "windows.length_s"));
    // A value out of the type's range names its key too.
    let (line, _, key, _) = error(&GOOD.replace("length_s = 300", "length_s = -3"));
    assert_eq!((line, key.as_str()), (9, "windows.length_s"));
    let (line, _, _, _) = error(&GOOD.replace("[privacy]", "[privacy"));
    assert_eq!(line, 13);
}

#[test]
fn topic_breaking_ids_and_bad_urls_are_refused() {
    assert_eq!(error(&GOOD.replace("rig-01", "rig/01")).2, "rig");
    assert_eq!(
        error(&GOOD.replace("mqtt://broker", "http://broker")).2,
        "broker.url"
    );
}

#[test]
fn payload_format_and_topic_prefix_are_checked_and_resolved() {
    let defaults = resolve(GOOD, &Overrides::default()).unwrap();
    let b = defaults.broker.unwrap();
    assert_eq!(
        (b.payload, b.topic_prefix.as_str()),
        (PayloadFormat::Zstd, "vitrine")
    );

    let set = GOOD.replace(
        "url = \"mqtt://broker.example:1883\"",
        "url = \"mqtt://broker.example:1883\"\npayload = \"json\"\ntopic_prefix = \"lab/vitrine\"",
    );
    let b = resolve(&set, &Overrides::default())
        .unwrap()
        .broker
        .unwrap();
    assert_eq!(
        (b.payload, b.topic_prefix.as_str()),
        (PayloadFormat::Json, "lab/vitrine")
    );
    // The command line overrides the file, by the same rules.
    let o = Overrides {
        payload: Some("zstd".into()),
        topic_prefix: Some("shops".into()),
        ..Overrides::default()
    };
    let b = resolve(&set, &o).unwrap().broker.unwrap();
    assert_eq!(
        (b.payload, b.topic_prefix.as_str()),
        (PayloadFormat::Zstd, "shops")
    );
    let bad = Overrides {
        payload: Some("gzip".into()),
        ..Overrides::default()
    };
    let e = resolve(GOOD, &bad).unwrap_err().to_string();
    assert!(e.contains("--payload") && e.contains("\"zstd\""), "{e}");

    for (value, key) in [
        ("payload = \"xml\"", "broker.payload"),
        ("topic_prefix = \"a//b\"", "broker.topic_prefix"),
        ("topic_prefix = \"a/+\"", "broker.topic_prefix"),
        ("topic_prefix = \"$SYS\"", "broker.topic_prefix"),
        ("topic_prefix = \"\"", "broker.topic_prefix"),
    ] {
        let text = GOOD.replace(
            "url = \"mqtt://broker.example:1883\"",
            &format!("url = \"mqtt://broker.example:1883\"\n{value}"),
        );
        let (line, _, got, _) = error(&text);
        assert_eq!((line, got.as_str()), (7, key), "{value}");
    }
}

#[test]
fn home_assistant_and_metric_topics_are_checked_and_resolved() {
    let with = |extra: &str| {
        GOOD.replace(
            "url = \"mqtt://broker.example:1883\"",
            &format!("url = \"mqtt://broker.example:1883\"\n{extra}"),
        )
    };
    let b = resolve(GOOD, &Overrides::default())
        .unwrap()
        .broker
        .unwrap();
    assert_eq!((b.metric_topics, b.home_assistant), (false, None));

    // Metric topics alone.
    let b = resolve(&with("metric_topics = true"), &Overrides::default())
        .unwrap()
        .broker
        .unwrap();
    assert_eq!((b.metric_topics, b.home_assistant), (true, None));

    // Home Assistant implies the metric topics; its prefix defaults.
    let b = resolve(&with("home_assistant = true"), &Overrides::default())
        .unwrap()
        .broker
        .unwrap();
    assert_eq!(
        (b.metric_topics, b.home_assistant.as_deref()),
        (true, Some("homeassistant"))
    );
    let b = resolve(
        &with("home_assistant = true\nhome_assistant_prefix = \"ha/discovery\""),
        &Overrides::default(),
    )
    .unwrap()
    .broker
    .unwrap();
    assert_eq!(b.home_assistant.as_deref(), Some("ha/discovery"));
    // A prefix alone turns nothing on.
    let b = resolve(
        &with("home_assistant_prefix = \"ha\""),
        &Overrides::default(),
    )
    .unwrap()
    .broker
    .unwrap();
    assert_eq!((b.metric_topics, b.home_assistant), (false, None));

    // The command line turns them on over the file, its prefix by the same rule.
    let o = Overrides {
        home_assistant: Some(true),
        home_assistant_prefix: Some("hass".into()),
        ..Overrides::default()
    };
    let b = resolve(GOOD, &o).unwrap().broker.unwrap();
    assert_eq!(
        (b.metric_topics, b.home_assistant.as_deref()),
        (true, Some("hass"))
    );
    let o = Overrides {
        metric_topics: Some(true),
        ..Overrides::default()
    };
    let b = resolve(GOOD, &o).unwrap().broker.unwrap();
    assert_eq!((b.metric_topics, b.home_assistant), (true, None));
    let bad = Overrides {
        home_assistant_prefix: Some("ha/#".into()),
        ..Overrides::default()
    };
    let e = resolve(GOOD, &bad).unwrap_err().to_string();
    assert!(
        e.contains("--home-assistant-prefix") && e.contains("ha/#"),
        "{e}"
    );

    // Errors name the line and the key.
    for (value, key) in [
        ("home_assistant = \"yes\"", "broker.home_assistant"),
        ("metric_topics = 1", "broker.metric_topics"),
        (
            "home_assistant_prefix = \"a//b\"",
            "broker.home_assistant_prefix",
        ),
        (
            "home_assistant_prefix = \"$SYS\"",
            "broker.home_assistant_prefix",
        ),
        (
            "home_assistant_prefix = \"\"",
            "broker.home_assistant_prefix",
        ),
    ] {
        let (line, _, got, _) = error(&with(value));
        assert_eq!((line, got.as_str()), (7, key), "{value}");
    }
}

#[test]
fn tls_and_credentials_must_come_complete() {
    let tls = GOOD.replace("mqtt://broker", "mqtts://broker");
    assert_eq!(
        error(&tls).3,
        "mqtts:// needs a CA certificate: broker.ca_file or --tls-ca"
    );
    let ok = tls.replace(
        "[windows]",
        "ca_file = \"/etc/vitrine/ca.pem\"\n\n[windows]",
    );
    assert!(resolve(&ok, &Overrides::default()).is_ok());
    let half = ok.replace(
        "[windows]",
        "cert_file = \"/etc/vitrine/rig.pem\"\n\n[windows]",
    );
    assert_eq!(error(&half).2, "broker.cert_file");
    let password = GOOD.replace(
        "[windows]",
        "password_file = \"/etc/vitrine/password\"\n\n[windows]",
    );
    assert_eq!(error(&password).2, "broker.password_file");
}

#[test]
fn a_bad_channel_plan_or_interface_name_is_located() {
    let text = GOOD.replace(r#"channels = "1,6,11""#, r#"channels = "1,6,15""#);
    let (line, column, key, message) = error(&text);
    assert_eq!((line, column, key.as_str()), (22, 12, "capture.channels"));
    assert!(message.contains("channel 15"), "{message}");

    let text = GOOD.replace(
        r#"interface = "wlan1""#,
        r#"interface = "a-much-too-long-name""#,
    );
    let (line, _, key, _) = error(&text);
    assert_eq!((line, key.as_str()), (21, "capture.interface"));

    let s = resolve(GOOD, &Overrides::default()).unwrap();
    assert_eq!(s.capture.channels.to_string(), "1:250,6:250,11:250");
}

#[test]
fn options_are_refused_with_the_files_words() {
    // (file text replaced, replacement, overrides, option)
    let cases: Vec<(&str, &str, Overrides, &str)> = vec![
        (
            "k = 5",
            "k = 1",
            Overrides {
                k: Some(1),
                ..Overrides::default()
            },
            "--k",
        ),
        (
            "length_s = 300",
            "length_s = 0",
            Overrides {
                window_s: Some(0),
                ..Overrides::default()
            },
            "--window",
        ),
        (
            "presence_rssi_dbm = -80",
            "presence_rssi_dbm = 50",
            Overrides {
                presence_rssi_dbm: Some(50),
                ..Overrides::default()
            },
            "--presence-rssi",
        ),
        (
            "epoch_hours = 24",
            "epoch_hours = 0",
            Overrides {
                epoch_hours: Some(0),
                ..Overrides::default()
            },
            "--epoch-hours",
        ),
        (
            "epoch_hours = 24",
            "epoch_hours = 24\nmax_devices = 0",
            Overrides {
                max_devices: Some(0),
                ..Overrides::default()
            },
            "--max-devices",
        ),
        (
            "rig-01",
            "",
            Overrides {
                rig: Some(String::new()),
                ..Overrides::default()
            },
            "--rig",
        ),
        (
            "mqtt://broker.example:1883",
            "mqtt://broker.example:0",
            Overrides {
                broker_url: Some("mqtt://broker.example:0".into()),
                ..Overrides::default()
            },
            "--publish",
        ),
        (
            "/var/lib/vitrine/spool",
            "",
            Overrides {
                spool_dir: Some(PathBuf::new()),
                ..Overrides::default()
            },
            "--spool",
        ),
        (
            r#"channels = "1,6,11""#,
            r#"channels = "1,6,15""#,
            Overrides {
                channels: Some("1,6,15".into()),
                ..Overrides::default()
            },
            "--channels",
        ),
    ];
    for (from, to, overrides, option) in cases {
        let in_file = error(&GOOD.replace(from, to)).3;
        let (got_option, _, on_line) = option_error(&overrides);
        assert_eq!(got_option, option);
        assert_eq!(in_file, on_line, "{option}");
    }
    let e = Settings::load(
        None,
        &Overrides {
            k: Some(1),
            ..Overrides::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "--k 1: must be at least 2 (k = 1 publishes every bin, however small)"
    );
}

#[test]
fn options_override_the_file_which_overrides_the_defaults() {
    let s = resolve(
        GOOD,
        &Overrides {
            k: Some(9),
            site: Some("store-7".into()),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!((s.k, s.window_s, s.presence_rssi_dbm), (9, 300, -80));
    let b = s.broker.unwrap();
    assert_eq!((b.site.as_str(), b.rig.as_str()), ("store-7", "rig-01"));
    assert_eq!(
        (b.client.host.as_str(), b.client.port, b.client.tls),
        ("broker.example", 1883, false)
    );
    assert_eq!(s.spool.retention_days, 7);

    let s = Settings::load(None, &Overrides::default()).unwrap();
    assert_eq!(s.k, defaults::K);
    assert_eq!(s.window_s, defaults::WINDOW_S);
    assert_eq!(s.max_devices, defaults::MAX_DEVICES);
    assert_eq!(s.spool.dir, PathBuf::from(defaults::SPOOL_DIR));
    assert_eq!(s.capture.channels.to_string(), "1:250,6:250,11:250");
    assert!(s.broker.is_none());
}

#[test]
fn the_window_is_resolved_once_and_the_demo_keeps_a_length_that_was_set() {
    // Unset: a rig's windows everywhere but in the demo.
    let unset = Settings::load(None, &Overrides::default()).unwrap();
    assert_eq!(unset.window_s, defaults::WINDOW_S);
    assert_eq!(unset.demo_window_s(), defaults::DEMO_WINDOW_S);
    // Set in the file or by an option, every command uses it, even when it
    // equals a default.
    let two_minutes = GOOD.replace("length_s = 300", "length_s = 120");
    let from_file = resolve(&two_minutes, &Overrides::default()).unwrap();
    assert_eq!((from_file.window_s, from_file.demo_window_s()), (120, 120));
    let option = Overrides {
        window_s: Some(defaults::WINDOW_S),
        ..Overrides::default()
    };
    let given = Settings::load(None, &option).unwrap();
    assert_eq!(given.demo_window_s(), defaults::WINDOW_S);
}

#[test]
fn a_configuration_about_to_be_written_is_checked_as_the_file_will_be() {
    let path = Path::new("/etc/vitrine/vitrine.toml");
    let file = ConfigFile::parse(path, GOOD.replace("k = 5", "k = 1")).unwrap_err();
    assert_eq!(
        file.to_string(),
        "/etc/vitrine/vitrine.toml:10:5: windows.k: must be at least 2 (k = 1 publishes every \
         bin, however small)"
    );
    let file = ConfigFile::parse(path, GOOD.to_string()).unwrap();
    let s = Settings::resolve(Some(&file), &Overrides::default()).unwrap();
    assert_eq!(
        (s.window_s, s.spool.dir.as_path()),
        (300, Path::new(defaults::SPOOL_DIR))
    );
}

#[test]
fn publishing_without_a_site_or_rig_is_refused_naming_what_is_missing() {
    let e = Settings::load(
        None,
        &Overrides {
            broker_url: Some("mqtt://127.0.0.1:1883".into()),
            site: Some("store-7".into()),
            ..Overrides::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("--publish mqtt://127.0.0.1:1883: publishing needs"),
        "{e}"
    );
    assert!(e.contains("missing: rig."), "{e}");

    let no_ids = GOOD
        .replace("site = \"store-0042\"\n", "")
        .replace("rig = \"rig-01\"\n", "");
    let (line, _, key, message) = error(&no_ids);
    assert_eq!((line, key.as_str()), (4, "broker.url"));
    assert!(message.contains("missing: site, rig."), "{message}");
    // Without a broker, no ids are needed.
    let no_broker = no_ids.replace("url = \"mqtt://broker.example:1883\"\n", "");
    assert!(resolve(&no_broker, &Overrides::default()).is_ok());
}

#[test]
fn a_huge_file_is_refused_after_its_first_mebibyte() {
    let e = Settings::load(Some(Path::new("/dev/zero")), &Overrides::default()).unwrap_err();
    assert!(
        matches!(e, ConfigError::Read(ReadError::TooLong { .. })),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "configuration /dev/zero is longer than 1 MiB, the most read from such a file"
    );
}

fn with_password_file(dir: &Path, mode: u32) -> Settings {
    use std::os::unix::fs::PermissionsExt;
    let file = dir.join("password");
    std::fs::write(&file, "s3cret\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    Settings::load(
        None,
        &Overrides {
            broker_url: Some("mqtt://127.0.0.1".into()),
            site: Some("s".into()),
            rig: Some("r".into()),
            username: Some("rig-a".into()),
            password_file: Some(file),
            ..Overrides::default()
        },
    )
    .unwrap()
}

#[test]
fn secrets_must_exist_and_stay_private() {
    let dir = tempfile::tempdir().unwrap();
    let s = with_password_file(dir.path(), 0o600);
    let secrets = s.broker.as_ref().unwrap().client.read_secrets().unwrap();
    assert_eq!(secrets.password.as_deref(), Some("s3cret"));
    assert!(!format!("{secrets:?}").contains("s3cret"));

    let s = with_password_file(dir.path(), 0o644);
    let e = s
        .broker
        .unwrap()
        .client
        .read_secrets()
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("--password-file "), "{e}");
    assert!(e.contains("open to others (mode 0644)"), "{e}");

    // Missing: an error located at the line that names it.
    let text = GOOD.replace(
        "[windows]",
        "username = \"rig-a\"\npassword_file = \"/nonexistent/password\"\n\n[windows]",
    );
    let b = resolve(&text, &Overrides::default())
        .unwrap()
        .broker
        .unwrap();
    match b.client.read_secrets().unwrap_err() {
        ConfigError::Invalid {
            line, key, message, ..
        } => {
            assert_eq!((line, key.as_str()), (9, "broker.password_file"));
            assert!(message.contains("/nonexistent/password"), "{message}");
        }
        other => panic!("{other}"),
    }

    // A CA certificate is public, but bounded.
    let text = GOOD
        .replace("mqtt://broker", "mqtts://broker")
        .replace("[windows]", "ca_file = \"/dev/zero\"\n\n[windows]");
    let b = resolve(&text, &Overrides::default())
        .unwrap()
        .broker
        .unwrap();
    let e = b.client.read_secrets().unwrap_err().to_string();
    assert!(
        e.contains("broker.ca_file: CA certificate /dev/zero is longer than 1 MiB"),
        "{e}"
    );
}

#[test]
fn a_consumer_names_its_broker_with_the_rules_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    std::fs::set_permissions(
        &password,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let options = BrokerOptions {
        url: "mqtts://broker.example".into(),
        ca_file: Some("/nonexistent/ca.pem".into()),
        username: Some("auditor".into()),
        password_file: Some(password.clone()),
        ..BrokerOptions::default()
    };
    let b = BrokerClient::from_options(&options).unwrap();
    assert_eq!(
        (b.host.as_str(), b.port, b.tls, b.username.as_deref()),
        ("broker.example", 8883, true, Some("auditor"))
    );
    // The missing CA is named, with the option that named it.
    let e = b.read_secrets().unwrap_err().to_string();
    assert!(e.starts_with("--tls-ca /nonexistent/ca.pem: "), "{e}");
    assert!(
        e.contains("cannot read CA certificate /nonexistent/ca.pem"),
        "{e}"
    );

    let refused = |o: BrokerOptions| BrokerClient::from_options(&o).unwrap_err().to_string();
    let e = refused(BrokerOptions::url("mqtts://broker.example"));
    assert_eq!(
        e,
        "--broker mqtts://broker.example: mqtts:// needs a CA certificate: broker.ca_file or --tls-ca"
    );
    assert!(refused(BrokerOptions::url("http://x")).starts_with("--broker http://x: expected"));
    let e = refused(BrokerOptions {
        password_file: Some(password),
        ..BrokerOptions::url("mqtt://x")
    });
    assert!(e.contains("a password needs a user name"), "{e}");
}

const CAMERA: &str = r#"
[camera]
device = "/dev/video0"
width = 320
height = 240
line = [[0.0, 0.67], [1.0, 0.67]]
inside = [0.5, 0.2]
region = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]
grid = [8, 6]
"#;

#[test]
fn the_camera_section_resolves_with_its_defaults() {
    let s = resolve(CAMERA, &Overrides::default()).unwrap();
    let c = &s.camera;
    assert_eq!(c.device.as_deref(), Some(Path::new("/dev/video0")));
    assert_eq!((c.width, c.height, c.fps, c.grid), (320, 240, 10, [8, 6]));
    assert_eq!(c.line, Some(([[0.0, 0.67], [1.0, 0.67]], [0.5, 0.2])));
    assert_eq!(c.region.as_ref().map(Vec::len), Some(3));
    let d = resolve("", &Overrides::default()).unwrap().camera;
    assert_eq!((d.device, d.line, d.region), (None, None, None));
    assert_eq!((d.width, d.height, d.fps, d.grid), (640, 480, 10, [16, 12]));
}

#[test]
fn a_bad_camera_key_is_located_with_its_rule() {
    let cases = [
        (
            "[[0.0, 0.67], [1.0, 0.67]]",
            "[[0.0, 0.67]]",
            "camera.line",
            "two points",
        ),
        (
            "inside = [0.5, 0.2]",
            "inside = [0.5, 0.67]",
            "camera.inside",
            "off camera.line",
        ),
        (
            "inside = [0.5, 0.2]",
            "inside = [1.5, 0.2]",
            "camera.inside",
            "from 0 to 1",
        ),
        (
            "inside = [0.5, 0.2]",
            "",
            "camera.line",
            "needs camera.inside",
        ),
        (
            "[0.9, 0.9]]",
            "[0.9, 1.9]]",
            "camera.region",
            "[0.9, 1.9] is not",
        ),
        ("grid = [8, 6]", "grid = [0, 6]", "camera.grid", "1 to 64"),
        ("width = 320", "width = 8", "camera.width", "16 to 4096"),
        (
            "device = \"/dev/video0\"",
            "devise = \"/dev/video0\"",
            "devise",
            "unknown field",
        ),
    ];
    for (from, to, key, words) in cases {
        let text = CAMERA.replacen(from, to, 1);
        assert_ne!(text, CAMERA, "{from}");
        let (line, _, got, message) = error(&text);
        assert_eq!(got, key, "{to}: {message}");
        assert!(message.contains(words), "{to}: {message}");
        assert!((2..=10).contains(&line), "{to}: line {line}");
    }
}

#[test]
fn the_gpio_section_names_lines_and_refuses_clashes() {
    let text = "[gpio]\nchip = \"pinctrl-bcm2835\"\nindicator = 17\nkill_switch = 27\nkill_switch_active_low = true\n";
    let g = resolve(text, &Overrides::default()).unwrap().gpio;
    assert_eq!(g.chip, "pinctrl-bcm2835");
    assert_eq!(
        (g.indicator, g.kill_switch),
        (Some((17, false)), Some((27, true)))
    );
    let d = resolve("", &Overrides::default()).unwrap().gpio;
    assert_eq!(
        (d.chip.as_str(), d.indicator, d.kill_switch),
        ("/dev/gpiochip0", None, None)
    );

    let (line, _, key, message) = error(&text.replace("27", "17"));
    assert_eq!((line, key.as_str()), (4, "gpio.kill_switch"), "{message}");
    assert!(message.contains("indicator's line"), "{message}");
    let (_, _, key, message) = error(&text.replace("27", "900"));
    assert_eq!(key, "gpio.kill_switch");
    assert!(message.contains("0 to 511"), "{message}");
    let both = format!("{text}test_only_kill_switch_file = \"/run/vitrine-test/kill\"\n");
    let (line, _, key, _) = error(&both);
    assert_eq!((line, key.as_str()), (6, "gpio.test_only_kill_switch_file"));
}
