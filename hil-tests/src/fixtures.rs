//! Leaky "vendor" fixtures: each breaks one rule the way real products
//! have, given the canaries of an audit. `vitrine-audit` must catch each
//! with the right check id; `docs/audit.md` has the table. The same
//! fixtures run on the host (`crates/audit/tests/fixtures.rs`) and beside
//! the rig on the board.

use std::io::Write;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use vitrine_canary::Registry;
use vitrine_canary::encoding::{Algorithm, Case, Spelling, hex, spelled};

/// How a fixture breaks its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Files on the device.
    Files,
    /// Messages the device publishes.
    Stream,
    /// A running process.
    Process,
}

#[derive(Debug, Clone, Copy)]
pub struct Fixture {
    pub name: &'static str,
    /// The rule broken, as a product broke it.
    pub leak: &'static str,
    /// The check that must catch it.
    pub check: &'static str,
    /// Other checks the same leak rightly fails (a MAC in clear is also a
    /// per-device identifier). Process fixtures also fail whichever
    /// hardening checks the process they run in fails.
    pub also: &'static [&'static str],
    pub kind: Kind,
}

pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "raw-mac-log",
        leak: "raw MACs in a debug log",
        check: "storage.canary",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "sqlite-sha256",
        leak: "unsalted SHA-256 of MACs in a SQLite table",
        check: "storage.canary",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "truncated-sha256",
        leak: "SHA-256 truncated to 12 hex digits, in a gzip-rotated export",
        check: "storage.canary",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "jpeg-frames",
        leak: "camera JPEG frames left in a temp folder",
        check: "storage.media",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "stale-summaries",
        leak: "summaries kept past their retention",
        check: "storage.retention",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "salt-on-disk",
        leak: "the hashing salt written to disk",
        check: "keys.on_disk",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "pseudonyms-published",
        leak: "per-device pseudonyms published",
        check: "stream.pseudonyms",
        also: &[],
        kind: Kind::Stream,
    },
    Fixture {
        name: "static-salt",
        leak: "a salt that never rotates (pseudonyms link across the claimed rotation)",
        check: "stream.linkable",
        also: &[],
        kind: Kind::Stream,
    },
    Fixture {
        name: "bin-below-k",
        leak: "a zone count below k published",
        check: "stream.k_anonymity",
        also: &[],
        kind: Kind::Stream,
    },
    Fixture {
        name: "mac-in-stream",
        leak: "MACs published in clear",
        check: "stream.canary",
        also: &["stream.pseudonyms"],
        kind: Kind::Stream,
    },
    Fixture {
        name: "core-dumps",
        leak: "core dumps enabled for the tracking daemon",
        check: "hardening.core_dumps",
        also: &[],
        kind: Kind::Process,
    },
    Fixture {
        name: "macs-in-memory",
        leak: "raw MACs kept in memory past the in-memory retention",
        check: "memory.canary",
        also: &[],
        kind: Kind::Process,
    },
];

pub fn fixture(name: &str) -> &'static Fixture {
    FIXTURES
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn macs(registry: &Registry) -> Vec<[u8; 6]> {
    registry.macs().map(|(_, m)| m).collect()
}

/// A minimal JPEG: SOI, JFIF APP0, EOI. What matters is the magic.
pub const JPEG: &[u8] =
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9";

/// Writes the files of a `Kind::Files` fixture under `root` (as if `root`
/// were the device's `/`). Returns the device's data folder (for the
/// retention check).
pub fn plant_files(name: &str, root: &Path, registry: &Registry) -> std::io::Result<PathBuf> {
    let data = root.join("var/lib/vendor");
    std::fs::create_dir_all(&data)?;
    let macs = macs(registry);
    match name {
        "raw-mac-log" => {
            let dir = root.join("var/log/vendor");
            std::fs::create_dir_all(&dir)?;
            let mut log = std::fs::File::create(dir.join("tracker.log"))?;
            for (i, m) in macs.iter().enumerate() {
                writeln!(
                    log,
                    "2026-11-24 10:0{i}:00 DEBUG probe from {} rssi=-61 ch=6",
                    spelled(m, Spelling::Colon, Case::Upper)
                )?;
            }
        }
        "sqlite-sha256" => {
            let db = rusqlite::Connection::open(data.join("visits.db"))
                .map_err(std::io::Error::other)?;
            db.execute_batch(
                "CREATE TABLE visits (device TEXT, first_seen INTEGER, dwell_s INTEGER);",
            )
            .map_err(std::io::Error::other)?;
            for (i, m) in macs.iter().enumerate() {
                let h = hex(
                    &Algorithm::Sha256.digest(spelled(m, Spelling::Colon, Case::Lower).as_bytes()),
                    Case::Lower,
                );
                db.execute(
                    "INSERT INTO visits VALUES (?1, ?2, ?3)",
                    rusqlite::params![h, 1_764_000_000 + i as i64, 120],
                )
                .map_err(std::io::Error::other)?;
            }
        }
        "truncated-sha256" => {
            let file = std::fs::File::create(data.join("export-2026-11-23.csv.gz"))?;
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
            writeln!(gz, "visitor,zone,dwell_s")?;
            for m in &macs {
                let h = hex(&Algorithm::Sha256.digest(m), Case::Lower);
                writeln!(gz, "{},entrance,95", &h[..12])?;
            }
            gz.finish()?;
        }
        "jpeg-frames" => {
            let dir = root.join("tmp/vendor-frames");
            std::fs::create_dir_all(&dir)?;
            for i in 0..3 {
                std::fs::write(dir.join(format!("frame-{i:05}.jpg")), JPEG)?;
            }
        }
        "stale-summaries" => {
            let dir = data.join("summaries");
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("2026-10-01.json");
            std::fs::write(&path, "{\"zone\":\"entrance\",\"visitors\":143}\n")?;
            let old = filetime::FileTime::from_unix_time(
                OffsetDateTime::now_utc().unix_timestamp() - 40 * 86_400,
                0,
            );
            filetime::set_file_mtime(&path, old)?;
        }
        "salt-on-disk" => {
            let salt: [u8; 32] = rand::random();
            std::fs::write(data.join("hash.salt"), salt)?;
        }
        _ => panic!("{name} is not a file fixture"),
    }
    Ok(data)
}

