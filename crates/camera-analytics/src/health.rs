//! The camera's health from each frame's statistics.

use crate::Health;

/// Mean luma below this is dark (of 255: a lit room's picture is above 60
/// on average, a room with the lights off well below 35).
const DARK_MEAN: u32 = 35;
/// Covered: dark, and without features: a spread of luma below 5 grey
/// levels and mean gradient below 2 (a lens cap or a hand leaves sensor
/// noise only; a dark room still has edges).
const COVERED_STD: f32 = 5.0;
const COVERED_GRADIENT: f32 = 2.0;
/// Blurred: the mean gradient below this share of its running baseline
/// (focus lost or a smeared lens takes away most of the edges; people
/// walking through change it by a few per cent).
const BLURRED_RATIO: f32 = 0.4;
/// Motion: more than this share of the picture foreground.
const MOTION_SHARE: f32 = 0.5;

/// One frame's statistics, from the internal (downsampled) frame.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stats {
    pub mean: f32,
    pub std: f32,
    /// Mean absolute difference to the right and lower neighbours.
    pub gradient: f32,
}

pub(crate) fn stats(frame: &[u8], w: usize) -> Stats {
    let n = frame.len().max(1) as f64;
    let (mut sum, mut sq) = (0u64, 0u64);
    for &p in frame {
        sum += u64::from(p);
        sq += u64::from(p) * u64::from(p);
    }
    let mut grad = 0u64;
    let h = frame.len() / w.max(1);
    for y in 0..h.saturating_sub(1) {
        let r = &frame[y * w..][..w];
        let d = &frame[(y + 1) * w..][..w];
        let gx: u32 = r[..w - 1]
            .iter()
            .zip(&r[1..])
            .map(|(&a, &b)| u32::from(a.abs_diff(b)))
            .sum();
        let gy: u32 = r
            .iter()
            .zip(d)
            .map(|(&a, &b)| u32::from(a.abs_diff(b)))
            .sum();
        grad += u64::from(gx) + u64::from(gy);
    }
    let mean = sum as f64 / n;
    let var = (sq as f64 / n - mean * mean).max(0.0);
    let pairs = (2 * w * h).saturating_sub(w + h).max(1) as f64;
    Stats {
        mean: mean as f32,
        std: var.sqrt() as f32,
        gradient: (grad as f64 / pairs) as f32,
    }
}

#[derive(Debug)]
pub(crate) struct Monitor {
    /// Identical frames in a row needed to call the source frozen.
    frozen_after: u32,
    last_print: Option<u64>,
    same: u32,
    /// Running baseline of the gradient; `None` until a lit frame.
    baseline: Option<f32>,
    /// Baseline learning rate per frame (half a minute).
    rate: f32,
}

impl Monitor {
    pub(crate) fn new(fps: f32) -> Monitor {
        let fps = if fps.is_finite() && fps > 0.0 {
            fps
        } else {
            10.0
        };
        Monitor {
            // A second of frames with not one pixel changed: a live sensor
            // never does that (its noise alone changes some pixel).
            frozen_after: (fps.round() as u32).max(3),
            last_print: None,
            same: 0,
            baseline: None,
            rate: 1.0 / (30.0 * fps),
        }
    }

    /// Whether a frame with this fingerprint repeats the last one exactly.
    pub(crate) fn repeats(&self, print: u64) -> bool {
        self.last_print == Some(print)
    }

    /// The frame's health from its fingerprint, statistics and share of
    /// foreground.
    pub(crate) fn check(&mut self, print: u64, s: Stats, foreground: f32) -> Health {
        if self.last_print == Some(print) {
            self.same = self.same.saturating_add(1);
        } else {
            self.same = 0;
        }
        self.last_print = Some(print);
        let dark = s.mean < DARK_MEAN as f32;
        let covered = dark && s.std < COVERED_STD && s.gradient < COVERED_GRADIENT;
        let blurred = match self.baseline {
            Some(b) => !dark && s.gradient < BLURRED_RATIO * b,
            None => false,
        };
        if !dark {
            match &mut self.baseline {
                None => self.baseline = Some(s.gradient),
                Some(b) if !blurred => {
                    // Up quickly (a sharper picture is the true baseline),
                    // down slowly.
                    let r = if s.gradient > *b {
                        8.0 * self.rate
                    } else {
                        self.rate
                    };
                    *b += (s.gradient - *b) * r.min(1.0);
                }
                Some(_) => {}
            }
        }
        Health {
            frozen: self.same >= self.frozen_after,
            dark,
            covered,
            blurred,
            motion: foreground > MOTION_SHARE,
        }
    }
}
