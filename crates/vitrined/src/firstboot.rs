//! `vitrined firstboot`: a rig's configuration from the file an auditor put
//! on the SD card's boot partition (`/boot/firmware/vitrine.toml`), checked
//! by the daemon's own rules, applied to the configuration folder with its
//! `[secrets]` moved into private files, and then removed. A file that does
//! not check out changes nothing, stays where it is to be fixed, and is
//! reported on the console and, when the broker it names can be reached, as
//! a retained `refused` status (docs/configuration.md, "First boot").

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use vitrine_config::rules::{self, BrokerUrl, Key};
use vitrine_config::{ConfigError, ConfigFile, EXIT_CONFIG, Origin, Overrides, Settings};
use vitrine_publish::broker::{holds_certificates, holds_private_key};
use vitrine_publish::{Broker, BrokerConfig, TlsPem};
use vitrine_schema::{RigState, SpoolCounts, Status};

/// Where the auditor's file is, and the configuration folder it goes to.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The first-boot file: the configuration's keys (as in
    /// /etc/vitrine/vitrine.toml) and an optional [secrets] table
    /// (mqtt_password, tls_key, tls_cert, tls_ca) holding inline what a FAT
    /// partition cannot keep private.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/boot/firmware/vitrine.toml"
    )]
    pub from: PathBuf,
    /// The configuration folder: vitrine.toml and the secret files are
    /// written here.
    #[arg(long, value_name = "DIR", default_value = "/etc/vitrine")]
    pub to: PathBuf,
}

/// A secret the `[secrets]` table may hold: its key there, the file it is
/// moved to, and the `[broker]` key that then names that file.
#[derive(Debug)]
struct Kind {
    name: &'static str,
    file: &'static str,
    /// Readable by the daemon's group at most (0640 root:vitrine, else 0600);
    /// certificates are public (0644).
    private: bool,
    key: Key,
    /// What its text must be.
    check: fn(&str) -> Result<(), String>,
}

const KINDS: [Kind; 4] = [
    Kind {
        name: "mqtt_password",
        file: "mqtt-password",
        private: true,
        key: rules::PASSWORD_FILE,
        check: password,
    },
    Kind {
        name: "tls_key",
        file: "rig.key",
        private: true,
        key: rules::KEY_FILE,
        check: private_key,
    },
    Kind {
        name: "tls_cert",
        file: "rig.pem",
        private: false,
        key: rules::CERT_FILE,
        check: certificates,
    },
    Kind {
        name: "tls_ca",
        file: "ca.pem",
        private: false,
        key: rules::CA_FILE,
        check: certificates,
    },
];

fn password(v: &str) -> Result<(), String> {
    if v.is_empty() || v.chars().any(char::is_control) {
        return Err("must be one line, non-empty, without control characters".into());
    }
    Ok(())
}

fn private_key(v: &str) -> Result<(), String> {
    if holds_private_key(v.as_bytes()) {
        Ok(())
    } else {
        Err("holds no PEM private key (-----BEGIN PRIVATE KEY----- ...)".into())
    }
}

fn certificates(v: &str) -> Result<(), String> {
    if holds_certificates(v.as_bytes()) {
        Ok(())
    } else {
        Err("holds no PEM certificate (-----BEGIN CERTIFICATE----- ...)".into())
    }
}

/// How long the broker is given to take a refusal, connection included.
const BROKER_WITHIN: Duration = Duration::from_secs(4);

/// Runs `vitrined firstboot`: 0 applied, 78 refused (nothing changed), 1 a
/// folder that could not be written.
pub fn main(args: &Args) -> ExitCode {
    // The written configuration names its secret files by absolute paths.
    let args = &Args {
        from: args.from.clone(),
        to: std::path::absolute(&args.to).unwrap_or_else(|_| args.to.clone()),
    };
    let text = match vitrine_config::read_text(&args.from, "first-boot configuration") {
        Ok(t) => t,
        Err(e) => return refuse(args, &e.into(), None, false),
    };
    let plan = match check(args, &text) {
        Ok(plan) => plan,
        Err(e) => return refuse(args, &e, Some(&text), false),
    };
    if let Err(e) = write(args, &plan) {
        vitrine_runtime::fatal(format_args!(
            "vitrined firstboot: error: cannot write {}: {e}; {} stays in place",
            args.to.display(),
            args.from.display()
        ));
        return ExitCode::from(1);
    }
    // The written result, read back as the daemon reads it.
    if let Err(e) = recheck(&args.to.join("vitrine.toml")) {
        return refuse(args, &e, Some(&text), true);
    }
    if let Err(e) = remove(&args.from) {
        vitrine_runtime::fatal(format_args!(
            "vitrined firstboot: error: the configuration was applied to {}, but {} could not be \
             removed ({e}); it holds the secrets in clear: remove it",
            args.to.display(),
            args.from.display()
        ));
        return ExitCode::from(1);
    }
    eprintln!(
        "vitrined firstboot: {} applied to {} ({} secret file{}) and removed",
        args.from.display(),
        args.to.join("vitrine.toml").display(),
        plan.secrets.len(),
        if plan.secrets.len() == 1 { "" } else { "s" }
    );
    ExitCode::SUCCESS
}

