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
    match RigConfig::from_file(&path).unwrap_err() {
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
    assert_eq!(line, 9, "{key}");
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
fn tls_and_credentials_must_come_complete() {
    let tls = GOOD.replace("mqtt://broker", "mqtts://broker");
    assert_eq!(error(&tls).3, "mqtts:// needs broker.ca_file");
    let ok = tls.replace(
        "[windows]",
        "ca_file = \"/etc/vitrine/ca.pem\"\n\n[windows]",
    );
    assert!(RigConfig::parse(&ok).is_ok());
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

    let c = RigConfig::parse(GOOD).unwrap();
    assert_eq!(c.capture.channels.unwrap().into_inner(), "1,6,11");
}
