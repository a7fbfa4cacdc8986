//! The hash-reversal benchmark: candidates per second of `vitrine-reverse`
//! on one core and on all, next to `openssl speed` on 16-byte inputs, and
//! what that means for exhausting the most common OUIs; then the 100 most
//! common OUIs exhausted by `vitrine-reverse` and by hashcat (on the CPU,
//! through pocl), on the same digests.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

/// Algorithms compared with OpenSSL; SHA-512 is rarer on identifiers.
const ALGORITHMS: [&str; 3] = ["sha256", "sha1", "md5"];
/// One binary input and one text input: text inputs rewrite twice the bytes.
const INPUTS: [&str; 2] = ["raw", "colon-lower"];
/// OUIs in the exhaustion estimate.
const TOP_OUIS: f64 = 100.0;
const DEVICE_PARTS: f64 = (1u64 << 24) as f64;
const RUNS: u32 = 5;

struct Rate {
    algorithm: &'static str,
    input: &'static str,
    one_core: f64,
    all_cores: f64,
    threads: u64,
}

pub fn run(root: &Path, hcmask_ouis: usize) -> anyhow::Result<()> {
    if !(1..=COMPARED_OUIS).contains(&hcmask_ouis) {
        bail!("--hcmask-ouis {hcmask_ouis}: must be from 1 to {COMPARED_OUIS}");
    }
    if Command::new("openssl").arg("version").output().is_err() {
        bail!("openssl is needed for the comparison: apt-get install openssl");
    }
    if Command::new("hashcat").arg("--version").output().is_err() {
        bail!(
            "hashcat is needed for the comparison: apt-get install --no-install-recommends \
             hashcat pocl-opencl-icd ocl-icd-libopencl1"
        );
    }
    let load_before = load_average();
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    super::step(
        "build",
        super::cargo(&[
            "build",
            "--release",
            "-p",
            "vitrine-reverse",
            "--example",
            "reverse_bench",
        ]),
    )?;
    let bench = root.join("target/release/examples/reverse_bench");

    let mut rates = Vec::new();
    for algorithm in ALGORITHMS {
        for input in INPUTS {
            let (one_core, _) = best_of(|| {
                let mut c = Command::new("taskset");
                c.args(["-c", "0"])
                    .arg(&bench)
                    .args([algorithm, input, "1"]);
                c
            })?;
            let (all_cores, threads) = best_of(|| {
                let mut c = Command::new(&bench);
                c.args([algorithm, input, "0"]);
                c
            })?;
            eprintln!(
                "xtask: {algorithm}({input}): {:.1} M/s on one core, {:.1} M/s on {threads}",
                one_core / 1e6,
                all_cores / 1e6
            );
            rates.push(Rate {
                algorithm,
                input,
                one_core,
                all_cores,
                threads,
            });
        }
    }
    let mut openssl = Vec::new();
    for algorithm in ALGORITHMS {
        // Best of 3 as well, so that neither side is measured on a busy core.
        let mut r: f64 = 0.0;
        for _ in 0..3 {
            r = r.max(openssl_rate(algorithm)?);
        }
        eprintln!("xtask: openssl {algorithm}: {:.1} M/s", r / 1e6);
        openssl.push((algorithm, r));
    }

    let cpu = crate::bench::cpu_model();
    let threads = rates.first().map_or(1, |r| r.threads);
    let mut md = String::new();
    writeln!(
        md,
        "Machine: {cpu}, {threads} cores. One core: `taskset -c 0`, one thread; all cores: \
         {threads} threads. Best of {RUNS} runs of 2^24 candidates (one OUI) each; OpenSSL: \
         `taskset -c 0 openssl speed -seconds 3 -bytes 16 -evp ALGORITHM`, best of 3.\n"
    )?;
    writeln!(
        md,
        "| digest(input) | one core (M/s) | all cores (M/s) | OpenSSL, one core, 16-byte inputs (M/s) | one core / OpenSSL |"
    )?;
    writeln!(md, "|---|---|---|---|---|")?;
    let mut met = true;
    for r in &rates {
        let ossl = openssl
            .iter()
            .find(|(a, _)| *a == r.algorithm)
            .map(|(_, v)| *v)
            .expect("measured for every algorithm");
        let ratio = r.one_core / ossl;
        met &= ratio >= 0.5;
        writeln!(
            md,
            "| {}({}) | {:.1} | {:.1} | {:.1} | {:.2} |",
            r.algorithm,
            r.input,
            r.one_core / 1e6,
            r.all_cores / 1e6,
            ossl / 1e6,
            ratio
        )?;
    }
    writeln!(
        md,
        "\nTarget: at least half of OpenSSL's single-core rate on 16-byte inputs: {}.\n",
        if met { "met" } else { "NOT met" }
    )?;

    // Other work on a shared machine takes the second core from some
    // all-cores runs; the pinned one-core runs are steadier, and the search
    // shares nothing between threads, so the estimate scales them.
    let scaling = rates
        .iter()
        .map(|r| r.all_cores / r.one_core)
        .fold(0.0, f64::max);
    writeln!(
        md,
        "Time to exhaust the {TOP_OUIS} most common OUIs ({} MACs) on {threads} cores, at \
         {threads} times the one-core rate (the best all-cores run above reached {scaling:.2} \
         times it):\n",
        crate::bench::thousands((TOP_OUIS * DEVICE_PARTS) as u64)
    )?;
    writeln!(md, "| digest | one input (raw) | all 9 inputs |")?;
    writeln!(md, "|---|---|---|")?;
    let rate = |algorithm: &str, input: &str| {
        rates
            .iter()
            .find(|r| r.algorithm == algorithm && r.input == input)
            .map(|r| r.one_core * threads as f64)
            .expect("measured")
    };
    let mut total = 0.0;
    for algorithm in ALGORITHMS {
        let one = TOP_OUIS * DEVICE_PARTS / rate(algorithm, "raw");
        // Raw bytes once, the eight text spellings at the text rate.
        let nine = one + 8.0 * TOP_OUIS * DEVICE_PARTS / rate(algorithm, "colon-lower");
        total += nine;
        writeln!(
            md,
            "| {algorithm} | {} | {} |",
            duration(one),
            duration(nine)
        )?;
    }
    writeln!(
        md,
        "| md5, sha1 and sha256 (digest of unknown origin) | | {} |",
        duration(total)
    )?;
    writeln!(
        md,
        "\nA digest is usually found well before the end: the search stops at the first \
         match, and the vendors with the most assignments come first."
    )?;
    let load_mid = load_average();
    writeln!(
        md,
        "\nLoad average (1 min) before: {load_before}, after: {load_mid}."
    )?;
    md.push_str(&against_hashcat(&bench, &dir, threads, hcmask_ouis)?);
    writeln!(md, "\nLoad average (1 min) at the end: {}.", load_average())?;
    let path = dir.join("reverse.md");
    std::fs::write(&path, &md)?;
    println!("{md}");
    eprintln!("xtask: written to {}", path.display());
    Ok(())
}

