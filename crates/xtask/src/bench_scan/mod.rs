//! The canary-scan benchmark: `vitrine-audit scan` searching a mixed tree of
//! at least 2 GB for 100 canaries in every encoding, next to `rg -F` over the
//! same tree with the canaries' clear-text and hex forms only.
//!
//! The tree (text logs, JSON lines, binary blobs, SQLite databases, gzip and
//! zstd files) is written once under `target/bench/scan-tree/` and reused.
//! A few canaries are planted in known files and forms, so that each run
//! checks that both tools found what they should: the clear and hex forms
//! (both tools), and the binary, base64, truncated and compressed ones
//! (`vitrine-audit` only).

mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use vitrine_canary::encoding::{DigestForm, Truncation};
use vitrine_canary::{Encoding, Registry, Scanner};

use tree::{MAC_CANARIES, Manifest, PLANTS, SSID_CANARIES, canaries, ensure_tree};

const RUNS: u32 = 3;

pub fn run(root: &Path, gb: f64) -> anyhow::Result<()> {
    ensure!(gb > 0.0, "--gb must be positive");
    let dir = root.join("target/bench");
    let cache = dir.join("scan-tree");
    std::fs::create_dir_all(&cache)?;
    let mb = (gb * 1000.0).round().max(1.0) as u64;
    let tree = cache.join(format!("{mb}mb"));
    let registry_path = cache.join(format!("{mb}mb-canaries.json"));

    let registry = canaries();
    let manifest = ensure_tree(&tree, mb * 1_000_000, &registry)?;
    registry.save(&registry_path)?;
    let patterns_path = cache.join(format!("{mb}mb-patterns.txt"));
    let patterns = rg_patterns(&registry);
    std::fs::write(&patterns_path, patterns.join("\n") + "\n")?;
    let ours = Scanner::new(&registry).pattern_count();
    eprintln!(
        "xtask: {} ({} files, {:.2} GB); {} canaries: {ours} forms for vitrine-audit, {} clear and hex patterns for rg",
        tree.display(),
        manifest.files,
        manifest.bytes as f64 / 1e9,
        registry.canaries.len(),
        patterns.len()
    );

    super::step(
        "build",
        super::cargo(&["build", "--release", "-p", "vitrine-audit"]),
    )?;
    let audit = root.join("target/release/vitrine-audit");
    let key = dir.join("scan-report-key");
    let audit_cmd = |one_core: bool| {
        let mut c = if one_core {
            crate::bench::pinned(&audit)
        } else {
            Command::new(&audit)
        };
        c.arg("scan")
            .arg(&tree)
            .arg("--registry")
            .arg(&registry_path)
            .arg("--key")
            .arg(&key);
        c
    };
    let rg_cmd = |one_core: bool| {
        let mut c = if one_core {
            let mut c = crate::bench::pinned(Path::new("rg"));
            c.arg("-j1");
            c
        } else {
            Command::new("rg")
        };
        // The tree holds no hidden files, and a path given to rg is searched
        // whatever the repository's ignore files say.
        c.args(["-F", "-a", "-c", "-f"])
            .arg(&patterns_path)
            .arg(&tree);
        c
    };

    // Warm the page cache, and check the finds. This run's report is kept,
    // verified and rendered as a person would look at it.
    let report_dir = dir.join("scan-report");
    let _ = std::fs::remove_dir_all(&report_dir);
    let started = Instant::now();
    let out = audit_cmd(false)
        .arg("--json")
        .arg("--out")
        .arg(&report_dir)
        .stderr(Stdio::null())
        .output()
        .context("running vitrine-audit")?;
    eprintln!(
        "xtask: vitrine-audit, first run: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    check_audit_finds(&tree, &out.stdout, out.status.code())?;
    let started = Instant::now();
    let out = rg_cmd(false).output().context("running rg")?;
    eprintln!(
        "xtask: rg, first run: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    check_rg_finds(&tree, &out.stdout, out.status.code())?;

    let mut rows = Vec::new();
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (one_core, cores) in [(false, all), (true, 1)] {
        let t = best_of(|| audit_cmd(one_core), 1)?;
        eprintln!("xtask: vitrine-audit, {cores} core(s): {:.2} s", t.secs);
        rows.push(Row {
            tool: "`vitrine-audit scan TREE --registry R --key K`",
            cores,
            patterns: ours,
            encodings: "all: clear, raw, base64, hex (truncated too), binary and base64 digests, OUI-keeping; inside gzip and zstd",
            timing: t,
        });
        let t = best_of(|| rg_cmd(one_core), 0)?;
        eprintln!("xtask: rg, {cores} core(s): {:.2} s", t.secs);
        rows.push(Row {
            tool: if one_core {
                "`rg -j1 -F -a -c -f PATTERNS TREE`"
            } else {
                "`rg -F -a -c -f PATTERNS TREE`"
            },
            cores,
            patterns: patterns.len(),
            encodings: "clear spellings and whole hex digests, as stored",
            timing: t,
        });
    }

    let (json, html) = newest_report(&report_dir)?;
    let verified = Command::new(&audit)
        .arg("verify-report")
        .arg(&json)
        .output()?;
    ensure!(
        verified.status.success(),
        "the scan's report does not verify: {}",
        String::from_utf8_lossy(&verified.stdout)
    );
    let png = dir.join("scan-report.png");
    crate::render::render_png(&html, &png)?;
    eprintln!(
        "xtask: {}xtask: the report's page, rendered: {}",
        String::from_utf8_lossy(&verified.stdout),
        png.display()
    );

    let report = render(&tree, &manifest, &registry, &rows)?;
    let path = dir.join("scan.md");
    std::fs::write(&path, &report)?;
    println!("{report}");
    eprintln!("xtask: written to {}", path.display());
    Ok(())
}

/// The JSON and HTML files of the one report in `dir`.
fn newest_report(dir: &Path) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let json = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .with_context(|| format!("no report in {}", dir.display()))?;
    let html = json.with_extension("html");
    Ok((json, html))
}

struct Row {
    tool: &'static str,
    cores: usize,
    patterns: usize,
    encodings: &'static str,
    timing: Timing,
}

fn render(
    tree: &Path,
    manifest: &Manifest,
    registry: &Registry,
    rows: &[Row],
) -> anyhow::Result<String> {
    let cpu = crate::bench::cpu_model();
    let gb = manifest.bytes as f64 / 1e9;
    let mut md = String::new();
    writeln!(
        md,
        "Machine: {cpu}, {} cores; files in the page cache (each tool ran once \
         before timing); best of {RUNS} runs; one core = `taskset -c 0`.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )?;
    let kinds: Vec<String> = manifest
        .kinds
        .iter()
        .map(|(k, (files, bytes))| format!("{k} {:.0} MB in {files} files", *bytes as f64 / 1e6))
        .collect();
    writeln!(
        md,
        "Tree `{}`: {:.2} GB in {} files: {}; {:.0} MB once decompressed. {} canaries \
         ({MAC_CANARIES} MACs, {SSID_CANARIES} SSIDs); {} planted in known files and forms, \
         found where planted by each tool that searches that form.\n",
        tree.file_name().unwrap_or_default().to_string_lossy(),
        gb,
        manifest.files,
        kinds.join(", "),
        manifest.decompressed as f64 / 1e6,
        registry.canaries.len(),
        PLANTS.len(),
    )?;
    writeln!(
        md,
        "| tool | cores | patterns searched | encodings | seconds | GB/s | peak RSS |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for r in rows {
        let rss = r
            .timing
            .rss_kib
            .map_or(String::new(), |k| format!("{:.1} MB", k as f64 / 1024.0));
        writeln!(
            md,
            "| {} | {} | {} | {} | {:.2} | {:.2} | {rss} |",
            r.tool,
            r.cores,
            crate::bench::thousands(r.patterns as u64),
            r.encodings,
            r.timing.secs,
            gb / r.timing.secs
        )?;
    }
    Ok(md)
}

/// What rg is given: every clear spelling and every whole hex form, each
/// once.
fn rg_patterns(registry: &Registry) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for c in &registry.canaries {
        for f in c.forms() {
            let wanted = match f.encoding {
                Encoding::Clear { .. } | Encoding::SsidClear | Encoding::SsidHex(_) => true,
                Encoding::Digest { form, .. } | Encoding::SsidDigest { form, .. } => {
                    matches!(form, DigestForm::Hex(_))
                }
                _ => false,
            };
            // An unpadded MAC counts only where no hex digit continues its
            // one-digit octet; `rg -F` cannot say so and would report it
            // inside other MACs of the tree.
            let apart = matches!(f.truncatable, Truncation::Apart { .. });
            if wanted && !apart && seen.insert(f.bytes.clone()) {
                out.push(String::from_utf8(f.bytes).expect("clear and hex forms are text"));
            }
        }
    }
    out
}

fn check_audit_finds(tree: &Path, stdout: &[u8], code: Option<i32>) -> anyhow::Result<()> {
    ensure!(
        code == Some(1),
        "vitrine-audit exited with {code:?}, expected 1 (canaries found)"
    );
    let v: serde_json::Value =
        serde_json::from_slice(stdout).context("vitrine-audit --json output")?;
    let checks = v["report"]["checks"]
        .as_array()
        .context("no checks in the report")?;
    let mut got = BTreeSet::new();
    for check in checks {
        for f in check["findings"].as_array().into_iter().flatten() {
            let e = &f["evidence"];
            let path = e["path"].as_str().unwrap_or("");
            let rel = Path::new(path)
                .strip_prefix(tree)
                .map_or(path.to_string(), |p| p.display().to_string());
            got.insert((
                check["id"].as_str().unwrap_or("").to_string(),
                rel,
                e["canary"].as_str().unwrap_or("").to_string(),
                e["encoding"].as_str().unwrap_or("").to_string(),
                e["container"].as_str().map(str::to_string),
            ));
        }
    }
    let expected: BTreeSet<_> = PLANTS
        .iter()
        .map(|p| {
            (
                "storage.canary".to_string(),
                p.file.to_string(),
                p.canary.to_string(),
                p.reported(),
                p.container().map(str::to_string),
            )
        })
        .collect();
    if got != expected {
        bail!(
            "vitrine-audit's finds differ from what was planted:\n  missed: {:?}\n  unexpected: {:?}",
            expected.difference(&got).collect::<Vec<_>>(),
            got.difference(&expected).collect::<Vec<_>>()
        );
    }
    eprintln!(
        "xtask: vitrine-audit found the {} planted canaries where they were planted",
        PLANTS.len()
    );
    Ok(())
}

fn check_rg_finds(tree: &Path, stdout: &[u8], code: Option<i32>) -> anyhow::Result<()> {
    ensure!(
        code == Some(0),
        "rg exited with {code:?}, expected 0 (matches)"
    );
    let mut got = BTreeMap::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let (path, count) = line.rsplit_once(':').context("rg -c line")?;
        let rel = Path::new(path)
            .strip_prefix(tree)
            .map_or(path.to_string(), |p| p.display().to_string());
        got.insert(rel, count.parse::<u64>().context("rg -c count")?);
    }
    let mut expected = BTreeMap::new();
    for p in PLANTS.iter().filter(|p| p.visible_to_rg()) {
        *expected.entry(p.file.to_string()).or_insert(0u64) += 1;
    }
    ensure!(
        got == expected,
        "rg's matching lines per file differ from what was planted: got {got:?}, expected {expected:?}"
    );
    eprintln!(
        "xtask: rg found the {} planted clear and hex canaries",
        expected.values().sum::<u64>()
    );
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Timing {
    secs: f64,
    rss_kib: Option<u64>,
}

/// Best wall time of `RUNS` runs of `make()`, which must exit with
/// `expected`; output is discarded. Peak RSS from `/usr/bin/time`.
fn best_of(make: impl Fn() -> Command, expected: i32) -> anyhow::Result<Timing> {
    let mut best = Timing {
        secs: f64::INFINITY,
        rss_kib: None,
    };
    let rss_file = std::env::temp_dir().join(format!("vitrine-bench-rss-{}", std::process::id()));
    for _ in 0..RUNS {
        let inner = make();
        let mut cmd = Command::new("/usr/bin/time");
        cmd.args(["-f", "%M", "-o"])
            .arg(&rss_file)
            .arg(inner.get_program())
            .args(inner.get_args());
        let started = Instant::now();
        let status = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("{cmd:?}"))?;
        let secs = started.elapsed().as_secs_f64();
        if status.code() != Some(expected) {
            bail!("{cmd:?} exited with {status}, expected {expected}");
        }
        let rss = std::fs::read_to_string(&rss_file)
            .ok()
            .and_then(|s| s.lines().last()?.trim().parse().ok());
        if secs < best.secs {
            best = Timing { secs, rss_kib: rss };
        }
    }
    let _ = std::fs::remove_file(&rss_file);
    Ok(best)
}
