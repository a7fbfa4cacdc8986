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
    /// Lines a process writes to the system journal.
    Journal,
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
        name: "orm-sqlite-truncated",
        leak: "SHA-256 truncated to 12 and 16 hex digits in ORM-style SQLite tables, beside REAL and ISO-text timestamps",
        check: "storage.canary",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "netaddr-log",
        leak: "MACs logged as netaddr's mac_unix (octets without leading zeros) and PostgreSQL macaddr text",
        check: "storage.canary",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "rotated-logs",
        leak: "raw MACs in rotated logs, compressed as gzip, bzip2, xz, zstd and lz4, and archived in zip and tar",
        check: "storage.canary",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "salted-csv-with-config",
        leak: "the salt of a CSV of salted MAC hashes, in the vendor's config.ini beside it",
        check: "keys.on_disk",
        also: &[],
        kind: Kind::Files,
    },
    Fixture {
        name: "package-root-with-frame",
        leak: "one camera frame left in a root file system whose packages ship icons and pictures",
        check: "storage.media",
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
    Fixture {
        name: "macs-in-journal",
        leak: "raw MACs written to the system journal",
        check: "journal.canary",
        also: &[],
        kind: Kind::Journal,
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

/// A baseline JPEG header (SOF0) of `w` x `h`, with an EXIF block (as
/// cameras write) when `exif`.
pub fn jpeg(w: u16, h: u16, exif: bool) -> Vec<u8> {
    let mut j = vec![0xff, 0xd8];
    if exif {
        j.extend_from_slice(&[0xff, 0xe1, 0, 8]);
        j.extend_from_slice(b"Exif\0\0");
    }
    j.extend_from_slice(&[0xff, 0xc0, 0, 17, 8]);
    j.extend_from_slice(&h.to_be_bytes());
    j.extend_from_slice(&w.to_be_bytes());
    j.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    j.extend_from_slice(&[0xff, 0xd9]);
    j
}

/// A PNG header (IHDR) of `side` x `side`.
pub fn png(side: u32) -> Vec<u8> {
    let mut p = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    p.extend_from_slice(&side.to_be_bytes());
    p.extend_from_slice(&side.to_be_bytes());
    p.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    p
}

/// MD5 as dpkg's `md5sums` writes it.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of the colon-lower spelling, as lower-case hex cut to `digits`:
/// what an ORM's `anon = sha256(mac)[:12]` column holds.
pub fn truncated_sha256(mac: &[u8; 6], digits: usize) -> String {
    let text = spelled(mac, Spelling::Colon, Case::Lower);
    hex(&Algorithm::Sha256.digest(text.as_bytes()), Case::Lower)[..digits].to_string()
}

/// The salt of `salted-csv-with-config` (it must never be in a report).
pub const VENDOR_SALT: &str = "5f0e9c2ab7d14e83a6c0f19b2d7e4a38";

/// The line of `config.ini` that holds [`VENDOR_SALT`].
pub const VENDOR_SALT_LINE: usize = 7;

/// The rotated logs of `rotated-logs`: file name under `var/log/vendor`,
/// the compression chain the audit reports, and the archive member (if
/// any) that holds the log.
pub const ROTATED: &[(&str, &str, Option<&str>)] = &[
    ("probes.log.1.gz", "gzip", None),
    ("probes.log.2.bz2", "bzip2", None),
    ("probes.log.3.xz", "xz", None),
    ("probes.log.4.zst", "zstd", None),
    ("probes.log.5.lz4", "lz4", None),
    ("probes-2026-10.zip", "zip", Some("probes.log.6")),
    // An archive of rotated logs, each gzip'd as logrotate left it.
    ("probes-2026-09.tar", "tar/gzip", Some("probes.log.7.gz")),
];

/// What each rotated log holds: every MAC canary in clear (colon-lower,
/// as tcpdump and hostapd print them), one line each.
pub fn rotated_log_text(registry: &Registry) -> String {
    macs(registry)
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "2026-11-0{} 09:1{i}:00 probe-req from {} rssi -6{i}\n",
                i + 1,
                spelled(m, Spelling::Colon, Case::Lower)
            )
        })
        .collect()
}

