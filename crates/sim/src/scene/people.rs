//! People and their paths.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{SceneConfig, side};

/// Where a person's centre is at a time: fractions of width and height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keyframe {
    pub t_s: f32,
    pub x: f32,
    pub y: f32,
}

/// One person: a path through keyframes (straight lines at constant speed
/// between them; two keyframes at one place are a stop), present from the
/// first keyframe's time to the last's.
#[derive(Debug, Clone, PartialEq)]
pub struct Walker {
    pub keyframes: Vec<Keyframe>,
    /// Body (shoulder) width in picture heights, at the bottom of the
    /// picture (people are drawn 20 % smaller at the top).
    pub width: f32,
    /// The body's luma before light and noise.
    pub luma: u8,
    /// Members of one group share a number.
    pub group: Option<u32>,
    /// Drawing details (hair, texture, gait phase) come from this number.
    pub look: u32,
}

impl Walker {
    /// A person along `keyframes`, of the given width and luma.
    pub fn new(keyframes: Vec<Keyframe>, width: f32, luma: u8) -> Walker {
        Walker {
            keyframes,
            width,
            luma,
            group: None,
            look: 0x9e37_79b9,
        }
    }

    pub(super) fn is_valid(&self) -> bool {
        !self.keyframes.is_empty()
            && self.width > 0.0
            && self.width.is_finite()
            && self.keyframes.windows(2).all(|k| k[0].t_s <= k[1].t_s)
            && self
                .keyframes
                .iter()
                .all(|k| k.t_s.is_finite() && k.x.is_finite() && k.y.is_finite())
    }

    /// The segment at time `t`: `(index of its first keyframe, fraction)`,
    /// or `None` before the first keyframe or after the last.
    fn segment(&self, t: f32) -> Option<(usize, f32)> {
        let k = &self.keyframes;
        if t < k[0].t_s || t > k[k.len() - 1].t_s {
            return None;
        }
        let i = k.partition_point(|f| f.t_s <= t).saturating_sub(1);
        if i + 1 >= k.len() {
            return Some((k.len() - 1, 0.0));
        }
        let span = k[i + 1].t_s - k[i].t_s;
        let f = if span > 0.0 {
            (t - k[i].t_s) / span
        } else {
            1.0
        };
        Some((i, f))
    }

    /// The centre at time `t`, fractions of width and height; `None` when
    /// the person is not in the scene.
    pub fn centre(&self, t: f32) -> Option<(f32, f32)> {
        let (i, f) = self.segment(t)?;
        let a = self.keyframes[i];
        let Some(b) = self.keyframes.get(i + 1) else {
            return Some((a.x, a.y));
        };
        Some((a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f))
    }

    /// The direction of walking at `t` in pixels (a unit vector), and
    /// whether the person is moving. A stopped person faces the way they
    /// last walked (or will walk).
    pub(super) fn heading(&self, t: f32, width: f32, height: f32) -> ((f32, f32), bool) {
        let Some((i, _)) = self.segment(t) else {
            return ((0.0, -1.0), false);
        };
        let k = &self.keyframes;
        let dir = |j: usize| {
            let (a, b) = (k[j], k[j + 1]);
            let (dx, dy) = ((b.x - a.x) * width, (b.y - a.y) * height);
            let n = (dx * dx + dy * dy).sqrt();
            (n > 1e-6).then(|| (dx / n, dy / n))
        };
        let here = (i + 1 < k.len()).then(|| dir(i)).flatten();
        if let Some(d) = here {
            return (d, true);
        }
        let before = (0..i.min(k.len().saturating_sub(1))).rev().find_map(dir);
        let after = (i + 1..k.len().saturating_sub(1)).find_map(dir);
        (before.or(after).unwrap_or((0.0, -1.0)), false)
    }
}

/// Edge margin: people start and end this far (picture heights) outside
/// the picture, shadow included.
const MARGIN: f32 = 0.22;