/// What to write: the configuration's text and each secret's contents.
#[derive(Debug)]
struct Plan {
    config: String,
    secrets: Vec<(&'static Kind, String)>,
}

/// A secret as given: its kind, text and where its key is.
struct Given<'a> {
    kind: &'static Kind,
    text: &'a str,
    key_span: std::ops::Range<usize>,
}

/// Checks the first-boot file with the daemon's rules and plans what to
/// write; every error names the file, line and key.
fn check(args: &Args, text: &str) -> Result<Plan, ConfigError> {
    let from = &args.from;
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        // A syntax error, in the daemon's words.
        Err(e) => {
            return Err(match ConfigFile::parse(from, text.to_string()) {
                Err(daemon) => daemon,
                Ok(_) => located(
                    from,
                    text,
                    e.span().unwrap_or(0..0),
                    "(syntax)",
                    e.message(),
                ),
            });
        }
    };
    let top = doc.get_ref();
    let mut drop_lines = Vec::new();
    let mut given: Vec<Given<'_>> = Vec::new();
    if let Some((key, value)) = entry(top, "secrets") {
        let Some(table) = value.get_ref().as_table() else {
            return Err(located(
                from,
                text,
                value.span(),
                "secrets",
                "must be a table: [secrets] with mqtt_password, tls_key, tls_cert, tls_ca",
            ));
        };
        let at = &text[value.span()];
        if at.starts_with('[') {
            drop_lines.push(line_of(text, value.span().start));
        } else if at.starts_with('{') {
            drop_lines
                .extend(line_of(text, key.span().start)..=line_of_end(text, value.span().end));
        }
        for (k, v) in table.iter() {
            let name = format!("secrets.{}", k.get_ref());
            let Some(kind) = KINDS.iter().find(|kind| kind.name == k.get_ref().as_ref()) else {
                let known: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
                return Err(located(
                    from,
                    text,
                    k.span(),
                    &name,
                    &format!("unknown secret, expected one of {}", known.join(", ")),
                ));
            };
            let Some(s) = v.get_ref().as_str() else {
                return Err(located(from, text, v.span(), &name, "must be a string"));
            };
            (kind.check)(s).map_err(|m| located(from, text, v.span(), &name, &m))?;
            drop_lines.extend(line_of(text, k.span().start)..=line_of_end(text, v.span().end));
            given.push(Given {
                kind,
                text: s,
                key_span: k.span(),
            });
        }
    }
    // The configuration without its secrets, line for line: every error
    // the daemon's parser finds is at the line and column of this file.
    let blanked = lines(text)
        .enumerate()
        .map(|(i, l)| {
            if drop_lines.contains(&i) {
                ending(l)
            } else {
                l
            }
        })
        .collect::<String>();
    let file = ConfigFile::parse(from, blanked)?;

    let broker = entry(top, "broker");
    let in_broker = |name: &str| {
        broker
            .and_then(|(_, b)| b.get_ref().as_table())
            .and_then(|t| entry(t, name))
    };
    for g in &given {
        let short = g.kind.key.file.trim_start_matches("broker.");
        if let Some((k, _)) = in_broker(short) {
            let (line, _) = vitrine_config::line_column(text, k.span().start);
            return Err(located(
                from,
                text,
                g.key_span.clone(),
                &format!("secrets.{}", g.kind.name),
                &format!(
                    "given twice, here and as {} on line {line}: keep one",
                    g.kind.key.file
                ),
            ));
        }
    }
    let inline = |name| given.iter().any(|g| g.kind.name == name);
    if inline("tls_cert") != inline("tls_key") {
        let g = given
            .iter()
            .find(|g| matches!(g.kind.name, "tls_cert" | "tls_key"))
            .expect("one of them");
        return Err(located(
            from,
            text,
            g.key_span.clone(),
            &format!("secrets.{}", g.kind.name),
            "the client certificate and its key go together: both in [secrets], or both as files",
        ));
    }

    // The rules between keys, with the secrets as the files they become.
    let mut o = Overrides::default();
    for g in &given {
        let path = Some(args.to.join(g.kind.file));
        match g.kind.name {
            "mqtt_password" => o.password_file = path,
            "tls_key" => o.key_file = path,
            "tls_cert" => o.cert_file = path,
            _ => o.ca_file = path,
        }
    }
    let at_secret = |e: ConfigError| match e {
        ConfigError::Option {
            option, message, ..
        } => match given.iter().find(|g| g.kind.key.option == Some(option)) {
            Some(g) => located(
                from,
                text,
                g.key_span.clone(),
                &format!("secrets.{}", g.kind.name),
                &message,
            ),
            None => ConfigError::Option {
                option,
                value: String::new(),
                message,
            },
        },
        e => e,
    };
    let settings = Settings::resolve(Some(&file), &o).map_err(at_secret)?;
    // `vitrined live`, as the unit runs it, cannot do without an adapter.
    settings.capture.require_interface()?;
    // The files the first-boot file names by path, read as the daemon
    // reads them (the inline ones were checked above).
    if let Some(b) = &settings.broker {
        let mut client = b.client.clone();
        let from_secret =
            |s: &vitrine_config::Sourced<PathBuf>| matches!(s.origin, Origin::Option { .. });
        if client.password_file.as_ref().is_some_and(from_secret) {
            client.password_file = None;
        }
        if client.ca_file.as_ref().is_some_and(from_secret) {
            client.ca_file = None;
        }
        if client
            .client_cert
            .as_ref()
            .is_some_and(|(c, k)| from_secret(c) || from_secret(k))
        {
            client.client_cert = None;
        }
        Broker::load(&client)?;
    }

    let config = written(args, text, &drop_lines, broker, &given)?;
    Ok(Plan {
        config,
        secrets: given
            .iter()
            .map(|g| {
                let mut s = g.text.to_string();
                if !s.ends_with('\n') {
                    s.push('\n');
                }
                (g.kind, s)
            })
            .collect(),
    })
}

