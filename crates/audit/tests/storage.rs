//! The storage walk through the real binary: places it cannot read make the
//! verdict incomplete with the place named; pseudo file systems and special
//! files are left out and said so; compressed files and archives are opened
//! within bounds; every finding is counted past the listing cap; images
//! owned by installed packages are set apart from captured frames.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use vitrine_canary::encoding::{Case, Spelling, spelled};
use vitrine_canary::{CanaryValue, Registry};

fn registry(dir: &Path) -> (Registry, PathBuf) {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut reg = Registry::generate(4, 1, &[[0x3c, 0x22, 0xfb], [0xf0, 0x18, 0x98]], &mut rng);
    reg.mark_emitted(OffsetDateTime::now_utc() - time::Duration::seconds(10));
    let path = dir.join("canaries.json");
    reg.save(&path).unwrap();
    (reg, path)
}

/// The registry's MAC canaries, spelled `aa:bb:cc:dd:ee:ff`.
fn macs(reg: &Registry) -> Vec<(String, String)> {
    reg.canaries
        .iter()
        .filter_map(|c| match &c.value {
            CanaryValue::Mac(m) => Some((c.id.clone(), spelled(m, Spelling::Colon, Case::Lower))),
            _ => None,
        })
        .collect()
}

/// `vitrine-audit scan ROOTS...`, optionally as another user; exit code and
/// report.
fn scan_as(dir: &Path, roots: &[&Path], user: Option<&str>) -> (i32, Value) {
    let bin = env!("CARGO_BIN_EXE_vitrine-audit");
    let mut cmd = match user {
        Some(u) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={u}"),
                "--regid=nogroup",
                "--clear-groups",
                "--inh-caps=-all",
                bin,
            ]);
            c
        }
        None => Command::new(bin),
    };
    cmd.arg("scan");
    for r in roots {
        cmd.arg(r);
    }
    // Retention is checked on the first tree, so that a clean tree passes.
    cmd.arg("--data-root").arg(roots[0]);
    cmd.arg("--registry")
        .arg(dir.join("canaries.json"))
        .arg("--key")
        .arg(dir.join("report-key"))
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--json");
    let out = cmd.output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v["report"].clone())
}

fn scan(dir: &Path, roots: &[&Path]) -> (i32, Value) {
    scan_as(dir, roots, None)
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#}"))
}

