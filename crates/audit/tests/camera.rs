//! Camera leaks: a visual canary (a patch of noise drawn from the registry's
//! seed) is shown in a clip; a leaky vendor process that keeps frames in
//! memory and writes them to its spool is caught by `memory.frames` and
//! `storage.frames`, and the daemon's camera pipeline, after a long run,
//! keeps none (its memory, its folders) and prints only the schema's
//! camera figures.
//!
//! Both processes are this test binary run again (`--ignored --exact`
//! with `VITRINE_CAMERA_CHILD` set), renamed through `/proc/self/comm` so
//! that the audit finds them by name: the vendor as `vendord<N>`, the
//! daemon's pipeline (`vitrined::camera::run_clip` over standard input,
//! as `vitrined replay --clip -` runs it) as `vcam<N>`, N from the test
//! process's pid: the audit reads every process of that name on the
//! machine, and another run of these tests must not be one of them.

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use vitrine_canary::visual::{Layout, form_name};
use vitrine_canary::{Registry, VisualCanary, VisualScanner};

const W: usize = 640;
const H: usize = 360;
const HEADER: &str = "YUV4MPEG2 W640 H360 F10:1 Ip A1:1 Cmono\n";

/// The child's role, when this binary runs as one.
const CHILD: &str = "VITRINE_CAMERA_CHILD";

/// A registry with the usual MAC and SSID canaries and one visual canary.
fn registry() -> Registry {
    let mut reg = Registry::from_seed(4, 1, &[[0x00, 0x1b, 0x63]], 4242);
    reg.add_visual();
    reg
}

fn visual(reg: &Registry) -> VisualCanary {
    reg.visuals().next().unwrap().2
}

/// A shop doorway: a lit gradient, a person walking up through it every
/// 12 s, and the visual canary painted into frames `canary`.
struct Scene {
    background: Vec<u8>,
    canary: VisualCanary,
    shown: std::ops::Range<usize>,
}

impl Scene {
    fn new(canary: VisualCanary, shown: std::ops::Range<usize>) -> Scene {
        let background = (0..W * H)
            .map(|i| (60 + (i % W) / 8 + (i / W) / 4) as u8)
            .collect();
        Scene {
            background,
            canary,
            shown,
        }
    }

    fn frame(&self, n: usize) -> Vec<u8> {
        let mut f = self.background.clone();
        // A person (50 x 120 pixels, darker than the floor) from the bottom
        // edge to the top in 8 s, every 12 s.
        let t = n % 120;
        if t < 80 {
            let top = H as i64 - (t as i64 * (H as i64 + 120)) / 80;
            for y in top.max(0)..(top + 120).min(H as i64) {
                let row = y as usize * W;
                f[row + 300..row + 350].fill(25);
            }
        }
        if self.shown.contains(&n) {
            assert!(self.canary.paint(&mut f, W, H));
        }
        f
    }
}

/// Writes frames `range` of `scene` to `to`, as a YUV4MPEG2 stream.
fn feed(to: &mut impl Write, scene: &Scene, range: std::ops::Range<usize>) {
    for n in range {
        to.write_all(b"FRAME\n").unwrap();
        to.write_all(&scene.frame(n)).unwrap();
    }
    to.flush().unwrap();
}

/// The name the child `role` takes, unique to this test process.
fn process_name(role: &str) -> String {
    let n = std::process::id() % 100_000;
    if role.starts_with("leaky:") {
        format!("vendord{n}")
    } else {
        format!("vcam{n}")
    }
}

/// The variable that gives a child its name.
const CHILD_NAME: &str = "VITRINE_CAMERA_CHILD_NAME";