/// A vendor's salted pseudonym: SHA-256 of salt and MAC, 16 hex digits.
fn pseudonym(salt: &str, mac: &[u8; 6]) -> String {
    let mut input = salt.as_bytes().to_vec();
    input.extend_from_slice(mac);
    hex(&Algorithm::Sha256.digest(&input), Case::Lower)[..16].to_string()
}

/// Messages as (topic, JSON payload).
pub type Messages = Vec<(String, String)>;

/// The messages of a `Kind::Stream` fixture, in two batches: before the
/// vendor's claimed salt rotation, and after it.
pub fn stream_messages(name: &str, registry: &Registry) -> (Messages, Messages) {
    let macs = macs(registry);
    let topic = "vendor/store-1/occupancy".to_string();
    let visitors = |salt: &str| {
        let list: Vec<String> = macs
            .iter()
            .map(|m| format!("{{\"id\":\"{}\",\"dwell_s\":95}}", pseudonym(salt, m)))
            .collect();
        format!(
            "{{\"zone\":\"entrance\",\"visitors\":[{}],\"total\":{}}}",
            list.join(","),
            40 + macs.len()
        )
    };
    let counts = |n: usize| format!("{{\"zone\":\"entrance\",\"count\":{n}}}");
    let msg = |body: String| (topic.clone(), body);
    match name {
        // The salt does rotate here: only the publishing is wrong.
        "pseudonyms-published" => (
            vec![msg(visitors("salt-monday"))],
            vec![msg(visitors("salt-tuesday"))],
        ),
        "static-salt" => (
            vec![msg(visitors("salt-forever"))],
            vec![msg(visitors("salt-forever"))],
        ),
        "bin-below-k" => (
            vec![
                msg(counts(12)),
                msg("{\"zone\":\"fitting-room\",\"count\":2}".into()),
            ],
            vec![msg(counts(9))],
        ),
        "mac-in-stream" => {
            let m = spelled(&macs[0], Spelling::Dash, Case::Lower);
            (
                vec![msg(counts(12))],
                vec![msg(format!(
                    "{{\"zone\":\"till\",\"count\":7,\"last_device\":\"{m}\"}}"
                ))],
            )
        }
        _ => panic!("{name} is not a stream fixture"),
    }
}

/// The policy a fixture is audited against: the vendor's own claim where
/// the rule broken is one the vendor claims to keep.
pub fn policy(name: &str) -> &'static str {
    match name {
        // The vendor says pseudonyms may leave the device because they rotate daily.
        "static-salt" => "[anonymity]\npseudonyms_leave_device = true\n",
        // Raw MACs may live in memory for one second.
        "macs-in-memory" => "[retention]\ndevice_state_s = 1\n",
        _ => "",
    }
}

/// The command line of a `Kind::Process` fixture, run as a process named
/// `vendord` (a copy of `/bin/sh` at `dir/vendord`).
pub fn process_script(name: &str, registry: &Registry) -> String {
    let macs = macs(registry);
    match name {
        "core-dumps" => "ulimit -c unlimited; while :; do sleep 1; done".into(),
        // The shell keeps its variables in its heap.
        "macs-in-memory" => {
            let list: Vec<String> = macs
                .iter()
                .map(|m| spelled(m, Spelling::Colon, Case::Lower))
                .collect();
            format!(
                "ulimit -c 0; SEEN='{}'; while :; do sleep 1; done",
                list.join(" ")
            )
        }
        _ => panic!("{name} is not a process fixture"),
    }
}

/// Copies `/bin/sh` to `dir/vendord` so the fixture has its own name.
pub fn vendord(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join("vendord");
    std::fs::copy("/bin/sh", &path)?;
    Ok(path)
}
