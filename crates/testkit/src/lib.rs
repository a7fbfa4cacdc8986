//! Test support shared by the workspace's integration tests: a real
//! mosquitto broker on a free loopback port, `mosquitto_sub` as a consumer,
//! a private PostgreSQL server ([`postgres`]), and runs of a binary with
//! hostile command lines ([`hostile`]). Not part of any shipped binary.

pub mod hostile;
pub mod postgres;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A mosquitto broker, killed when dropped.
#[derive(Debug)]
pub struct Broker {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Broker {
    pub fn start(dir: &Path) -> Broker {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Broker::start_on(dir, port)
    }

    /// A broker that keeps sessions and queued messages across restarts, as
    /// a production broker does. Its log stays with the test's files,
    /// written line by line (a file, not a buffered stdout); `user root`
    /// keeps it from dropping privileges away from them.
    pub fn start_on(dir: &Path, port: u16) -> Broker {
        let settings = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest file {d}/mosquitto.log\n\
             log_type all\nuser root\npersistence true\npersistence_location {d}/\n",
            d = dir.display()
        );
        Broker::spawn(dir, "mosquitto.conf", &settings, port)
    }

    /// Writes `settings` to `dir/conf_name`, starts mosquitto with it (its
    /// stdout appended to `dir/mosquitto.log`) and waits until it listens.
    fn spawn(dir: &Path, conf_name: &str, settings: &str, port: u16) -> Broker {
        let conf = dir.join(conf_name);
        std::fs::write(&conf, settings).unwrap();
        let program = if Path::new("/usr/sbin/mosquitto").exists() {
            "/usr/sbin/mosquitto"
        } else {
            "mosquitto"
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("mosquitto.log"))
            .unwrap();
        let child = Command::new(program)
            .arg("-c")
            .arg(&conf)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed by the test command");
        let broker = Broker {
            child,
            port,
            dir: dir.to_owned(),
        };
        wait_for(
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "the broker to listen",
        );
        broker
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn subscribe(&self, topic: &str, count: usize) -> Subscriber {
        self.subscribe_as(topic, count, &[])
    }

    /// Starts `mosquitto_sub` and returns once the broker has acknowledged
    /// its subscription (`-d` prints the SUBACK; line-buffered so that it
    /// arrives when printed).
    pub fn subscribe_as(&self, topic: &str, count: usize, extra: &[&str]) -> Subscriber {
        self.subscribe_formatted(topic, count, extra, "%x")
    }

    /// Like [`Broker::subscribe_as`], each message printed by `format`
    /// (mosquitto_sub's `-F`, e.g. `%t %x` for the topic and the payload).
    pub fn subscribe_formatted(
        &self,
        topic: &str,
        count: usize,
        extra: &[&str],
        format: &str,
    ) -> Subscriber {
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .args(extra)
            .args([
                "-d",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-q",
                "1",
                "-t",
                topic,
                "-F",
                format,
                "-W",
                "600",
            ])
            .args(["-C", &count.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("mosquitto_sub subscribes");
            if line.contains("received SUBACK") {
                break;
            }
        }
        Subscriber { child, lines }
    }

    /// Every message on `filters`, retained ones first, until nothing
    /// arrives for `quiet` (at most `quiet` plus 3 seconds in all):
    /// `(topic, payload, retained)` in arrival order.
    pub fn messages(&self, filters: &[&str], quiet: Duration) -> Vec<(String, Vec<u8>, bool)> {
        let mut c = Command::new("stdbuf");
        c.args(["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args(["-q", "1", "-F", "%r %t %x"]);
        for f in filters {
            c.args(["-t", f]);
        }
        let mut child = c.stdout(Stdio::piped()).spawn().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let mut out = Vec::new();
        let end = Instant::now() + quiet + Duration::from_secs(3);
        while let Ok(line) =
            lines.recv_timeout(quiet.min(end.saturating_duration_since(Instant::now())))
        {
            let mut parts = line.splitn(3, ' ');
            let (Some(r), Some(topic), payload) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let payload = hex_payload(payload.unwrap_or("")).unwrap_or_default();
            out.push((topic.to_string(), payload, r == "1"));
        }
        let _ = child.kill();
        let _ = child.wait();
        out
    }

    /// Stops the broker as an administrator would (SIGTERM: it saves its
    /// sessions), and starts it again on the same port after `down`.
    pub fn restart_after(&mut self, down: Duration) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap();
        std::thread::sleep(down);
        let next = Broker::start_on(&self.dir.clone(), self.port);
        *self = next;
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_for(mut ready: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `mosquitto_sub`: its output lines, as they come.
#[derive(Debug)]
pub struct Subscriber {
    pub child: Child,
    pub lines: std::sync::mpsc::Receiver<String>,
}

/// The payloads a subscriber received (its debug lines left out).
pub fn hex_lines(mut sub: Subscriber) -> Vec<Vec<u8>> {
    assert!(
        sub.child.wait().unwrap().success(),
        "mosquitto_sub did not receive everything"
    );
    sub.lines.iter().filter_map(|l| hex_payload(&l)).collect()
}

/// The payload on a `mosquitto_sub -F %x` line; `None` for its debug lines.
pub fn hex_payload(line: &str) -> Option<Vec<u8>> {
    if line.is_empty()
        || !line.len().is_multiple_of(2)
        || !line.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).ok())
        .collect()
}

/// Payloads of distinct summaries, in order of first arrival, dropping the
/// duplicates QoS 1 allows by (rig, boot, seq) as a consumer must; checks
/// that first arrivals come in sequence order.
pub fn distinct_payloads(sub: Subscriber, n: usize) -> Vec<Vec<u8>> {
    // Either payload format, as consumers tell them apart.
    let mut dicts = vitrine_publish::consume::Dictionaries::default();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    while out.len() < n && Instant::now() < deadline {
        let Ok(line) = sub.lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let Some(bytes) = hex_payload(&line) else {
            continue;
        };
        let e = vitrine_publish::consume::decode(&mut dicts, &bytes)
            .unwrap()
            .envelope;
        if seen.insert((e.rig, e.boot, e.seq)) {
            assert_eq!(e.seq, out.len() as u64, "first arrivals in sequence order");
            out.push(bytes);
        }
    }
    let mut sub = sub;
    let _ = sub.child.kill();
    assert_eq!(out.len(), n, "every summary arrived");
    out
}

/// A file of `../shared/captures`, beside the repository.
pub fn capture(name: &str) -> PathBuf {
    shared_captures().join(name)
}

/// `../shared/captures`, beside the repository (never copied into it).
fn shared_captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures")
}

/// The folder of the shared captures; fails the test, saying where they
/// are expected, when it is not there.
pub fn captures_dir() -> PathBuf {
    let dir = shared_captures();
    assert!(
        dir.is_dir(),
        "the shared captures are expected at {} (beside the repository)",
        dir.display()
    );
    dir
}

/// A free TCP port on loopback (nobody listens on it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How many entries a spool folder holds.
pub fn spooled_files(dir: impl AsRef<Path>) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "vsp")
        })
        .count()
}