/// This test binary again, as the child `role` in `rig` (its folders).
fn child(role: &str, test: &str, rig: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            test,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, role)
        .env(CHILD_NAME, process_name(role))
        .env("TMPDIR", rig.join("tmp"))
        .current_dir(rig.join("state"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The folders a process may write to, under `dir/rig` (the audited
/// root; the registry and the reports stay beside it): its state (working)
/// folder, its temporary folder, its spool.
fn folders(dir: &Path) -> PathBuf {
    let rig = dir.join("rig");
    for d in ["state", "tmp", "spool"] {
        std::fs::create_dir_all(rig.join(d)).unwrap();
    }
    rig
}

/// The lines a child prints, as they come.
fn lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The harness's "test child_process ... " may come first.
            if let Some(at) = line.find("ready ").or_else(|| line.find('{')) {
                let _ = tx.send(line[at..].to_string());
            }
        }
    });
    rx
}

/// `vitrine-audit scan DIR --process NAME` with the registry and the
/// policy `policy` (TOML); exit code and report.
fn audit(dir: &Path, root: &Path, process: &str, reg: &Registry, policy: &str) -> (i32, Value) {
    let reg_path = dir.join("canaries.json");
    reg.save(&reg_path).unwrap();
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, policy).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"))
        .arg("scan")
        .arg(root)
        .args(["--process", process, "--registry"])
        .arg(&reg_path)
        .arg("--policy")
        .arg(&policy_path)
        .arg("--key")
        .arg(dir.join("report-key"))
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--json")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v["report"].clone())
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#}"))
}

fn evidence(report: &Value, id: &str) -> Vec<Value> {
    check(report, id)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["evidence"].clone())
        .collect()
}