/// OUIs both tools exhaust: the most common of the registry.
const COMPARED_OUIS: usize = 100;
/// OUIs of hashcat's run with one mask per OUI, by default: at about 5 M/s
/// it takes 4 to 8 minutes per digest and input for all 100, so it runs on
/// the first ones and its time is scaled to 100 (`--hcmask-ouis 100` runs
/// them all).
pub const HCMASK_OUIS: usize = 10;
/// hashcat's mask for its steady rate on a large keyspace, run for
/// `LARGE_MASK_SECONDS`.
const LARGE_MASK: &str = "?b?b?b?b?b?b?b";
const LARGE_MASK_SECONDS: u32 = 20;
/// Options of every hashcat run: the CPU device (`-D 1`), optimized
/// kernels and a high workload profile (what hashcat itself advises for
/// speed), no potfile, log or restore file, and status lines as JSON.
const HASHCAT: &[&str] = &[
    "-D",
    "1",
    "-O",
    "-w",
    "3",
    "--potfile-disable",
    "--logfile-disable",
    "--restore-disable",
    "--session",
    "vitrine-bench",
    "--status",
    "--status-json",
    "--status-timer",
    "1",
];

fn hash_mode(algorithm: &str) -> &'static str {
    match algorithm {
        "sha256" => "1400",
        "sha1" => "100",
        _ => "0",
    }
}

