use super::*;

use vitrine_camera_capture::y4m::Y4mClip;

/// A short, quiet scene with no random people (they are given).
fn tiny(duration_s: f32) -> SceneConfig {
    SceneConfig {
        duration_s,
        arrivals_per_min: 0.0,
        noise: 0.0,
        ..SceneConfig::base(7)
    }
}

fn k(t_s: f32, x: f32, y: f32) -> Keyframe {
    Keyframe { t_s, x, y }
}

/// Sums of the truth over all frames, and the frames with a crossing.
fn totals(scene: &Scene) -> (u32, u32, Vec<u32>) {
    let (mut inward, mut outward, mut at) = (0, 0, Vec::new());
    for (f, t) in scene.truths().iter().enumerate() {
        inward += t.inward;
        outward += t.outward;
        if t.inward + t.outward > 0 {
            at.push(f as u32);
        }
    }
    (inward, outward, at)
}

#[test]
fn one_person_walking_up_across_the_line_is_one_inward_crossing() {
    // From below the picture to above it in 14 s: the centre is at the
    // line (y = 0.5) at t = 7 s, frame 70.
    let walker = Walker::new(vec![k(0.0, 0.5, 1.2), k(14.0, 0.5, -0.2)], 0.1, 40);
    let scene = Scene::with_walkers(tiny(15.0), vec![walker]).unwrap();
    let (inward, outward, at) = totals(&scene);
    assert_eq!((inward, outward), (1, 0));
    assert!(at == [70] || at == [71], "{at:?}");
    // In the region (upper half, inside the picture) from the line to the
    // top edge: t = 7 s to 12 s.
    let truths = scene.truths();
    assert_eq!(truths[60].occupancy, 0);
    assert_eq!(truths[90].occupancy, 1);
    assert_eq!(truths[125].occupancy, 0, "above the picture: out");
}

#[test]
fn walking_down_is_outward() {
    let walker = Walker::new(vec![k(0.0, 0.3, -0.2), k(10.0, 0.4, 1.2)], 0.1, 200);
    let scene = Scene::with_walkers(tiny(11.0), vec![walker]).unwrap();
    assert_eq!((totals(&scene).0, totals(&scene).1), (0, 1));
}

#[test]
fn a_group_of_two_is_two_crossings() {
    let a = Walker::new(vec![k(1.0, 0.4, 1.2), k(13.0, 0.4, -0.2)], 0.1, 40);
    let b = Walker::new(vec![k(1.0, 0.6, 1.2), k(13.0, 0.6, -0.2)], 0.12, 200);
    let scene = Scene::with_walkers(tiny(15.0), vec![a, b]).unwrap();
    let (inward, outward, at) = totals(&scene);
    assert_eq!((inward, outward), (2, 0));
    // Side by side: both in one frame.
    assert_eq!(at.len(), 1, "{at:?}");
    assert_eq!(scene.truth(at[0]).inward, 2);
    assert_eq!(scene.truth(110).occupancy, 2);
}

#[test]
fn stopping_before_the_line_and_turning_back_is_no_crossing() {
    let walker = Walker::new(
        vec![
            k(0.0, 0.5, 1.2),
            k(5.0, 0.5, 0.7),
            k(12.0, 0.5, 0.7),
            k(17.0, 0.5, 1.2),
        ],
        0.1,
        40,
    );
    let scene = Scene::with_walkers(tiny(18.0), vec![walker]).unwrap();
    assert_eq!(totals(&scene), (0, 0, vec![]));
    assert!(scene.truths().iter().all(|t| t.occupancy == 0));
    // But the person is in the picture, standing: drawn.
    let mut luma = vec![0; 320 * 240];
    scene.render(80, &mut luma);
    let centre = luma[(0.7 * 240.0) as usize * 320 + 160];
    assert!(
        centre < 80,
        "a dark person at the stop point, found {centre}"
    );
}

