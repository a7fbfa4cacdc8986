//! `vitrine-audit reverse`: the arguments and the report, over the search of
//! `vitrine_reverse`.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use serde_json::json;
use vitrine_canary::Input;

use vitrine_reverse::oui::{DEFAULT_PATH, OuiTable};
use vitrine_reverse::search::{Options, Progress, Report, search};
use vitrine_reverse::target::{Target, read_targets};

use crate::inputs::{MAX_INPUT_BYTES, MAX_REGISTRY_BYTES, input_file};

/// OUIs searched when `--top` is not given.
pub const DEFAULT_TOP: usize = 100;

/// The end of `--help`, kept apart from the doc comment so that it shows
/// whatever the subcommand's own description says.
const EXPLANATION: &str = "\
How it works: a MAC is a 24-bit vendor prefix (OUI) and a 24-bit device part,
so each OUI holds only 2^24 (16.7 million) addresses. This searches the OUIs
of the IEEE registry, vendors with the most assignments first, hashing every
address in each input encoding (raw bytes; colon, dash, Cisco-dot or bare
hex, in either case) with each algorithm a digest may come from, until every
digest has a match. A digest that is recovered was a pseudonym in name only.

Digests: hex in any case. 32, 40, 64 or 128 digits are a whole MD5, SHA-1,
SHA-256 or SHA-512 digest; any other even length of at least 8 digits is a
truncated digest, tried against every longer algorithm. ALGORITHM:HEX (e.g.
sha256:0a1b2c3d4e5f) names the algorithm. Randomized (locally administered)
addresses are outside the registry and are not found; neither are salted or
keyed hashes.

Examples:
  vitrine-audit reverse HEX                  one digest, 100 most common OUIs
  vitrine-audit reverse --file digests.txt --top 0 --inputs raw,colon-lower
  vitrine-audit reverse --json 0a1b2c3d4e5f

Exit status: 0 when every digest was reversed, 1 when some were not.";

/// Recover the MAC addresses behind hashed identifiers found on a device.
///
/// Hashing a MAC is not anonymization: each vendor prefix (OUI) holds only
/// 2^24 addresses, and trying them all takes seconds.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = EXPLANATION)]
pub struct ReverseArgs {
    /// Digests found on the device: `HEX` or `ALGORITHM:HEX`.
    #[arg(value_name = "DIGEST")]
    pub digests: Vec<String>,
    /// Also read digests from this file, one per line (`#` comments).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// The IEEE OUI registry, as Debian's `ieee-data` installs it.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PATH)]
    pub oui_file: PathBuf,
    /// Search the N most common OUIs (vendors with most assignments first);
    /// 0 searches all of them (about 32,500, hours per input encoding).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TOP)]
    pub top: usize,
    /// Input encodings to hash, comma-separated: raw, colon-lower,
    /// colon-upper, dash-lower, dash-upper, dot-lower, dot-upper, bare-lower,
    /// bare-upper [default: all].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_input)]
    pub inputs: Vec<Input>,
    /// Worker threads; 0 uses every core.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Search the whole space even once every digest has a match, to see
    /// every MAC a short truncated digest matches.
    #[arg(long)]
    pub exhaustive: bool,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_input(text: &str) -> Result<Input, String> {
    let wanted = text.trim().to_ascii_lowercase();
    Input::all()
        .find(|i| i.to_string() == wanted)
        .ok_or_else(|| {
            let names: Vec<String> = Input::all().map(|i| i.to_string()).collect();
            format!("unknown input {text:?}; one of {}", names.join(", "))
        })
}

/// Runs the search and prints its report on stdout; true when every digest
/// was reversed.
/// The subcommand: its input files checked for size, then [`run`]; exit
/// status 0 when every digest was reversed, 1 when some were not.
pub fn command(args: ReverseArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.file {
        input_file(file, "digest file", MAX_INPUT_BYTES)?;
    }
    input_file(&args.oui_file, "OUI registry", MAX_REGISTRY_BYTES)?;
    anyhow::ensure!(
        args.threads <= 1024,
        "--threads {}: at most 1024 (0 uses every core)",
        args.threads
    );
    Ok(if run(args)? {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run(args: ReverseArgs) -> anyhow::Result<bool> {
    let mut targets = Vec::new();
    for d in &args.digests {
        targets.push(Target::parse(d)?);
    }
    if let Some(file) = &args.file {
        targets.extend(read_targets(file)?);
    }
    if targets.is_empty() {
        bail!("no digest to reverse: give them as arguments or with --file");
    }
    let table = OuiTable::load(&args.oui_file)?;
    let table = match args.top {
        0 => table,
        n => table.top(n),
    };
    let mut options = Options {
        threads: args.threads,
        stop_when_all_found: !args.exhaustive,
        ..Options::default()
    };
    if !args.inputs.is_empty() {
        options.inputs = args.inputs.clone();
    }

    let bar;
    let progress: &dyn Progress = if std::io::stderr().is_terminal() {
        bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {percent}% {rate} ETA {eta} (whole space)",
            )
            .expect("the template is valid")
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1} M digests/s", s.per_sec() / 1e6);
            })
            .progress_chars("=> "),
        );
        &bar
    } else {
        &()
    };
    let report = search(&table, &targets, &options, progress)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&report))?);
    } else {
        print!("{}", table_text(&report, &options));
    }
    Ok(report.all_reversed())
}

