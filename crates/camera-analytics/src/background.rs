//! The adaptive background and the foreground mask.
//!
//! The background is a per-pixel running estimate of the empty scene in
//! 8.8 fixed point. It is a model, not a picture of anybody: it learns
//! slowly (seconds for a pixel that looks like background, minutes for one
//! that does not) and pixels under the foreground mask (a person, their
//! shadow, and the closed blob around them) are all but excluded from it, so
//! a person walking through leaves nothing in it, and one standing still
//! fades into it only after minutes (by then long counted).

/// Foreground threshold: a pixel differs from the background by more than
/// `t + background / T_REL_DIV` grey levels, with `t` the picture's noise
/// times `NOISE_K` (in 1/4), at least `T_MIN`: about 1 in 100 pixels of
/// pure noise passes (and the mask's opening takes those away); the
/// relative part because bright areas are noisier (and compression more
/// coarse there).
const T_MIN: i32 = 6;
const NOISE_K4: i32 = 11;
const T_REL_DIV: i32 = 32;

/// A shadow darkens a pixel to this ratio of its background (in 1/256):
/// 0.45 to 0.92 where the background has texture to check that it is kept
/// (the ratio is the same at neighbouring pixels); 0.65 to 0.92 on plain
/// background, where only the ratio can tell, so that darker clothes stay
/// foreground there.
const SHADOW_LO_TEXTURED: i32 = 115;
const SHADOW_LO_PLAIN: i32 = 166;
const SHADOW_HI: i32 = 236;
/// The background has texture at a pixel when it differs from a neighbour
/// by this many grey levels.
const TEXTURE_GRADIENT: i32 = 8;
/// Noise allowed in the texture check (grey levels times background).
const TEXTURE_NOISE: i32 = 3;

pub(crate) struct Background {
    w: usize,
    /// The model, 8.8 fixed point; empty until the first frame.
    bg: Vec<u16>,
    /// Frames in a row each pixel has differed from the model.
    age: Vec<u16>,
    /// The threshold's absolute part, grey levels, and the same smoothed
    /// in 1/16.
    t: i32,
    t16: i32,
    /// The lowest and highest of the model's 3 x 3 neighbourhood of each
    /// pixel (grey levels), and scratch: a pixel is foreground only when
    /// it is unlike all of them, so that a picture shaken by a pixel does
    /// not light up every edge.
    lo: Vec<u8>,
    hi: Vec<u8>,
    scratch: Vec<u8>,
}

impl Background {
    pub(crate) fn new(w: usize, h: usize) -> Self {
        Background {
            w,
            bg: Vec::with_capacity(w * h),
            age: Vec::with_capacity(w * h),
            t: T_MIN,
            t16: T_MIN * 16,
            lo: vec![0; w * h],
            hi: vec![0; w * h],
            scratch: vec![0; w * h],
        }
    }

    /// The threshold's noise part for the current model (see `T_MIN`):
    /// the picture's noise measured as the median absolute difference to
    /// the model over a sparse grid (people are a minority of it).
    pub(crate) fn measure_noise(&mut self, frame: &[u8]) {
        let mut hist = [0u32; 256];
        let mut n = 0u32;
        let h = frame.len() / self.w;
        for y in (2..h).step_by(4) {
            for x in (2..self.w).step_by(4) {
                let i = y * self.w + x;
                let d = (i32::from(frame[i]) - i32::from(self.bg[i] >> 8)).unsigned_abs();
                hist[d.min(255) as usize] += 1;
                n += 1;
            }
        }
        let mut seen = 0;
        let mut median = 0;
        for (d, &c) in hist.iter().enumerate() {
            seen += c;
            if seen * 2 >= n {
                median = d as i32;
                break;
            }
        }
        // Gaussian noise: sigma = median / 0.6745; plus half a level of
        // rounding.
        // At most 12 levels: when most of the picture changes at once the
        // median measures the change, not the noise. Smoothed over about
        // eight frames (the noise of a sensor does not jump).
        let sigma4 = ((median * 4 * 1000 + 337) / 675 + 2).min(48);
        let t = (sigma4 * NOISE_K4 / 16).max(T_MIN);
        self.t16 += (t * 16 - self.t16) / 8;
        self.t = (self.t16 + 8) / 16;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bg.is_empty()
    }

    /// Starts the model again from this frame (first frame, or after the
    /// picture changed as a whole).
    pub(crate) fn reset(&mut self, frame: &[u8]) {
        self.bg.clear();
        self.bg.extend(frame.iter().map(|&p| u16::from(p) << 8));
        self.age.clear();
        self.age.resize(frame.len(), 0);
    }

