//! The real clip (`camera/one-by-one-person-detection.mp4` in the shared
//! captures): six people, one at a time, walk in from the bottom, stand at
//! a table and leave. Decoded by ffmpeg to gray YUV4MPEG2 through a pipe
//! (no copy on disk) and read by the project's reader.

use std::process::{Child, Command, Stdio};

use vitrine_camera_analytics::{CameraSettings, CameraStage, CountingLine, Point};
use vitrine_camera_capture::y4m::Y4mClip;

/// The README's presence episodes (frame numbers, about 10 frames either
/// way).
const EPISODES: [(usize, usize); 6] = [
    (61, 198),
    (228, 446),
    (503, 697),
    (746, 868),
    (922, 1197),
    (1236, 1360),
];

/// ffmpeg decoding the clip to gray YUV4MPEG2 on its standard output,
/// as a user would for `vitrined replay --clip -` (no copy on disk).
fn decoder() -> Child {
    let src = vitrine_testkit::captures_dir().join("camera/one-by-one-person-detection.mp4");
    assert!(src.is_file(), "the clip is expected at {}", src.display());
    Command::new("ffmpeg")
        .args(["-loglevel", "error", "-nostdin", "-i"])
        .arg(&src)
        .args([
            "-vf",
            "scale=640:360",
            "-pix_fmt",
            "gray",
            "-f",
            "yuv4mpegpipe",
            "-",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("ffmpeg is needed to decode the clip (Debian package ffmpeg): {e}")
        })
}

/// Runs of occupied frames, as (first, last) frame numbers.
fn episodes(occupancy: &[u32]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &o) in occupancy.iter().enumerate() {
        match (o > 0, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, occupancy.len() - 1));
    }
    out
}

#[test]
fn six_people_one_at_a_time() {
    let mut ffmpeg = decoder();
    let clip = Y4mClip::new(ffmpeg.stdout.take().unwrap(), "ffmpeg", 0).unwrap();
    let fps = clip.fps() as f32;
    // A line across the lower third, inward upwards.
    let p = |x, y| Point { x, y };
    let mut stage = CameraStage::new(CameraSettings {
        line: Some(CountingLine {
            a: p(0.0, 0.67),
            b: p(1.0, 0.67),
            inside: p(0.5, 0.3),
        }),
        fps,
        ..CameraSettings::default()
    });
    let (mut inward, mut outward) = (0, 0);
    let mut occupancy = Vec::new();
    let mut crossings = Vec::new();
    let mut unhealthy = 0;
    for (i, frame) in clip.enumerate() {
        let obs = stage.process(frame.unwrap().image);
        if obs.inward + obs.outward > 0 {
            crossings.push((i, obs.inward, obs.outward));
        }
        inward += obs.inward;
        outward += obs.outward;
        occupancy.push(obs.occupancy);
        unhealthy += usize::from(obs.health != Default::default());
    }
    assert!(
        ffmpeg.wait().unwrap().success(),
        "ffmpeg failed to decode the clip"
    );
    let found = episodes(&occupancy);
    println!(
        "clip: {} frames, {inward} inward, {outward} outward",
        occupancy.len()
    );
    println!("crossings (frame, in, out): {crossings:?}");
    println!("episodes: {found:?}");
    println!("README:   {EPISODES:?}");
    println!(
        "max occupancy {:?}, unhealthy frames {unhealthy}",
        occupancy.iter().max()
    );
    assert_eq!(occupancy.len(), 1394);
    assert_eq!(inward, 6, "inward crossings");
    assert!(occupancy.iter().all(|&o| o <= 1), "never two people");
    assert_eq!(found.len(), 6, "presence episodes: {found:?}");
    for (&(s, e), &(ts, te)) in found.iter().zip(&EPISODES) {
        assert!(
            s.abs_diff(ts) <= 15 && e.abs_diff(te) <= 15,
            "episode {s}-{e} against {ts}-{te}"
        );
    }
    assert_eq!(unhealthy, 0, "a healthy camera");
}
