//! Vitrine's side of `cargo xtask bench-camera`: a clip made from the
//! benchmark scene (`vitrine_sim::scene::SceneConfig::benchmark`) read and
//! put through the camera's stage, frame by frame, timed.
//!
//! `camera_bench CLIP.y4m` prints one JSON line: frames, seconds (reading
//! and processing), and the crossings counted.

use std::time::Instant;

use vitrine_camera_analytics::{CameraSettings, CameraStage, CountingLine, Point};
use vitrine_camera_capture::y4m::Y4mClip;
use vitrine_sim::scene::SceneConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: camera_bench CLIP.y4m")?;
    let clip = Y4mClip::open(path.as_ref(), 0)?;
    let scene = SceneConfig::benchmark(0);
    let point = |(x, y): (f32, f32)| Point { x, y };
    let settings = CameraSettings {
        line: Some(CountingLine {
            a: point(scene.line.0),
            b: point(scene.line.1),
            inside: point(scene.inside),
        }),
        region: Some(scene.region.iter().copied().map(point).collect()),
        fps: clip.fps() as f32,
        ..CameraSettings::default()
    };
    let mut stage = CameraStage::new(settings);
    let (mut frames, mut inward, mut outward) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    for frame in clip {
        let observation = stage.process(frame?.image);
        inward += u64::from(observation.inward);
        outward += u64::from(observation.outward);
        frames += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"frames\": {frames}, \"seconds\": {seconds:.6}, \"inward\": {inward}, \"outward\": {outward}}}"
    );
    Ok(())
}
