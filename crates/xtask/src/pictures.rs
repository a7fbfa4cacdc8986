//! `cargo xtask handbook-pictures`: the pictures of docs/handbook.md, made
//! by running the real binaries, so that they show what the commands do.
//!
//! - `report.png`: the top of the page of a real `vitrine-audit scan` of a
//!   small leaky vendor tree, planted with canaries of a registry made by
//!   `vitrine-audit canaries`, as headless Chromium draws it;
//! - `tail.svg`: what `vitrine-audit tail` printed while `vitrined replay`
//!   published a simulated store into a mosquitto on loopback, drawn as a
//!   terminal (text, so SVG: crisp and small).
//!
//! `pieces.svg`, how the parts fit, and `wiring.svg`, the recording lamp and
//! kill switch on the 40-pin header, are drawn by hand and checked in.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use vitrine_canary::encoding::{hex, spelled};
use vitrine_canary::{Algorithm, Case, Registry, Spelling};
use vitrine_sim::{PcapWriter, SimConfig, Simulator};

/// Windows `tail` shows in the picture (one a minute of simulated store).
const TAIL_ROWS: usize = 12;
/// The screenshot's viewport: the verdict, the report's header and the
/// canaries found or not, nothing below.
const SHOT_WIDTH: u32 = 1200;
const SHOT_HEIGHT: u32 = 1065;

pub fn run(root: &Path) -> anyhow::Result<()> {
    let work = root.join("target/handbook-pictures");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let out = root.join("docs/handbook");
    std::fs::create_dir_all(&out)?;
    super::step(
        "build",
        super::cargo(&[
            "build",
            "--release",
            "-p",
            "vitrined",
            "-p",
            "vitrine-audit",
        ]),
    )?;
    let bin = root.join("target/release");

    let png = out.join("report.png");
    report_picture(&bin, &work.join("audit"), &png)?;
    eprintln!(
        "xtask: {} ({} bytes)",
        png.display(),
        std::fs::metadata(&png)?.len()
    );

    let svg = out.join("tail.svg");
    tail_picture(&bin, &work.join("tail"), &svg)?;
    eprintln!(
        "xtask: {} ({} bytes)",
        svg.display(),
        std::fs::metadata(&svg)?.len()
    );
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// A leaky vendor tree audited by `scan`, its page screenshotted.
fn report_picture(bin: &Path, work: &Path, png: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(work)?;
    let audit = bin.join("vitrine-audit");
    let registry = work.join("canaries.json");
    super::run(
        Command::new(&audit)
            .args(["canaries", "--macs", "6", "--ssids", "1", "--out"])
            .arg(&registry),
    )?;
    plant(&Registry::load(&registry)?, &work.join("vendor-root"))?;

    let reports = work.join("report");
    // Run in the work folder, with relative paths: the page names files
    // as the auditor gave them, not where the xtask keeps its scratch.
    let status = Command::new(&audit)
        .current_dir(work)
        .args(["scan", "vendor-root", "--registry", "canaries.json"])
        .args(["--data-root", "vendor-root/var/lib/tracker"])
        .args(["--subject", "vendor tracker (disk image)"])
        .args(["--key", "auditor.key", "--out", "report"])
        .stdout(Stdio::null())
        .status()
        .context("running vitrine-audit scan")?;
    // 1: something was found, which is what the tree was planted for.
    ensure!(
        status.code() == Some(1),
        "vitrine-audit scan of the leaky tree exited with {status}, expected 1 (findings)"
    );
    let json = std::fs::read_dir(&reports)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .with_context(|| format!("no report in {}", reports.display()))?;
    super::run(Command::new(&audit).arg("verify-report").arg(&json))?;
    screenshot(&json.with_extension("html"), png, SHOT_WIDTH, SHOT_HEIGHT)
}

/// Writes a vendor's tree that leaks the first five MAC canaries: three in
/// clear in a log, two as unsalted SHA-256 in a CSV. The sixth and the
/// SSID stay unfound, so the page shows both answers.
fn plant(registry: &Registry, tree: &Path) -> anyhow::Result<()> {
    let macs: Vec<[u8; 6]> = registry.macs().map(|(_, m)| m).collect();
    ensure!(macs.len() >= 6, "the registry has {} MACs", macs.len());
    let log_dir = tree.join("var/log/tracker");
    let data_dir = tree.join("var/lib/tracker");
    std::fs::create_dir_all(&log_dir)?;
    std::fs::create_dir_all(&data_dir)?;
    let mut log = String::new();
    for (i, mac) in macs[..3].iter().enumerate() {
        writeln!(
            log,
            "2026-11-25T09:1{i}:04Z tracker[812]: probe from {} rssi -6{i} ch 6",
            spelled(mac, Spelling::Colon, Case::Upper)
        )?;
    }
    std::fs::write(log_dir.join("tracker.log"), log)?;
    let mut csv = String::from("visitor,first_seen,rssi\n");
    for (i, mac) in macs[3..5].iter().enumerate() {
        let text = spelled(mac, Spelling::Colon, Case::Lower);
        let digest = hex(&Algorithm::Sha256.digest(text.as_bytes()), Case::Lower);
        writeln!(csv, "{digest},2026-11-25T09:2{i}:30Z,-7{i}")?;
    }
    std::fs::write(data_dir.join("visits.csv"), csv)?;
    Ok(())
}

/// Headless Chromium, kept off the network (no background requests, no
/// component updates, no sync), with a profile of its own.
fn screenshot(html: &Path, png: &Path, width: u32, height: u32) -> anyhow::Result<()> {
    crate::deps::ensure(&[crate::deps::Routine::Report])?;
    let html = html.canonicalize()?;
    let png = std::path::absolute(png)?;
    let profile = html.with_file_name("chromium-profile");
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile)?;
    let _ = std::fs::remove_file(&png);
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start chromium")?;
    let status = wait_bounded(&mut child, Duration::from_secs(60))?;
    let _ = std::fs::remove_dir_all(&profile);
    ensure!(
        png.metadata().is_ok_and(|m| m.len() > 0),
        "chromium wrote no screenshot ({status:?})"
    );
    Ok(())
}