/// The configuration as written to the folder: the first-boot file without
/// its `[secrets]`, the `[broker]` keys naming the secret files added.
fn written(
    args: &Args,
    text: &str,
    drop_lines: &[usize],
    broker: Option<(&Spanned<std::borrow::Cow<'_, str>>, &Spanned<DeValue<'_>>)>,
    given: &[Given<'_>],
) -> Result<String, ConfigError> {
    // The file's own line endings (a file written on Windows has CRLF).
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let keys = |prefix: &str| {
        given
            .iter()
            .map(|g| {
                let path = args.to.join(g.kind.file);
                format!(
                    "{prefix}{} = {}  # secrets.{} of the first-boot file{nl}",
                    g.kind.key.file.trim_start_matches("broker."),
                    quoted(&path.to_string_lossy()),
                    g.kind.name
                )
            })
            .collect::<String>()
    };
    // After which line the keys go (header or dotted form), or appended.
    let mut insert: Option<(usize, String)> = None;
    let mut append = String::new();
    if !given.is_empty() {
        match broker {
            Some((key, value)) => {
                let at = &text[value.span()];
                let Some(table) = value.get_ref().as_table() else {
                    unreachable!("[broker] is a table: the daemon's parser checked it")
                };
                if at.starts_with('{') {
                    return Err(located(
                        &args.from,
                        text,
                        key.span(),
                        "broker",
                        "with [secrets], write the broker as a [broker] table, not an inline \
                         one, so that the files the secrets go to can be named in it",
                    ));
                }
                let header = at.starts_with('[');
                let last = table
                    .iter()
                    .map(|(_, v)| line_of_end(text, v.span().end))
                    .chain(header.then(|| line_of(text, value.span().start)))
                    .max()
                    .unwrap_or_else(|| line_of(text, key.span().start));
                insert = Some((last, keys(if header { "" } else { "broker." })));
            }
            None => append = format!("{nl}[broker]{nl}{}", keys("")),
        }
    }
    let mut out = format!(
        "# Written by `vitrined firstboot` from {}; its [secrets] are in the files{nl}\
         # named under [broker]. See docs/configuration.md.{nl}",
        args.from.display()
    );
    for (i, line) in lines(text).enumerate() {
        if !drop_lines.contains(&i) {
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str(nl);
            }
        }
        if let Some((after, keys)) = &insert
            && *after == i
        {
            out.push_str(keys);
        }
    }
    out.push_str(&append);
    Ok(out)
}

