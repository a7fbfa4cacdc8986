//! `cargo xtask bench-fleet`: a fleet on loopback. N simulated rigs, each
//! the daemon's own publishing path (durable spool, QoS 1, a fresh boot
//! id), publish real summaries (the store simulator through the pipeline)
//! at an accelerated clock through a real mosquitto; collectors
//! (`vitrine-audit collect`, one partition of the rigs each) write them into
//! a real PostgreSQL. In the middle the broker is restarted as an
//! administrator restarts it. Measured: summaries per second, delay from
//! a window's end to its row, CPU and peak memory of broker, collectors and
//! database, and what was lost after dedupe (must be nothing). Writes
//! target/bench/fleet.md.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_publish::SpoolPolicy;
use vitrine_schema::Summary;
use vitrine_testkit::postgres::{Postgres, Settings};
use vitrine_wifi_capture::CaptureStage;

#[derive(Debug, Clone)]
pub struct Options {
    pub rigs: usize,
    /// Windows each rig publishes.
    pub windows: u32,
    /// Real time between two windows of a rig (a 5-minute window every
    /// `interval`: the accelerated clock).
    pub interval: Duration,
    pub collectors: u32,
    /// Restart the broker halfway.
    pub restart: bool,
    /// Collectors built with the release profile (the debug build
    /// otherwise, as the test suite leaves it).
    pub release: bool,
}

/// A process's CPU seconds (user + system) and peak resident memory.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu_s: f64,
    peak_kib: u64,
}

impl Usage {
    fn of(pid: u32) -> Usage {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis: utime is the
        // 14th field of the line, stime the 15th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
            .sum();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let peak_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        Usage {
            cpu_s: ticks / clock_ticks(),
            peak_kib,
        }
    }

    /// A process and its children (PostgreSQL's postmaster and backends):
    /// CPU summed, peak memory summed (shared buffers count in each).
    fn of_tree(pid: u32) -> Usage {
        let mut total = Usage::of(pid);
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(pid) {
                let u = Usage::of(child);
                total.cpu_s += u.cpu_s;
                total.peak_kib += u.peak_kib;
            }
        }
        total
    }

    fn add(self, other: Usage) -> Usage {
        Usage {
            cpu_s: self.cpu_s + other.cpu_s,
            peak_kib: self.peak_kib.max(other.peak_kib),
        }
    }
}

/// The kernel's USER_HZ, in which /proc gives CPU times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// As many open files as the hard limit allows (util-linux's prlimit on
/// this process): a thousand rigs are a thousand sockets for the broker
/// and for the rigs' side each.
fn raise_open_files() -> anyhow::Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let hard: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4)?.parse().ok())
        .context("the open-file limit in /proc/self/limits")?;
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .status()
        .context("running prlimit")?;
    if !status.success() {
        bail!("prlimit could not raise the open-file limit to {hard}");
    }
    Ok(hard)
}

/// The broker: persistence on (sessions and queues survive the restart),
/// no limit on a collector's queue (each collector gets every rig's
/// summaries and keeps its partition's), warnings and errors logged.
fn start_broker(dir: &Path, port: u16) -> anyhow::Result<Child> {
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n\
             persistence true\npersistence_location {d}/\nautosave_interval 60\n\
             max_queued_messages 0\nmax_inflight_messages 200\n\
             log_dest file {d}/mosquitto.log\nlog_type error\nlog_type warning\nlog_type notice\n",
            d = dir.display()
        ),
    )?;
    let child = Command::new("/usr/sbin/mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting mosquitto")?;
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            bail!("mosquitto did not listen on {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child)
}

