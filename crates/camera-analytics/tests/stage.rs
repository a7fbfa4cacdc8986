//! The stage on small hand-made frames: a textured background with sensor
//! noise, bright squares moving on it.

use vitrine_camera_analytics::{
    CameraObservation, CameraSettings, CameraStage, CountingLine, Point,
};
use vitrine_privacy::RawImage;

const W: usize = 160;
const H: usize = 120;

/// A frame maker: a fixed texture (blocks of 3 x 3 pixels of 80..170)
/// plus fresh noise (0..3) per frame, as a live sensor gives.
struct Scene {
    texture: Vec<u8>,
    seed: u64,
}

impl Scene {
    fn new() -> Scene {
        let mut seed = 0x1234_5678_u64;
        let blocks: Vec<u8> = (0..W * H / 9 + W)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                80 + ((seed >> 33) % 90) as u8
            })
            .collect();
        let texture = (0..W * H)
            .map(|i| blocks[(i / W / 3) * (W / 3 + 1) + (i % W) / 3])
            .collect();
        Scene { texture, seed }
    }

    fn noise(&mut self) -> u8 {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.seed >> 40) % 4) as u8
    }

    /// The background with bright squares (`x`, `y` their top left
    /// corner, `side` pixels).
    fn frame(&mut self, squares: &[(i32, i32, i32)]) -> RawImage {
        let mut img = RawImage::zeroed(W as u32, H as u32);
        let px = img.luma_mut();
        for (i, p) in px.iter_mut().enumerate() {
            *p = self.texture[i];
        }
        for p in px.iter_mut() {
            *p += self.noise();
        }
        for &(x0, y0, side) in squares {
            for y in y0.max(0)..(y0 + side).min(H as i32) {
                for x in x0.max(0)..(x0 + side).min(W as i32) {
                    px[y as usize * W + x as usize] = 230;
                }
            }
        }
        img
    }
}

fn p(x: f32, y: f32) -> Point {
    Point { x, y }
}

/// A horizontal line across the middle, inward upwards.
fn line_settings() -> CameraSettings {
    CameraSettings {
        line: Some(CountingLine {
            a: p(0.0, 0.5),
            b: p(1.0, 0.5),
            inside: p(0.5, 0.0),
        }),
        ..CameraSettings::default()
    }
}

/// Runs the stage over a path of square positions (after ten empty frames
/// to learn the background) and sums what it saw.
fn run(
    settings: CameraSettings,
    path: &[Vec<(i32, i32, i32)>],
) -> (u32, u32, Vec<CameraObservation>) {
    let mut stage = CameraStage::new(settings);
    let mut scene = Scene::new();
    let mut obs = Vec::new();
    for _ in 0..10 {
        obs.push(stage.process(scene.frame(&[])));
    }
    for squares in path {
        obs.push(stage.process(scene.frame(squares)));
    }
    for _ in 0..10 {
        obs.push(stage.process(scene.frame(&[])));
    }
    let inward = obs.iter().map(|o| o.inward).sum();
    let outward = obs.iter().map(|o| o.outward).sum();
    (inward, outward, obs)
}

/// A square of `side` at column `x` from row `from` to row `to`, 3 rows a
/// frame.
fn vertical(x: i32, from: i32, to: i32, side: i32) -> Vec<Vec<(i32, i32, i32)>> {
    let step = if to > from { 3 } else { -3 };
    let n = (to - from) / step;
    (0..=n).map(|k| vec![(x, from + k * step, side)]).collect()
}

#[test]
fn a_square_moving_up_across_the_line_is_one_inward() {
    let (i, o, _) = run(line_settings(), &vertical(70, 100, 10, 16));
    assert_eq!((i, o), (1, 0));
}

#[test]
fn a_square_moving_down_across_the_line_is_one_outward() {
    let (i, o, _) = run(line_settings(), &vertical(70, 5, 100, 16));
    assert_eq!((i, o), (0, 1));
}