/// `tail` against a mosquitto on loopback while `replay` publishes a
/// simulated store into it, drawn as a terminal.
fn tail_picture(bin: &Path, work: &Path, svg: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(work)?;
    let pcap = work.join("store.pcap");
    let sim = SimConfig {
        duration_s: (TAIL_ROWS as u32 + 2) * 60,
        ..SimConfig::busy_store()
    };
    let mut writer = PcapWriter::create(&pcap)?;
    let mut err = None;
    Simulator::new(sim).run_with(|f| {
        if err.is_none() {
            err = writer.write(f).err();
        }
    });
    if let Some(e) = err {
        return Err(e.into());
    }
    writer.finish()?;

    let port = free_port()?;
    let broker = Killed(
        Command::new("mosquitto")
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start mosquitto")?,
    );
    wait_listening(port)?;
    let url = format!("mqtt://127.0.0.1:{port}");
    let count = TAIL_ROWS.to_string();
    let tail_args = ["tail", "--broker", &url, "--count", &count];
    let mut tail = Killed(
        Command::new(bin.join("vitrine-audit"))
            .args(tail_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start vitrine-audit tail")?,
    );
    // The summaries are not retained: publish only once tail has subscribed.
    let stderr = tail.0.stderr.take().context("tail's stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("subscribed") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .context("vitrine-audit tail did not subscribe within 20 s")?;
    let stdout = tail.0.stdout.take().context("tail's stdout")?;
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout));

    let status = Command::new(bin.join("vitrined"))
        .arg("replay")
        .arg("--pcap")
        .arg(&pcap)
        .args(["--publish", &url, "--site", "store-0042", "--rig", "rig-01"])
        .arg("--spool")
        .arg(work.join("spool"))
        .args(["--window", "60", "--speed", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running vitrined replay")?;
    ensure!(status.success(), "vitrined replay exited with {status}");
    let status = wait_bounded(&mut tail.0, Duration::from_secs(30))?;
    ensure!(
        status.is_some_and(|s| s.success()),
        "vitrine-audit tail did not end with {TAIL_ROWS} summaries ({status:?})"
    );
    let table = reader.join().expect("reader thread")?;
    drop(broker);
    ensure!(
        table.lines().count() >= TAIL_ROWS,
        "tail printed {} lines",
        table.lines().count()
    );
    let prompt = format!("$ vitrine-audit {}", tail_args.join(" "));
    std::fs::write(svg, terminal_svg(&prompt, &table))?;
    Ok(())
}

/// A child process this routine started, stopped when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn wait_listening(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("mosquitto is not listening on 127.0.0.1:{port} after 10 s")
}

/// Waits for `child` at most `limit`; kills it past that (`None`).
fn wait_bounded(
    child: &mut Child,
    limit: Duration,
) -> anyhow::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Terminal colours: background, text, the prompt, the header lines and
/// withheld bins.
const BACKGROUND: &str = "#1e1f29";
const TEXT: &str = "#e6e6e6";
const PROMPT: &str = "#8be28b";
const HEADER: &str = "#9aa4c0";
const WITHHELD: &str = "#f0b94c";
/// Monospace metrics at 13 px: DejaVu Sans Mono advances 0.602 em.
const FONT_PX: f64 = 13.0;
const CHAR_PX: f64 = FONT_PX * 0.602;
const LINE_PX: f64 = 18.0;
const PAD_PX: f64 = 16.0;
const BAR_PX: f64 = 26.0;

/// `text` drawn as a terminal: monospace on a dark background, under a
/// prompt line. Lines of `tail`'s table header are dimmed and the
/// k-anonymity mark `░░` (a withheld bin) is highlighted.
fn terminal_svg(prompt: &str, text: &str) -> String {
    let lines: Vec<&str> = std::iter::once(prompt).chain(text.lines()).collect();
    let cols = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let width = (cols as f64 * CHAR_PX + 2.0 * PAD_PX).ceil();
    let height = (BAR_PX + PAD_PX + lines.len() as f64 * LINE_PX + PAD_PX).ceil();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">
<rect width="{width}" height="{height}" rx="8" fill="{BACKGROUND}"/>
<rect width="{width}" height="{BAR_PX}" rx="8" fill="#2c2e3b"/>
<rect y="{bar_low}" width="{width}" height="8" fill="#2c2e3b"/>
<circle cx="16" cy="13" r="5" fill="#ff5f56"/><circle cx="32" cy="13" r="5" fill="#ffbd2e"/><circle cx="48" cy="13" r="5" fill="#27c93f"/>
<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT_PX}" style="white-space: pre">
"##,
        label = escape(prompt.trim_start_matches("$ ")),
        bar_low = BAR_PX - 8.0,
    );
    for (i, line) in lines.iter().enumerate() {
        let y = BAR_PX + PAD_PX + (i as f64 + 0.75) * LINE_PX;
        let colour = if i == 0 {
            PROMPT
        } else if is_header(line) {
            HEADER
        } else {
            TEXT
        };
        let _ = write!(
            svg,
            r#"<text x="{PAD_PX}" y="{y}" fill="{colour}" xml:space="preserve">"#
        );
        // Withheld bins in their own colour, everything else as it is.
        for (j, part) in line.split("░░").enumerate() {
            if j > 0 {
                let _ = write!(svg, r#"<tspan fill="{WITHHELD}">░░</tspan>"#);
            }
            svg.push_str(&escape(part));
        }
        svg.push_str("</text>\n");
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}

/// A line of the table's header (repeated every 40 rows): it names no
/// stream (`site/rig #seq`).
fn is_header(line: &str) -> bool {
    !line.contains(" #") || line.trim_start().starts_with("rig ")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The pictures the handbook links, for a check that none is missing.
#[cfg(test)]
fn linked_pictures(handbook: &str) -> Vec<std::path::PathBuf> {
    handbook
        .match_indices("](handbook/")
        .filter_map(|(i, _)| {
            let rest = &handbook[i + 2..];
            rest.find(')')
                .map(|end| std::path::PathBuf::from(&rest[..end]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
rig #seq                 window (UTC)           frames   probes
                                                                          (MACs)
store-0042/rig-01 #0     2024-06-01 10:00:00      1314      941   ░░  65 <x&y>
";

    #[test]
    fn terminal_picture_escapes_text_and_marks_withheld_bins() {
        let svg = terminal_svg("$ vitrine-audit tail --broker mqtt://127.0.0.1:1", TABLE);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        // Text from the table cannot open an element.
        assert!(svg.contains("&lt;x&amp;y&gt;"));
        assert!(!svg.contains("<x&y>"));
        assert!(svg.contains(&format!(r#"<tspan fill="{WITHHELD}">░░</tspan>"#)));
        // The prompt, two header lines and one row, each its own line.
        assert_eq!(svg.matches("<text ").count(), 4);
        assert_eq!(svg.matches(&format!(r#"fill="{HEADER}""#)).count(), 2);
        assert_eq!(svg.matches(&format!(r#"fill="{PROMPT}""#)).count(), 1);
    }

    #[test]
    fn terminal_picture_is_as_wide_as_its_longest_line() {
        let narrow = terminal_svg("$ a", "b\n");
        let wide = terminal_svg("$ a", &"x".repeat(100));
        let width = |svg: &str| -> f64 {
            let start = svg.find("width=\"").unwrap() + 7;
            svg[start..start + svg[start..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        assert_eq!(width(&wide), (100.0 * CHAR_PX + 2.0 * PAD_PX).ceil());
        assert!(width(&narrow) < 60.0, "{}", width(&narrow));
    }

    #[test]
    fn every_picture_the_handbook_links_is_in_the_repository() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let handbook = std::fs::read_to_string(root.join("docs/handbook.md")).unwrap();
        let linked = linked_pictures(&handbook);
        assert!(!linked.is_empty(), "the handbook links no picture");
        for picture in linked {
            let path = root.join("docs").join(&picture);
            assert!(path.is_file(), "{} is linked but missing", path.display());
        }
    }
}