#[test]
fn stopping_after_the_line_then_turning_back_is_in_then_out() {
    let walker = Walker::new(
        vec![
            k(0.0, 0.5, 1.2),
            k(8.0, 0.5, 0.3),
            k(12.0, 0.5, 0.3),
            k(20.0, 0.5, 1.2),
        ],
        0.1,
        40,
    );
    let scene = Scene::with_walkers(tiny(21.0), vec![walker]).unwrap();
    let (inward, outward, _) = totals(&scene);
    assert_eq!((inward, outward), (1, 1));
    assert_eq!(scene.truth(100).occupancy, 1, "standing in the region");
}

#[test]
fn passing_beside_a_short_line_is_no_crossing() {
    let config = SceneConfig {
        line: ((0.2, 0.5), (0.6, 0.5)),
        ..tiny(11.0)
    };
    let beside = Walker::new(vec![k(0.0, 0.8, 1.2), k(10.0, 0.8, -0.2)], 0.1, 40);
    let across = Walker::new(vec![k(0.0, 0.3, 1.2), k(10.0, 0.3, -0.2)], 0.1, 40);
    let scene = Scene::with_walkers(config, vec![beside, across]).unwrap();
    assert_eq!(totals(&scene).0, 1);
    assert_eq!(totals(&scene).1, 0);
}

#[test]
fn inward_follows_the_inside_point_on_a_tilted_line() {
    // Line from top left to bottom right, inside to the upper right.
    let config = SceneConfig {
        line: ((0.0, 0.0), (1.0, 1.0)),
        inside: (0.9, 0.1),
        region: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)],
        ..tiny(11.0)
    };
    let right = Walker::new(vec![k(0.0, -0.2, 0.5), k(10.0, 1.2, 0.5)], 0.1, 40);
    let scene = Scene::with_walkers(config, vec![right]).unwrap();
    assert_eq!((totals(&scene).0, totals(&scene).1), (1, 0));
    // At t = 8 s the centre is at x = 0.92, y = 0.5: above the diagonal.
    assert_eq!(scene.truth(80).occupancy, 1);
    assert_eq!(scene.truth(20).occupancy, 0);
}

#[test]
fn same_seed_same_frames_other_seed_other_frames() {
    let (_, config) = standard_set().swap_remove(10);
    let a = Scene::new(config.clone()).unwrap();
    let b = Scene::new(config.clone()).unwrap();
    let c = Scene::new(SceneConfig {
        seed: config.seed + 1,
        ..config
    })
    .unwrap();
    assert_eq!(a.walkers(), b.walkers());
    assert_ne!(a.walkers(), c.walkers());
    let (mut fa, mut fb, mut fc) = (vec![0; 320 * 240], vec![0; 320 * 240], vec![0; 320 * 240]);
    for frame in [0, 123, 456, 899] {
        assert_eq!(a.render(frame, &mut fa), b.render(frame, &mut fb));
        assert_eq!(fa, fb, "frame {frame}");
        c.render(frame, &mut fc);
        assert_ne!(fa, fc, "frame {frame}");
    }
    // A frame does not depend on what was rendered before it.
    let mut again = vec![0; 320 * 240];
    a.render(123, &mut fa);
    b.render(5, &mut again);
    b.render(123, &mut again);
    assert_eq!(fa, again);
}