fn file_name(e: &Value) -> String {
    Path::new(e["path"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Kills the child when the test ends, passed or not.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_vendor_that_keeps_frames_is_caught_in_its_memory_and_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let rig = folders(dir.path());
    let mut reg = registry();
    let scene = Scene::new(visual(&reg), 20..25);
    let role = format!("leaky:{}", rig.display());
    let vendord = process_name(&role);
    let mut vendor = child(&role, "child_process", &rig);
    let ready = lines(&mut vendor);
    let mut stdin = vendor.stdin.take().unwrap();
    let vendor = Reaper(vendor);
    stdin.write_all(HEADER.as_bytes()).unwrap();
    let shown = OffsetDateTime::now_utc();
    feed(&mut stdin, &scene, 0..60);
    drop(stdin);
    assert_eq!(
        ready.recv_timeout(Duration::from_secs(60)).unwrap(),
        "ready 60"
    );
    let pid = vendor.0.id();

    // Shown just now: frames may still be in processing, so memory.frames
    // passes; the files are findings whenever they were written.
    reg.mark_shown(shown);
    let (code, report) = audit(dir.path(), &rig, &vendord, &reg, "");
    assert_eq!(code, 1);
    assert_eq!(check(&report, "memory.frames")["status"], "passed");
    let files: BTreeSet<(String, String)> = evidence(&report, "storage.frames")
        .iter()
        .map(|e| {
            (
                file_name(e),
                e["encoding"].as_str().unwrap_or("(clip)").to_string(),
            )
        })
        .collect();
    let full = form_name(1, Layout::Packed);
    let half_yuyv = form_name(2, Layout::Interleaved);
    assert_eq!(
        files,
        [
            ("frames.raw".to_string(), full.clone()),
            ("keep.y4m".to_string(), "(clip)".to_string()),
            ("keep.y4m".to_string(), full.clone()),
            ("thumbs.yuyv".to_string(), half_yuyv.clone()),
        ]
        .into_iter()
        .collect()
    );
    for e in evidence(&report, "storage.frames") {
        if e["encoding"].is_null() {
            assert_eq!(e["detail"], "YUV4MPEG2 clip, 640x360, Cmono");
            continue;
        }
        assert_eq!(e["canary"], "visual-01");
        // The file holds the canary's rows at the offsets given.
        let data = std::fs::read(e["path"].as_str().unwrap()).unwrap();
        let scanner = VisualScanner::new(&reg);
        let mut offsets = Vec::new();
        scanner.scan(&data, 0, &mut |m| offsets.push(m.offset));
        assert_eq!(e["offset"].as_u64(), offsets.first().copied(), "{e}");
        // Five frames shown, each with its 48 rows at full size.
        let runs = e["count"].as_u64().unwrap();
        let per_frame = if e["encoding"] == full.as_str() {
            48
        } else {
            24
        };
        assert_eq!(runs, 5 * per_frame, "{e}");
    }
    assert_eq!(check(&report, "storage.media")["status"], "passed");

    // Shown longer ago than a frame may live: memory.frames fails, for
    // the full frames of the ring and its YUYV thumbnails.
    reg.canaries
        .iter_mut()
        .filter(|c| c.visual().is_some())
        .for_each(|c| c.emitted = vec![shown - time::Duration::seconds(30)]);
    let (code, report) = audit(dir.path(), &rig, &vendord, &reg, "");
    assert_eq!(code, 1);
    let found = evidence(&report, "memory.frames");
    let forms: BTreeSet<&str> = found
        .iter()
        .map(|e| e["encoding"].as_str().unwrap())
        .collect();
    assert_eq!(forms, [full.as_str(), half_yuyv.as_str()].into());
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    for e in &found {
        assert_eq!(e["pid"], pid);
        assert_eq!(e["process"], vendord.as_str());
        assert_eq!(e["canary"], "visual-01");
        assert_eq!(
            OffsetDateTime::parse(
                e["timestamp"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339
            )
            .unwrap(),
            shown - time::Duration::seconds(30)
        );
        // The address is in a private writable mapping of the process.
        let address = e["offset"].as_u64().unwrap();
        assert!(
            maps.lines().any(|l| {
                let (range, rest) = l.split_once(' ').unwrap();
                let (a, b) = range.split_once('-').unwrap();
                let (a, b) = (
                    u64::from_str_radix(a, 16).unwrap(),
                    u64::from_str_radix(b, 16).unwrap(),
                );
                (a..b).contains(&address) && rest.starts_with("rw-p")
            }),
            "{address:#x} in no private mapping: {maps}"
        );
    }
    // The ring keeps 5 frames of 48 full-size rows, the thumbnails 5 of 24.
    let total: u64 = found.iter().map(|e| e["count"].as_u64().unwrap_or(1)).sum();
    assert!(total >= 5 * 48 + 5 * 24, "{total}: {found:#?}");
    // The report names the canary, never its seed.
    let seed = visual(&reg).seed.to_string();
    assert!(!report.to_string().contains(&seed));

    // A vendor whose policy keeps raw frames an hour: the files, written
    // seconds ago, are set aside, and frames may live that long in memory.
    let (_, report) = audit(
        dir.path(),
        &rig,
        &vendord,
        &reg,
        "[retention]\nraw_frames_s = 3600\n",
    );
    let frames = check(&report, "storage.frames");
    assert_eq!(frames["status"], "passed", "{frames:#}");
    assert_eq!(frames["set_aside"]["total"], 3, "{frames:#}");
    assert!(
        frames["set_aside"]["listed"][0]["reason"]
            .as_str()
            .unwrap()
            .ends_with("within the policy's 3600 s"),
        "{frames:#}"
    );
    assert_eq!(check(&report, "memory.frames")["status"], "passed");
}

/// What a camera section may hold: the schema's fields, nothing else.
fn assert_only_schema_camera_fields(line: &str) {
    let v: Value = serde_json::from_str(line).unwrap();
    // Read as the schema's type and written again: a field the type does
    // not have would be lost, and the two would differ.
    let typed: vitrine_schema::Summary = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), v, "{line}");
    let cam = v["camera"].as_object().expect("a camera section");
    let keys: BTreeSet<&str> = cam.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "frames",
            "lost_frames",
            "crossings",
            "occupancy",
            "heat",
            "health"
        ]
        .into(),
        "{line}"
    );
    // Counts and the k-anonymous grid: numbers (or withheld), the grid no
    // longer than its cells, the health state a word.
    fn leaves(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, v)| leaves(v, &format!("{path}.{k}"), out)),
            Value::Array(a) => a.iter().for_each(|v| leaves(v, &format!("{path}[]"), out)),
            v => out.push((path.to_string(), v.clone())),
        }
    }
    let mut all = Vec::new();
    leaves(&v["camera"], "camera", &mut all);
    for (path, value) in all {
        match value {
            Value::Number(_) | Value::Null | Value::Bool(_) => {}
            Value::String(s) if path == "camera.health.state" => {
                assert!(
                    s.len() < 16 && s.bytes().all(|b| b.is_ascii_lowercase()),
                    "{s}"
                )
            }
            other => panic!("{path} = {other}"),
        }
    }
    let heat = &v["camera"]["heat"];
    let cells = heat["cols"].as_u64().unwrap() * heat["rows"].as_u64().unwrap();
    assert_eq!(heat["counts"].as_array().unwrap().len() as u64, cells);
}

