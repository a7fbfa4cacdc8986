//! Candidates per second of the search on one OUI, for `cargo xtask
//! bench-reverse`: `reverse_bench ALGORITHM INPUT THREADS [DEVICE_PARTS]`.
//! Prints one JSON line. The target never matches, so the whole range is
//! searched.

use vitrine_canary::{Algorithm, Input};
use vitrine_reverse::{Options, OuiTable, Target, search};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [algorithm, input, threads, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: reverse_bench ALGORITHM INPUT THREADS [DEVICE_PARTS]");
    };
    let algorithm = Algorithm::ALL
        .into_iter()
        .find(|a| a.name() == algorithm)
        .ok_or_else(|| anyhow::anyhow!("unknown algorithm {algorithm}"))?;
    let input = Input::all()
        .find(|i| i.to_string() == *input)
        .ok_or_else(|| anyhow::anyhow!("unknown input {input}"))?;
    let devices: u32 = match rest.first() {
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
            "candidates": report.candidates,
            "seconds": report.elapsed.as_secs_f64(),
            "per_second": report.rate(),
            "per_second_per_core": report.rate_per_core(),
        })
    );
    Ok(())
}
