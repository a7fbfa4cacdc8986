//! The consumers (`vitrine-audit tail`, `mqtt`, `self`) against a real
//! mosquitto that speaks only TLS (a certificate from a test CA) and
//! refuses anonymous clients (`password_file`, `allow_anonymous false`),
//! fed by the project's publisher over the same TLS and credentials.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vitrine_audit::checks::stream;
use vitrine_config::{BrokerClient, BrokerOptions, Overrides, Settings};
use vitrine_publish::{BrokerConfig, Codec, Envelope, Publisher, Spool, SpoolPolicy};
use vitrine_schema::Summary;
use vitrine_testkit::Broker;

const USER: &str = "vitrine";
const PASSWORD: &str = "s3cret-pass";

fn summary() -> Summary {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/schema/summary-v1.example.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A password file, readable by its owner only.
fn password_file(dir: &Path, name: &str, password: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let file = dir.join(name);
    std::fs::write(&file, format!("{password}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    file
}

struct Setup {
    dir: tempfile::TempDir,
    broker: Broker,
    ca: PathBuf,
    password: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (broker, ca) = Broker::start_tls_with_user(dir.path(), USER, PASSWORD);
        let password = password_file(dir.path(), "password", PASSWORD);
        Setup {
            dir,
            broker,
            ca,
            password,
        }
    }

    fn url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.broker.port)
    }

    /// `--broker` and the options beside it, as an auditor gives them.
    fn consumer_args(&self, ca: &Path, password: &Path) -> Vec<String> {
        [
            "--broker",
            &self.url(),
            "--tls-ca",
            &ca.display().to_string(),
            "--username",
            USER,
            "--password-file",
            &password.display().to_string(),
        ]
        .map(String::from)
        .to_vec()
    }

    /// Publishes summaries with these sequence numbers (a repeated one is
    /// a duplicate, as QoS 1 allows) through the publisher, over TLS with
    /// the password, and waits for the broker's acknowledgements.
    fn publish(&self, seqs: &[u64]) {
        let client = BrokerClient::from_options(&BrokerOptions {
            ca_file: Some(self.ca.clone()),
            username: Some(USER.into()),
            password_file: Some(self.password.clone()),
            ..BrokerOptions::url(self.url())
        })
        .unwrap();
        let broker = vitrine_publish::Broker::load(&client).unwrap();
        let cfg = BrokerConfig::new(broker, "store-7", "rig-a", "b007").unwrap();
        let spool_dir = self.dir.path().join(format!("spool-{}", seqs.len()));
        let spool = Arc::new(Mutex::new(
            Spool::open(&spool_dir, SpoolPolicy::default()).unwrap(),
        ));
        let codec = Codec::shipped();
        for &seq in seqs {
            let e = Envelope {
                site: cfg.site.clone(),
                rig: cfg.rig.clone(),
                boot: cfg.boot.clone(),
                seq,
                summary: summary(),
            };
            spool
                .lock()
                .unwrap()
                .push(1_700_000_000, &cfg.topic("wifi"), &codec.encode(&e))
                .unwrap();
        }
        let publisher = Publisher::start(&cfg, spool, codec.dictionary().to_vec()).unwrap();
        assert!(
            publisher.drain(Duration::from_secs(20)),
            "the broker acknowledged everything"
        );
        publisher.finish();
    }
}

fn audit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrine-audit"))
}

/// Starts `cmd` and returns once it logs its subscription; its stdout
/// lines, and its stderr kept for later.
fn subscribed(mut cmd: Command) -> (Child, std::sync::mpsc::Receiver<String>, Arc<Mutex<String>>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let stderr = Arc::new(Mutex::new(String::new()));
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("it logs its subscription; {}", stderr.lock().unwrap()))
            .unwrap();
        *stderr.lock().unwrap() += &format!("{line}\n");
        if line.contains("subscribed") {
            break;
        }
    }
    let kept = stderr.clone();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            *kept.lock().unwrap() += &format!("{l}\n");
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    (child, rx, stderr)
}