/// A certificate authority and a server certificate for 127.0.0.1, made
/// with the `openssl` tool: `(ca.pem, server.pem, server.key)`.
pub fn make_certificates(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let sh = |script: &str| {
        let status = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl: {script}");
    };
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Vitrine test CA'",
    );
    sh(
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost'",
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    sh(
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf",
    );
    // A client certificate from the same CA, for brokers that require one.
    sh("openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj '/CN=rig-a'");
    // rustls only sends an X.509 v3 certificate made for client authentication.
    std::fs::write(
        d.join("client.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    sh(
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.cnf",
    );
    (d.join("ca.pem"), d.join("server.pem"), d.join("server.key"))
}

impl Broker {
    /// A broker that only speaks TLS, with a certificate from
    /// [`make_certificates`]; returns the CA that verifies it.
    pub fn start_tls(dir: &Path) -> (Broker, PathBuf) {
        Broker::start_tls_with(dir, false)
    }

    /// With `require_client_certificate`, only clients with a certificate
    /// from the same CA (`client.pem`/`client.key` beside it) get in.
    pub fn start_tls_with(dir: &Path, require_client_certificate: bool) -> (Broker, PathBuf) {
        let (ca, cert, key) = make_certificates(dir, "pki");
        let port = free_port();
        let settings = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
            ca.display(),
            cert.display(),
            key.display(),
            require_client_certificate
        );
        (
            Broker::spawn(dir, "mosquitto-tls.conf", &settings, port),
            ca,
        )
    }
}