/// The daemon's camera pipeline over a long clip (2 minutes at 10
/// frames/s) from standard input, the visual canary shown in frames
/// `shown`; standard input is left open so that the pipeline stays alive,
/// mid-stream, while the audit reads its memory.
fn compliant_run(shown_frames: std::ops::Range<usize>) -> (i32, Value, Vec<String>) {
    const FRAMES: usize = 1200;
    let dir = tempfile::tempdir().unwrap();
    let rig = folders(dir.path());
    let mut reg = registry();
    let scene = Scene::new(visual(&reg), shown_frames.clone());
    let mut daemon = child("vitrined", "child_process", &rig);
    let summaries = lines(&mut daemon);
    let mut stdin: ChildStdin = daemon.stdin.take().unwrap();
    let daemon = Reaper(daemon);
    stdin.write_all(HEADER.as_bytes()).unwrap();
    feed(&mut stdin, &scene, 0..shown_frames.end);
    let shown = OffsetDateTime::now_utc();
    let fed = Instant::now();
    feed(&mut stdin, &scene, shown_frames.end..FRAMES);
    // Every window but the open one is printed once its frames are read.
    let mut out = Vec::new();
    while out.len() < FRAMES / 100 - 1 {
        out.push(
            summaries
                .recv_timeout(Duration::from_secs(120))
                .expect("the pipeline prints its windows"),
        );
    }
    // Frames may live while they are processed: the audit looks once the
    // canary was shown longer ago than that.
    let wait = Duration::from_secs(vitrine_audit::checks::memory::FRAME_GRACE_S as u64 + 1);
    std::thread::sleep(wait.saturating_sub(fed.elapsed()));
    reg.mark_shown(shown);
    let vcam = process_name("vitrined");
    let (code, report) = audit(dir.path(), &rig, &vcam, &reg, "");
    // Still running, mid-stream.
    assert!(std::fs::read_to_string(format!("/proc/{}/comm", daemon.0.id())).is_ok());
    drop(stdin);
    (code, report, out)
}

