//! Writes that fail: a child process spools under a file-size limit
//! (RLIMIT_FSIZE), so the kernel really refuses every write past it, as it
//! does on a full disk. Every refused payload must leave nothing behind (no
//! temporary file), and every accepted one must be there, intact, when the
//! spool is opened again.

use std::path::Path;
use std::process::Command;

use vitrine_publish::{Spool, SpoolPolicy};

const CHILD_ENV: &str = "VITRINE_SPOOL_FSIZE_DIR";
/// Bytes a file may grow to in the child: small payloads fit, large ones do not.
const LIMIT: u64 = 4096;
const PUSHES: usize = 40;

/// Even pushes are small (accepted), odd ones too large for the limit.
fn payload_for(i: usize) -> Vec<u8> {
    let len = if i.is_multiple_of(2) {
        100 + i
    } else {
        8_000 + i
    };
    let mut p = format!("payload-{i}|").into_bytes();
    p.extend((0..len).map(|j| ((i * 31 + j) % 251) as u8));
    p
}

fn policy() -> SpoolPolicy {
    SpoolPolicy {
        retention_s: 3600,
        max_bytes: 1 << 20,
    }
}

/// The child: spools every payload under the limit and prints the outcome
/// of each push.
#[test]
#[ignore = "the child process of the full-disk test"]
fn spool_writer_under_a_file_size_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    // Past the limit the kernel sends SIGXFSZ, which kills by default;
    // blocked, the write fails with EFBIG instead.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGXFSZ);
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).unwrap();
    let (_, hard) = getrlimit(Resource::RLIMIT_FSIZE).unwrap();
    setrlimit(Resource::RLIMIT_FSIZE, LIMIT, hard).unwrap();

    let mut spool = Spool::open(Path::new(&dir), policy()).unwrap();
    for i in 0..PUSHES {
        match spool.push(100, "vitrine/s/r/wifi", &payload_for(i)) {
            Ok(_) => println!("push {i} accepted"),
            Err(e) => println!("push {i} refused: {e}"),
        }
    }
}

#[test]
fn failed_writes_leave_no_file_and_lose_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "spool_writer_under_a_file_size_limit",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &spool_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The harness may print its "test ... " prefix on the first line.
    let outcomes: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.find("push ").map(|at| &l[at..]))
        .collect();
    assert_eq!(outcomes.len(), PUSHES, "{stdout}");
    for (i, line) in outcomes.iter().enumerate() {
        if i.is_multiple_of(2) {
            assert_eq!(*line, format!("push {i} accepted"));
        } else {
            // The kernel refused the write (EFBIG, as ENOSPC on a full disk).
            assert!(
                line.starts_with(&format!("push {i} refused: spool ")) && line.contains("large"),
                "{line}"
            );
        }
    }

    let names: Vec<String> = std::fs::read_dir(&spool_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".tmp")),
        "temporary files left behind: {names:?}"
    );
    assert_eq!(names.len(), PUSHES / 2 + 1, "{names:?}"); // and quarantine/

    let mut spool = Spool::open(&spool_dir, policy()).unwrap();
    let entries = spool.oldest(PUSHES).unwrap();
    let payloads: Vec<Vec<u8>> = entries.into_iter().map(|e| e.payload).collect();
    let accepted: Vec<Vec<u8>> = (0..PUSHES).step_by(2).map(payload_for).collect();
    assert_eq!(
        payloads, accepted,
        "every accepted payload, intact, in order"
    );
    assert_eq!(spool.stats().quarantined, 0);
}
