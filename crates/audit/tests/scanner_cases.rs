//! The canary scanner against what real trackers write: truncated digests
//! in SQLite records written by SQLite itself, and canaries a vendor could
//! not filter out by their look.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::{Connection, params};
use vitrine_canary::encoding::{Algorithm, Case, Spelling, hex, spelled};
use vitrine_canary::registry::vendor_pool;
use vitrine_canary::{Registry, Scanner};

/// The 8 MAC canaries of one registry, under common vendors.
fn registry() -> Registry {
    let ouis = [
        [0x3c, 0x22, 0xfb],
        [0xf0, 0x18, 0x98],
        [0x00, 0x1b, 0x63],
        [0x60, 0x8b, 0x0e],
    ];
    Registry::from_seed(8, 0, &ouis, 11)
}

/// SHA-256 of the colon-lower spelling, as hex cut to `digits`.
fn truncated(mac: &[u8; 6], digits: usize) -> String {
    let text = spelled(mac, Spelling::Colon, Case::Lower);
    hex(&Algorithm::Sha256.digest(text.as_bytes()), Case::Lower)[..digits].to_string()
}

/// Canaries found in the files of `dir` (the database, its WAL).
fn found_in(dir: &Path, scanner: &Scanner, name: &str) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let file = std::fs::File::open(&path).unwrap();
        scanner
            .scan_reader(file, &mut |m| {
                if m.encoding.to_string() == name {
                    found.insert(m.canary);
                }
            })
            .unwrap();
    }
    found
}

/// An ORM-style table: the truncated digest, then a timestamp stored as
/// REAL (its first byte is 0x41, 'A') or as ISO text (its first byte is
/// '2'), then the RSSI; and one with the timestamp before the digest, whose
/// serial type (text of 20 bytes: 0x35, '5') is the byte before it.
#[test]
fn truncated_digests_in_sqlite_records_are_found_with_real_and_iso_timestamps() {
    let reg = registry();
    let scanner = Scanner::new(&reg);
    let macs: Vec<[u8; 6]> = reg.macs().map(|(_, m)| m).collect();
    assert_eq!(macs.len(), 8);
    let name = "sha256(colon-lower)/hex-lower";
    for digits in [12, 16] {
        for layout in ["real", "iso", "iso-first", "wal", "deleted"] {
            let dir = tempfile::tempdir().unwrap();
            let db = Connection::open(dir.path().join("visits.db")).unwrap();
            if layout == "wal" {
                db.pragma_update(None, "journal_mode", "WAL").unwrap();
                db.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
            }
            if layout == "deleted" {
                db.pragma_update(None, "secure_delete", false).unwrap();
            }
            let (ddl, insert) = match layout {
                "iso" => (
                    "CREATE TABLE visits (id INTEGER PRIMARY KEY, anon TEXT, ts TEXT, rssi INTEGER)",
                    "INSERT INTO visits (anon, ts, rssi) VALUES (?1, ?2, ?3)",
                ),
                "iso-first" => (
                    "CREATE TABLE visits (id INTEGER PRIMARY KEY, ts TEXT, anon TEXT, rssi INTEGER)",
                    "INSERT INTO visits (anon, ts, rssi) VALUES (?1, ?2, ?3)",
                ),
                _ => (
                    "CREATE TABLE visits (id INTEGER PRIMARY KEY, anon TEXT, ts REAL, rssi INTEGER)",
                    "INSERT INTO visits (anon, ts, rssi) VALUES (?1, ?2, ?3)",
                ),
            };
            db.execute(ddl, []).unwrap();
            db.execute("CREATE INDEX visits_anon ON visits (anon)", [])
                .unwrap();
            for (i, mac) in macs.iter().enumerate() {
                let when = 1_764_670_000.25 + i as f64 * 37.5;
                let rssi = -40 - i as i64;
                let anon = truncated(mac, digits);
                if layout.starts_with("iso") {
                    let ts = format!("2026-12-02T10:{:02}:{:02}Z", i * 3, i * 7 % 60);
                    db.execute(insert, params![anon, ts, rssi]).unwrap();
                } else {
                    db.execute(insert, params![anon, when, rssi]).unwrap();
                }
            }
            if layout == "deleted" {
                // Deleted rows and the dropped index go to free space and
                // freelist pages; their bytes stay in the file.
                db.execute("DROP INDEX visits_anon", []).unwrap();
                db.execute("DELETE FROM visits", []).unwrap();
            }
            if layout == "wal" {
                // The rows are only in the -wal file until a checkpoint.
                let wal = dir.path().join("visits.db-wal");
                assert!(std::fs::metadata(&wal).unwrap().len() > 0);
                let found = found_in(dir.path(), &scanner, name);
                assert_eq!(found.len(), 8, "{digits} digits, {layout}: {found:?}");
            }
            drop(db);
            let found = found_in(dir.path(), &scanner, name);
            assert_eq!(
                found,
                (0..8).collect::<BTreeSet<_>>(),
                "{digits} digits, {layout}"
            );
        }
    }
}

/// What the scanner would have found before: a truncation counted only
/// with a non-hex byte after it. Kept as the reason for the rule.
#[test]
fn the_neighbouring_column_of_a_real_timestamp_is_a_hex_digit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let db = Connection::open(&path).unwrap();
    db.execute("CREATE TABLE t (anon TEXT, ts REAL)", [])
        .unwrap();
    db.execute("INSERT INTO t VALUES ('0123456789ab', 1764670000.25)", [])
        .unwrap();
    drop(db);
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == b"0123456789ab")
        .unwrap();
    assert_eq!(bytes[at + 12], b'A');
}

/// Acceptance: registries made with seeds 1 to 100 draw their first MAC
/// canary's OUI across many vendors (weighted by their MA-L block counts in
/// Debian's ieee-data), and their SSIDs look like anybody's.
#[test]
fn registries_from_seeds_1_to_100_spread_their_ouis_and_never_repeat_an_ssid() {
    let table = vitrine_reverse::OuiTable::load(&vitrine_reverse::OuiTable::default_path())
        .expect("ieee-data is installed (cargo xtask test installs it)");
    let pool = vendor_pool(&table.entries, 100);
    assert!(pool.len() > 5_000, "{}", pool.len());
    let mut ouis = BTreeSet::new();
    let mut vendors = BTreeSet::new();
    let mut ssids = BTreeSet::new();
    for seed in 1..=100u64 {
        let reg = Registry::from_seed(8, 2, &pool, seed);
        assert_eq!(reg.seed, Some(seed));
        let (_, first) = reg.macs().next().unwrap();
        let oui = [first[0], first[1], first[2]];
        ouis.insert(oui);
        vendors.insert(table.vendor(oui).unwrap().to_string());
        for (_, ssid) in reg.ssids() {
            assert!(
                !ssid.to_lowercase().contains("canary"),
                "seed {seed}: {ssid}"
            );
            assert!(
                ssids.insert(ssid.to_string()),
                "seed {seed}: {ssid} repeats"
            );
        }
    }
    assert!(ouis.len() >= 30, "{} distinct OUIs", ouis.len());
    assert!(
        vendors.len() >= 10,
        "{} vendors: {vendors:?}",
        vendors.len()
    );
    assert_eq!(ssids.len(), 200);
}