#[test]
fn the_daemons_camera_pipeline_keeps_no_frame_after_a_long_run_and_prints_only_counts() {
    // Shown in the first frames (the background model starts from them)
    // and in the middle of the run.
    for shown in [0..5, 600..605] {
        let (_, report, summaries) = compliant_run(shown.clone());
        for id in [
            "memory.frames",
            "memory.canary",
            "storage.frames",
            "storage.media",
            "storage.canary",
        ] {
            let c = check(&report, id);
            assert_eq!(c["status"], "passed", "shown in {shown:?}: {id}: {c:#}");
        }
        let examined = check(&report, "memory.frames")["examined"]
            .as_str()
            .unwrap();
        let vcam = process_name("vitrined");
        assert!(examined.contains(&format!("of {vcam} (pid")), "{examined}");
        assert!(examined.contains("the 1 visual canaries"), "{examined}");
        assert_eq!(summaries.len(), 11);
        for s in &summaries {
            assert_only_schema_camera_fields(s);
        }
        // Every frame of the windows printed was counted.
        let frames: u64 = summaries
            .iter()
            .map(|s| {
                serde_json::from_str::<Value>(s).unwrap()["camera"]["frames"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        assert_eq!(frames, 1100);
    }
}

/// The child processes (run by the tests above, never on their own).
#[test]
#[ignore = "a child process of the camera tests"]
fn child_process() {
    let Ok(role) = std::env::var(CHILD) else {
        return;
    };
    let stdin = std::io::stdin().lock();
    let mut clip =
        vitrine_camera_capture::y4m::Y4mClip::new(stdin, "stdin", 1_700_000_000_000_000).unwrap();
    if let Some(dir) = role.strip_prefix("leaky:") {
        std::fs::write("/proc/self/comm", std::env::var(CHILD_NAME).unwrap()).unwrap();
        leaky_vendor(Path::new(dir), &mut clip);
    } else {
        std::fs::write("/proc/self/comm", std::env::var(CHILD_NAME).unwrap()).unwrap();
        vitrine_privacy::harden_process().unwrap();
        let cfg = vitrine_config::CameraConfig {
            device: None,
            width: W as u32,
            height: H as u32,
            fps: 10,
            line: Some(([[0.0, 0.66], [1.0, 0.66]], [0.5, 0.2])),
            region: None,
            grid: [8, 6],
        };
        let settings = vitrined::camera::settings(&cfg, clip.fps());
        let mut stdout = std::io::stdout();
        let (_, result) = vitrined::camera::run_clip(&mut clip, settings, 10, 5, &mut |s| {
            writeln!(stdout, "{}", serde_json::to_string(&s).unwrap()).unwrap();
            stdout.flush().unwrap();
        });
        result.unwrap();
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A vendor's camera daemon: the last 128 frames in a ring, a YUYV
/// thumbnail (half size) of each in another, every frame appended to a raw
/// spool file, and the clip copied to a temporary file.
fn leaky_vendor<R: std::io::Read>(dir: &Path, clip: &mut vitrine_camera_capture::y4m::Y4mClip<R>) {
    let mut ring: VecDeque<Vec<u8>> = VecDeque::new();
    let mut thumbs: VecDeque<Vec<u8>> = VecDeque::new();
    let open = |p: PathBuf| std::fs::File::create(p).unwrap();
    let mut raw = open(dir.join("spool/frames.raw"));
    let mut thumb_file = open(dir.join("tmp/thumbs.yuyv"));
    let mut copy = open(dir.join("tmp/keep.y4m"));
    copy.write_all(HEADER.as_bytes()).unwrap();
    let mut n = 0;
    for frame in clip {
        let luma = frame.unwrap().image.luma().to_vec();
        let mut thumb = Vec::with_capacity(W * H / 2);
        for y in 0..H / 2 {
            for x in 0..W / 2 {
                let at = |dx, dy| u32::from(luma[(2 * y + dy) * W + 2 * x + dx]);
                let v = (at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4;
                thumb.extend_from_slice(&[v as u8, 128]);
            }
        }
        raw.write_all(&luma).unwrap();
        thumb_file.write_all(&thumb).unwrap();
        copy.write_all(b"FRAME\n").unwrap();
        copy.write_all(&luma).unwrap();
        ring.push_back(luma);
        thumbs.push_back(thumb);
        if ring.len() > 128 {
            ring.pop_front();
            thumbs.pop_front();
        }
        n += 1;
    }
    for f in [&mut raw, &mut thumb_file, &mut copy] {
        f.flush().unwrap();
    }
    println!("ready {n}");
    std::io::stdout().flush().unwrap();
    // Kept alive, with its rings, until killed.
    std::mem::forget((ring, thumbs));
}
