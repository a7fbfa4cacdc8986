use super::*;

fn open(dir: &Path) -> Spool {
    Spool::open(
        dir,
        SpoolPolicy {
            retention_s: 3600,
            max_bytes: 1 << 20,
        },
    )
    .unwrap()
}

#[test]
fn entries_survive_a_reopen_in_order_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path());
    let a = s.push(100, "vitrine/s/r/wifi", b"first").unwrap();
    let b = s.push(100, "vitrine/s/r/wifi", b"second").unwrap();
    drop(s);
    let mut s = open(dir.path());
    let got = s.oldest(10).unwrap();
    assert_eq!(
        got.iter().map(|e| e.payload.as_slice()).collect::<Vec<_>>(),
        [b"first".as_slice(), b"second"]
    );
    assert_eq!(got[0].topic, "vitrine/s/r/wifi");
    s.acknowledge(&a).unwrap();
    drop(s);
    let mut s = open(dir.path());
    let left: Vec<String> = s.oldest(10).unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(left, std::slice::from_ref(&b));
    // A restart never reuses a name, even in the same second.
    let c = s.push(100, "t", b"third").unwrap();
    assert!(c > b && c != a, "{c} after {b}");
    assert_eq!(s.len(), 2);
}

#[test]
fn retention_deletes_unsent_entries_by_their_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path());
    s.push(1_000, "t", b"old").unwrap();
    s.push(4_000, "t", b"newer").unwrap();
    s.enforce_retention(4_599).unwrap();
    assert_eq!(s.len(), 2, "the old entry is 3599 s old: kept");
    s.enforce_retention(4_601).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s.stats().expired, 1);
    assert_eq!(s.oldest(1).unwrap()[0].payload, b"newer");
    // Gone from disk too.
    drop(s);
    assert_eq!(open(dir.path()).len(), 1);
}

#[test]
fn a_full_spool_drops_its_oldest_entries_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(
        dir.path(),
        SpoolPolicy {
            retention_s: 3600,
            max_bytes: 250,
        },
    )
    .unwrap();
    for i in 0..5u8 {
        s.push(10, "t", &[i; 100]).unwrap();
    }
    assert_eq!(s.len(), 2);
    assert_eq!(s.stats().dropped_full, 3);
    assert_eq!(s.oldest(1).unwrap()[0].payload, [3; 100]);
}

#[test]
fn damaged_files_are_quarantined_and_interrupted_writes_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path());
    let good = s.push(10, "t", b"good").unwrap();
    let flipped = s.push(10, "t", b"flipped").unwrap();
    let torn = s.push(10, "t", b"torn payload").unwrap();
    drop(s);
    let path = |id: &str| dir.path().join(format!("{id}.vsp"));
    let mut bytes = fs::read(path(&flipped)).unwrap();
    bytes[20] ^= 0x01;
    fs::write(path(&flipped), bytes).unwrap();
    let bytes = fs::read(path(&torn)).unwrap();
    fs::write(path(&torn), &bytes[..bytes.len() - 6]).unwrap();
    fs::write(dir.path().join(".000000000011-1-0000000009.tmp"), b"half").unwrap();

    let mut s = open(dir.path());
    assert_eq!(s.stats().quarantined, 2);
    let left: Vec<_> = s.oldest(10).unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(left, [good]);
    assert!(
        dir.path()
            .join("quarantine")
            .join(format!("{flipped}.vsp"))
            .exists()
    );
    assert!(!dir.path().join(".000000000011-1-0000000009.tmp").exists());
}

#[test]
fn a_file_damaged_after_opening_is_quarantined_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path());
    let id = s.push(10, "t", b"payload").unwrap();
    fs::write(dir.path().join(format!("{id}.vsp")), b"VSP1 garbage").unwrap();
    assert!(s.oldest(10).unwrap().is_empty());
    assert_eq!(s.stats().quarantined, 1);
    assert!(s.is_empty());
}
