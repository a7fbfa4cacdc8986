//! Camera scenes: people seen from above walking across a counting line,
//! as 8-bit luma frames with exact ground truth per frame.
//!
//! ```
//! use vitrine_sim::scene::{Scene, standard_set};
//! let (_, config) = standard_set().swap_remove(0);
//! let scene = Scene::new(config).unwrap();
//! let mut luma = vec![0; scene.width() as usize * scene.height() as usize];
//! let truth = scene.render(0, &mut luma);
//! assert_eq!(truth.inward + truth.outward, 0);
//! ```
//!
//! # Conventions
//!
//! Points are fractions of the picture's width (`x`, from the left) and
//! height (`y`, from the top), as `vitrine_camera_analytics::Point`; sizes
//! and speeds are in picture heights (per second). Frame `k` shows time
//! `k / fps` seconds.
//!
//! # Ground truth ([`FrameTruth`])
//!
//! - **occupancy**: the people whose centre is inside the picture and
//!   inside the region polygon (even-odd rule) at this frame.
//! - **inward / outward**: crossings of the counting line *segment* by a
//!   person's centre between the previous frame and this one: the centre
//!   moved from one side of the line to the other and its path met the
//!   segment. Towards the side holding `inside` is inward.
//!
//! # Model
//!
//! - **Background**: a floor of tiles with grout lines, blotches of
//!   smooth noise and fine grain, and a darker mat, all fixed per seed.
//! - **People**: a body ellipse (shoulders across the direction of walking,
//!   body width 0.09-0.13 picture heights at the bottom, 20 % smaller at the
//!   top for the oblique view) with its own luma (dark, light or close to
//!   the floor) and striped texture, a darker head, arms swinging the
//!   width by 6 % at 1.8 Hz while walking. Each person casts a soft shadow
//!   (the same shape, offset by the scene's light direction, 15-30 %
//!   darker). Speeds 0.12-0.32 heights per second.
//! - **Paths**: most people walk in through the bottom or top edge and out
//!   through the opposite one (some come in from a side), crossing the
//!   line; one in ten walks across, well away from the line. With
//!   `stop_probability` a person stops 3-12 s somewhere away from the line
//!   and then walks on, or one time in three turns back. With
//!   `group_probability` an arrival is a group of 2 (or 3) walking side by
//!   side at the same speed, with a gap of 0.35-0.7 body widths between
//!   neighbours. Arrivals are a Poisson process from 2 s on (the first
//!   frames are empty, for a background to be learnt) to 6 s before the
//!   end (the last arrivals still cross); people walking up and walking
//!   down are kept within about two of each other, as at a shop's door.
//! - **Light**: a slow global drift of the gain (4-8 % over 40-120 s);
//!   with `lighting_changes`, a step or a ramp (1-4 s) of 12-30 % up or
//!   down every 20 s or so. Gain applies to the whole picture.
//! - **Noise**: Gaussian sensor noise of `noise` luma levels (standard
//!   deviation), independent per pixel and frame.
//! - **Determinism**: every random choice comes from ChaCha8 seeded by
//!   `seed`; a frame depends only on the configuration and its index, so
//!   [`Scene::render`] can be called for any frame in any order.

mod people;
mod render;
mod y4m;

#[cfg(test)]
mod tests;

pub use people::{Keyframe, Walker};
pub use y4m::{write_y4m, write_y4m_frames, y4m_header};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use render::Canvas;

/// A scene's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub duration_s: f32,
    /// Mean arrivals per minute (a group is one arrival).
    pub arrivals_per_min: f32,
    /// Share of arrivals that are a group walking side by side.
    pub group_probability: f32,
    /// Share of people (or groups) who stop for a while.
    pub stop_probability: f32,
    /// Steps and ramps of the light, besides the slow drift.
    pub lighting_changes: bool,
    /// Standard deviation of the sensor noise, in luma levels.
    pub noise: f32,
    pub seed: u64,
    /// The counting line's two ends, fractions of width and height.
    pub line: ((f32, f32), (f32, f32)),
    /// A point on the inward side of the line.
    pub inside: (f32, f32),
    /// The occupancy region (at least three points).
    pub region: Vec<(f32, f32)>,
}