fn places<'a>(report: &'a Value, id: &str, which: &str) -> Vec<(&'a str, &'a str)> {
    check(report, id)[which]["listed"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| (p["path"].as_str().unwrap(), p["reason"].as_str().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

fn tree() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::write(root.join("var/log/clean.log"), "nothing to see\n").unwrap();
    (dir, root)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[test]
fn a_clean_tree_passes_and_a_missing_root_is_incomplete_with_the_place_named() {
    let (dir, root) = tree();
    registry(dir.path());
    let (code, report) = scan(dir.path(), &[&root]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("pass")));

    let typo = dir.path().join("roOt");
    let (code, report) = scan(dir.path(), &[&root, &typo]);
    assert_eq!((code, report["verdict"].as_str()), (3, Some("incomplete")));
    for id in ["storage.canary", "storage.media", "keys.on_disk"] {
        assert_eq!(check(&report, id)["status"], "incomplete", "{id}");
        assert_eq!(
            places(&report, id, "not_read"),
            vec![(typo.to_str().unwrap(), "does not exist")]
        );
    }
}

#[test]
fn an_unreadable_directory_makes_the_scan_incomplete() {
    if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to drop to nobody");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (_, reg) = registry(dir.path());
    let root = dir.path().join("root");
    let locked = root.join("vendor/private");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::write(locked.join("visits.log"), "x\n").unwrap();
    std::fs::write(root.join("vendor/readme"), "x\n").unwrap();
    for p in [dir.path(), &root, &root.join("vendor")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&reg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::copy(&reg, out.join("canaries.json")).unwrap();

    // As root the directory is read: a pass.
    let (code, report) = scan(&out, &[&root]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("pass")));
    // As nobody it is not: incomplete, the directory named. (Root's
    // signing key is not nobody's to read.)
    std::fs::remove_file(out.join("report-key")).unwrap();
    std::fs::remove_dir_all(out.join("reports")).unwrap();
    let (code, report) = scan_as(&out, &[&root], Some("nobody"));
    assert_eq!((code, report["verdict"].as_str()), (3, Some("incomplete")));
    assert_eq!(
        places(&report, "storage.canary", "not_read"),
        vec![(locked.to_str().unwrap(), "permission denied")]
    );
}

#[test]
fn a_path_longer_than_path_max_makes_the_scan_incomplete() {
    let (dir, root) = tree();
    registry(dir.path());
    let (code, _) = scan(dir.path(), &[&root]);
    assert_eq!(code, 0);
    // 20 levels of 250-byte names: past PATH_MAX. Built from the bottom
    // up by renames, since no path that long can be passed to mkdir.
    let name = "d".repeat(250);
    let deep = root.join("deep");
    std::fs::create_dir(&deep).unwrap();
    std::fs::write(deep.join("deep.log"), "x\n").unwrap();
    for _ in 0..20 {
        let parent = root.join("parent");
        std::fs::create_dir(&parent).unwrap();
        std::fs::rename(&deep, parent.join(&name)).unwrap();
        std::fs::rename(&parent, &deep).unwrap();
    }
    let (code, report) = scan(dir.path(), &[&root]);
    assert_eq!((code, report["verdict"].as_str()), (3, Some("incomplete")));
    let unread = places(&report, "storage.canary", "not_read");
    assert_eq!(unread.len(), 1, "{unread:?}");
    assert!(unread[0].0.starts_with(root.to_str().unwrap()));
    assert!(unread[0].1.contains("PATH_MAX"), "{unread:?}");
    // remove_dir_all reaches it through openat.
    std::fs::remove_dir_all(&deep).unwrap();
}

#[test]
fn fifos_and_sockets_are_never_opened_and_are_named() {
    let (dir, root) = tree();
    registry(dir.path());
    let fifo = root.join("var/log/pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let sock = root.join("var/log/sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let start = Instant::now();
    let (code, report) = scan(dir.path(), &[&root]);
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!((code, report["verdict"].as_str()), (0, Some("pass")));
    let aside = places(&report, "storage.canary", "set_aside");
    assert!(
        aside
            .iter()
            .any(|(p, r)| *p == fifo.to_str().unwrap() && r.starts_with("FIFO"))
    );
    assert!(
        aside
            .iter()
            .any(|(p, r)| *p == sock.to_str().unwrap() && r.starts_with("socket"))
    );
}

/// Unmounts on drop, also when the test fails.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_bind_mounted_proc_is_left_out_by_file_system_type() {
    if !is_root() {
        eprintln!("skipped: mounting needs root");
        return;
    }
    let (dir, root) = tree();
    registry(dir.path());
    let proc_ = root.join("chroot/proc");
    std::fs::create_dir_all(&proc_).unwrap();
    let ok = Command::new("mount")
        .args(["--bind", "/proc"])
        .arg(&proc_)
        .status();
    if !ok.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mount --bind refused here");
        return;
    }
    let _m = Mounted(proc_.clone());
    let start = Instant::now();
    let (code, report) = scan(dir.path(), &[&root]);
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!((code, report["verdict"].as_str()), (0, Some("pass")));
    let aside = places(&report, "storage.canary", "set_aside");
    assert!(
        aside
            .iter()
            .any(|(p, r)| *p == proc_.to_str().unwrap() && r.starts_with("proc file system")),
        "{aside:?}"
    );
    // Only the clean log was read.
    let examined = check(&report, "storage.canary")["examined"]
        .as_str()
        .unwrap();
    assert!(examined.starts_with("1 files"), "{examined}");
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut w =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

#[test]
fn canaries_are_found_inside_every_compression_and_archive() {
    let (dir, root) = tree();
    let (reg, _) = registry(dir.path());
    let macs = macs(&reg);
    let line = |i: usize| format!("probe from {} rssi -61\n", macs[i].1).repeat(3);
    let d = root.join("var/log/vendor");
    std::fs::create_dir_all(&d).unwrap();
    // bzip2 (logrotate's compresscmd), lz4 frame, xz.
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(line(0).as_bytes()).unwrap();
    std::fs::write(d.join("probes.log.1.bz2"), bz.finish().unwrap()).unwrap();
    let mut lz = lz4_flex::frame::FrameEncoder::new(Vec::new());
    lz.write_all(line(1).as_bytes()).unwrap();
    std::fs::write(d.join("probes.log.2.lz4"), lz.finish().unwrap()).unwrap();
    std::fs::write(d.join("probes.log.3.xz"), xz(line(2).as_bytes())).unwrap();
    // A zip export (deflated) and a tar.gz of rotated gzip logs.
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file(
        "export/visits.csv",
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated),
    )
    .unwrap();
    z.write_all(line(3).as_bytes()).unwrap();
    std::fs::write(d.join("export.zip"), z.finish().unwrap().into_inner()).unwrap();
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let inner = gz(line(0).as_bytes());
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(inner.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    t.append_data(&mut h, "logs/probes.log.4.gz", inner.as_slice())
        .unwrap();
    std::fs::write(d.join("backup.tar.gz"), gz(&t.into_inner().unwrap())).unwrap();

    let (code, report) = scan(dir.path(), &[&root]);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("fail")));
    let c = check(&report, "storage.canary");
    let found: Vec<(String, String, String, u64)> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["evidence"]["encoding"] == "clear(colon-lower)")
        .map(|f| {
            let e = &f["evidence"];
            (
                Path::new(e["path"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                e["container"].as_str().unwrap_or("").to_string(),
                e["member"].as_str().unwrap_or("").to_string(),
                e["count"].as_u64().unwrap_or(1),
            )
        })
        .collect();
    let want = [
        ("probes.log.1.bz2", "bzip2", ""),
        ("probes.log.2.lz4", "lz4", ""),
        ("probes.log.3.xz", "xz", ""),
        ("export.zip", "zip", "export/visits.csv"),
        ("backup.tar.gz", "gzip/tar/gzip", "logs/probes.log.4.gz"),
    ];
    for (file, chain, member) in want {
        assert!(
            found
                .iter()
                .any(|f| f.0 == file && f.1 == chain && f.2 == member && f.3 == 3),
            "{file} {chain} {member}: {found:?}"
        );
    }
}

#[test]
fn an_xz_bomb_hits_the_output_bound_and_is_named() {
    let (dir, root) = tree();
    registry(dir.path());
    // 512 MiB of zeros in about 80 KB: past the 256 MiB output bound.
    let mut w =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..512 {
        w.write_all(&zeros).unwrap();
    }
    let bomb = root.join("var/log/bomb.xz");
    std::fs::write(&bomb, w.finish().unwrap()).unwrap();
    let (code, report) = scan(dir.path(), &[&root]);
    assert_eq!((code, report["verdict"].as_str()), (3, Some("incomplete")));
    let unread = places(&report, "storage.canary", "not_read");
    assert_eq!(unread.len(), 1, "{unread:?}");
    assert_eq!(unread[0].0, bomb.to_str().unwrap());
    assert!(
        unread[0].1.starts_with("output bound (256 MiB"),
        "{unread:?}"
    );
    // A small xz log is read whole: no bound.
    std::fs::write(&bomb, xz(&zeros)).unwrap();
    let (code, _) = scan(dir.path(), &[&root]);
    assert_eq!(code, 0);
}

#[test]
fn every_finding_is_counted_past_the_listing_cap() {
    let (dir, root) = tree();
    let (reg, _) = registry(dir.path());
    let macs = macs(&reg);
    let d = root.join("var/lib/tracker");
    std::fs::create_dir_all(&d).unwrap();
    // 260 files, each with every MAC canary twice: more groups than listed.
    for i in 0..260 {
        let mut text = String::new();
        for (_, mac) in &macs {
            text += &format!("{mac} seen\n{mac} seen\n");
        }
        std::fs::write(d.join(format!("visits-{i:03}.log")), text).unwrap();
    }
    let (code, report) = scan(dir.path(), &[&root]);
    assert_eq!(code, 1);
    let c = check(&report, "storage.canary");
    let counts = &c["counts"];
    let total = 260 * macs.len() as u64 * 2;
    assert_eq!(counts["findings"].as_u64(), Some(total));
    let listed: u64 = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["evidence"]["count"].as_u64().unwrap_or(1))
        .sum();
    assert!(listed < total);
    assert_eq!(counts["unlisted"].as_u64(), Some(total - listed));
    for (id, _) in &macs {
        assert_eq!(counts["per_canary"][id].as_u64(), Some(260 * 2), "{id}");
    }
    let per_file = counts["per_file"].as_object().unwrap();
    assert_eq!(per_file.len(), 260);
    assert!(
        per_file
            .values()
            .all(|n| n.as_u64() == Some(macs.len() as u64 * 2))
    );
    // Grouped: one row per file, canary and encoding, with its first offsets.
    let f = &c["findings"][0]["evidence"];
    assert_eq!(f["count"].as_u64(), Some(2));
    assert_eq!(f["offsets"].as_array().unwrap().len(), 2);
}

