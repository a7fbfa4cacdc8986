//! HTML pages to PNG with headless Chromium (the audit report's page, for
//! benchmarks and documentation).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::deps;

/// The viewport of [`render_png`]: one page of a report at desktop width.
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 2400;

/// Renders `html` to a `WIDTH`×`HEIGHT` screenshot at `png`.
pub fn render_png(html: &Path, png: &Path) -> anyhow::Result<()> {
    render_png_sized(html, png, WIDTH, HEIGHT)
}

/// Renders `html` to a `width`×`height` screenshot at `png` (the top of
/// the page; what lies below is cut off). Installs Chromium when missing
/// and running as root on Debian, else says how.
pub fn render_png_sized(html: &Path, png: &Path, width: u32, height: u32) -> anyhow::Result<()> {
    deps::ensure(&[deps::Routine::Report])?;
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| on_path(c))
        .context("no chromium on PATH")?;
    let html = html
        .canonicalize()
        .with_context(|| format!("cannot find {}", html.display()))?;
    if let Some(dir) = png.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let png_abs = std::path::absolute(png)?;
    // A profile of its own: runs in parallel do not share a lock, and
    // nothing is written to the user's home.
    let profile = std::env::temp_dir().join(format!("xtask-chromium-{}", std::process::id()));
    let log_path = profile.with_extension("log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let _ = std::fs::remove_file(&png_abs);
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png_abs.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {chromium}"))?;
    // Bounded: a wedged browser must not hang the caller. A minute, then
    // the child started here is stopped.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = std::fs::remove_dir_all(&profile);
    let err = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    let written = png_abs.metadata().is_ok_and(|m| m.len() > 0);
    match status {
        _ if written => Ok(()),
        Some(status) => {
            bail!(
                "{chromium} wrote no screenshot ({status}):\n{}",
                err.lines()
                    .filter(|l| !l.contains("dbus"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        None => bail!("{chromium} did not finish within 60 s and wrote no screenshot"),
    }
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}