/// Writes the secret files and the configuration: each to a temporary file
/// in the folder, flushed to disk, then renamed into place (the
/// configuration last) and the folder flushed.
fn write(args: &Args, plan: &Plan) -> std::io::Result<()> {
    std::fs::create_dir_all(&args.to)?;
    let group = daemon_group();
    let mut staged = Vec::new();
    let result = (|| {
        for (kind, contents) in &plan.secrets {
            let mode = match (kind.private, group) {
                (true, Some(_)) => 0o640,
                (true, None) => 0o600,
                (false, _) => 0o644,
            };
            let owner = if kind.private { group } else { None };
            let tmp = stage(&args.to, kind.file, contents, mode, owner)?;
            staged.push((tmp, args.to.join(kind.file)));
        }
        let tmp = stage(&args.to, "vitrine.toml", &plan.config, 0o644, None)?;
        staged.push((tmp, args.to.join("vitrine.toml")));
        Ok(())
    })();
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    for (tmp, path) in &staged {
        std::fs::rename(tmp, path)?;
    }
    File::open(&args.to)?.sync_all()
}

/// `contents` in a temporary file beside `name` in `dir`, with `mode` (and
/// `root:group` when given), flushed to disk.
fn stage(
    dir: &Path,
    name: &str,
    contents: &str,
    mode: u32,
    group: Option<u32>,
) -> std::io::Result<PathBuf> {
    let tmp = dir.join(format!(".{name}.firstboot-tmp"));
    // A leftover of an interrupted run.
    let _ = std::fs::remove_file(&tmp);
    // Created private, opened up only once owned as it should be.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    if let Some(gid) = group {
        std::os::unix::fs::fchown(&f, Some(0), Some(gid))?;
    }
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.sync_all()?;
    Ok(tmp)
}

/// The daemon's group, when it exists and this process may give files to
/// it (as root): secrets are then `root:vitrine 0640`, else `0600`.
fn daemon_group() -> Option<u32> {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        return None;
    }
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some("vitrine"))
            .then(|| f.nth(1)?.parse().ok())
            .flatten()
    })
}

/// The written configuration, read back and resolved as `vitrined live`
/// resolves it, its secret files read (and their modes checked).
fn recheck(config: &Path) -> Result<(), ConfigError> {
    let settings = Settings::load(Some(config), &Overrides::default())?;
    settings.capture.require_interface()?;
    if let Some(b) = &settings.broker {
        Broker::load(&b.client)?;
    }
    Ok(())
}