impl SceneConfig {
    /// A 320x240, 10 frames/s scene with a horizontal line across the
    /// middle (inward is upwards), the region the upper half.
    pub fn base(seed: u64) -> Self {
        SceneConfig {
            width: 320,
            height: 240,
            fps: 10,
            duration_s: 90.0,
            arrivals_per_min: 8.0,
            group_probability: 0.0,
            stop_probability: 0.0,
            lighting_changes: false,
            noise: 3.0,
            seed,
            line: ((0.0, 0.5), (1.0, 0.5)),
            inside: (0.5, 0.1),
            region: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.0, 0.5)],
        }
    }

    /// The dense scene of the benchmark at 640x480: the same people,
    /// line and light as the standard scene `dense-groups-lighting`, for
    /// `frames` frames.
    pub fn benchmark(frames: u32) -> Self {
        let (_, mut config) = standard_set()
            .into_iter()
            .find(|(name, _)| *name == "dense-groups-lighting")
            .expect("the standard set has its dense scene");
        config.width = 640;
        config.height = 480;
        config.duration_s = frames as f32 / config.fps as f32;
        config
    }

    /// Number of frames.
    pub fn frames(&self) -> u32 {
        (self.duration_s * self.fps as f32).round() as u32
    }

    fn validate(&self) -> Result<(), SceneError> {
        let bad = |what: &'static str| Err(SceneError(what));
        if self.width < 16 || self.height < 16 || self.width > 8192 || self.height > 8192 {
            return bad("width and height must be 16 to 8192 pixels");
        }
        if self.fps == 0 {
            return bad("fps must be at least 1");
        }
        if !(self.duration_s.is_finite() && self.duration_s > 0.0) {
            return bad("duration_s must be finite and > 0");
        }
        let share = |p: f32| (0.0..=1.0).contains(&p);
        if !(self.arrivals_per_min.is_finite() && self.arrivals_per_min >= 0.0) {
            return bad("arrivals_per_min must be finite and >= 0");
        }
        if !share(self.group_probability) || !share(self.stop_probability) {
            return bad("group_probability and stop_probability must be 0 to 1");
        }
        if !(self.noise.is_finite() && (0.0..=64.0).contains(&self.noise)) {
            return bad("noise must be 0 to 64 luma levels");
        }
        let (a, b) = self.line;
        if a == b {
            return bad("the line's two ends must differ");
        }
        if side(a, b, self.inside) == 0.0 {
            return bad("the inside point must not be on the line");
        }
        if self.region.len() < 3 {
            return bad("the region needs at least three points");
        }
        Ok(())
    }
}

/// A configuration that cannot make a scene.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scene configuration: {0}")]
pub struct SceneError(pub &'static str);

/// What happened in one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameTruth {
    /// People whose centre is in the picture and in the region.
    pub occupancy: u32,
    /// Crossings of the line completed at this frame, towards `inside`.
    pub inward: u32,
    pub outward: u32,
}

/// A scene ready to render: its people, background and light.
#[derive(Debug)]
pub struct Scene {
    config: SceneConfig,
    walkers: Vec<Walker>,
    canvas: Canvas,
}