/// A baseline JPEG header (SOF0) of `w` x `h`, with EXIF when `exif`.
fn jpeg(w: u16, h: u16, exif: bool) -> Vec<u8> {
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

fn png(side: u32) -> Vec<u8> {
    let mut p = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    p.extend_from_slice(&side.to_be_bytes());
    p.extend_from_slice(&side.to_be_bytes());
    p.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    p
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Installs `files` (path under `root`, content) as package `pkg` would:
/// written, listed in the root's dpkg database with their md5sums.
fn install(root: &Path, pkg: &str, files: &[(impl AsRef<str>, Vec<u8>)]) {
    let info = root.join("var/lib/dpkg/info");
    std::fs::create_dir_all(&info).unwrap();
    let mut list = String::from("/.\n/usr\n/usr/share\n");
    let mut sums = String::new();
    for (rel, data) in files {
        let rel = rel.as_ref();
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        list += &format!("/{rel}\n");
        sums += &format!("{}  {rel}\n", md5_hex(data));
    }
    std::fs::write(info.join(format!("{pkg}.list")), &list).unwrap();
    std::fs::write(info.join(format!("{pkg}.md5sums")), &sums).unwrap();
}

#[test]
fn package_icons_are_set_apart_and_only_the_leaked_frame_is_high() {
    let (dir, root) = tree();
    registry(dir.path());
    let icon = png(48);
    let files = [
        ("usr/share/icons/hicolor/48x48/apps/foo.png", icon.clone()),
        ("usr/share/doc/foo/logo.png", png(128)),
        ("usr/share/foo/splash.jpg", jpeg(800, 600, false)),
    ];
    install(&root, "foo", &files);
    // An icon nobody installed, in an icon tree, is icon-sized: set apart too.
    let stray = root.join("usr/share/icons/hicolor/32x32/apps/bar.png");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, png(32)).unwrap();

    let (code, report) = scan(dir.path(), &[&root.join("usr/share")]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (0, Some("pass")),
        "{report:#}"
    );
    let aside = places(&report, "storage.media", "set_aside");
    assert_eq!(aside.len(), 4, "{aside:?}");
    assert!(
        aside
            .iter()
            .any(|(_, r)| r.contains("owned by package foo, unchanged"))
    );

    // A camera-sized frame left in a temp folder, and a package's icon
    // replaced by a frame: both High, nothing else.
    let frame = root.join("var/tmp/cam/frame-0001.jpg");
    std::fs::create_dir_all(frame.parent().unwrap()).unwrap();
    std::fs::write(&frame, jpeg(1280, 720, true)).unwrap();
    let replaced = root.join(files[0].0);
    std::fs::write(&replaced, jpeg(640, 480, false)).unwrap();
    let (code, report) = scan(dir.path(), &[&root]);
    assert_eq!(code, 1);
    let media = check(&report, "storage.media");
    let mut high: Vec<(&str, &str)> = media["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["severity"], "high");
            (
                f["evidence"]["path"].as_str().unwrap(),
                f["evidence"]["detail"].as_str().unwrap(),
            )
        })
        .collect();
    high.sort();
    let mut want = vec![
        (
            frame.to_str().unwrap(),
            "JPEG image, 1280x720, with EXIF (as cameras write)",
        ),
        (replaced.to_str().unwrap(), "JPEG image, 640x480"),
    ];
    want.sort();
    assert_eq!(high, want);
}