    /// The global gain of the frame against the model, in 1/128: the median
    /// ratio over a sparse grid of pixels, so that up to half the picture
    /// covered by people does not move it.
    pub(crate) fn gain(&self, frame: &[u8]) -> u32 {
        let mut hist = [0u32; 512];
        let mut n = 0u32;
        let h = frame.len() / self.w;
        for y in (1..h).step_by(4) {
            for x in (1..self.w).step_by(4) {
                let i = y * self.w + x;
                let b = u32::from(self.bg[i] >> 8);
                if b < 12 {
                    continue;
                }
                let r = (u32::from(frame[i]) * 128 + b / 2) / b;
                hist[r.min(511) as usize] += 1;
                n += 1;
            }
        }
        if n == 0 {
            return 128;
        }
        let mut seen = 0;
        for (r, &c) in hist.iter().enumerate() {
            seen += c;
            if seen * 2 >= n {
                return r as u32;
            }
        }
        128
    }

    /// The whole model scaled by `gain` (1/128): a change of light over the
    /// whole picture moves the background at once instead of making it all
    /// foreground.
    pub(crate) fn rescale(&mut self, gain: u32) {
        for b in &mut self.bg {
            *b = ((u32::from(*b) * gain + 64) >> 7).min(0xff00) as u16;
        }
    }

    /// The foreground mask of `frame` (255 foreground, 0 background or
    /// shadow).
    pub(crate) fn segment(&mut self, frame: &[u8], mask: &mut [u8]) {
        let w = self.w;
        let h = frame.len() / w;
        let t = self.t;
        for (m, &b) in mask.iter_mut().zip(&self.bg) {
            *m = (b >> 8) as u8;
        }
        crate::pixels::pass3(mask, &mut self.lo, &mut self.scratch, w, true);
        crate::pixels::pass3(mask, &mut self.hi, &mut self.scratch, w, false);
        for y in 0..h {
            let yn = if y + 1 < h {
                y + 1
            } else {
                y.saturating_sub(1)
            };
            let f = &frame[y * w..][..w];
            let fd = &frame[yn * w..][..w];
            let b = &self.bg[y * w..][..w];
            let bd = &self.bg[yn * w..][..w];
            let lo = &self.lo[y * w..][..w];
            let hi = &self.hi[y * w..][..w];
            let out = &mut mask[y * w..][..w];
            if w < 2 {
                out[0] = classify(t, (lo[0], hi[0]), f[0], f[0], fd[0], b[0], b[0], bd[0]);
                continue;
            }
            for i in 0..w - 1 {
                out[i] = classify(
                    t,
                    (lo[i], hi[i]),
                    f[i],
                    f[i + 1],
                    fd[i],
                    b[i],
                    b[i + 1],
                    bd[i],
                );
            }
            let i = w - 1;
            out[i] = classify(
                t,
                (lo[i], hi[i]),
                f[i],
                f[i - 1],
                fd[i],
                b[i],
                b[i - 1],
                bd[i],
            );
        }
    }

    /// Learns the frame into the model: at `rate` where the pixel looks
    /// like background, at `still_rate` where it does not (a person, their
    /// shadow, the closed blob around them; all in 1/65536 per frame). A
    /// pixel unlike the model for `absorb` frames in a row is learned at
    /// `rate` again: whatever it is has become part of the scene (a thing
    /// put down; a person standing that long is long counted).
    pub(crate) fn learn(
        &mut self,
        frame: &[u8],
        mask: &[u8],
        rate: i32,
        still_rate: i32,
        absorb: u16,
    ) {
        let t = self.t;
        for (((b, age), &x), &m) in self
            .bg
            .iter_mut()
            .zip(self.age.iter_mut())
            .zip(frame)
            .zip(mask)
        {
            let bi = i32::from(*b);
            let d = (i32::from(x) << 8) - bi;
            let differs = (m != 0) | diff_exceeds(t, x, *b);
            *age = if differs { age.saturating_add(1) } else { 0 };
            let r = if differs && *age <= absorb {
                still_rate
            } else {
                rate
            };
            *b = (bi + ((d * r) >> 16)).clamp(0, 0xff00) as u16;
        }
    }

    pub(crate) fn zeroize(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.bg);
        zeroize::Zeroize::zeroize(&mut self.lo);
        zeroize::Zeroize::zeroize(&mut self.hi);
        zeroize::Zeroize::zeroize(&mut self.scratch);
    }
}

#[inline(always)]
fn diff_exceeds(t: i32, x: u8, b: u16) -> bool {
    let bv = i32::from(b >> 8);
    let d = (i32::from(x) - bv).abs();
    d > t + bv / T_REL_DIV
}

