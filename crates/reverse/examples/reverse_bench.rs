//! The search as `cargo xtask bench-reverse` measures it. Prints one JSON
//! line, or OUIs one per line:
//!
//! - `reverse_bench ALGORITHM INPUT THREADS [DEVICE_PARTS]`: candidates per
//!   second on one OUI; the target never matches, so the whole range is
//!   searched.
//! - `reverse_bench --exhaust N ALGORITHM INPUT THREADS`: searches the N
//!   most common OUIs of the registry (`/usr/share/ieee-data/oui.csv`) for
//!   the digest of [`OUTSIDE`] in INPUT, a MAC under none of them, so the
//!   whole space is searched; the digest is printed for other tools to be
//!   given the same.
//! - `reverse_bench --top-ouis N`: the N most common OUIs, `aa:bb:cc`.

use std::time::Instant;

use vitrine_canary::{Algorithm, Case, Input, encoding::hex};
use vitrine_reverse::{Options, OuiTable, Target, search};

/// A locally administered address: no registered OUI holds it.
const OUTSIDE: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

fn algorithm(name: &str) -> anyhow::Result<Algorithm> {
    Algorithm::ALL
        .into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| anyhow::anyhow!("unknown algorithm {name}"))
}

fn input(name: &str) -> anyhow::Result<Input> {
    Input::all()
        .find(|i| i.to_string() == *name)
        .ok_or_else(|| anyhow::anyhow!("unknown input {name}"))
}

fn top_ouis(n: usize) -> anyhow::Result<OuiTable> {
    let mut table = OuiTable::load(&OuiTable::default_path())?;
    anyhow::ensure!(table.entries.len() >= n, "fewer than {n} OUIs");
    table.entries.truncate(n);
    Ok(table)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, n] if flag == "--top-ouis" => {
            for (oui, _) in top_ouis(n.parse()?)?.entries {
                println!("{:02x}:{:02x}:{:02x}", oui[0], oui[1], oui[2]);
            }
            Ok(())
        }
        [flag, n, a, i, threads] if flag == "--exhaust" => {
            let started = Instant::now();
            let (algorithm, input) = (algorithm(a)?, input(i)?);
            let table = top_ouis(n.parse()?)?;
            let mut message = Vec::new();
            input.write(&OUTSIDE, &mut message);
            let digest = hex(&algorithm.digest(&message), Case::Lower);
            let target = Target::parse(&format!("{}:{digest}", algorithm.name()))?;
            let options = Options {
                inputs: vec![input],
                threads: threads.parse()?,
                ..Options::default()
            };
            let report = search(&table, &[target], &options, &())?;
            anyhow::ensure!(!report.all_reversed(), "the planted digest was matched");
            println!(
                "{}",
                serde_json::json!({
                    "algorithm": algorithm.name(),
                    "input": input.to_string(),
                    "digest": digest,
                    "ouis": report.ouis_searched,
                    "threads": report.threads,
                    "kernels": vitrine_reverse::kernels(),
                    "candidates": report.candidates,
                    "seconds": report.elapsed.as_secs_f64(),
                    "wall_seconds": started.elapsed().as_secs_f64(),
                    "per_second": report.rate(),
                })
            );
            Ok(())
        }
        [a, i, threads, rest @ ..] => per_oui(a, i, threads, rest.first()),
        _ => anyhow::bail!(
            "usage: reverse_bench ALGORITHM INPUT THREADS [DEVICE_PARTS] | \
             --exhaust N ALGORITHM INPUT THREADS | --top-ouis N"
        ),
    }
}

fn per_oui(a: &str, i: &str, threads: &str, devices: Option<&String>) -> anyhow::Result<()> {
    let (algorithm, input) = (algorithm(a)?, input(i)?);
    let devices: u32 = match devices {
        Some(n) => n.parse()?,
        None => 1 << 24,
    };
    let target = Target::parse(&format!(
        "{}:{}",
        algorithm.name(),
        "00".repeat(algorithm.len())
    ))?;
    let table = OuiTable {
        entries: vec![([0x00, 0x00, 0x0c], "Bench".to_string())],
    };
    let options = Options {
        inputs: vec![input],
        device_range: 0..devices,
        threads: threads.parse()?,
        stop_when_all_found: true,
    };
    let report = search(&table, &[target], &options, &())?;
    println!(
        "{}",
        serde_json::json!({
            "algorithm": algorithm.name(),
            "input": input.to_string(),
            "threads": report.threads,
            "kernels": vitrine_reverse::kernels(),
            "candidates": report.candidates,
            "seconds": report.elapsed.as_secs_f64(),
            "per_second": report.rate(),
            "per_second_per_core": report.rate_per_core(),
        })
    );
    Ok(())
}