/// One hashcat run: wall time, status readings, how it ended.
#[derive(Debug, Default)]
struct Hashcat {
    wall: f64,
    /// Candidates per second of every status reading (all devices).
    speeds: Vec<f64>,
    /// Status of the last reading (5: exhausted, 6: cracked).
    status: i64,
    /// Candidates done and in all of the last reading's mask or list.
    progress: (u64, u64),
    /// Masks done and in all (`guess_base_offset`, `guess_base_count`).
    masks: (u64, u64),
}

impl Hashcat {
    /// Median of the status readings: the steady rate.
    fn rate(&self) -> f64 {
        let mut v: Vec<f64> = self.speeds.iter().copied().filter(|s| *s > 0.0).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }
}

/// Runs hashcat with [`HASHCAT`] and `args`, its kernel caches under `dir`.
fn hashcat(dir: &Path, args: &[&str]) -> anyhow::Result<Hashcat> {
    let mut cmd = Command::new("hashcat");
    cmd.args(HASHCAT)
        .args(args)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("POCL_CACHE_DIR", dir.join("pocl"))
        .current_dir(dir)
        .stdin(Stdio::null());
    let started = Instant::now();
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    let wall = started.elapsed().as_secs_f64();
    // 0: a hash cracked, 1: the keyspace exhausted, 4: `--runtime` over.
    if !matches!(out.status.code(), Some(0 | 1 | 4)) {
        bail!(
            "{cmd:?} exited with {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut run = parse_status(&String::from_utf8_lossy(&out.stdout));
    run.wall = wall;
    Ok(run)
}

/// Reads the `--status-json` lines of hashcat's output.
fn parse_status(stdout: &str) -> Hashcat {
    let mut run = Hashcat::default();
    for line in stdout.lines() {
        let Some(at) = line.find("{ \"session\"") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line[at..]) else {
            continue;
        };
        let speed: f64 = v["devices"]
            .as_array()
            .map(|d| d.iter().filter_map(|d| d["speed"].as_f64()).sum())
            .unwrap_or(0.0);
        run.speeds.push(speed);
        run.status = v["status"].as_i64().unwrap_or(0);
        run.progress = (
            v["progress"][0].as_u64().unwrap_or(0),
            v["progress"][1].as_u64().unwrap_or(0),
        );
        run.masks = (
            v["guess"]["guess_base_offset"].as_u64().unwrap_or(0),
            v["guess"]["guess_base_count"].as_u64().unwrap_or(0),
        );
    }
    run
}

/// One digest and input: both tools on the same 100 OUIs.
struct Exhaustion {
    algorithm: &'static str,
    input: &'static str,
    reverse_wall: f64,
    reverse_rate: f64,
    kernels: String,
    hybrid: Hashcat,
    hcmask: Hashcat,
}

/// The hashcat comparison, as Markdown.
fn against_hashcat(
    bench: &Path,
    dir: &Path,
    threads: u64,
    hcmask_ouis: usize,
) -> anyhow::Result<String> {
    let hc_dir = dir.join("hashcat");
    let _ = std::fs::remove_dir_all(&hc_dir);
    std::fs::create_dir_all(hc_dir.join("cache"))?;
    let out = Command::new(bench)
        .args(["--top-ouis", &COMPARED_OUIS.to_string()])
        .output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let ouis: Vec<String> = String::from_utf8(out.stdout)?
        .lines()
        .map(str::to_string)
        .collect();
    write_attack_files(&hc_dir, &ouis, hcmask_ouis)?;

    // Set-up, first with empty kernel caches (hashcat's and pocl's), then
    // warm: a mask of one candidate, which cracks the planted digest.
    let mut setup = Vec::new();
    let mut digests = Vec::new();
    for algorithm in ALGORITHMS {
        for input in INPUTS {
            let (_, digest) = reverse_exhaust(bench, 1, algorithm, input)?;
            let path = hc_dir.join(format!("{algorithm}-{input}.hash"));
            std::fs::write(&path, format!("{digest}\n"))?;
            digests.push((algorithm, input, path));
        }
        let hash = hc_dir.join(format!("{algorithm}-colon-lower.hash"));
        let hash = hash.to_str().context("path")?;
        let one = [
            "-a",
            "3",
            "-m",
            hash_mode(algorithm),
            hash,
            "02:00:00:00:00:01",
        ];
        let cold = hashcat(&hc_dir, &one)?;
        let warm = hashcat(&hc_dir, &one)?;
        if cold.status != 6 || warm.status != 6 {
            bail!("hashcat did not crack the one-candidate mask for {algorithm}");
        }
        // The hybrid attack's kernels, compiled once before it is timed.
        hashcat(
            &hc_dir,
            &[
                "-a",
                "6",
                "-m",
                hash_mode(algorithm),
                hash,
                "one.words",
                "?h",
            ],
        )?;
        eprintln!(
            "xtask: hashcat {algorithm} set-up: {:.1} s with empty caches, {:.1} s warm",
            cold.wall, warm.wall
        );
        setup.push((algorithm, cold.wall, warm.wall));
    }

    let mut rows = Vec::new();
    for (algorithm, input, hash) in &digests {
        let (reverse, _) = reverse_exhaust(bench, COMPARED_OUIS, algorithm, input)?;
        let hash = hash.to_str().context("path")?;
        let mode = hash_mode(algorithm);
        let (words, mask) = if *input == "raw" {
            ("raw.words", "?b?b")
        } else {
            ("colon-lower.words", "?h?h:?h?h")
        };
        let hybrid = hashcat(&hc_dir, &["-a", "6", "-m", mode, hash, words, mask])?;
        let full = (COMPARED_OUIS as u64) << 24;
        if hybrid.status != 5 || hybrid.progress != (full, full) {
            bail!(
                "hashcat's hybrid run on {algorithm}({input}) did not exhaust the space: {hybrid:?}"
            );
        }
        let mut args = vec!["-a", "3", "-m", mode, hash];
        if *input == "raw" {
            args.extend(["--hex-charset", "raw.hcmask"]);
        } else {
            args.push("colon-lower.hcmask");
        }
        let hcmask = hashcat(&hc_dir, &args)?;
        if hcmask.status != 5 || hcmask.masks != (hcmask_ouis as u64, hcmask_ouis as u64) {
            bail!("hashcat's .hcmask run on {algorithm}({input}) did not exhaust it: {hcmask:?}");
        }
        eprintln!(
            "xtask: 100 OUIs, {algorithm}({input}): reverse {:.1} s ({:.1} M/s), hashcat hybrid \
             {:.1} s ({:.1} M/s), hashcat .hcmask {:.1} s for {hcmask_ouis} ({:.1} M/s)",
            reverse.wall,
            reverse.rate / 1e6,
            hybrid.wall,
            hybrid.rate() / 1e6,
            hcmask.wall,
            hcmask.rate() / 1e6
        );
        rows.push(Exhaustion {
            algorithm,
            input,
            reverse_wall: reverse.wall,
            reverse_rate: reverse.rate,
            kernels: reverse.kernels,
            hybrid,
            hcmask,
        });
    }
    let mut bench_rates = Vec::new();
    for algorithm in ALGORITHMS {
        // A large mask that varies the first bytes: hashcat's steady rate
        // where it does best, for LARGE_MASK_SECONDS.
        let hash = hc_dir.join(format!("{algorithm}-raw.hash"));
        let runtime = LARGE_MASK_SECONDS.to_string();
        let large = hashcat(
            &hc_dir,
            &[
                "-a",
                "3",
                "-m",
                hash_mode(algorithm),
                "--runtime",
                &runtime,
                hash.to_str().context("path")?,
                LARGE_MASK,
            ],
        )?;
        let b = hashcat_benchmark(&hc_dir, algorithm)?;
        eprintln!(
            "xtask: hashcat -m {}: {:.1} M/s on {LARGE_MASK}, {:.1} M/s with -b",
            hash_mode(algorithm),
            large.rate() / 1e6,
            b / 1e6
        );
        bench_rates.push((algorithm, large.rate(), b));
    }
    report(&ouis, threads, hcmask_ouis, &setup, &rows, &bench_rates)
}

/// The hashcat attack files for `ouis`: one mask per OUI (text, and raw
/// bytes with `--hex-charset`), and for the hybrid attack every OUI with
/// every top device byte as a word, the two other bytes from a mask.
fn write_attack_files(dir: &Path, ouis: &[String], hcmask_ouis: usize) -> anyhow::Result<()> {
    let mut text_masks = String::new();
    let mut raw_masks = String::new();
    for oui in &ouis[..hcmask_ouis] {
        writeln!(text_masks, "{oui}:?h?h:?h?h:?h?h")?;
        writeln!(raw_masks, "{},?1?2?3?b?b?b", oui.replace(':', ","))?;
    }
    let mut text_words = String::new();
    let mut raw_words = String::new();
    for oui in ouis {
        for top in 0..=255u8 {
            writeln!(text_words, "{oui}:{top:02x}:")?;
            writeln!(raw_words, "$HEX[{}{top:02x}]", oui.replace(':', ""))?;
        }
    }
    let files: [(&str, &String); 4] = [
        ("colon-lower.hcmask", &text_masks),
        ("raw.hcmask", &raw_masks),
        ("colon-lower.words", &text_words),
        ("raw.words", &raw_words),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text)?;
    }
    std::fs::write(dir.join("one.words"), "02:00:00:00:00:0\n")?;
    Ok(())
}