impl Scene {
    /// People drawn from the configuration's seed.
    pub fn new(config: SceneConfig) -> Result<Scene, SceneError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let walkers = people::generate(&config, &mut rng);
        let canvas = Canvas::new(&config, &mut rng);
        Ok(Scene {
            config,
            walkers,
            canvas,
        })
    }

    /// The given people instead of random ones (background and light
    /// still from the seed): hand-made scenes whose truth is known.
    pub fn with_walkers(config: SceneConfig, walkers: Vec<Walker>) -> Result<Scene, SceneError> {
        config.validate()?;
        if walkers.iter().any(|w| !w.is_valid()) {
            return Err(SceneError(
                "a walker needs at least one keyframe, times in order and a width > 0",
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        // Drawn as for `new`, so the background is the same.
        let _ = people::generate(&config, &mut rng);
        let canvas = Canvas::new(&config, &mut rng);
        Ok(Scene {
            config,
            walkers,
            canvas,
        })
    }

    pub fn config(&self) -> &SceneConfig {
        &self.config
    }

    pub fn width(&self) -> u32 {
        self.config.width
    }

    pub fn height(&self) -> u32 {
        self.config.height
    }

    pub fn frames(&self) -> u32 {
        self.config.frames()
    }

    pub fn walkers(&self) -> &[Walker] {
        &self.walkers
    }

    fn time(&self, frame: u32) -> f32 {
        frame as f32 / self.config.fps as f32
    }

    /// Draws frame `frame` into `luma` (`width * height` bytes, row by
    /// row) and returns its truth.
    ///
    /// # Panics
    /// If `luma` is not `width * height` bytes long.
    pub fn render(&self, frame: u32, luma: &mut [u8]) -> FrameTruth {
        assert_eq!(
            luma.len(),
            self.config.width as usize * self.config.height as usize,
            "the frame buffer must be width x height bytes"
        );
        self.canvas
            .render(&self.config, &self.walkers, self.time(frame), frame, luma);
        self.truth(frame)
    }

    /// Frame `frame`'s truth, without drawing it.
    pub fn truth(&self, frame: u32) -> FrameTruth {
        let t = self.time(frame);
        let before = frame.checked_sub(1).map(|f| self.time(f));
        let (a, b) = self.config.line;
        let inside_sign = side(a, b, self.config.inside) > 0.0;
        let mut truth = FrameTruth::default();
        for walker in &self.walkers {
            let Some(now) = walker.centre(t) else {
                continue;
            };
            if (0.0..1.0).contains(&now.0)
                && (0.0..1.0).contains(&now.1)
                && in_polygon(&self.config.region, now)
            {
                truth.occupancy += 1;
            }
            let Some(then) = before.and_then(|t0| walker.centre(t0)) else {
                continue;
            };
            let (s0, s1) = (side(a, b, then) > 0.0, side(a, b, now) > 0.0);
            if s0 != s1 && meets_segment(a, b, then, now) {
                if s1 == inside_sign {
                    truth.inward += 1;
                } else {
                    truth.outward += 1;
                }
            }
        }
        truth
    }

    /// Every frame's truth, in order.
    pub fn truths(&self) -> Vec<FrameTruth> {
        (0..self.frames()).map(|f| self.truth(f)).collect()
    }
}

/// Which side of the line through `a` and `b` the point is on (the sign
/// of the cross product; 0 on the line).
fn side(a: (f32, f32), b: (f32, f32), p: (f32, f32)) -> f32 {
    (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0)
}

/// Whether the segment `p q`, whose ends are on opposite sides of the line
/// `a b`, meets the segment `a b`: `a` and `b` are not both on one side of
/// the line `p q`.
fn meets_segment(a: (f32, f32), b: (f32, f32), p: (f32, f32), q: (f32, f32)) -> bool {
    let (sa, sb) = (side(p, q, a), side(p, q, b));
    !(sa > 0.0 && sb > 0.0 || sa < 0.0 && sb < 0.0)
}

/// Even-odd rule.
fn in_polygon(polygon: &[(f32, f32)], p: (f32, f32)) -> bool {
    let mut inside = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let (a, b) = (polygon[i], polygon[j]);
        if (a.1 > p.1) != (b.1 > p.1) && p.0 < (b.0 - a.0) * (p.1 - a.1) / (b.1 - a.1) + a.0 {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// The standard scenes, 320x240 at 10 frames/s, 60-120 s each: sparse
/// to dense, with and without lighting changes, groups, people who stop,
/// more or less noise, and lines of several kinds.
pub fn standard_set() -> Vec<(&'static str, SceneConfig)> {
    struct S {
        name: &'static str,
        per_min: f32,
        groups: f32,
        stops: f32,
        light: bool,
        noise: f32,
        duration_s: f32,
    }
    let scenes = [
        S {
            name: "sparse-quiet",
            per_min: 4.0,
            groups: 0.0,
            stops: 0.0,
            light: false,
            noise: 2.0,
            duration_s: 120.0,
        },
        S {
            name: "sparse-noisy",
            per_min: 4.0,
            groups: 0.0,
            stops: 0.0,
            light: false,
            noise: 7.0,
            duration_s: 120.0,
        },
        S {
            name: "sparse-lighting",
            per_min: 4.0,
            groups: 0.0,
            stops: 0.0,
            light: true,
            noise: 3.0,
            duration_s: 120.0,
        },
        S {
            name: "sparse-stoppers",
            per_min: 4.0,
            groups: 0.0,
            stops: 0.5,
            light: false,
            noise: 3.0,
            duration_s: 120.0,
        },
        S {
            name: "light-traffic",
            per_min: 6.0,
            groups: 0.1,
            stops: 0.1,
            light: false,
            noise: 3.0,
            duration_s: 120.0,
        },
        S {
            name: "light-traffic-lighting",
            per_min: 6.0,
            groups: 0.1,
            stops: 0.1,
            light: true,
            noise: 4.0,
            duration_s: 90.0,
        },
        S {
            name: "pairs",
            per_min: 6.0,
            groups: 0.6,
            stops: 0.0,
            light: false,
            noise: 3.0,
            duration_s: 90.0,
        },
        S {
            name: "pairs-lighting",
            per_min: 6.0,
            groups: 0.6,
            stops: 0.0,
            light: true,
            noise: 3.0,
            duration_s: 90.0,
        },
        S {
            name: "stoppers",
            per_min: 8.0,
            groups: 0.0,
            stops: 0.4,
            light: false,
            noise: 3.0,
            duration_s: 120.0,
        },
        S {
            name: "stoppers-lighting",
            per_min: 8.0,
            groups: 0.1,
            stops: 0.4,
            light: true,
            noise: 3.0,
            duration_s: 120.0,
        },
        S {
            name: "medium",
            per_min: 10.0,
            groups: 0.2,
            stops: 0.1,
            light: false,
            noise: 3.0,
            duration_s: 90.0,
        },
        S {
            name: "medium-noisy",
            per_min: 10.0,
            groups: 0.2,
            stops: 0.1,
            light: false,
            noise: 6.0,
            duration_s: 90.0,
        },
        S {
            name: "medium-lighting",
            per_min: 10.0,
            groups: 0.2,
            stops: 0.1,
            light: true,
            noise: 3.0,
            duration_s: 90.0,
        },
        S {
            name: "medium-groups-stoppers",
            per_min: 10.0,
            groups: 0.4,
            stops: 0.3,
            light: false,
            noise: 3.0,
            duration_s: 120.0,
        },
        S {
            name: "busy",
            per_min: 14.0,
            groups: 0.2,
            stops: 0.1,
            light: false,
            noise: 3.0,
            duration_s: 90.0,
        },
        S {
            name: "busy-lighting",
            per_min: 14.0,
            groups: 0.2,
            stops: 0.1,
            light: true,
            noise: 4.0,
            duration_s: 90.0,
        },
        S {
            name: "busy-groups",
            per_min: 14.0,
            groups: 0.5,
            stops: 0.0,
            light: false,
            noise: 3.0,
            duration_s: 90.0,
        },
        S {
            name: "busy-stoppers",
            per_min: 14.0,
            groups: 0.1,
            stops: 0.3,
            light: false,
            noise: 3.0,
            duration_s: 90.0,
        },
        S {
            name: "dense",
            per_min: 20.0,
            groups: 0.2,
            stops: 0.1,
            light: false,
            noise: 3.0,
            duration_s: 90.0,
        },
        S {
            name: "dense-groups-lighting",
            per_min: 20.0,
            groups: 0.4,
            stops: 0.1,
            light: true,
            noise: 3.0,
            duration_s: 90.0,
        },
        S {
            name: "dense-noisy",
            per_min: 20.0,
            groups: 0.2,
            stops: 0.2,
            light: true,
            noise: 6.0,
            duration_s: 60.0,
        },
        S {
            name: "crowd",
            per_min: 26.0,
            groups: 0.3,
            stops: 0.1,
            light: false,
            noise: 3.0,
            duration_s: 90.0,
        },
    ];
    // Lines: across the middle, lower, shorter than the picture, tilted;
    // inward upwards or downwards. Each region is the inward side.
    let lines = [
        (
            ((0.0, 0.5), (1.0, 0.5)),
            (0.5, 0.1),
            vec![(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.0, 0.5)],
        ),
        (
            ((0.0, 0.62), (1.0, 0.62)),
            (0.5, 0.1),
            vec![(0.0, 0.0), (1.0, 0.0), (1.0, 0.62), (0.0, 0.62)],
        ),
        (
            ((0.08, 0.45), (0.92, 0.45)),
            (0.5, 0.9),
            vec![(0.08, 0.45), (0.92, 0.45), (0.92, 1.0), (0.08, 1.0)],
        ),
        (
            ((0.0, 0.44), (1.0, 0.58)),
            (0.5, 0.1),
            vec![(0.0, 0.0), (1.0, 0.0), (1.0, 0.58), (0.0, 0.44)],
        ),
    ];
    scenes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (line, inside, region) = lines[i % lines.len()].clone();
            let config = SceneConfig {
                duration_s: s.duration_s,
                arrivals_per_min: s.per_min,
                group_probability: s.groups,
                stop_probability: s.stops,
                lighting_changes: s.light,
                noise: s.noise,
                line,
                inside,
                region,
                ..SceneConfig::base(0x5ce0_0000 + i as u64)
            };
            (s.name, config)
        })
        .collect()
}