/// lintian ships lists of banned files' digests and one lone digest beside
/// them: a package's data, set apart while it is what the package shipped;
/// the same token changed on this device is a finding again.
#[test]
fn a_lone_token_a_package_shipped_unchanged_is_set_apart() {
    let (dir, root) = tree();
    registry(dir.path());
    let rel_dir = "usr/share/lintian/data/files/banned/lenna";
    let digests: String = (0..40u32)
        .map(|i| format!("{}\n", md5_hex(&i.to_le_bytes())))
        .collect();
    let token = format!("# one file allowed\n{}\n", md5_hex(b"allowed"));
    let files = [
        (format!("{rel_dir}/blacklist"), digests.into_bytes()),
        (format!("{rel_dir}/whitelist"), token.into_bytes()),
    ];
    install(&root, "lintian", &files);

    let (code, report) = scan(dir.path(), &[&root]);
    assert_eq!(code, 0, "{report:#}");
    let aside = places(&report, "keys.on_disk", "set_aside");
    assert!(
        aside
            .iter()
            .any(|(p, r)| p.ends_with("whitelist")
                && r.contains("owned by package lintian, unchanged")),
        "{aside:?}"
    );

    // The same file changed after installation: judged like any other.
    std::fs::write(
        root.join(&files[1].0),
        format!("# one file allowed\n{}\n", md5_hex(b"changed")),
    )
    .unwrap();
    let (code, report) = scan(dir.path(), &[&root]);
    assert_eq!(code, 1, "{report:#}");
    let keys = check(&report, "keys.on_disk");
    assert_eq!(keys["status"], "failed", "{keys:#}");
    assert!(
        keys["findings"][0]["evidence"]["path"]
            .as_str()
            .unwrap()
            .ends_with("whitelist")
    );
}
