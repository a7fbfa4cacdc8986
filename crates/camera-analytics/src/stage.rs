//! The camera's capture stage: a raw image in, its features out.
//!
//! Per frame: the image is box-downsampled to the internal resolution
//! (about 180 rows or more) and fingerprinted, then dropped; the internal
//! frame is compared with the adaptive background (global gain first,
//! shadows apart), the mask opened and closed, its components joined into
//! blobs, and the frame's pixels cleared; the blobs go to the tracker.
//! Between frames the stage keeps the background model, the tracks and
//! the health baselines, never a frame.

use vitrine_privacy::RawImage;

use crate::background::Background;
use crate::blobs::{Blob, Labeller, merge_fragments};
use crate::geometry::Geometry;
use crate::health::{self, Monitor, Stats};
use crate::pixels;
use crate::tracker::{Params, Tracker};
use crate::{CameraObservation, CameraSettings, Health};

/// Blobs smaller than this share of the internal picture are noise (a
/// person seen from above far from the camera covers about 0.3 %; one
/// dressed in the floor's shade may show only their head, a tenth of it).
const MIN_AREA_SHARE: f32 = 0.0003;
/// Fragments one above the other within this share of the taller one's
/// height are one person.
const MERGE_GAP: f32 = 0.35;
/// Fragments one above the other that together are no taller than this
/// many heights of a whole person are one person.
const PERSON_MARGIN: f32 = 1.2;
/// Fragments whose boxes come this close (share of the picture's height)
/// are one person.
const MERGE_TOUCH: f32 = 0.01;
/// Background learning: a pixel that looks like background follows the
/// scene with a time constant of 5 s (slow light changes, things moved);
/// one under a person's blob with 300 s, so that a person who stops for
/// minutes is still there (a tenth learned after 30 s).
const LEARN_S: f32 = 5.0;
const STILL_LEARN_S: f32 = 300.0;
/// A pixel unlike the model for a minute on end is part of the scene
/// (people stop for seconds to tens of seconds).
const ABSORB_S: f32 = 60.0;
/// After a sudden change of the light (gain beyond 10 %), a second of fast
/// learning (0.25 s time constant) of what is not foreground, for the
/// parts of the picture the global gain did not fit.
const FAST_LEARN_S: f32 = 0.25;
const SUDDEN_GAIN: u32 = 13; // in 1/128
/// The global gain is applied to the model when it is off by 2 % or more.
const GAIN_STEP: u32 = 3; // in 1/128
/// Most of the picture foreground for this long (seconds): the scene
/// changed as a whole (camera moved, light changed unevenly): the model
/// starts again from the current frame and the tracks are dropped.
const RESET_AFTER_S: f32 = 2.0;

/// Turns frames into observations; keeps the background model and the
/// tracks between frames (never a frame itself).
#[derive(Debug)]
pub struct CameraStage {
    settings: CameraSettings,
    state: Option<State>,
}

/// Everything sized by the picture.
struct State {
    full: (u32, u32),
    factor: usize,
    w: usize,
    /// Per-frame buffers: the internal frame, the mask and scratch; cleared
    /// after every frame and zeroized on drop.
    small: Vec<u8>,
    mask: Vec<u8>,
    t1: Vec<u8>,
    t2: Vec<u8>,
    acc: Vec<u32>,
    sums: Vec<u16>,
    bg: Background,
    labeller: Labeller,
    blobs: Vec<Blob>,
    tracker: Tracker,
    geom: Geometry,
    monitor: Monitor,
    fps: f32,
    fast_frames: u32,
    upset: u32,
    /// The last analysed frame's statistics, share of foreground and
    /// occupancy, for the frames that repeat it.
    last: (Stats, f32, u32),
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "State({}x{}, <redacted>)", self.full.0, self.full.1)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.small.zeroize();
        self.mask.zeroize();
        self.t1.zeroize();
        self.t2.zeroize();
        self.acc.zeroize();
        self.sums.zeroize();
        self.bg.zeroize();
    }
}

impl State {
    fn new(settings: &CameraSettings, width: u32, height: u32) -> State {
        let (fw, fh) = (width as usize, height as usize);
        let factor = pixels::factor_for(fw, fh);
        let (w, h) = ((fw / factor).max(1), (fh / factor).max(1));
        let fps = if settings.fps.is_finite() && settings.fps > 0.0 {
            settings.fps
        } else {
            10.0
        };
        State {
            full: (width, height),
            factor,
            w,
            small: vec![0; w * h],
            mask: vec![0; w * h],
            t1: vec![0; w * h],
            t2: vec![0; w * h],
            acc: vec![0; w],
            sums: vec![0; w * h],
            bg: Background::new(w, h),
            labeller: Labeller::default(),
            blobs: Vec::new(),
            tracker: Tracker::new(Params::new(fps, h as f32)),
            geom: Geometry::new(settings, w, h),
            monitor: Monitor::new(fps),
            fps,
            fast_frames: 0,
            upset: 0,
            last: (Stats::default(), 0.0, 0),
        }
    }

