//! The camera benchmark: frames per second of Vitrine's camera stage on one
//! core, next to the same pipeline written with OpenCV (MOG2, open/close,
//! contours, a nearest-centroid tracker with the same line crossings), on
//! the same 640x480 gray frames of the dense benchmark scene; writes
//! target/bench/camera.json.
//!
//! OpenCV comes from PyPI (`opencv-python-headless` and `numpy`, pinned
//! below) in a venv of its own, target/bench/camera-venv, made with
//! Debian's python3.

use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use vitrine_sim::scene::{Scene, SceneConfig, write_y4m};

/// The Python packages, pinned.
const PIP_PACKAGES: [&str; 2] = ["opencv-python-headless==5.1.0.95", "numpy==2.4.6"];
const PYTHON: &str = "/usr/bin/python3";
/// The targets of issue 13.
const TARGET_FPS: f64 = 300.0;
const TARGET_RATIO: f64 = 1.3;

#[derive(Debug, Clone, Copy)]
struct Timing {
    seconds: f64,
    inward: u64,
    outward: u64,
}

pub fn run(root: &Path, frames: u32, runs: u32, keep: bool) -> anyhow::Result<()> {
    if frames == 0 || runs == 0 {
        bail!("--frames and --runs must be at least 1");
    }
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let venv = dir.join("camera-venv");
    let python = venv_python(&venv)?;

    super::step(
        "build",
        super::cargo(&[
            "build",
            "--release",
            "-p",
            "vitrine-camera-analytics",
            "--example",
            "camera_bench",
        ]),
    )?;
    let bench = root.join("target/release/examples/camera_bench");
    let script = root.join("crates/xtask/bench/camera_opencv.py");

    let config = SceneConfig::benchmark(frames);
    let clip = dir.join("camera-bench.y4m");
    eprintln!(
        "xtask: writing {frames} frames of {}x{} to {}",
        config.width,
        config.height,
        clip.display()
    );
    let scene = Scene::new(config.clone()).context("the benchmark scene")?;
    let file = std::fs::File::create(&clip).with_context(|| clip.display().to_string())?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let truths = write_y4m(&scene, &mut out)?;
    out.flush()?;
    drop(out);
    let truth_in: u64 = truths.iter().map(|t| u64::from(t.inward)).sum();
    let truth_out: u64 = truths.iter().map(|t| u64::from(t.outward)).sum();

    // The stage's internal resolution (vitrine-camera-analytics'
    // pixels::factor_for): OpenCV works at the same one.
    let factor = (config.width.min(config.height) / 180).clamp(1, 8);
    let (line_a, line_b) = config.line;
    let coords: Vec<String> = [line_a.0, line_a.1, line_b.0, line_b.1]
        .iter()
        .map(|v| v.to_string())
        .collect();

    let result = (|| -> anyhow::Result<(Timing, Timing, String)> {
        let (mut vitrine, mut opencv): (Option<Timing>, Option<Timing>) = (None, None);
        let mut opencv_version = String::new();
        for run in 1..=runs {
            let mut v = Command::new("taskset");
            v.args(["-c", "0"]).arg(&bench).arg(&clip);
            let (t, _) = timed(&mut v, frames)?;
            eprintln!(
                "xtask: run {run}: vitrine {:.0} frames/s ({} in, {} out)",
                f64::from(frames) / t.seconds,
                t.inward,
                t.outward
            );
            vitrine = Some(best(vitrine, t));

            let mut o = Command::new("taskset");
            o.args(["-c", "0"])
                .arg(&python)
                .arg(&script)
                .arg(&clip)
                .arg("--line")
                .args(&coords)
                .arg("--inside")
                .args([config.inside.0.to_string(), config.inside.1.to_string()])
                .args(["--factor", &factor.to_string()])
                // One thread, whatever the libraries would choose.
                .env("OMP_NUM_THREADS", "1")
                .env("OPENBLAS_NUM_THREADS", "1");
            let (t, version) = timed(&mut o, frames)?;
            eprintln!(
                "xtask: run {run}: opencv {:.0} frames/s ({} in, {} out)",
                f64::from(frames) / t.seconds,
                t.inward,
                t.outward
            );
            opencv = Some(best(opencv, t));
            opencv_version = version;
        }
        Ok((
            vitrine.expect("at least one run"),
            opencv.expect("at least one run"),
            opencv_version,
        ))
    })();
    if !keep {
        let _ = std::fs::remove_file(&clip);
    }
    let (vitrine, opencv, opencv_version) = result?;

    let vitrine_fps = f64::from(frames) / vitrine.seconds;
    let opencv_fps = f64::from(frames) / opencv.seconds;
    let report = serde_json::json!({
        "frames": frames,
        "vitrine_fps": round1(vitrine_fps),
        "opencv_fps": round1(opencv_fps),
        "ratio": (vitrine_fps / opencv_fps * 100.0).round() / 100.0,
        "width": config.width,
        "height": config.height,
        "internal_factor": factor,
        "runs": runs,
        "best_of": "fastest run of each",
        "pinned": "taskset -c 0",
        "machine": crate::bench::cpu_model(),
        "opencv_version": opencv_version,
        "pip": PIP_PACKAGES,
        "crossings": {
            "truth": {"inward": truth_in, "outward": truth_out},
            "vitrine": {"inward": vitrine.inward, "outward": vitrine.outward},
            "opencv": {"inward": opencv.inward, "outward": opencv.outward},
        },
    });
    let path = dir.join("camera.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    eprintln!(
        "xtask: vitrine {vitrine_fps:.0} frames/s, opencv {opencv_fps:.0} frames/s ({:.2}x); \
         crossings in/out: truth {truth_in}/{truth_out}, vitrine {}/{}, opencv {}/{}; wrote {}",
        vitrine_fps / opencv_fps,
        vitrine.inward,
        vitrine.outward,
        opencv.inward,
        opencv.outward,
        path.display()
    );
    if vitrine_fps < TARGET_FPS || vitrine_fps < TARGET_RATIO * opencv_fps {
        eprintln!(
            "xtask: below the target ({TARGET_FPS:.0} frames/s and {TARGET_RATIO}x OpenCV on one core)"
        );
    }
    Ok(())
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn best(so_far: Option<Timing>, t: Timing) -> Timing {
    match so_far {
        Some(b) if b.seconds <= t.seconds => b,
        _ => t,
    }
}

/// Runs one side; its JSON line gives seconds and crossings (and, for
/// OpenCV, its version).
fn timed(cmd: &mut Command, frames: u32) -> anyhow::Result<(Timing, String)> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("{cmd:?} printed {text:?}"))?;
    let number = |key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_f64)
            .with_context(|| format!("{cmd:?}: no {key} in {line}"))
    };
    if number("frames")? as u32 != frames {
        bail!("{cmd:?} read {} frames of {frames}", number("frames")?);
    }
    let timing = Timing {
        seconds: number("seconds")?,
        inward: number("inward")? as u64,
        outward: number("outward")? as u64,
    };
    let version = v
        .get("opencv")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok((timing, version))
}

/// The venv's python with the pinned packages, made or completed if need
/// be.
fn venv_python(venv: &Path) -> anyhow::Result<std::path::PathBuf> {
    let python = venv.join("bin/python");
    let wanted = PIP_PACKAGES
        .iter()
        .map(|p| p.split_once("==").map_or(*p, |(_, v)| v))
        .collect::<Vec<_>>()
        .join(" ");
    let installed = || {
        Command::new(&python)
            .args([
                "-c",
                "from importlib.metadata import version as v; \
                 print(v('opencv-python-headless'), v('numpy'))",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if installed().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    if !python.exists() {
        super::step("venv", {
            let mut c = Command::new(PYTHON);
            c.args(["-m", "venv"]).arg(venv);
            c
        })
        .context("a venv needs Debian's python3-venv: apt-get install python3-venv")?;
    }
    super::step("pip", {
        let mut c = Command::new(venv.join("bin/pip"));
        c.args(["install", "--disable-pip-version-check", "--quiet"])
            .args(PIP_PACKAGES);
        c
    })?;
    match installed() {
        Some(found) if found == wanted => Ok(python),
        found => bail!("the venv {} has {found:?}, not {wanted}", venv.display()),
    }
}