/// The digest as shown in a table: long ones cut in the middle.
fn short(target: &Target) -> String {
    let s = target.to_string();
    if s.len() <= 24 {
        s
    } else {
        format!("{}…{}", &s[..14], &s[s.len() - 8..])
    }
}

fn table_text(report: &Report, options: &Options) -> String {
    let mut rows = vec![[
        "DIGEST".to_string(),
        "FORM".to_string(),
        "MAC".to_string(),
        "HASHED AS".to_string(),
        "VENDOR".to_string(),
        "FOUND AFTER".to_string(),
    ]];
    let mut notes = Vec::new();
    for t in &report.targets {
        let form = if t.target.truncated() {
            format!("{} hex digits", t.target.hex.len())
        } else {
            "full".to_string()
        };
        if t.matches.is_empty() {
            rows.push([
                short(&t.target),
                form.clone(),
                "not reversed".to_string(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for m in &t.matches {
            rows.push([
                short(&t.target),
                form.clone(),
                m.mac_text(),
                format!("{}({})", m.algorithm.name(), m.input),
                m.vendor.clone(),
                format!("{:.1} s", m.elapsed.as_secs_f64()),
            ]);
        }
        if t.match_count > t.matches.len() as u64 {
            notes.push(format!(
                "{}: {} MACs match; the first {} in search order are shown.",
                short(&t.target),
                t.match_count,
                t.matches.len()
            ));
        }
        let chance = t.expected_chance_matches();
        if chance >= 0.01 {
            notes.push(format!(
                "{}: a {}-bit prefix; about {chance:.2} matches were expected by chance among the \
                 {} candidates tried, so a match is a lead to confirm, not proof.",
                short(&t.target),
                t.target.bits(),
                group(t.candidates),
            ));
        }
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (cell, w) in r.iter().zip(&widths) {
            let _ = write!(line, "{cell:<w$}  ", w = *w);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    for n in notes {
        out.push_str(&format!("note: {n}\n"));
    }
    if !report.all_reversed() {
        out.push_str(
            "not reversed: no MAC under the OUIs searched, hashed in the inputs searched, gives \
             that digest. It may be a randomized (locally administered) address, a vendor \
             outside the OUIs searched (--top), another input, or a keyed hash.\n",
        );
    }
    let algorithms: usize = vitrine_canary::Algorithm::ALL
        .into_iter()
        .filter(|a| {
            report
                .targets
                .iter()
                .any(|t| t.target.algorithms.contains(a))
        })
        .count();
    let space = format!(
        "{} x {} device parts x {} x {}",
        count(report.ouis_searched as u64, "OUI"),
        group(options.device_range.len() as u64),
        count(options.inputs.len() as u64, "input"),
        count(algorithms as u64, "algorithm"),
    );
    let rate = format!(
        "{:.1} M/s ({:.1} M/s per core on {})",
        report.rate() / 1e6,
        report.rate_per_core() / 1e6,
        count(report.threads as u64, "thread"),
    );
    // Stopped at a hit, the digests tried are what was searched; the space
    // is only where the search was going.
    let _ = if report.stopped_early {
        writeln!(
            out,
            "stopped once every digest had a match: {} digests tried in {:.1} s, {rate}, \
             of a space of up to {space}",
            group(report.candidates),
            report.elapsed.as_secs_f64(),
        )
    } else {
        writeln!(
            out,
            "searched {space}: {} digests in {:.1} s, {rate}",
            group(report.candidates),
            report.elapsed.as_secs_f64(),
        )
    };
    out
}

/// `1 OUI`, `2 OUIs`.
fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", group(n), if n == 1 { "" } else { "s" })
}

/// `12345678` as `12,345,678`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn to_json(report: &Report) -> serde_json::Value {
    let targets: Vec<_> = report
        .targets
        .iter()
        .map(|t| {
            json!({
                "digest": t.target.hex,
                "algorithms": t.target.algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
                "truncated": t.target.truncated(),
                "bits": t.target.bits(),
                "reversed": t.reversed(),
                "match_count": t.match_count,
                "candidates": t.candidates,
                "expected_chance_matches": t.expected_chance_matches(),
                "matches": t.matches.iter().map(|m| json!({
                    "mac": m.mac_text(),
                    "vendor": m.vendor,
                    "algorithm": m.algorithm.name(),
                    "input": m.input.to_string(),
                    "seconds": m.elapsed.as_secs_f64(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "targets": targets,
        "all_reversed": report.all_reversed(),
        "ouis_searched": report.ouis_searched,
        "candidates": report.candidates,
        "seconds": report.elapsed.as_secs_f64(),
        "candidates_per_second": report.rate(),
        "candidates_per_second_per_core": report.rate_per_core(),
        "threads": report.threads,
        "stopped_early": report.stopped_early,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory as _, Parser};
    use vitrine_canary::{Algorithm, Case, Spelling};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ReverseArgs,
    }

    #[test]
    fn arguments_parse_with_their_defaults() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["reverse", "deadbeef00"]).unwrap();
        assert_eq!(cli.args.top, DEFAULT_TOP);
        assert_eq!(cli.args.oui_file, PathBuf::from(DEFAULT_PATH));
        assert!(cli.args.inputs.is_empty());
        let cli =
            Cli::try_parse_from(["reverse", "--inputs", "raw,Colon-Upper", "--top", "0"]).unwrap();
        assert_eq!(
            cli.args.inputs,
            [
                Input::Raw,
                Input::Text {
                    spelling: Spelling::Colon,
                    case: Case::Upper
                }
            ]
        );
        let err = Cli::try_parse_from(["reverse", "--inputs", "colon"]).unwrap_err();
        assert!(err.to_string().contains("bare-upper"), "{err}");
    }

    #[test]
    fn the_table_and_json_name_the_mac_and_how_it_was_hashed() {
        let mac = [0x3c, 0x22, 0xfb, 0x00, 0x00, 0x07];
        let digest = vitrine_canary::encoding::hex(&Algorithm::Md5.digest(&mac), Case::Lower);
        let table = OuiTable {
            entries: vec![([0x3c, 0x22, 0xfb], "Test Vendor".into())],
        };
        let options = Options {
            inputs: vec![Input::Raw],
            device_range: 0..1000,
            ..Options::default()
        };
        let targets = [
            Target::parse(&digest).unwrap(),
            Target::parse("sha1:0000000000").unwrap(),
        ];
        let report = search(&table, &targets, &options, &()).unwrap();
        let text = table_text(&report, &options);
        assert!(text.contains("3c:22:fb:00:00:07"), "{text}");
        assert!(text.contains("md5(raw)"), "{text}");
        assert!(text.contains("not reversed"), "{text}");
        let j = to_json(&report);
        assert_eq!(j["targets"][0]["matches"][0]["mac"], "3c:22:fb:00:00:07");
        assert_eq!(j["targets"][1]["reversed"], false);
        assert_eq!(j["all_reversed"], false);
    }

    #[test]
    fn a_search_stopped_at_a_hit_says_what_it_tried_not_the_whole_space() {
        let mac = [0x3c, 0x22, 0xfb, 0x00, 0x00, 0x07];
        let digest = vitrine_canary::encoding::hex(&Algorithm::Md5.digest(&mac), Case::Lower);
        let table = OuiTable {
            entries: vec![
                ([0x3c, 0x22, 0xfb], "Test Vendor".into()),
                ([0xf0, 0x18, 0x98], "Other Vendor".into()),
            ],
        };
        let options = Options {
            inputs: vec![Input::Raw],
            stop_when_all_found: true,
            ..Options::default()
        };
        let report = search(&table, &[Target::parse(&digest).unwrap()], &options, &()).unwrap();
        assert!(report.stopped_early);
        let text = table_text(&report, &options);
        let summary = text.lines().last().unwrap();
        assert!(
            summary.starts_with("stopped once every digest had a match"),
            "{summary}"
        );
        assert!(summary.contains("of a space of up to"), "{summary}");
        assert!(!summary.starts_with("searched"), "{summary}");
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(16_777_216), "16,777,216");
    }
}
