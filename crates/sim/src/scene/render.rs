//! Drawing a frame: background, shadows, people, light, noise.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::{SceneConfig, Walker};

/// Noise is read from a table at an offset drawn per frame, up to this.
const NOISE_SLACK: usize = 8192;

/// What stays the same from frame to frame.
pub(super) struct Canvas {
    background: Vec<u8>,
    noise: Vec<i8>,
    seed: u64,
    light: Light,
    /// Shadow offset in body widths, and how much darker it is (0-1).
    shadow: (f32, f32),
    shadow_strength: f32,
}

#[derive(Debug)]
struct Light {
    drift: f32,
    period_s: f32,
    phase: f32,
    /// (start, ramp length, change of gain); a ramp of 0 is a step.
    changes: Vec<(f32, f32, f32)>,
}

impl Light {
    fn gain(&self, t: f32) -> f32 {
        let drift =
            1.0 + self.drift * (std::f32::consts::TAU * t / self.period_s + self.phase).sin();
        let mut change = 0.0;
        for &(start, ramp, delta) in &self.changes {
            if t >= start {
                let f = if ramp > 0.0 {
                    ((t - start) / ramp).min(1.0)
                } else {
                    1.0
                };
                change += delta * f;
            }
        }
        (drift * (1.0 + change)).clamp(0.5, 1.6)
    }
}

/// The light and shadow; not the background's or the noise's bytes.
impl std::fmt::Debug for Canvas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canvas")
            .field("light", &self.light)
            .field("shadow", &self.shadow)
            .field("shadow_strength", &self.shadow_strength)
            .finish_non_exhaustive()
    }
}

impl Canvas {
    pub(super) fn new(config: &SceneConfig, rng: &mut ChaCha8Rng) -> Canvas {
        let (w, h) = (config.width as usize, config.height as usize);
        let background = background(w, h, rng);

        let normal = Normal::new(0.0f32, config.noise.max(1e-6)).expect("finite noise");
        let noise = (0..w * h + NOISE_SLACK)
            .map(|_| {
                if config.noise > 0.0 {
                    normal.sample(rng).round().clamp(-127.0, 127.0) as i8
                } else {
                    0
                }
            })
            .collect();

        let mut changes = Vec::new();
        if config.lighting_changes {
            let mut t = 5.0 + uniform(rng, 0.0, 15.0);
            let mut level = 0.0f32;
            while t < config.duration_s {
                let size = uniform(rng, 0.12, 0.3);
                // Back towards the usual level when far from it.
                let down = if level > 0.15 {
                    true
                } else if level < -0.15 {
                    false
                } else {
                    rng.random()
                };
                let delta = if down { -size } else { size };
                level += delta;
                let ramp = if rng.random::<bool>() {
                    0.0
                } else {
                    uniform(rng, 1.0, 4.0)
                };
                changes.push((t, ramp, delta));
                t += 10.0 + uniform(rng, 0.0, 20.0);
            }
        }
        let light = Light {
            drift: uniform(rng, 0.04, 0.08),
            period_s: uniform(rng, 40.0, 120.0),
            phase: uniform(rng, 0.0, std::f32::consts::TAU),
            changes,
        };
        let angle = uniform(rng, 0.0, std::f32::consts::TAU);
        let length = uniform(rng, 0.3, 0.55);
        Canvas {
            background,
            noise,
            seed: rng.random(),
            light,
            shadow: (angle.cos() * length, angle.sin() * length),
            shadow_strength: uniform(rng, 0.15, 0.3),
        }
    }

