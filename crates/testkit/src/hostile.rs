//! Hostile command lines: a binary run with values meant to break its
//! options, a few runs at a time, each in its own folder. A run must end by
//! itself within [`BOUND`] (or on SIGTERM, for what runs until stopped),
//! without a panic and without dying of a signal.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest any run may take (a debug build, a loaded machine).
pub const BOUND: Duration = Duration::from_secs(60);

/// Values meant to break an option: not numbers, not finite, out of every
/// range, empty, a file without end, topic wildcards, a terminal escape.
pub const HOSTILE: &[&str] = &[
    "NaN",
    "inf",
    "-inf",
    "0",
    "-1",
    "1e-300",
    "1e300",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "",
    " ",
    "/dev/zero",
    "a/b+#",
    "\u{1b}[31m",
];

#[derive(Debug)]
pub struct Case {
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, OsString)>,
    /// Sends SIGTERM after this long: for what runs until stopped.
    pub stop_after: Option<Duration>,
}

#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stderr: String,
    pub timed_out: bool,
}

pub fn case(args: &[&str]) -> Case {
    Case {
        args: args.iter().map(OsString::from).collect(),
        env: Vec::new(),
        stop_after: None,
    }
}

/// `base` with `option value` appended, for every option and hostile value.
pub fn matrix(base: &[&str], options: &[&str]) -> Vec<Case> {
    let mut cases = Vec::new();
    for option in options {
        for value in HOSTILE {
            let mut c = case(base);
            c.args.push(option.into());
            c.args.push(value.into());
            cases.push(c);
        }
    }
    cases
}

/// The binary under test and how every run of it is set up.
#[derive(Debug)]
pub struct Program {
    pub path: PathBuf,
    /// Environment for every run; `{cwd}` in a value is the run's folder.
    pub env: Vec<(&'static str, &'static str)>,
    /// Runs at once (more than cores when most runs wait).
    pub parallel: usize,
}

fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

impl Program {
    fn run(&self, c: &Case, cwd: &Path) -> Run {
        let mut cmd = Command::new(&self.path);
        cmd.args(&c.args)
            .current_dir(cwd)
            .env("TMPDIR", cwd)
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v.replace("{cwd}", &cwd.to_string_lossy()));
        }
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = read_all(child.stdout.take().unwrap());
        let stderr = read_all(child.stderr.take().unwrap());
        let started = Instant::now();
        let mut stopped = false;
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if let Some(after) = c.stop_after
                && !stopped
                && started.elapsed() > after
            {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                stopped = true;
            }
            if started.elapsed() > BOUND {
                timed_out = true;
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = stdout.join();
        Run {
            code: status.code(),
            stderr: stderr.join().unwrap(),
            timed_out,
        }
    }

    /// Runs every case, a few at a time, and checks that none panicked, ran
    /// away or died of a signal; returns the runs in order.
    pub fn run_all(&self, cases: &[Case]) -> Vec<Run> {
        let dir = tempfile::tempdir().unwrap();
        let next = Mutex::new(0usize);
        let results: Mutex<Vec<Option<Run>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..self.parallel.max(1) {
                s.spawn(|| {
                    loop {
                        let i = {
                            let mut n = next.lock().unwrap();
                            *n += 1;
                            *n - 1
                        };
                        let Some(c) = cases.get(i) else { break };
                        // Each run in its own folder: relative paths land there.
                        let cwd = dir.path().join(i.to_string());
                        std::fs::create_dir_all(&cwd).unwrap();
                        let r = self.run(c, &cwd);
                        results.lock().unwrap()[i] = Some(r);
                    }
                });
            }
        });
        let runs: Vec<Run> = results
            .into_inner()
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        for (c, r) in cases.iter().zip(&runs) {
            assert!(!r.timed_out, "{:?} did not end within {BOUND:?}", c.args);
            assert!(
                r.code != Some(101) && !r.stderr.contains("panicked"),
                "{:?} panicked: {}",
                c.args,
                r.stderr
            );
            assert!(
                r.code.is_some() || c.stop_after.is_some(),
                "{:?} died of a signal: {}",
                c.args,
                r.stderr
            );
        }
        runs
    }
}