struct ReverseRun {
    wall: f64,
    rate: f64,
    kernels: String,
}

/// `reverse_bench --exhaust` on all cores: the run and the planted digest.
fn reverse_exhaust(
    bench: &Path,
    ouis: usize,
    algorithm: &str,
    input: &str,
) -> anyhow::Result<(ReverseRun, String)> {
    let mut cmd = Command::new(bench);
    cmd.args(["--exhaust", &ouis.to_string(), algorithm, input, "0"]);
    let started = Instant::now();
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    let wall = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let run = ReverseRun {
        wall,
        rate: v["per_second"].as_f64().context("no per_second")?,
        kernels: v["kernels"].as_str().unwrap_or("?").to_string(),
    };
    Ok((run, v["digest"].as_str().context("no digest")?.to_string()))
}

/// `hashcat -b`: hashcat's own benchmark of one hash mode on the CPU.
fn hashcat_benchmark(dir: &Path, algorithm: &str) -> anyhow::Result<f64> {
    let out = Command::new("hashcat")
        .args([
            "-b",
            "-D",
            "1",
            "-m",
            hash_mode(algorithm),
            "--machine-readable",
        ])
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("POCL_CACHE_DIR", dir.join("pocl"))
        .stdin(Stdio::null())
        .output()
        .context("hashcat -b")?;
    parse_benchmark(&String::from_utf8_lossy(&out.stdout))
        .with_context(|| format!("no speed in hashcat -b -m {}", hash_mode(algorithm)))
}