/// One pixel: `x` with its right (or left) neighbour `xr` and lower (or
/// upper) neighbour `xd`, and the same three of the background.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn classify(t: i32, (lo, hi): (u8, u8), x: u8, xr: u8, xd: u8, b: u16, br: u16, bd: u16) -> u8 {
    let xi = i32::from(x);
    let bv = i32::from(b >> 8);
    let d = xi - bv;
    // Distance to the neighbourhood's range of the model.
    let beyond = (i32::from(lo) - xi).max(xi - i32::from(hi)).max(0);
    let fg = beyond > t + bv / T_REL_DIV;
    // Ratio tests without division: x / b within [lo, hi] / 256.
    let x256 = xi << 8;
    let darker = d < 0;
    let in_textured = x256 >= SHADOW_LO_TEXTURED * bv && x256 <= SHADOW_HI * bv;
    let in_plain = x256 >= SHADOW_LO_PLAIN * bv && x256 <= SHADOW_HI * bv;
    let (brv, bdv) = (i32::from(br >> 8), i32::from(bd >> 8));
    let textured = (bv - brv).abs() >= TEXTURE_GRADIENT || (bv - bdv).abs() >= TEXTURE_GRADIENT;
    // Same ratio at the neighbours: x * b' == x' * b, within 1/8 and noise.
    let (xrv, xdv) = (i32::from(xr), i32::from(xd));
    let same_r = (xi * brv - xrv * bv).abs() <= ((xi * brv) >> 3) + TEXTURE_NOISE * (bv + brv);
    let same_d = (xi * bdv - xdv * bv).abs() <= ((xi * bdv) >> 3) + TEXTURE_NOISE * (bv + bdv);
    let shadow =
        darker && ((textured && same_r && same_d && in_textured) || (!textured && in_plain));
    if fg && !shadow { 255 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_foreground_a_shadow_on_texture_is_not() {
        // A textured floor: columns alternate 120 and 180.
        let w = 16;
        let floor: Vec<u8> = (0..w * 8)
            .map(|i| if i % 2 == 0 { 120 } else { 180 })
            .collect();
        let mut bg = Background::new(w, 8);
        bg.reset(&floor);
        // A shadow: the floor at 0.7 of its light, texture kept.
        let shadow: Vec<u8> = floor
            .iter()
            .map(|&p| (u32::from(p) * 7 / 10) as u8)
            .collect();
        let mut mask = vec![0; w * 8];
        bg.segment(&shadow, &mut mask);
        assert!(mask.iter().all(|&m| m == 0), "a shadow is not foreground");
        // A person in plain dark clothes, as dark as a deep shadow.
        let person = vec![60u8; w * 8];
        bg.segment(&person, &mut mask);
        assert!(mask.iter().filter(|&&m| m == 255).count() > w * 6);
        // Unchanged: background.
        bg.segment(&floor, &mut mask);
        assert!(mask.iter().all(|&m| m == 0));
    }

    #[test]
    fn on_plain_background_only_a_mild_darkening_is_a_shadow() {
        let wall = vec![200u8; 64];
        let mut bg = Background::new(8, 8);
        bg.reset(&wall);
        let mut mask = vec![0; 64];
        bg.segment(&[160u8; 64], &mut mask);
        assert!(mask.iter().all(|&m| m == 0));
        bg.segment(&[100u8; 64], &mut mask);
        assert!(mask.iter().all(|&m| m == 255));
    }

    #[test]
    fn the_gain_follows_the_light_and_not_a_person() {
        let mut bg = Background::new(40, 40);
        bg.reset(&vec![100u8; 1600]);
        let mut frame = vec![150u8; 1600];
        // A third of the picture covered by someone dark.
        frame[..530].fill(20);
        assert_eq!(bg.gain(&frame), 192);
        bg.rescale(192);
        assert_eq!(bg.bg[800] >> 8, 150);
    }

    #[test]
    fn learning_is_slow_under_the_mask() {
        let mut bg = Background::new(3, 1);
        bg.reset(&[100, 100, 100]);
        for _ in 0..100 {
            bg.learn(&[104, 200, 200], &[0, 0, 255], 1311, 22, 150);
        }
        let v = |b: &Background, i: usize| b.bg[i] >> 8;
        assert!(v(&bg, 0) >= 103, "learned: {}", v(&bg, 0));
        assert!(v(&bg, 1) < 106, "a shadow kept out: {}", v(&bg, 1));
        assert!(v(&bg, 2) < 106, "a person kept out: {}", v(&bg, 2));
        // Beyond `absorb` frames: part of the scene.
        for _ in 0..100 {
            bg.learn(&[104, 200, 200], &[0, 0, 255], 1311, 22, 150);
        }
        assert!(
            v(&bg, 1) > 150 && v(&bg, 2) > 150,
            "absorbed: {} {}",
            v(&bg, 1),
            v(&bg, 2)
        );
    }
}