/// Empties the first-boot file, then deletes it. On FAT this frees its
/// clusters without erasing them (docs/configuration.md, "First boot").
fn remove(path: &Path) -> std::io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(0)?;
    f.sync_all()?;
    drop(f);
    std::fs::remove_file(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Some file systems cannot flush a folder; the removal stands.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Reports a refused file: the error on stderr (the console, under the
/// unit), and a retained `refused` status when its broker can be reached.
fn refuse(args: &Args, error: &ConfigError, text: Option<&str>, written: bool) -> ExitCode {
    vitrine_runtime::fatal(format_args!("vitrined: configuration error: {error}"));
    let folder = if written {
        format!("{} was written but does not read back", args.to.display())
    } else {
        format!("nothing in {} was changed", args.to.display())
    };
    eprintln!(
        "vitrined firstboot: {} was refused and {folder}; vitrined does not start until it is \
         applied: fix the file and reboot (or systemctl start vitrined, which runs the first \
         boot again)",
        args.from.display(),
    );
    let target = text.map_or_else(
        || Err("the file could not be read".to_string()),
        |t| status_target(t, &args.to),
    );
    match target {
        Ok(cfg) => {
            let status = Status {
                state: RigState::Refused,
                version: env!("CARGO_PKG_VERSION").to_string(),
                boot: vitrine_privacy::random_id(),
                spool: SpoolCounts::default(),
                reason: Some(error.to_string()),
                sensors: None,
            };
            let topic = cfg.topic("status");
            let (tx, rx) = std::sync::mpsc::channel();
            // A thread of its own, so that nothing in it (a name to
            // resolve, a silent network) can hold the exit back.
            std::thread::spawn(move || {
                let _ = tx.send(vitrine_publish::once::publish_status(
                    &cfg,
                    &status,
                    BROKER_WITHIN,
                ));
            });
            match rx.recv_timeout(BROKER_WITHIN + Duration::from_secs(1)) {
                Ok(Ok(())) => eprintln!("vitrined firstboot: the refusal is on {topic}"),
                Ok(Err(e)) => eprintln!("vitrined firstboot: the broker was not told: {e}"),
                Err(_) => eprintln!("vitrined firstboot: the broker was not told: no answer"),
            }
        }
        Err(why) => eprintln!("vitrined firstboot: the broker was not told: {why}"),
    }
    ExitCode::from(EXIT_CONFIG)
}

/// Where to tell of a refusal: the site, rig and broker the file names, as
/// far as they can be read from a file that is wrong somewhere else.
fn status_target(text: &str, to: &Path) -> Result<BrokerConfig, String> {
    let doc = DeTable::parse(text).map_err(|_| "the file is not TOML".to_string())?;
    let top = doc.get_ref();
    let string = |t: &DeTable<'_>, name: &str| {
        entry(t, name).and_then(|(_, v)| v.get_ref().as_str().map(str::to_string))
    };
    let empty = DeTable::default();
    let table = |name: &str| {
        entry(top, name)
            .and_then(|(_, v)| v.get_ref().as_table())
            .unwrap_or(&empty)
    };
    let (broker_table, secrets) = (table("broker"), table("secrets"));
    let url = string(broker_table, "url").ok_or("the file names no broker.url")?;
    let parsed = BrokerUrl::parse(&url).map_err(|e| format!("broker.url: {e}"))?;
    let id = |name: &str| {
        string(top, name)
            .filter(|v| rules::id(v).is_ok())
            .ok_or(format!("no valid {name} id to name the status topic"))
    };
    let (site, rig) = (id("site")?, id("rig")?);
    // A secret inline, or in the file named for it (read as it is; an
    // absolute path is where the rig has it, a relative one is taken in
    // the configuration folder).
    let secret = |inline: &str, file_key: &str| -> Option<String> {
        string(secrets, inline).or_else(|| {
            let path = to.join(string(broker_table, file_key)?);
            vitrine_config::read_text(&path, "secret").ok()
        })
    };
    let username = string(broker_table, "username").filter(|u| rules::username(u).is_ok());
    let password = secret("mqtt_password", "password_file")
        .map(|p| p.trim_end_matches(['\r', '\n']).to_string());
    let tls = if parsed.tls {
        let ca = secret("tls_ca", "ca_file").ok_or("no CA certificate for mqtts://")?;
        let client = secret("tls_cert", "cert_file").zip(secret("tls_key", "key_file"));
        Some(TlsPem {
            ca: ca.into_bytes(),
            client: client.map(|(c, k)| (c.into_bytes(), k.into_bytes())),
        })
    } else {
        None
    };
    let broker = Broker {
        url,
        host: parsed.host,
        port: parsed.port,
        username,
        password,
        tls,
    };
    let prefix = string(broker_table, "topic_prefix")
        .filter(|p| rules::topic_prefix(p).is_ok())
        .unwrap_or_else(|| vitrine_config::defaults::TOPIC_PREFIX.to_string());
    Ok(BrokerConfig::new(broker, &site, &rig, &vitrine_privacy::random_id())?.with_prefix(&prefix))
}

/// The entry `name` of a table, with its key.
fn entry<'t, 'i>(
    table: &'t DeTable<'i>,
    name: &str,
) -> Option<(
    &'t Spanned<std::borrow::Cow<'i, str>>,
    &'t Spanned<DeValue<'i>>,
)> {
    table.iter().find(|(k, _)| k.get_ref().as_ref() == name)
}

/// An error at byte `span` of the first-boot file, located as the daemon
/// locates its own.
fn located(
    path: &Path,
    text: &str,
    span: std::ops::Range<usize>,
    key: &str,
    message: &str,
) -> ConfigError {
    vitrine_config::Unlocated {
        span,
        key: key.to_string(),
        message: message.to_string(),
    }
    .locate(path, text)
}

/// 0-based line of byte `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count()
}

/// 0-based line of the last byte of a span ending at `end`.
fn line_of_end(text: &str, end: usize) -> usize {
    line_of(text, end.saturating_sub(1))
}

/// The lines of `text`, each with its line ending.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n')
}

/// Only the line ending of `line` (a line emptied, the count kept).
fn ending(line: &str) -> &str {
    &line[line.trim_end_matches(['\r', '\n']).len()..]
}

/// A TOML basic string (JSON's escapes are TOML's).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}