/// `data` compressed (or archived) as `chain` says (outermost first), the
/// archive member named `member`.
fn pack(chain: &str, member: Option<&str>, data: &[u8]) -> std::io::Result<Vec<u8>> {
    if let Some((outer, inner)) = chain.split_once('/') {
        return pack(outer, member, &pack(inner, None, data)?);
    }
    Ok(match chain {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data)?;
            e.finish()?
        }
        "bzip2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            e.write_all(data)?;
            e.finish()?
        }
        "xz" => {
            let mut w =
                lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6))?;
            w.write_all(data)?;
            w.finish()?
        }
        "zstd" => zstd::encode_all(data, 3)?,
        "lz4" => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data)?;
            e.finish().map_err(std::io::Error::other)?
        }
        "zip" => {
            let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            z.start_file(
                member.unwrap_or("log"),
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )
            .map_err(std::io::Error::other)?;
            z.write_all(data)?;
            z.finish().map_err(std::io::Error::other)?.into_inner()
        }
        "tar" => {
            let mut t = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_759_300_000);
            h.set_cksum();
            t.append_data(&mut h, member.unwrap_or("log"), data)?;
            t.into_inner()?
        }
        _ => panic!("no packing {chain}"),
    })
}

/// The images of `package-root-with-frame` that its package `camviewer`
/// ships (path under the root, content), set apart by the dpkg database.
pub fn package_images() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("usr/share/icons/hicolor/48x48/apps/camviewer.png", png(48)),
        ("usr/share/doc/camviewer/logo.png", png(128)),
        // Larger than an icon: set apart only because dpkg's md5sums
        // say it is the package's own, unchanged.
        (
            "usr/share/doc/camviewer/screenshot.jpg",
            jpeg(800, 600, false),
        ),
    ]
}