#[test]
fn two_squares_side_by_side_are_two() {
    let path: Vec<_> = vertical(40, 100, 10, 16)
        .into_iter()
        .map(|v| vec![v[0], (v[0].0 + 50, v[0].1, 16)])
        .collect();
    let (i, o, obs) = run(line_settings(), &path);
    assert_eq!((i, o), (2, 0));
    assert_eq!(obs.iter().map(|o| o.occupancy).max(), Some(2));
}

#[test]
fn a_square_that_stops_before_the_line_and_goes_back_is_none() {
    let mut path = vertical(70, 100, 55, 16);
    path.extend(std::iter::repeat_n(vec![(70, 55, 16)], 10));
    path.extend(vertical(70, 55, 100, 16));
    let (i, o, obs) = run(line_settings(), &path);
    assert_eq!((i, o), (0, 0));
    assert!(obs.iter().any(|o| o.occupancy == 1), "it was seen");
}

#[test]
fn a_square_standing_forty_seconds_is_present_throughout() {
    // Walks in, stands 40 s (400 frames at 10 frames/s), walks on.
    let mut path = vertical(70, 100, 70, 16);
    path.extend(std::iter::repeat_n(vec![(70, 70, 16)], 400));
    path.extend(vertical(70, 70, 10, 16));
    let (i, o, obs) = run(CameraSettings::default(), &path);
    assert_eq!((i, o), (0, 0), "no line");
    // From its confirmation to the end of its path.
    let present = &obs[10 + 3..10 + path.len()];
    assert!(present.iter().all(|o| o.occupancy == 1));
    assert!(
        obs[..10]
            .iter()
            .chain(&obs[obs.len() - 3..])
            .all(|o| o.occupancy == 0)
    );
}

#[test]
fn jitter_on_the_line_counts_once() {
    // Up to the line (centre on row 60), then up and down across it by
    // two pixels, then on up.
    let mut path = vertical(70, 100, 52, 16);
    for k in 0..20 {
        path.push(vec![(70, 50 + 2 * (k % 3), 16)]);
    }
    path.extend(vertical(70, 44, 5, 16));
    let (i, o, _) = run(line_settings(), &path);
    assert_eq!((i, o), (1, 0));
}

#[test]
fn occupancy_counts_squares_inside_the_region_only() {
    let region = CameraSettings {
        region: Some(vec![p(0.0, 0.0), p(0.5, 0.0), p(0.5, 1.0), p(0.0, 1.0)]),
        ..CameraSettings::default()
    };
    // One square standing in the left half, one in the right half.
    let path = vec![vec![(20, 50, 16), (120, 50, 16)]; 15];
    let (_, _, obs) = run(region.clone(), &path);
    let during = &obs[15..25];
    assert!(during.iter().all(|o| o.occupancy == 1), "{during:?}");
    // Without a region: both.
    let (_, _, obs) = run(CameraSettings::default(), &path);
    assert!(obs[15..25].iter().all(|o| o.occupancy == 2));
    // And nobody before or long after.
    assert!(obs[..10].iter().all(|o| o.occupancy == 0));
    assert_eq!(obs.last().unwrap().occupancy, 0);
}

#[test]
fn heat_cells_are_entered_once_each() {
    // 16 x 12 grid on 160 x 120: cells of 10 x 10. A square in the middle of
    // row 5 walking right from column 2 to column 12, 2 pixels a frame,
    // then standing.
    let mut path: Vec<_> = (0..=50).map(|k| vec![(17 + 2 * k, 52, 6)]).collect();
    path.extend(std::iter::repeat_n(vec![(117, 52, 6)], 10));
    let (_, _, obs) = run(CameraSettings::default(), &path);
    let cells: Vec<u16> = obs.iter().flat_map(|o| o.entered_cells.clone()).collect();
    // Confirmed after three frames at x 21..25 (column 2); then each
    // column once up to 12 (centre 120).
    let want: Vec<u16> = (2..=12).map(|c| 5 * 16 + c).collect();
    assert_eq!(cells, want);
}

mod health {
    use super::*;
    use vitrine_camera_analytics::Health;

    fn healths(frames: impl IntoIterator<Item = RawImage>) -> Vec<Health> {
        let mut stage = CameraStage::new(CameraSettings::default());
        frames
            .into_iter()
            .map(|f| stage.process(f).health)
            .collect()
    }