    pub(super) fn render(
        &self,
        config: &SceneConfig,
        walkers: &[Walker],
        t: f32,
        frame: u32,
        luma: &mut [u8],
    ) {
        let (w, h) = (config.width as usize, config.height as usize);
        luma.copy_from_slice(&self.background);

        // Nearer (lower) people are drawn last, over farther ones.
        let mut present: Vec<(f32, f32, &Walker)> = walkers
            .iter()
            .filter_map(|walker| walker.centre(t).map(|(x, y)| (x, y, walker)))
            .collect();
        present.sort_by(|a, b| a.1.total_cmp(&b.1));
        let shapes: Vec<Shape> = present
            .iter()
            .map(|&(x, y, walker)| Shape::new(walker, x, y, t, w as f32, h as f32))
            .collect();
        for shape in &shapes {
            let offset = (
                self.shadow.0 * shape.half_width * 2.0,
                self.shadow.1 * shape.half_width * 2.0,
            );
            shape.shadow(luma, w, h, offset, self.shadow_strength);
        }
        for shape in &shapes {
            shape.body(luma, w, h);
        }

        let gain = self.light.gain(t);
        let lut: [u8; 256] = std::array::from_fn(|v| (v as f32 * gain).round().min(255.0) as u8);
        let offset = (splitmix64(self.seed ^ u64::from(frame)) % NOISE_SLACK as u64) as usize;
        let noise = &self.noise[offset..offset + w * h];
        for (p, &n) in luma.iter_mut().zip(noise) {
            *p = (i16::from(lut[usize::from(*p)]) + i16::from(n)).clamp(0, 255) as u8;
        }
    }
}

/// One person as drawn at one frame, in pixels.
struct Shape {
    cx: f32,
    cy: f32,
    /// The direction of walking (unit).
    hx: f32,
    hy: f32,
    half_width: f32,
    half_depth: f32,
    luma: f32,
    hair: f32,
    stripe_amp: f32,
    stripe_period: f32,
}

impl Shape {
    fn new(walker: &Walker, x: f32, y: f32, t: f32, w: f32, h: f32) -> Shape {
        let ((hx, hy), moving) = walker.heading(t, w, h);
        let look = walker.look;
        let byte = |i: u32| ((look >> (8 * i)) & 0xff) as f32 / 255.0;
        // The oblique view: 20 % smaller at the top of the picture.
        let perspective = 0.8 + 0.2 * y.clamp(0.0, 1.0);
        let gait = if moving {
            1.0 + 0.06 * (std::f32::consts::TAU * (1.8 * t + byte(0))).sin()
        } else {
            1.0
        };
        let half_width = walker.width * h * perspective * gait / 2.0;
        Shape {
            cx: x * w,
            cy: y * h,
            hx,
            hy,
            half_width,
            half_depth: half_width * (0.55 + 0.1 * byte(1)),
            luma: f32::from(walker.luma),
            hair: 20.0 + 40.0 * byte(2),
            stripe_amp: 14.0 * byte(3),
            stripe_period: half_width * (0.3 + 0.3 * byte(1)),
        }
    }

    /// The pixel box around an ellipse of the given half size at `c`.
    fn bounds(c: (f32, f32), r: f32, w: usize, h: usize) -> Option<(usize, usize, usize, usize)> {
        let x0 = (c.0 - r).floor().max(0.0) as usize;
        let y0 = (c.1 - r).floor().max(0.0) as usize;
        let x1 = ((c.0 + r).ceil().max(0.0) as usize).min(w);
        let y1 = ((c.1 + r).ceil().max(0.0) as usize).min(h);
        (x0 < x1 && y0 < y1).then_some((x0, y0, x1, y1))
    }

    /// (across, along) of pixel `(px, py)` relative to centre `c`.
    fn local(&self, c: (f32, f32), px: usize, py: usize) -> (f32, f32) {
        let (dx, dy) = (px as f32 + 0.5 - c.0, py as f32 + 0.5 - c.1);
        (-dx * self.hy + dy * self.hx, dx * self.hx + dy * self.hy)
    }

    /// A darker, soft-edged copy of the body shape, offset.
    fn shadow(&self, luma: &mut [u8], w: usize, h: usize, offset: (f32, f32), strength: f32) {
        let c = (self.cx + offset.0, self.cy + offset.1);
        let (a, b) = (self.half_width * 1.05, self.half_depth * 1.1);
        let Some((x0, y0, x1, y1)) = Shape::bounds(c, a.max(b), w, h) else {
            return;
        };
        for py in y0..y1 {
            let row = &mut luma[py * w..(py + 1) * w];
            for (px, p) in row.iter_mut().enumerate().take(x1).skip(x0) {
                let (u, v) = self.local(c, px, py);
                let d = (u / a).powi(2) + (v / b).powi(2);
                if d < 1.0 {
                    let f = 1.0 - strength * ((1.0 - d) * 2.5).min(1.0);
                    *p = (f32::from(*p) * f) as u8;
                }
            }
        }
    }