/// `--machine-readable` benchmark lines: `1:1400:...:139800000.00`, the
/// device, the mode, then fields ending with the hashes per second.
fn parse_benchmark(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(':').collect();
            f.len() == 6 && f[0].parse::<u32>().is_ok()
        })
        .filter_map(|l| l.rsplit(':').next()?.trim().parse::<f64>().ok())
        .reduce(|a, b| a + b)
}

fn report(
    ouis: &[String],
    threads: u64,
    hcmask_ouis: usize,
    setup: &[(&str, f64, f64)],
    rows: &[Exhaustion],
    bench_rates: &[(&str, f64, f64)],
) -> anyhow::Result<String> {
    let version = Command::new("hashcat")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let cores = threads as f64;
    let mut md = String::new();
    writeln!(
        md,
        "\n### Against hashcat\n\nThe {COMPARED_OUIS} most common OUIs ({} to {}, {} MACs) \
         exhausted by `reverse` and by hashcat {version} (CPU, pocl), on the same digests: \
         those of 02:00:00:00:00:01 (locally administered, under none of the OUIs), so both \
         search the whole space. Times are wall-clock, set-up included; rates are the \
         steady rate (reverse: candidates over search time; hashcat: median of its status \
         readings); per core is the rate over {threads}. reverse kernels: {}.\n",
        ouis.first().map_or("", String::as_str),
        ouis.last().map_or("", String::as_str),
        crate::bench::thousands((COMPARED_OUIS as u64) << 24),
        rows.first().map_or("?", |r| r.kernels.as_str()),
    )?;
    writeln!(
        md,
        "- hashcat hybrid: `-a 6` with a word per OUI and top device byte \
         (`60:8b:0e:00:`, or `$HEX[608b0e00]` for raw bytes) and the mask `?h?h:?h?h` \
         (`?b?b`): hashcat at its best on this space.\n\
         - hashcat `.hcmask`: `-a 3` with one mask per OUI (`60:8b:0e:?h?h:?h?h:?h?h`; raw \
         bytes `60,8b,0e,?1?2?3?b?b?b` with `--hex-charset`), the attack as one \
         would first write it; {}.\n\
         - hashcat options: `{}`.\n",
        if hcmask_ouis == COMPARED_OUIS {
            format!("run on all {COMPARED_OUIS} OUIs")
        } else {
            format!("run on the first {hcmask_ouis} OUIs and its time scaled to {COMPARED_OUIS}")
        },
        HASHCAT.join(" ")
    )?;
    writeln!(
        md,
        "| digest(input) | reverse, {COMPARED_OUIS} OUIs | reverse M/s (per core) | hashcat hybrid, \
         {COMPARED_OUIS} OUIs | hashcat hybrid M/s (per core) | hashcat `.hcmask`, {COMPARED_OUIS} \
         OUIs | hashcat `.hcmask` M/s (per core) | hashcat, `{LARGE_MASK}`, M/s (per core) | \
         reverse / best hashcat run, per core | `hashcat -b` M/s (per core) | reverse / `-b`, per \
         core |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let mut faster = true;
    let mut ratio_met = true;
    let mut bench_met = true;
    for r in rows {
        let (large, b) = bench_rates
            .iter()
            .find(|(a, _, _)| *a == r.algorithm)
            .map_or((0.0, 0.0), |(_, l, b)| (*l, *b));
        let hcmask_time = r.hcmask.wall * COMPARED_OUIS as f64 / hcmask_ouis as f64;
        let best = r.hybrid.rate().max(r.hcmask.rate()).max(large);
        let ratio = r.reverse_rate / best;
        faster &= r.reverse_wall < r.hybrid.wall.min(hcmask_time);
        ratio_met &= ratio >= 0.8;
        bench_met &= r.reverse_rate / b >= 0.8;
        let m = |v: f64| format!("{:.1} ({:.1})", v / 1e6, v / 1e6 / cores);
        writeln!(
            md,
            "| {}({}) | {:.1} s | {} | {:.1} s | {} | {} | {} | {} | {ratio:.2} | {} | {:.2} |",
            r.algorithm,
            r.input,
            r.reverse_wall,
            m(r.reverse_rate),
            r.hybrid.wall,
            m(r.hybrid.rate()),
            duration(hcmask_time),
            m(r.hcmask.rate()),
            m(large),
            m(b),
            r.reverse_rate / b,
        )?;
    }
    writeln!(
        md,
        "\nhashcat's set-up (a mask of one candidate, start to exit), first with empty kernel \
         caches (hashcat's and pocl's), then warm; the runs above are warm:\n"
    )?;
    writeln!(md, "| hash mode | empty caches | warm |")?;
    writeln!(md, "|---|---|---|")?;
    for (algorithm, cold, warm) in setup {
        writeln!(
            md,
            "| {algorithm} (`-m {}`) | {cold:.1} s | {warm:.1} s |",
            hash_mode(algorithm)
        )?;
    }
    writeln!(
        md,
        "\nTargets: reverse exhausts the {COMPARED_OUIS} OUIs faster than hashcat: {}; \
         reverse's steady rate per core at least 0.8 times hashcat's best run (hybrid, \
         `.hcmask` or `{LARGE_MASK}`): {}; at least 0.8 times the figure of `hashcat -b` \
         (hashcat's own benchmark, from its kernels' timings): {}.",
        if faster { "met" } else { "NOT met" },
        if ratio_met { "met" } else { "NOT met" },
        if bench_met { "met" } else { "NOT met" }
    )?;
    Ok(md)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Best candidates/s of `RUNS` runs of the benchmark binary, and its thread count.
fn best_of(make: impl Fn() -> Command) -> anyhow::Result<(f64, u64)> {
    let mut best = (0.0, 1);
    for _ in 0..RUNS {
        let mut cmd = make();
        let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).with_context(|| format!("output of {cmd:?}"))?;
        let rate = v["per_second"].as_f64().context("no per_second")?;
        let threads = v["threads"].as_u64().context("no threads")?;
        if rate > best.0 {
            best = (rate, threads);
        }
    }
    Ok(best)
}

/// Hashes per second of `openssl speed` on 16-byte inputs, on core 0.
fn openssl_rate(algorithm: &str) -> anyhow::Result<f64> {
    let out = Command::new("taskset")
        .args([
            "-c", "0", "openssl", "speed", "-seconds", "3", "-bytes", "16",
        ])
        .args(["-evp", algorithm])
        .output()
        .context("running openssl speed")?;
    if !out.status.success() {
        bail!(
            "openssl speed -evp {algorithm} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_openssl(&String::from_utf8_lossy(&out.stdout), algorithm)
        .with_context(|| format!("no 16-byte figure for {algorithm} in openssl's output"))
}

/// The last table line is `sha256  135855.40k`: thousands of bytes per
/// second, here in 16-byte hashes.
fn parse_openssl(stdout: &str, algorithm: &str) -> Option<f64> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.split_whitespace().next() == Some(algorithm))?;
    let field = line.split_whitespace().nth(1)?;
    let kbytes: f64 = field.strip_suffix('k')?.parse().ok()?;
    Some(kbytes * 1000.0 / 16.0)
}

fn duration(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_16_byte_figure_is_read_from_openssl_speed() {
        let out = "version: 3.0.22\nbuilt on: ...\nThe 'numbers' are in 1000s of bytes per second processed.\n\
                   type             16 bytes\nsha256          135855.40k\n";
        let r = parse_openssl(out, "sha256").unwrap();
        assert!((r - 8_490_962.5).abs() < 1.0, "{r}");
        assert_eq!(parse_openssl(out, "md5"), None);
    }

    #[test]
    fn hashcat_status_lines_and_benchmark_figures_are_read() {
        let out = "Session..........: x\n\
            [s]tatus [p]ause => { \"session\": \"vitrine-bench\", \"guess\": { \"guess_base_offset\": 1, \"guess_base_count\": 10 }, \"status\": 3, \"progress\": [100, 1000], \"devices\": [ { \"device_id\": 1, \"speed\": 4000000 } ] }\n\
            { \"session\": \"vitrine-bench\", \"guess\": { \"guess_base_offset\": 10, \"guess_base_count\": 10 }, \"status\": 5, \"progress\": [1000, 1000], \"devices\": [ { \"device_id\": 1, \"speed\": 5000000 } ] }\n";
        let run = parse_status(out);
        assert_eq!(run.speeds, [4e6, 5e6]);
        assert_eq!(
            (run.status, run.progress, run.masks),
            (5, (1000, 1000), (10, 10))
        );
        assert_eq!(run.rate(), 5e6);
        let bench = "# option: --optimized-kernel-enable\n1:100:4294967295:4294967295:5.47:202478438\n\
                     Started: Thu Dec  3 02:47:49 2026\n";
        assert_eq!(parse_benchmark(bench), Some(202478438.0));
    }
}