/// Real summaries: half an hour of the simulated shop through the
/// pipeline, in 5-minute windows (Wi-Fi and camera).
fn summaries() -> Vec<Summary> {
    let sim = vitrined::demo::sim_config(30, 7, 240.0);
    let cfg = vitrine_wifi_aggregate::Config {
        window_s: 300,
        ..Default::default()
    };
    let stage = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    vitrined::demo::simulate(sim, cfg, stage).0
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// RFC 3339 with milliseconds: the window ends now, so that the row's
/// `delay_ms` is the time from publishing to the database.
fn window_start_now(window_s: u32) -> String {
    let end = time::OffsetDateTime::from_unix_timestamp_nanos(unix_now().as_nanos() as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let start = end - time::Duration::seconds(i64::from(window_s));
    let ms = start.millisecond();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        start.year(),
        u8::from(start.month()),
        start.day(),
        start.hour(),
        start.minute(),
        start.second()
    )
}

struct Collector {
    child: Child,
    metrics_port: u16,
}

fn scrape(port: u16) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// Results of one run.
#[derive(Debug)]
pub struct Outcome {
    pub expected: u64,
    pub stored: u64,
    pub stopped_cleanly: bool,
    pub markdown: String,
}

pub fn run(root: &Path, o: &Options) -> anyhow::Result<Outcome> {
    if o.rigs == 0 || o.windows == 0 || o.collectors == 0 {
        bail!("--rigs, --windows and --collectors must be at least 1");
    }
    let profile = if o.release { "release" } else { "debug" };
    let mut build = vec!["build", "-p", "vitrine-audit"];
    if o.release {
        build.push("--release");
    }
    super::step("build", super::cargo(&build))?;
    let audit = root.join("target").join(profile).join("vitrine-audit");
    let open_files = raise_open_files()?;
    if open_files < (o.rigs as u64) * 2 + 200 {
        bail!(
            "{} rigs need about {} open files; the limit here is {open_files}",
            o.rigs,
            o.rigs * 2 + 200
        );
    }

    let work = root.join("target/bench/fleet");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    eprintln!("xtask: bench-fleet: summaries of half an hour of the simulated shop");
    let real = summaries();
    if real.is_empty() {
        bail!("the simulator gave no summary");
    }
    // This process's CPU so far is the simulator's, not the rigs'.
    let before_rigs = Usage::of(std::process::id());

    let pg = Postgres::start(Settings {
        durable: true,
        max_connections: 20,
    })?;
    let port = vitrine_testkit::free_port();
    let mut broker = start_broker(&work, port)?;
    let url = format!("mqtt://127.0.0.1:{port}");

    let mut collectors = Vec::new();
    for k in 0..o.collectors {
        let metrics_port = vitrine_testkit::free_port();
        let log = std::fs::File::create(work.join(format!("collector-{k}.log")))?;
        let child = Command::new(&audit)
            .args(["collect", "--broker", &url])
            .args(["--client-id", &format!("bench-collector-{k}")])
            .args(["--partition", &format!("{k}/{}", o.collectors)])
            .args(["--db", &pg.url()])
            .args(["--metrics", &format!("127.0.0.1:{metrics_port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting a collector")?;
        collectors.push(Collector {
            child,
            metrics_port,
        });
    }
    for (k, _) in collectors.iter().enumerate() {
        let log = work.join(format!("collector-{k}.log"));
        let started = Instant::now();
        while std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("subscribed")
            .count()
            < 4
        {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("collector {k} did not subscribe: {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // The rigs: each its own spool and connection, as on a rig.
    eprintln!(
        "xtask: bench-fleet: {} rigs, {} windows each, one every {:?}",
        o.rigs, o.windows, o.interval
    );
    let bar = indicatif::ProgressBar::new(o.rigs as u64 * u64::from(o.windows));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} windows {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let pushed = Arc::new(AtomicU64::new(0));
    let left_spooled = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_secs(2);
    let mut rigs = Vec::new();
    for i in 0..o.rigs {
        let (url, real, pushed, left_spooled, bar) = (
            url.clone(),
            real.clone(),
            pushed.clone(),
            left_spooled.clone(),
            bar.clone(),
        );
        let spool = work.join(format!("spool/{i}"));
        let (windows, interval, n) = (o.windows, o.interval, o.rigs);
        rigs.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let site = format!("store-{:03}", i / 4);
            let rig = format!("rig-{}", i % 4);
            let cfg = vitrined::publishing::new_broker(&url, &site, &rig)?;
            let mut publishing =
                vitrined::publishing::Publishing::start(cfg, &spool, SpoolPolicy::default())?;
            // Rigs spread evenly over the interval, as real rigs' clocks are.
            let offset = interval.mul_f64(i as f64 / n as f64);
            for w in 0..windows {
                let at = start + offset + interval * w;
                if let Some(wait) = at.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let mut s = real[(i + w as usize) % real.len()].clone();
                s.window_start = window_start_now(s.window_s);
                publishing.push(s)?;
                pushed.fetch_add(1, Ordering::Relaxed);
                bar.inc(1);
            }
            let stats = publishing.finish(Duration::from_secs(600));
            left_spooled.fetch_add(stats.written - stats.acknowledged, Ordering::Relaxed);
            Ok(())
        }));
    }

    let mut broker_usage = Usage::default();
    if o.restart {
        std::thread::sleep(Duration::from_secs(2) + o.interval * (o.windows / 2));
        broker_usage = Usage::of(broker.id());
        bar.println("xtask: bench-fleet: restarting the broker (SIGTERM, 2 s down)");
        Command::new("kill")
            .args(["-TERM", &broker.id().to_string()])
            .status()?;
        broker.wait()?;
        std::thread::sleep(Duration::from_secs(2));
        broker = start_broker(&work, port)?;
    }
    for r in rigs {
        r.join().map_err(|_| anyhow::anyhow!("a rig panicked"))??;
    }
    bar.finish();
    let published_at = start.elapsed();

    // Two rows per window (Wi-Fi and camera) when the summaries have both.
    let per_window = real[0].per_sensor().len() as u64;
    let expected = pushed.load(Ordering::Relaxed) * per_window;
    let count = || -> anyhow::Result<u64> {
        Ok(pg.psql("SELECT COUNT(*) FROM summaries")?.trim().parse()?)
    };
    let (mut stored, mut last_change) = (count()?, Instant::now());
    while stored < expected && last_change.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(250));
        let now = count()?;
        if now != stored {
            (stored, last_change) = (now, Instant::now());
        }
    }
    let all_in = start.elapsed();

    let q = |sql: &str| -> anyhow::Result<String> { Ok(pg.psql(sql)?.trim().to_owned()) };
    let delays = q(
        "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY delay_ms)) || ', ' || \
                    round(percentile_cont(0.95) WITHIN GROUP (ORDER BY delay_ms)) || ', ' || \
                    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY delay_ms)) || '; ' || \
                    MAX(delay_ms) FROM summaries",
    )?;
    let distinct = q("SELECT COUNT(DISTINCT (site, rig, boot, seq, sensor)) FROM summaries")?;
    let rigs_seen = q("SELECT COUNT(*) FROM rigs")?;
    let mut duplicates = 0;
    let mut collector_usage = Vec::new();
    for c in &collectors {
        let m = scrape(c.metrics_port);
        duplicates += metric(&m, "vitrine_collector_payloads_total{result=\"duplicate\"}");
        collector_usage.push(Usage::of(c.child.id()));
    }
    broker_usage = broker_usage.add(Usage::of(broker.id()));
    let pg_usage = pg.pid().map(Usage::of_tree).unwrap_or_default();
    let me = Usage::of(std::process::id());
    let me = Usage {
        cpu_s: me.cpu_s - before_rigs.cpu_s,
        ..me
    };
    // Each collector must stop cleanly on SIGTERM, soon.
    let mut stuck = Vec::new();
    for (k, c) in collectors.iter_mut().enumerate() {
        let _ = Command::new("kill")
            .args(["-TERM", &c.child.id().to_string()])
            .status();
        let asked = Instant::now();
        loop {
            match c.child.try_wait()? {
                Some(status) if status.success() => break,
                Some(status) => {
                    stuck.push(format!("collector {k} ended with {status}"));
                    break;
                }
                None if asked.elapsed() > Duration::from_secs(30) => {
                    let _ = c.child.kill();
                    let _ = c.child.wait();
                    stuck.push(format!("collector {k} did not stop within 30 s of SIGTERM"));
                    break;
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    let _ = broker.kill();
    let _ = broker.wait();

    let secs = all_in.as_secs_f64();
    let offered = o.rigs as f64 * per_window as f64 / o.interval.as_secs_f64();
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut md = String::new();
    md.push_str(&format!(
        "| | |\n|---|---|\n\
         | rigs | {} (one connection, spool and boot id each) |\n\
         | windows per rig | {} (one every {:?}: {} summaries offered per second) |\n\
         | collectors | {} (`--partition K/{}`), {} build, into PostgreSQL (fsync on) |\n\
         | broker restart halfway | {} |\n\
         | summaries expected | {expected} |\n\
         | summaries stored | {stored} ({distinct} distinct keys) |\n\
         | lost after dedupe | {} |\n\
         | duplicates dropped | {duplicates} |\n\
         | left in the rigs' spools | {} |\n\
         | rigs in the `rigs` table | {rigs_seen} |\n\
         | publishing took | {:.1} s; everything stored after {:.1} s |\n\
         | stored per second | {:.0} |\n\
         | delay, window end to row (p50, p95, p99; max), ms | {} |\n",
        o.rigs,
        o.windows,
        o.interval,
        offered.round(),
        o.collectors,
        o.collectors,
        profile,
        if o.restart { "yes" } else { "no" },
        expected.saturating_sub(stored),
        left_spooled.load(Ordering::Relaxed),
        published_at.as_secs_f64(),
        secs,
        stored as f64 / secs,
        delays,
    ));
    md.push_str(&format!(
        "\n| process | CPU s | CPU % of the run | peak RSS MiB |\n|---|---|---|---|\n\
         | mosquitto (both runs) | {:.1} | {:.0} | {:.0} |\n",
        broker_usage.cpu_s,
        100.0 * broker_usage.cpu_s / secs,
        mib(broker_usage.peak_kib)
    ));
    for (k, u) in collector_usage.iter().enumerate() {
        md.push_str(&format!(
            "| collector {k} | {:.1} | {:.0} | {:.0} |\n",
            u.cpu_s,
            100.0 * u.cpu_s / secs,
            mib(u.peak_kib)
        ));
    }
    md.push_str(&format!(
        "| PostgreSQL (all processes; shared buffers counted in each) | {:.1} | {:.0} | {:.0} |\n\
         | the rigs (this process, {} build) | {:.1} | {:.0} | {:.0} |\n",
        pg_usage.cpu_s,
        100.0 * pg_usage.cpu_s / secs,
        mib(pg_usage.peak_kib),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        me.cpu_s,
        100.0 * me.cpu_s / secs,
        mib(me.peak_kib)
    ));
    for s in &stuck {
        md.push_str(&format!("\n**{s}**\n"));
    }
    let out = root.join("target/bench/fleet.md");
    std::fs::write(&out, &md)?;
    println!("{md}\nwritten to {}", out.display());
    drop(pg);
    Ok(Outcome {
        expected,
        stored,
        stopped_cleanly: stuck.is_empty(),
        markdown: md,
    })
}

/// The small run of the test command: every summary stored once, nothing
/// left spooled, across a broker restart.
pub fn check(outcome: &Outcome) -> anyhow::Result<()> {
    if outcome.stored != outcome.expected {
        bail!(
            "bench-fleet: {} of {} summaries stored\n{}",
            outcome.stored,
            outcome.expected,
            outcome.markdown
        );
    }
    if !outcome.stopped_cleanly {
        bail!(
            "bench-fleet: a collector did not stop cleanly\n{}",
            outcome.markdown
        );
    }
    if !outcome
        .markdown
        .contains("| left in the rigs' spools | 0 |")
    {
        bail!("bench-fleet: summaries left spooled\n{}", outcome.markdown);
    }
    Ok(())
}