    fn rate(&self, seconds: f32) -> i32 {
        ((65536.0 / (seconds * self.fps)).round() as i32).clamp(1, 32768)
    }
}

impl CameraStage {
    pub fn new(settings: CameraSettings) -> Self {
        CameraStage {
            settings,
            state: None,
        }
    }

    /// The frame's features. The image is consumed: it is dropped (and so
    /// zeroized) as soon as it is downsampled and fingerprinted, and the
    /// internal frame and mask made from it are cleared before this
    /// returns; only counts and grid cells leave.
    pub fn process(&mut self, image: RawImage) -> CameraObservation {
        let (width, height) = (image.width(), image.height());
        if width == 0 || height == 0 {
            return CameraObservation::default();
        }
        if self
            .state
            .as_ref()
            .is_none_or(|s| s.full != (width, height))
        {
            self.state = Some(State::new(&self.settings, width, height));
        }
        let st = self.state.as_mut().unwrap();
        let print = pixels::fingerprint(image.luma());
        if st.monitor.repeats(print) {
            // The source repeated its last buffer (a driver or a loop
            // that shows a frame again): nothing moved, so nothing is
            // learnt or tracked; it still counts towards a frozen source.
            drop(image);
            let (stats, fg_share, occupancy) = st.last;
            return CameraObservation {
                occupancy,
                health: st.monitor.check(print, stats, fg_share),
                ..CameraObservation::default()
            };
        }
        pixels::downsample(
            image.luma(),
            width as usize,
            st.factor,
            &mut st.small,
            &mut st.acc,
        );
        drop(image);

        let stats = health::stats(&st.small, st.w);
        pixels::box3(&mut st.small, &mut st.sums, st.w);
        let fg_share = features(st);
        // Nothing of the frame stays until the next one.
        st.small.fill(0);
        st.sums.fill(0);
        st.mask.fill(0);
        st.t1.fill(0);
        st.t2.fill(0);
        let health: Health = st.monitor.check(print, stats, fg_share);

        let blobs = std::mem::take(&mut st.blobs);
        let counts = st.tracker.update(&blobs, &st.geom);
        st.blobs = blobs;
        st.last = (stats, fg_share, counts.occupancy);
        CameraObservation {
            inward: counts.inward,
            outward: counts.outward,
            occupancy: counts.occupancy,
            entered_cells: counts.entered,
            health,
        }
    }
}

/// The internal frame's blobs (into `st.blobs`) and the share of the
/// picture in the foreground; learns the frame into the background.
fn features(st: &mut State) -> f32 {
    st.blobs.clear();
    if st.bg.is_empty() {
        st.bg.reset(&st.small);
        return 0.0;
    }
    let gain = st.bg.gain(&st.small);
    if gain.abs_diff(128) >= GAIN_STEP {
        st.bg.rescale(gain);
        if gain.abs_diff(128) >= SUDDEN_GAIN {
            st.fast_frames = st.fps.round() as u32;
        }
    }
    st.bg.measure_noise(&st.small);
    st.bg.segment(&st.small, &mut st.mask);
    pixels::open_close(&mut st.mask, &mut st.t1, &mut st.t2, st.w);
    let fg = st.mask.iter().filter(|&&m| m != 0).count();
    let share = fg as f32 / st.mask.len() as f32;
    if share > 0.5 {
        // Not people: the picture changed as a whole. Tracks coast; after
        // a while the model starts again.
        st.upset += 1;
        if st.upset as f32 >= RESET_AFTER_S * st.fps {
            st.bg.reset(&st.small);
            st.tracker.clear();
            st.upset = 0;
        }
        return share;
    }
    st.upset = 0;
    let h = st.mask.len() / st.w;
    let min_area = (MIN_AREA_SHARE * st.mask.len() as f32) as u32;
    st.labeller.label(&st.mask, st.w, min_area, &mut st.blobs);
    let person_h = PERSON_MARGIN * st.tracker.person_height();
    merge_fragments(&mut st.blobs, MERGE_GAP, MERGE_TOUCH * h as f32, person_h);
    let rate = if st.fast_frames > 0 {
        st.fast_frames -= 1;
        st.rate(FAST_LEARN_S)
    } else {
        st.rate(LEARN_S)
    };
    let still = st.rate(STILL_LEARN_S);
    let absorb = (ABSORB_S * st.fps).min(f32::from(u16::MAX - 1)) as u16;
    st.bg.learn(&st.small, &st.mask, rate, still, absorb);
    share
}
