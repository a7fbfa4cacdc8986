//! `vitrined replay --clip`: camera clips alone, from standard input, beside
//! a capture file, and bad clips (each with a clear error and the windows
//! read before it).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use vitrine_dot11::build::{probe_request, templates};
use vitrine_sim::{SimFrame, write_pcap};

const W: usize = 32;
const H: usize = 24;

/// A gray clip of `frames` frames at 10 frames/s, as ffmpeg writes one.
fn clip(frames: usize, header: &str) -> Vec<u8> {
    let mut out = format!("{header}\n").into_bytes();
    for i in 0..frames {
        out.extend_from_slice(b"FRAME\n");
        out.extend((0..W * H).map(|p| ((p + i) % 200) as u8));
    }
    out
}

const GRAY: &str = "YUV4MPEG2 W32 H24 F10:1 Ip A0:0 Cmono XCOLORRANGE=FULL";

fn replay(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrined"))
        .current_dir(dir)
        .args(["replay", "--window", "10"])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn summaries(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn camera_frames(s: &[serde_json::Value]) -> Vec<u64> {
    s.iter()
        .map(|s| s["camera"]["frames"].as_u64().expect("a camera section"))
        .collect()
}

#[test]
fn a_clip_gives_one_camera_section_per_window_from_a_file_or_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = clip(250, GRAY);
    std::fs::write(dir.path().join("c.y4m"), &bytes).unwrap();
    let file = replay(dir.path(), &["--clip", "c.y4m"], None);
    assert!(
        file.status.success(),
        "{}",
        String::from_utf8_lossy(&file.stderr)
    );
    let s = summaries(&file);
    // 25 s at 10 frames/s in 10 s windows from the Unix epoch.
    assert_eq!(camera_frames(&s), [100, 100, 50]);
    assert_eq!(s[0]["window_start"], "1970-01-01T00:00:00Z");
    assert!(
        s.iter().all(|s| s.get("wifi").is_none()),
        "no Wi-Fi section without --pcap"
    );
    let stderr = String::from_utf8_lossy(&file.stderr);
    assert!(stderr.contains("frames=250"), "{stderr}");

    let piped = replay(
        dir.path(),
        &["--clip", "-", "--clip-start", "2024-01-06T15:52:05Z"],
        Some(&bytes),
    );
    assert!(piped.status.success());
    let s = summaries(&piped);
    assert_eq!(camera_frames(&s), [50, 100, 100]);
    assert_eq!(s[0]["window_start"], "2024-01-06T15:52:00Z");
}

#[test]
fn a_clip_beside_a_capture_file_shares_its_windows() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_704_556_320_000_000; // 2024-01-06T15:52:00Z
    let frames: Vec<SimFrame> = (0..30i64)
        .map(|i| {
            let mac = [0x02, 0, 0, 0, 0, i as u8];
            SimFrame {
                ts_us: t0 + 3_000_000 + i * 1_000_000,
                bytes: probe_request(mac, i as u16, None, templates::IPHONE_IOS_17, 6, -50),
            }
        })
        .collect();
    write_pcap(&dir.path().join("w.pcap"), &frames).unwrap();
    std::fs::write(dir.path().join("c.y4m"), clip(250, GRAY)).unwrap();
    let out = replay(dir.path(), &["--pcap", "w.pcap", "--clip", "c.y4m"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summaries(&out);
    // The clip starts with the first packet (t0 + 3 s): 25 s of frames over
    // windows [0,10) [10,20) [20,30) [30,40) after t0, packets until t0 + 33 s.
    assert_eq!(camera_frames(&s), [70, 100, 80, 0]);
    let packets: Vec<u64> = s
        .iter()
        .map(|s| s["wifi"]["frames"]["total"].as_u64().unwrap())
        .collect();
    assert_eq!(packets, [7, 10, 10, 3]);
    assert_eq!(s[3]["camera"]["health"]["state"], "absent");
}

#[test]
fn bad_clips_give_a_clear_error_and_the_windows_read_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let out = replay(dir.path(), &["--clip", name], None);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), camera_frames(&summaries(&out)), stderr)
    };

    // Cut in the middle of frame 150: the 150 frames before it are counted.
    let whole = clip(200, GRAY);
    let cut = &whole[..GRAY.len() + 1 + 150 * (6 + W * H) + 6 + 100];
    let (code, frames, stderr) = run("cut.y4m", cut);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(frames, [100, 50]);
    assert!(
        stderr.contains("cut.y4m: frame 150 is truncated"),
        "{stderr}"
    );

    let (code, frames, stderr) = run("mp4.y4m", b"\0\0\0\x20ftypisom\0\0\x02\0");
    assert_eq!(code, Some(1));
    assert!(frames.is_empty());
    assert!(stderr.contains("not a YUV4MPEG2 clip"), "{stderr}");

    let (code, _, stderr) = run("deep.y4m", &clip(3, &GRAY.replace("Cmono", "C420p10")));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("C420p10"), "{stderr}");

    // A broken frame line after 120 good frames: an error, after the
    // windows of those frames were written.
    let mut broken = clip(120, GRAY);
    broken.extend_from_slice(b"FRAMX\n");
    broken.extend(std::iter::repeat_n(0u8, W * H));
    let (code, frames, stderr) = run("broken.y4m", &broken);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(frames, [100, 20]);
    assert!(stderr.contains("frame 120"), "{stderr}");
}

/// A Pi camera module's path (docs/camera.md): `rpicam-vid --codec yuv420`
/// writes raw I420 frames, ffmpeg wraps them as YUV4MPEG2, and the daemon
/// reads that on standard input. Here the raw stream is generated.
#[test]
fn a_raw_yuv420_stream_wrapped_by_ffmpeg_is_read_on_stdin() {
    let (w, h, frames) = (64usize, 48usize, 30usize);
    let mut raw = Vec::new();
    for i in 0..frames {
        raw.extend((0..w * h).map(|p| ((p * 3 + i * 7) % 251) as u8));
        raw.extend(std::iter::repeat_n(128u8, w * h / 2));
    }
    let mut ffmpeg = Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-s", &format!("{w}x{h}"), "-r", "10", "-i", "-"])
        .args(["-f", "yuv4mpegpipe", "-pix_fmt", "gray", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffmpeg is installed by the test command (Debian package ffmpeg)");
    let mut to_ffmpeg = ffmpeg.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || to_ffmpeg.write_all(&raw));
    let daemon = Command::new(env!("CARGO_BIN_EXE_vitrined"))
        .args(["replay", "--window", "1", "--clip", "-"])
        .args(["--clip-start", "2024-01-06T15:52:00Z"])
        .stdin(ffmpeg.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    feeder.join().unwrap().unwrap();
    assert!(ffmpeg.wait().unwrap().success());
    assert!(
        daemon.status.success(),
        "{}",
        String::from_utf8_lossy(&daemon.stderr)
    );
    let s = summaries(&daemon);
    assert_eq!(camera_frames(&s), [10, 10, 10]);
    assert_eq!(s[2]["window_start"], "2024-01-06T15:52:02Z");
}