#[test]
fn the_standard_set() {
    let set = standard_set();
    assert!(set.len() >= 20);
    let mut names: Vec<&str> = set.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), set.len(), "names are unique");
    let (mut with_groups, mut with_stops, mut with_light) = (0, 0, 0);
    let (mut all_in, mut all_out) = (0, 0);
    for (name, config) in &set {
        assert_eq!(
            (config.width, config.height, config.fps),
            (320, 240, 10),
            "{name}"
        );
        assert!((60.0..=120.0).contains(&config.duration_s), "{name}");
        let scene = Scene::new(config.clone()).unwrap();
        let (inward, outward, _) = totals(&scene);
        let people = scene.walkers().len() as u32;
        let max_occupancy = scene.truths().iter().map(|t| t.occupancy).max().unwrap();
        eprintln!(
            "{name}: {people} people, {inward} in, {outward} out, occupancy up to {max_occupancy}"
        );
        // Most walkers cross the line.
        assert!(inward + outward >= 3, "{name}: {inward} in, {outward} out");
        assert!(
            inward + outward >= people * 6 / 10,
            "{name}: {inward} + {outward} crossings for {people} people"
        );
        assert!(max_occupancy >= 1, "{name}");
        all_in += inward;
        all_out += outward;
        with_groups += usize::from(scene.walkers().iter().any(|w| w.group.is_some()));
        with_stops += usize::from(scene.walkers().iter().any(|w| w.keyframes.len() > 2));
        with_light += usize::from(config.lighting_changes);
    }
    // Both ways, in about equal numbers.
    assert!(
        all_in * 3 > all_out * 2 && all_out * 3 > all_in * 2,
        "{all_in} in, {all_out} out"
    );
    assert!(with_groups >= 8 && with_stops >= 8 && with_light >= 6);
}