/// Waits at most `timeout` for `child`; kills it and fails past that.
fn wait(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            panic!("still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a command that must fail; its exit code and stderr.
fn fails(mut cmd: Command) -> (i32, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait(&mut child, Duration::from_secs(20));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    (status.code().unwrap(), stderr)
}

#[test]
fn tail_and_mqtt_read_summaries_over_mqtts_with_a_password() {
    let s = Setup::new();
    let args = s.consumer_args(&s.ca, &s.password);
    let mut tail = audit();
    tail.arg("tail")
        .args(&args)
        .args(["--format", "jsonl", "--count", "3"]);
    let (mut tail, tail_lines, tail_err) = subscribed(tail);

    let registry = s.dir.path().join("canaries.json");
    let mut reg = vitrine_canary::Registry::generate(2, 1, &[[0x60, 0x8b, 0x0e]], &mut rand::rng());
    reg.mark_emitted(time::OffsetDateTime::now_utc());
    reg.save(&registry).unwrap();
    let mut mqtt = audit();
    mqtt.arg("mqtt")
        .args(&args)
        .args([
            "--topic",
            "vitrine/+/+/wifi",
            "--duration",
            "6",
            "--expect",
            "vitrine",
        ])
        .arg("--registry")
        .arg(&registry)
        .arg("--key")
        .arg(s.dir.path().join("report-key"))
        .arg("--json");
    let (mut mqtt, mqtt_lines, mqtt_err) = subscribed(mqtt);

    // Four deliveries of three summaries: the second one twice.
    s.publish(&[0, 1, 1, 2]);

    let status = wait(&mut tail, Duration::from_secs(20));
    assert!(status.success(), "{}", tail_err.lock().unwrap());
    let seqs: Vec<u64> = tail_lines
        .try_iter()
        .map(|l| serde_json::from_str::<Envelope>(&l).unwrap())
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [0, 1, 2], "each summary once");

    let status = wait(&mut mqtt, Duration::from_secs(30));
    let report: String = mqtt_lines.try_iter().collect::<Vec<_>>().join("\n");
    assert_ne!(status.code(), Some(2), "{}", mqtt_err.lock().unwrap());
    assert!(
        report.contains("4 messages on 1 topics"),
        "the audit watched the four deliveries: {report}\n{}",
        mqtt_err.lock().unwrap()
    );
    assert!(
        report.contains(&format!("\"{} vitrine/+/+/wifi\"", s.url())),
        "{report}"
    );
}

#[test]
fn a_wrong_password_a_wrong_ca_or_a_missing_ca_is_a_clear_error() {
    let s = Setup::new();
    let tail = |args: Vec<String>| {
        let mut c = audit();
        c.arg("tail").args(args).args(["--count", "1"]);
        fails(c)
    };

    let wrong = password_file(s.dir.path(), "wrong", "not-the-password");
    let (code, err) = tail(s.consumer_args(&s.ca, &wrong));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("the broker {} refused the connection", s.url())),
        "{err}"
    );

    let (other_ca, _, _) = vitrine_testkit::make_certificates(s.dir.path(), "other");
    let (code, err) = tail(s.consumer_args(&other_ca, &s.password));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("TLS with the broker {} failed", s.url())),
        "{err}"
    );

    let (code, err) = tail(s.consumer_args(Path::new("/nonexistent/ca.pem"), &s.password));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "--tls-ca /nonexistent/ca.pem: cannot read CA certificate /nonexistent/ca.pem"
        ),
        "{err}"
    );

    let not_pem = s.dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let (code, err) = tail(s.consumer_args(&not_pem, &s.password));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds no PEM certificate"), "{err}");
    assert!(err.contains(&not_pem.display().to_string()), "{err}");

    // mqtts:// without a CA at all.
    let (code, err) = tail(vec!["--broker".into(), s.url()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("mqtts:// needs a CA certificate"), "{err}");

    // The stream audit stops too, rather than watching nothing.
    let registry = s.dir.path().join("canaries.json");
    vitrine_canary::Registry::generate(1, 0, &[[0x60, 0x8b, 0x0e]], &mut rand::rng())
        .save(&registry)
        .unwrap();
    let mut mqtt = audit();
    mqtt.arg("mqtt")
        .args(s.consumer_args(&s.ca, &wrong))
        .args(["--duration", "30"])
        .arg("--registry")
        .arg(&registry)
        .arg("--key")
        .arg(s.dir.path().join("report-key"));
    let (code, err) = fails(mqtt);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("refused the connection"), "{err}");
}

#[test]
fn self_watches_the_mqtts_broker_of_the_rig_configuration() {
    let s = Setup::new();
    let config = s.dir.path().join("vitrine.toml");
    std::fs::write(
        &config,
        format!(
            "site = \"store-7\"\nrig = \"rig-a\"\n\n[broker]\nurl = \"{}\"\nca_file = \"{}\"\n\
             username = \"{USER}\"\npassword_file = \"{}\"\n",
            s.url(),
            s.ca.display(),
            s.password.display()
        ),
    )
    .unwrap();
    // What the self-audit makes of the rig's configuration: TLS with its
    // CA, and its credentials.
    let rig = Settings::load(Some(&config), &Overrides::default()).unwrap();
    let broker = stream::rig_broker(&rig).unwrap();
    assert_eq!(broker.url, s.url());
    assert_eq!(
        (broker.host.as_str(), broker.port),
        ("127.0.0.1", s.broker.port)
    );
    assert_eq!(
        broker.tls.as_ref().unwrap().ca,
        std::fs::read(&s.ca).unwrap()
    );
    assert_eq!(broker.username.as_deref(), Some(USER));
    assert_eq!(broker.password.as_deref(), Some(PASSWORD));
    // And it connects: the watch records what the rig publishes.
    let topics = vec!["vitrine/store-7/rig-a/#".to_string()];
    let watcher = std::thread::spawn(move || {
        stream::collect(
            &broker,
            &topics,
            Duration::from_secs(6),
            stream::Recording::in_memory(),
            |_| {},
        )
    });
    std::thread::sleep(Duration::from_secs(2));
    s.publish(&[0, 1]);
    let recording = watcher.join().unwrap().unwrap();
    // The two summaries, the retained status and dictionary.
    assert!(recording.len() >= 4, "{} messages", recording.len());

    // The command itself, in a state directory of its own: it watches the
    // mqtts:// broker instead of refusing the URL.
    let state = s.dir.path().join("state");
    let tree = s.dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let mut cmd = audit();
    cmd.env("STATE_DIRECTORY", &state)
        .arg("self")
        .arg("--config")
        .arg(&config)
        .args(["--watch", "6", "--canaries", "1"])
        .arg("--root")
        .arg(&tree)
        .arg("--json");
    let (mut child, lines, stderr) = subscribed(cmd);
    s.publish(&[5, 6, 7]);
    let status = wait(&mut child, Duration::from_secs(120));
    let report: String = lines.try_iter().collect::<Vec<_>>().join("\n");
    assert_ne!(status.code(), Some(2), "{}", stderr.lock().unwrap());
    // The three summaries, on the four topics heard: the summaries', and
    // the rig's retained status, dictionary and availability.
    assert!(
        report.contains("\"3 messages on 4 topics\""),
        "{report}\n{}",
        stderr.lock().unwrap()
    );
}