    /// The body: an ellipse with striped clothes, a head, soft at the edge.
    fn body(&self, luma: &mut [u8], w: usize, h: usize) {
        let c = (self.cx, self.cy);
        let (a, b) = (self.half_width, self.half_depth);
        let head_r2 = (0.34 * a).powi(2);
        let head_along = 0.15 * b;
        let Some((x0, y0, x1, y1)) = Shape::bounds(c, a.max(b), w, h) else {
            return;
        };
        for py in y0..y1 {
            let row = &mut luma[py * w..(py + 1) * w];
            for (px, p) in row.iter_mut().enumerate().take(x1).skip(x0) {
                let (u, v) = self.local(c, px, py);
                let d = (u / a).powi(2) + (v / b).powi(2);
                if d >= 1.0 {
                    continue;
                }
                let value = if u * u + (v - head_along).powi(2) < head_r2 {
                    self.hair
                } else {
                    let stripe = ((v + b) / self.stripe_period) as i32 & 1;
                    self.luma
                        + if stripe == 0 {
                            self.stripe_amp
                        } else {
                            -self.stripe_amp
                        }
                };
                // The outer fifth blends into what is below.
                let alpha = ((1.0 - d) * 5.0).min(1.0);
                let under = f32::from(*p);
                *p = (under + (value - under) * alpha).clamp(0.0, 255.0) as u8;
            }
        }
    }
}

fn uniform(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

/// A 64-bit mix (SplitMix64's finalizer): the frame's noise offset from
/// the seed and the frame number, so any frame renders alone.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A floor: tiles with grout lines and a tone each, smooth blotches, a
/// darker mat, and fine grain.
fn background(w: usize, h: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let base = uniform(rng, 110.0, 140.0);
    // Smooth noise: random values on a coarse grid, interpolated.
    let cell = (h as f32 * 0.12).max(2.0);
    let (gw, gh) = (
        (w as f32 / cell) as usize + 2,
        (h as f32 / cell) as usize + 2,
    );
    let grid: Vec<f32> = (0..gw * gh).map(|_| uniform(rng, -18.0, 18.0)).collect();
    let tile = h as f32 * uniform(rng, 0.12, 0.2);
    let tiles_x = (w as f32 / tile) as usize + 1;
    let tiles_y = (h as f32 / tile) as usize + 1;
    let tones: Vec<f32> = (0..tiles_x * tiles_y)
        .map(|_| uniform(rng, -8.0, 8.0))
        .collect();
    let grout = (h as f32 / 160.0).max(1.0);
    let mat = (
        uniform(rng, 0.0, 0.7) * w as f32,
        uniform(rng, 0.0, 0.8) * h as f32,
        uniform(rng, 0.15, 0.3) * w as f32,
        uniform(rng, 0.1, 0.2) * h as f32,
    );
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let gy = y as f32 / cell;
        let (iy, fy) = (gy as usize, smooth(gy.fract()));
        let ty = (y as f32 / tile) as usize;
        let on_grout_y = (y as f32 % tile) < grout;
        for x in 0..w {
            let gx = x as f32 / cell;
            let (ix, fx) = (gx as usize, smooth(gx.fract()));
            let g = |i: usize, j: usize| grid[j * gw + i];
            let top = g(ix, iy) + (g(ix + 1, iy) - g(ix, iy)) * fx;
            let bottom = g(ix, iy + 1) + (g(ix + 1, iy + 1) - g(ix, iy + 1)) * fx;
            let blotch = top + (bottom - top) * fy;
            let tx = (x as f32 / tile) as usize;
            let mut v = base + blotch + tones[ty * tiles_x + tx];
            if on_grout_y || (x as f32 % tile) < grout {
                v -= 22.0;
            }
            let (fxm, fym) = (x as f32, y as f32);
            if fxm >= mat.0 && fxm < mat.0 + mat.2 && fym >= mat.1 && fym < mat.1 + mat.3 {
                v -= 35.0;
            }
            v += uniform(rng, -4.0, 4.0);
            out[y * w + x] = v.clamp(30.0, 215.0) as u8;
        }
    }
    out
}

fn smooth(f: f32) -> f32 {
    f * f * (3.0 - 2.0 * f)
}