/// The frame `package-root-with-frame` leaves behind, under the root.
pub const LEAKED_FRAME: &str = "var/lib/vendor/cam/frame-000123.jpg";

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
        "orm-sqlite-truncated" => {
            // What an ORM makes of `anon = sha256(mac)[:n]`: the digest,
            // then the time as REAL (its first byte, 0x41, is a hex digit)
            // or as ISO text, then the RSSI.
            let db = rusqlite::Connection::open(data.join("tracker.db"))
                .map_err(std::io::Error::other)?;
            db.execute_batch(
                "CREATE TABLE visit (id INTEGER PRIMARY KEY, anon TEXT, ts REAL, rssi INTEGER);
                 CREATE TABLE visit_iso (id INTEGER PRIMARY KEY, anon TEXT, ts TEXT, rssi INTEGER);
                 CREATE INDEX visit_anon ON visit (anon);",
            )
            .map_err(std::io::Error::other)?;
            for (i, m) in macs.iter().enumerate() {
                let rssi = -40 - i as i64;
                db.execute(
                    "INSERT INTO visit (anon, ts, rssi) VALUES (?1, ?2, ?3)",
                    rusqlite::params![
                        truncated_sha256(m, 12),
                        1_764_670_000.25 + i as f64 * 37.5,
                        rssi
                    ],
                )
                .map_err(std::io::Error::other)?;
                db.execute(
                    "INSERT INTO visit_iso (anon, ts, rssi) VALUES (?1, ?2, ?3)",
                    rusqlite::params![
                        truncated_sha256(m, 16),
                        format!("2026-12-02T10:{:02}:{:02}Z", i * 3, i * 7 % 60),
                        rssi
                    ],
                )
                .map_err(std::io::Error::other)?;
            }
        }
        "netaddr-log" => {
            // Python's netaddr: `mac_unix` drops leading zeros
            // (`60:8b:e:2a:65:2b`), `mac_pgsql` is PostgreSQL's macaddr
            // input form (`608b0e:2a652b`).
            let dir = root.join("var/log/vendor");
            std::fs::create_dir_all(&dir)?;
            let mut log = std::fs::File::create(dir.join("presence.log"))?;
            for (i, m) in macs.iter().enumerate() {
                writeln!(
                    log,
                    "2026-12-02 10:0{i}:00,123 INFO presence: seen {} rssi=-5{i}",
                    spelled(m, Spelling::ColonUnpadded, Case::Lower)
                )?;
                writeln!(
                    log,
                    "2026-12-02 10:0{i}:01,456 DEBUG db: INSERT INTO seen (mac) VALUES ('{}'::macaddr)",
                    spelled(m, Spelling::Colon6, Case::Lower)
                )?;
            }
        }
        "rotated-logs" => {
            let dir = root.join("var/log/vendor");
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("probes.log"), "2026-12-02 10:00:00 started\n")?;
            let text = rotated_log_text(registry);
            for (file, chain, member) in ROTATED {
                std::fs::write(dir.join(file), pack(chain, *member, text.as_bytes())?)?;
            }
        }
        "salted-csv-with-config" => {
            let vendor = root.join("opt/vendor");
            std::fs::create_dir_all(&vendor)?;
            std::fs::write(
                vendor.join("config.ini"),
                format!(
                    "; tracker settings\n[tracker]\ninterface = wlan0\nchannel = 6\n\n[privacy]\nsalt = {VENDOR_SALT}\nretention_days = 30\n"
                ),
            )?;
            // The canaries among other devices, salted as the config says.
            let mut csv = String::from("ts,device,rssi\n");
            let others = (0..36u8).map(|i| [0x3c, 0x22, 0xfb, 0x00, 0x10, i]);
            for (i, m) in macs.iter().copied().chain(others).enumerate() {
                let input = format!("{VENDOR_SALT}{}", spelled(&m, Spelling::Colon, Case::Lower));
                csv += &format!(
                    "2026-11-25T10:{:02}:00Z,{},-{}\n",
                    i % 60,
                    hex(&Algorithm::Sha256.digest(input.as_bytes()), Case::Lower),
                    40 + i
                );
            }
            std::fs::write(vendor.join("visits.csv"), csv)?;
        }
        "package-root-with-frame" => {
            let info = root.join("var/lib/dpkg/info");
            std::fs::create_dir_all(&info)?;
            let mut list = String::from("/.\n/usr\n/usr/share\n");
            let mut sums = String::new();
            for (rel, content) in package_images() {
                let p = root.join(rel);
                std::fs::create_dir_all(p.parent().expect("a file under the root"))?;
                std::fs::write(&p, &content)?;
                list += &format!("/{rel}\n");
                sums += &format!("{}  {rel}\n", md5_hex(&content));
            }
            std::fs::write(info.join("camviewer.list"), list)?;
            std::fs::write(info.join("camviewer.md5sums"), sums)?;
            let frame = root.join(LEAKED_FRAME);
            std::fs::create_dir_all(frame.parent().expect("a file under the root"))?;
            std::fs::write(frame, jpeg(1280, 720, true))?;
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
        // One message per canary, each naming the last device at the till.
        "mac-in-stream" => (
            vec![msg(counts(12))],
            macs.iter()
                .map(|m| {
                    let m = spelled(m, Spelling::Dash, Case::Lower);
                    msg(format!(
                        "{{\"zone\":\"till\",\"count\":7,\"last_device\":\"{m}\"}}"
                    ))
                })
                .collect(),
        ),
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

/// The lines a `Kind::Journal` fixture's process writes to its standard
/// output, which systemd connects to the journal.
pub fn journal_lines(name: &str, registry: &Registry) -> Vec<String> {
    let macs = macs(registry);
    match name {
        "macs-in-journal" => macs
            .iter()
            .map(|m| {
                format!(
                    "wlan0: STA {} probe request, rssi -58",
                    spelled(m, Spelling::Colon, Case::Lower)
                )
            })
            .collect(),
        _ => panic!("{name} is not a journal fixture"),
    }
}

/// Copies `/bin/sh` to `dir/vendord` so the fixture has its own name.
pub fn vendord(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join("vendord");
    std::fs::copy("/bin/sh", &path)?;
    Ok(path)
}