impl Broker {
    /// A broker that refuses anonymous clients: one user, made with
    /// `mosquitto_passwd`.
    pub fn start_with_user(dir: &Path, user: &str, password: &str) -> Broker {
        let passwords = dir.join("passwords");
        let status = Command::new("mosquitto_passwd")
            .args(["-c", "-b"])
            .arg(&passwords)
            .args([user, password])
            .status()
            .unwrap();
        assert!(status.success());
        let port = free_port();
        let settings = format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\nuser root\npassword_file {}\n",
            passwords.display()
        );
        Broker::spawn(dir, "mosquitto-auth.conf", &settings, port)
    }
}

impl Broker {
    /// A broker that only speaks TLS (a certificate from
    /// [`make_certificates`]) and refuses anonymous clients: one user, made
    /// with `mosquitto_passwd`. Returns the CA that verifies it.
    pub fn start_tls_with_user(dir: &Path, user: &str, password: &str) -> (Broker, PathBuf) {
        let (ca, cert, key) = make_certificates(dir, "pki");
        let passwords = dir.join("passwords");
        let status = Command::new("mosquitto_passwd")
            .args(["-c", "-b"])
            .arg(&passwords)
            .args([user, password])
            .status()
            .unwrap();
        assert!(status.success());
        let port = free_port();
        let settings = format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nuser root\n\
             cafile {}\ncertfile {}\nkeyfile {}\n",
            passwords.display(),
            ca.display(),
            cert.display(),
            key.display(),
        );
        (
            Broker::spawn(dir, "mosquitto-tls-auth.conf", &settings, port),
            ca,
        )
    }
}

impl Broker {
    /// A fleet's broker: TLS only (a certificate from
    /// [`make_certificates`]), no anonymous clients, several users (made
    /// with `mosquitto_passwd`) and an ACL file (mosquitto's `acl_file`,
    /// written as `acl`) saying what each may read and write. Everything
    /// it does, denials included, goes to its log ([`Broker::log`]).
    /// Returns the CA that verifies it.
    pub fn start_tls_with_acl(dir: &Path, users: &[(&str, &str)], acl: &str) -> (Broker, PathBuf) {
        let (ca, cert, key) = make_certificates(dir, "pki");
        let passwords = dir.join("passwords");
        for (i, (user, password)) in users.iter().enumerate() {
            let status = Command::new("mosquitto_passwd")
                .args(if i == 0 {
                    &["-c", "-b"][..]
                } else {
                    &["-b"][..]
                })
                .arg(&passwords)
                .args([user, password])
                .status()
                .unwrap();
            assert!(status.success(), "mosquitto_passwd {user}");
        }
        let acl_file = dir.join("acl");
        std::fs::write(&acl_file, acl).unwrap();
        let port = free_port();
        let settings = format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n\
             user root\nlog_dest stdout\nlog_type all\ncafile {}\ncertfile {}\nkeyfile {}\n",
            passwords.display(),
            acl_file.display(),
            ca.display(),
            cert.display(),
            key.display(),
        );
        (
            Broker::spawn(dir, "mosquitto-acl.conf", &settings, port),
            ca,
        )
    }

    /// What the broker has logged so far (with `log_dest stdout`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}