    fn image(f: impl Fn(usize, usize) -> u8) -> RawImage {
        let mut img = RawImage::zeroed(W as u32, H as u32);
        for (i, p) in img.luma_mut().iter_mut().enumerate() {
            *p = f(i % W, i / W);
        }
        img
    }

    #[test]
    fn a_normal_scene_is_healthy() {
        let mut scene = Scene::new();
        let hs = healths((0..40).map(|k| scene.frame(&[(k * 3, 40, 16)])));
        assert!(hs.iter().all(|h| *h == Health::default()), "{hs:?}");
    }

    #[test]
    fn frozen_after_a_second_of_identical_frames() {
        let mut scene = Scene::new();
        let still = scene.texture.clone();
        let mut frames: Vec<RawImage> = (0..5).map(|_| scene.frame(&[])).collect();
        frames.extend((0..15).map(|_| image(|x, y| still[y * W + x])));
        let hs = healths(frames);
        assert!(hs[..14].iter().all(|h| !h.frozen));
        assert!(hs[15..].iter().all(|h| h.frozen), "{hs:?}");
        assert!(
            hs.iter()
                .all(|h| !h.dark && !h.covered && !h.blurred && !h.motion)
        );
    }

    #[test]
    fn dark_but_not_covered_in_a_dark_room_with_edges() {
        let mut scene = Scene::new();
        let mut frames: Vec<RawImage> = (0..5).map(|_| scene.frame(&[])).collect();
        // A dim room: mean about 20, strong texture.
        frames.extend((0..5).map(|_| {
            let f = scene.frame(&[]);
            image(|x, y| f.luma()[y * W + x] / 6 + if (x / 8 + y / 8) % 2 == 0 { 0 } else { 12 })
        }));
        let hs = healths(frames);
        assert!(hs[..5].iter().all(|h| !h.dark));
        assert!(
            hs[5..].iter().all(|h| h.dark && !h.covered && !h.frozen),
            "{hs:?}"
        );
    }

    #[test]
    fn covered_when_dark_and_featureless() {
        let mut scene = Scene::new();
        let mut frames: Vec<RawImage> = (0..5).map(|_| scene.frame(&[])).collect();
        frames.extend((0..5).map(|k| image(|x, y| 3 + ((x * 7 + y * 13 + k) % 3) as u8)));
        let hs = healths(frames);
        assert!(hs[..5].iter().all(|h| !h.covered));
        assert!(hs[5..].iter().all(|h| h.covered && h.dark), "{hs:?}");
    }

    #[test]
    fn blurred_when_the_edges_go() {
        let mut scene = Scene::new();
        let mut frames: Vec<RawImage> = (0..20).map(|_| scene.frame(&[])).collect();
        // The same scene through a 9 x 9 box blur.
        frames.extend((0..5).map(|_| {
            let f = scene.frame(&[]);
            let l = f.luma();
            image(|x, y| {
                let mut s = 0u32;
                let mut n = 0u32;
                for yy in y.saturating_sub(4)..(y + 5).min(H) {
                    for xx in x.saturating_sub(4)..(x + 5).min(W) {
                        s += u32::from(l[yy * W + xx]);
                        n += 1;
                    }
                }
                (s / n) as u8
            })
        }));
        let hs = healths(frames);
        assert!(hs[..20].iter().all(|h| !h.blurred));
        assert!(hs[20..].iter().all(|h| h.blurred && !h.dark), "{hs:?}");
    }

    #[test]
    fn motion_when_most_of_the_picture_changes() {
        let mut scene = Scene::new();
        let mut frames: Vec<RawImage> = (0..10).map(|_| scene.frame(&[])).collect();
        // Something large and patterned right in front of the lens
        // (dark, mid-grey and bright squares: the light overall the same).
        let levels = [20, 125, 250];
        frames.extend((0..3).map(|_| image(|x, y| levels[(x / 6 + y / 6) % 3])));
        let hs = healths(frames);
        assert!(hs[..10].iter().all(|h| !h.motion));
        assert!(hs[10..].iter().all(|h| h.motion), "{hs:?}");
    }
}