#[test]
fn dense_scenes_are_dense() {
    let set = standard_set();
    let crowd = Scene::new(set.iter().find(|(n, _)| *n == "crowd").unwrap().1.clone()).unwrap();
    let sparse = Scene::new(
        set.iter()
            .find(|(n, _)| *n == "sparse-quiet")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let in_view = |scene: &Scene| {
        (0..scene.frames())
            .map(|f| {
                let t = f as f32 / 10.0;
                scene
                    .walkers()
                    .iter()
                    .filter_map(|w| w.centre(t))
                    .filter(|&(x, y)| (0.0..1.0).contains(&x) && (0.0..1.0).contains(&y))
                    .count()
            })
            .max()
            .unwrap()
    };
    assert!(in_view(&crowd) >= 6, "crowd: {}", in_view(&crowd));
    assert!(in_view(&sparse) <= 3, "sparse: {}", in_view(&sparse));
}

/// Members of a group keep a gap of at least 0.3 of a body width between
/// them (centre distance less both half widths, arms swinging).
#[test]
fn groups_walk_with_a_visible_gap() {
    let mut pairs_seen = 0;
    for (name, config) in standard_set() {
        let scene = Scene::new(config).unwrap();
        let walkers = scene.walkers();
        for (i, a) in walkers.iter().enumerate() {
            for b in &walkers[i + 1..] {
                if a.group.is_none() || a.group != b.group {
                    continue;
                }
                pairs_seen += 1;
                let widest = a.width.max(b.width);
                for f in 0..scene.frames() {
                    let t = f as f32 / 10.0;
                    let (Some(pa), Some(pb)) = (a.centre(t), b.centre(t)) else {
                        continue;
                    };
                    // In picture heights (x scaled by the aspect ratio).
                    let d = ((pa.0 - pb.0) * 4.0 / 3.0).hypot(pa.1 - pb.1);
                    let gap = d - (a.width + b.width) / 2.0 * 1.06;
                    assert!(
                        gap >= 0.3 * widest,
                        "{name}: gap {gap} for width {widest} at frame {f}"
                    );
                }
            }
        }
    }
    assert!(pairs_seen >= 30, "{pairs_seen}");
}

/// Light: the mean level of a lighting scene moves by more than 10 %
/// within a few seconds; without lighting changes it moves slowly.
#[test]
fn lighting_changes_and_drift() {
    let set = standard_set();
    let mean_levels = |name: &str| {
        let config = set.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        let scene = Scene::new(SceneConfig {
            arrivals_per_min: 0.0,
            ..config
        })
        .unwrap();
        let mut luma = vec![0; 320 * 240];
        (0..scene.frames())
            .step_by(10)
            .map(|f| {
                scene.render(f, &mut luma);
                luma.iter().map(|&p| f64::from(p)).sum::<f64>() / luma.len() as f64
            })
            .collect::<Vec<f64>>()
    };
    let biggest_step = |levels: &[f64]| {
        levels
            .windows(5)
            .map(|w| (w[4] - w[0]).abs() / w[0])
            .fold(0.0, f64::max)
    };
    let lit = mean_levels("sparse-lighting");
    assert!(biggest_step(&lit) > 0.1, "{lit:?}");
    let calm = mean_levels("sparse-quiet");
    assert!(biggest_step(&calm) < 0.05, "{calm:?}");
    let (lo, hi) = calm
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
    assert!(
        hi / lo > 1.02,
        "the drift moves the light a little: {lo} to {hi}"
    );
}

/// Noise: two renderings of an empty scene differ by about the noise's
/// standard deviation times the square root of two.
#[test]
fn sensor_noise_has_the_configured_level() {
    let config = SceneConfig {
        noise: 5.0,
        arrivals_per_min: 0.0,
        ..SceneConfig::base(3)
    };
    let scene = Scene::new(config).unwrap();
    let (mut a, mut b) = (vec![0; 320 * 240], vec![0; 320 * 240]);
    scene.render(10, &mut a);
    scene.render(11, &mut b);
    let var = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    let sd = (var / 2.0).sqrt();
    assert!((4.0..6.5).contains(&sd), "{sd}");
}

/// People are drawn where their centre is, in their own luma, and are
/// distinct from the floor.
#[test]
fn people_are_drawn_at_their_centre() {
    let walker = Walker::new(vec![k(0.0, 0.25, 0.5), k(10.0, 0.25, 0.5)], 0.12, 220);
    let mut light = Walker::new(vec![k(0.0, 0.75, 0.5), k(10.0, 0.75, 0.5)], 0.12, 220);
    light.look = 0; // no stripes, black hair
    let scene = Scene::with_walkers(tiny(10.0), vec![walker, light]).unwrap();
    let empty = Scene::with_walkers(tiny(10.0), vec![]).unwrap();
    let (mut with, mut without) = (vec![0; 320 * 240], vec![0; 320 * 240]);
    scene.render(50, &mut with);
    empty.render(50, &mut without);
    let changed = with.iter().zip(&without).filter(|(a, b)| a != b).count();
    // Two bodies of about 0.12 x 0.07 of 240 px, an ellipse each, and
    // their shadows: a few hundred pixels each.
    assert!((600..4000).contains(&changed), "{changed}");
    // Beside the head, on the shoulder, the body's luma.
    let row = 120 * 320;
    let shoulder = with[row + 240 + 9];
    assert!(shoulder > 180, "{shoulder}");
    // Far from both: the floor, unchanged.
    assert_eq!(with[10 * 320 + 10], without[10 * 320 + 10]);
}

#[test]
fn the_benchmark_scene_is_the_dense_scene_at_640x480() {
    let config = SceneConfig::benchmark(2000);
    assert_eq!(
        (config.width, config.height, config.frames()),
        (640, 480, 2000)
    );
    let big = Scene::new(config).unwrap();
    let (_, small) = standard_set()
        .into_iter()
        .find(|(n, _)| *n == "dense-groups-lighting")
        .unwrap();
    let small = Scene::new(small).unwrap();
    // The same people for the first 90 s (the benchmark goes on longer).
    let shared: Vec<&Walker> = big.walkers().iter().take(20).collect();
    assert_eq!(shared, small.walkers().iter().take(20).collect::<Vec<_>>());
    let mut luma = vec![0; 640 * 480];
    big.render(1500, &mut luma);
    assert!(big.truths().iter().map(|t| t.inward).sum::<u32>() > 30);
}

#[test]
fn invalid_configurations_are_refused() {
    for (config, says) in [
        (
            SceneConfig {
                width: 8,
                ..tiny(1.0)
            },
            "width and height",
        ),
        (
            SceneConfig {
                fps: 0,
                ..tiny(1.0)
            },
            "fps",
        ),
        (
            SceneConfig {
                duration_s: f32::NAN,
                ..tiny(1.0)
            },
            "duration_s",
        ),
        (
            SceneConfig {
                group_probability: 1.5,
                ..tiny(1.0)
            },
            "group_probability",
        ),
        (
            SceneConfig {
                line: ((0.5, 0.5), (0.5, 0.5)),
                ..tiny(1.0)
            },
            "two ends",
        ),
        (
            SceneConfig {
                inside: (0.3, 0.5),
                ..tiny(1.0)
            },
            "inside point",
        ),
        (
            SceneConfig {
                region: vec![(0.0, 0.0), (1.0, 1.0)],
                ..tiny(1.0)
            },
            "three points",
        ),
    ] {
        let err = Scene::new(config).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    let backwards = Walker::new(vec![k(5.0, 0.5, 0.5), k(1.0, 0.5, 0.5)], 0.1, 40);
    assert!(Scene::with_walkers(tiny(5.0), vec![backwards]).is_err());
}

/// The clip written reads back through the camera's Y4M reader frame for
/// frame, with the scene's rate.
#[test]
fn y4m_reads_back_through_the_camera_reader() {
    let config = SceneConfig {
        duration_s: 3.0,
        arrivals_per_min: 60.0,
        ..SceneConfig::base(11)
    };
    let scene = Scene::new(config).unwrap();
    let mut clip = Vec::new();
    let truths = write_y4m(&scene, &mut clip).unwrap();
    assert_eq!(truths, scene.truths());
    assert!(clip.starts_with(b"YUV4MPEG2 W320 H240 F10:1 Ip A1:1 Cmono XCOLORRANGE=FULL\nFRAME\n"));
    let reader = Y4mClip::new(&clip[..], "scene", 1_000_000).unwrap();
    assert_eq!(reader.frame_rate(), (10, 1));
    let mut luma = vec![0; 320 * 240];
    let mut n = 0;
    for (f, frame) in reader.enumerate() {
        let frame = frame.unwrap();
        scene.render(f as u32, &mut luma);
        assert_eq!(frame.image.luma(), &luma[..], "frame {f}");
        assert_eq!(frame.ts_us, 1_000_000 + f as i64 * 100_000);
        n += 1;
    }
    assert_eq!(n, 30);
}

/// ffmpeg reads the clip as gray video, pixel for pixel.
#[test]
fn ffmpeg_reads_the_clip() {
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::new(SceneConfig {
        duration_s: 1.0,
        ..SceneConfig::base(5)
    })
    .unwrap();
    let path = dir.path().join("scene.y4m");
    write_y4m(&scene, std::fs::File::create(&path).unwrap()).unwrap();
    let output = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg is needed for this test (Debian package ffmpeg)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout.len(), 10 * 320 * 240);
    let mut luma = vec![0; 320 * 240];
    scene.render(9, &mut luma);
    assert_eq!(&output.stdout[9 * 320 * 240..], &luma[..]);
}

/// Every frame of every standard scene, as the camera's acceptance test
/// renders them: a few seconds in all.
#[test]
fn rendering_the_standard_set() {
    let started = std::time::Instant::now();
    let mut frames = 0u32;
    let mut checksum = 0u64;
    for (_, config) in standard_set() {
        let scene = Scene::new(config).unwrap();
        let mut luma = vec![0; 320 * 240];
        for f in 0..scene.frames() {
            scene.render(f, &mut luma);
            checksum = checksum.wrapping_add(u64::from(luma[(f as usize * 7919) % luma.len()]));
        }
        frames += scene.frames();
    }
    let took = started.elapsed();
    eprintln!("{frames} frames of 320x240 in {took:?}");
    assert!(frames > 20 * 600);
    assert_ne!(checksum, 0);
}