fn uniform(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

/// People arriving as a Poisson process from 2 s on, until 6 s before the
/// end (so that the last ones cross the line too).
pub(super) fn generate(config: &SceneConfig, rng: &mut ChaCha8Rng) -> Vec<Walker> {
    let mut walkers = Vec::new();
    if config.arrivals_per_min <= 0.0 {
        return walkers;
    }
    let mean_gap_s = 60.0 / config.arrivals_per_min;
    let mut t = 2.0 + exponential(rng, mean_gap_s);
    let mut group = 0;
    // People walking up less people walking down, to keep the two close.
    let mut balance = 0;
    let last = (config.duration_s - 6.0).max(config.duration_s / 2.0);
    while t < last {
        arrival(config, rng, t, (&mut group, &mut balance), &mut walkers);
        t += exponential(rng, mean_gap_s);
    }
    walkers
}

fn exponential(rng: &mut ChaCha8Rng, mean: f32) -> f32 {
    -(1.0 - rng.random::<f32>()).ln() * mean
}

/// Points and distances below are in picture heights ("units"): x runs
/// from 0 to the aspect ratio, so that directions and speeds are true.
type P = (f32, f32);

fn arrival(
    config: &SceneConfig,
    rng: &mut ChaCha8Rng,
    t0: f32,
    (group, balance): (&mut u32, &mut i32),
    out: &mut Vec<Walker>,
) {
    let aspect = config.width as f32 / config.height as f32;
    let line = (
        (config.line.0.0 * aspect, config.line.0.1),
        (config.line.1.0 * aspect, config.line.1.1),
    );
    let size = if rng.random::<f32>() < config.group_probability {
        if rng.random::<f32>() < 0.75 { 2 } else { 3 }
    } else {
        1
    };
    let widths: Vec<f32> = (0..size).map(|_| uniform(rng, 0.09, 0.13)).collect();
    let widest = widths.iter().copied().fold(0.0, f32::max);
    // Centre to centre: room for two of the widest, arms swinging (6 %),
    // and a gap of 0.4-0.75 of a body width.
    let spacing = widest * (1.06 + uniform(rng, 0.4, 0.75));
    let half_extent = spacing * (size - 1) as f32 / 2.0;
    let speed = uniform(rng, 0.12, 0.32);

    let prefer_up = match *balance {
        b if b >= 2 => Some(false),
        b if b <= -2 => Some(true),
        _ => None,
    };
    let (start, end) = path(rng, aspect, line, half_extent + widest / 2.0, prefer_up);
    if end.1 < 0.0 {
        *balance += size;
    } else if end.1 > 1.0 {
        *balance -= size;
    }
    let dir = norm((end.0 - start.0, end.1 - start.1));
    let across = (-dir.1, dir.0);

    // A stop somewhere away from the line, then on or back.
    let mut stop = None;
    if rng.random::<f32>() < config.stop_probability {
        for _ in 0..12 {
            let f = uniform(rng, 0.15, 0.85);
            let p = (
                start.0 + (end.0 - start.0) * f,
                start.1 + (end.1 - start.1) * f,
            );
            let inside = (0.0..=aspect).contains(&p.0) && (0.0..=1.0).contains(&p.1);
            if inside && distance_to_line(line, p) > 0.12 + widest + half_extent {
                let dwell = uniform(rng, 3.0, 12.0);
                let back = rng.random::<f32>() < 1.0 / 3.0;
                stop = Some((f, dwell, back));
                break;
            }
        }
    }

    let group_id = (size > 1).then(|| {
        *group += 1;
        *group
    });
    for (m, &width) in widths.iter().enumerate() {
        let offset = (m as f32 - (size - 1) as f32 / 2.0) * spacing;
        let shift = |p: P| (p.0 + across.0 * offset, p.1 + across.1 * offset);
        let (a, b) = (shift(start), shift(end));
        let t = t0
            + if m == 0 {
                0.0
            } else {
                uniform(rng, -0.15, 0.15)
            }
            .max(-t0);
        let mut points = vec![(t, a)];
        match stop {
            None => points.push((t + dist(a, b) / speed, b)),
            Some((f, dwell, back)) => {
                let s = (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f);
                let t1 = t + dist(a, s) / speed;
                let t2 = t1 + dwell;
                let goal = if back { a } else { b };
                points.extend([(t1, s), (t2, s), (t2 + dist(s, goal) / speed, goal)]);
            }
        }
        let luma = match rng.random::<f32>() {
            p if p < 0.55 => uniform(rng, 25.0, 75.0),
            p if p < 0.8 => uniform(rng, 170.0, 230.0),
            _ if rng.random::<bool>() => uniform(rng, 160.0, 175.0),
            _ => uniform(rng, 75.0, 90.0),
        } as u8;
        out.push(Walker {
            keyframes: points
                .into_iter()
                .map(|(t_s, (x, y))| Keyframe {
                    t_s,
                    x: x / aspect,
                    y,
                })
                .collect(),
            width,
            luma,
            group: group_id,
            look: rng.random(),
        });
    }
}

/// A path's two ends outside the picture. Nine in ten cross the picture
/// between the top and bottom edges (one in five of these from a side
/// edge), so they cross a roughly horizontal line; the others walk across
/// from side to side, at least 0.18 heights (plus the group's extent)
/// from the line. Up or down is random unless `prefer_up` says.
fn path(
    rng: &mut ChaCha8Rng,
    aspect: f32,
    line: (P, P),
    extent: f32,
    prefer_up: Option<bool>,
) -> (P, P) {
    if rng.random::<f32>() < 0.1 {
        for _ in 0..20 {
            let y0 = uniform(rng, 0.1, 0.92);
            let y1 = (y0 + uniform(rng, -0.06, 0.06)).clamp(0.08, 0.94);
            let (l, r) = ((-MARGIN - extent, y0), (aspect + MARGIN + extent, y1));
            let (sl, sr) = (side(line.0, line.1, l), side(line.0, line.1, r));
            let clear = 0.18 + extent;
            if (sl > 0.0) == (sr > 0.0)
                && distance_to_line(line, l) > clear
                && distance_to_line(line, r) > clear
            {
                return if rng.random::<bool>() { (l, r) } else { (r, l) };
            }
        }
    }
    let up = rng.random::<bool>();
    let up = prefer_up.unwrap_or(up);
    let far = if up {
        -MARGIN - extent
    } else {
        1.0 + MARGIN + extent
    };
    let x1 = uniform(rng, 0.12, 0.88) * aspect;
    let start = if rng.random::<f32>() < 0.2 {
        // From a side edge, in the half of the picture away from the exit.
        let y = if up {
            uniform(rng, 0.7, 0.9)
        } else {
            uniform(rng, 0.1, 0.3)
        };
        let x = if rng.random::<bool>() {
            -MARGIN - extent
        } else {
            aspect + MARGIN + extent
        };
        (x, y)
    } else {
        let x0 = (x1 + uniform(rng, -0.3, 0.3) * aspect).clamp(0.1 * aspect, 0.9 * aspect);
        (
            x0,
            if up {
                1.0 + MARGIN + extent
            } else {
                -MARGIN - extent
            },
        )
    };
    (start, (x1, far))
}

fn dist(a: P, b: P) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

fn norm(v: P) -> P {
    let n = (v.0 * v.0 + v.1 * v.1).sqrt().max(1e-9);
    (v.0 / n, v.1 / n)
}

/// Distance from `p` to the (infinite) line.
fn distance_to_line(line: (P, P), p: P) -> f32 {
    side(line.0, line.1, p).abs() / dist(line.0, line.1)
}
