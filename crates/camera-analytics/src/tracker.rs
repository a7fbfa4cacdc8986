//! Blobs followed across frames: association by predicted position,
//! confirmation, coasting, groups, and the counting line's crossings.
//!
//! Tracks hold positions in internal pixels and live only inside the
//! stage: what leaves it are counts and grid cells.

use crate::blobs::Blob;
use crate::geometry::Geometry;

/// A track joins a blob another track has when it had at least this share
/// of the blob's area alone (two people walking into each other have about
/// half each; a fragment of a person a few per cent).
const JOIN_SHARE: f32 = 0.2;
/// A new blob smaller than this share of a confirmed track's area, its
/// centre within this share of the track's box width and height from the
/// track's centre, is a fragment of it.
const FRAGMENT_SHARE: f32 = 0.5;
const FRAGMENT_REACH: f32 = 0.75;

/// A track is confirmed only once its blob is at least this share of a
/// whole person's area (a sliver left on an edge by a shaken picture or a
/// ghost is not a person; someone walking in grows past it in frames).
const CONFIRM_SHARE: f32 = 0.1;

/// A blob of one track is taken for several people once its area is this
/// many times one person's (a person's own blob varies by a third with
/// arms, pose and place in the picture; two side by side make twice), and
/// only after this many blobs of one person alone were measured.
const MERGED_AREA: f32 = 1.7;
const SINGLE_SAMPLES: u32 = 50;

/// How many people a blob's area makes: one, unless it is well beyond
/// `single_a`, the area of one person alone (people walking together so
/// close that their blobs merged).
fn people(b: &Blob, single_a: f32, single_n: u32) -> f32 {
    let a = b.area as f32;
    if single_n >= SINGLE_SAMPLES && a >= MERGED_AREA * single_a {
        a / single_a
    } else {
        1.0
    }
}

/// The tracker's constants, from the frame rate and the picture size.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    /// Hits before a track counts (three frames: a flicker of the mask
    /// never lasts that long, a person always does).
    pub confirm_hits: u32,
    /// Frames a confirmed track goes on without a blob (half a second: a
    /// person occluded or lost in the mask for a moment keeps their track,
    /// and so their crossing state).
    pub coast: u32,
    /// Hysteresis of the line's sides, in internal pixels: the centre must
    /// be this far past the line to change side (jitter of the centroid on
    /// the line is a few pixels).
    pub hysteresis: f32,
    /// How far beyond the ends of the segment a crossing still counts, as a
    /// fraction of its length (the centroid of a person walking past the
    /// end of the line is not on the line's extension by chance).
    pub segment_margin: f32,
}

impl Params {
    pub(crate) fn new(fps: f32, h: f32) -> Params {
        let fps = if fps.is_finite() && fps > 0.0 {
            fps
        } else {
            10.0
        };
        Params {
            confirm_hits: 3,
            coast: ((fps * 0.5).round() as u32).max(3),
            hysteresis: (h * 0.02).max(1.0),
            segment_margin: 0.02,
        }
    }
}

#[derive(Debug, Clone)]
struct Track {
    x: f32,
    y: f32,
    vx: f32,
    vy: f32,
    /// Last measured box size.
    w: f32,
    h: f32,
    /// Smoothed blob area while alone in its blob.
    area: f32,
    /// The last blob touched the picture's edge: lost there, the track has
    /// left the picture and does not coast.
    at_edge: bool,
    hits: u32,
    misses: u32,
    confirmed: bool,
    /// People this track stands for.
    people: u32,
    /// Smoothed estimate of `people` from the blob's size.
    people_est: f32,
    /// Side of the line: 1 inward, -1 outward, 0 not yet known.
    side: i8,
    /// Direction of the last crossing counted: a track is counted once per
    /// direction until it has crossed back.
    last_dir: i8,
    /// Crossings made before confirmation, counted when it comes.
    pending: [u32; 2],
    cell: Option<u16>,
}

/// What the tracks give in one frame.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub inward: u32,
    pub outward: u32,
    pub occupancy: u32,
    pub entered: Vec<u16>,
}

#[derive(Debug)]
pub(crate) struct Tracker {
    params: Params,
    /// The height of a whole person in the picture, from confirmed tracks
    /// of one person alone in their blob: up quickly and down slowly, so
    /// that it follows whole people rather than fragments.
    person_h: f32,
    /// The same for the area of a whole person.
    person_a: f32,
    /// The mean area of one person alone (tracks of one person, alone in
    /// their blob and clear of the edges) and how many blobs made it.
    single_a: f32,
    single_n: u32,
    tracks: Vec<Track>,
    /// Scratch: blob index per track, tracks per blob.
    assign: Vec<Option<usize>>,
    share: Vec<u32>,
    pairs: Vec<(f32, usize, usize)>,
}

impl Tracker {
    pub(crate) fn new(params: Params) -> Tracker {
        Tracker {
            params,
            person_h: 0.0,
            person_a: 0.0,
            single_a: 0.0,
            single_n: 0,
            tracks: Vec::new(),
            assign: Vec::new(),
            share: Vec::new(),
            pairs: Vec::new(),
        }
    }

    /// The height of a whole person (0 until one was seen).
    pub(crate) fn person_height(&self) -> f32 {
        self.person_h
    }

    /// Forgets every track (the picture changed as a whole).
    pub(crate) fn clear(&mut self) {
        self.tracks.clear();
    }

    /// One frame's blobs.
    pub(crate) fn update(&mut self, blobs: &[Blob], geom: &Geometry) -> Counts {
        let p = self.params.clone();
        // Predict.
        for t in &mut self.tracks {
            t.x += t.vx;
            t.y += t.vy;
        }
        // Candidate pairs within the gate: near the predicted position, or
        // the prediction inside the blob's box.
        self.pairs.clear();
        for (ti, t) in self.tracks.iter().enumerate() {
            let gate = 0.5 * t.w.max(t.h) + t.vx.hypot(t.vy) + 3.0;
            for (bi, b) in blobs.iter().enumerate() {
                let d = (b.cx - t.x).hypot(b.cy - t.y);
                let inside = t.x >= b.x0 as f32
                    && t.x <= b.x1 as f32
                    && t.y >= b.y0 as f32
                    && t.y <= b.y1 as f32;
                if d <= gate || inside {
                    // Confirmed tracks first, then by distance.
                    let cost = d + if t.confirmed { 0.0 } else { 1e4 };
                    self.pairs.push((cost, ti, bi));
                }
            }
        }
        self.pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.assign.clear();
        self.assign.resize(self.tracks.len(), None);
        self.share.clear();
        self.share.resize(blobs.len(), 0);
        // One to one first.
        for &(_, ti, bi) in &self.pairs {
            if self.assign[ti].is_none() && self.share[bi] == 0 {
                self.assign[ti] = Some(bi);
                self.share[bi] = 1;
            }
        }
        // Then confirmed tracks left over whose prediction lies inside a
        // taken blob join it: people walking into each other make one
        // blob, and both stay counted.
        for &(_, ti, bi) in &self.pairs {
            let t = &self.tracks[ti];
            if self.assign[ti].is_none() && t.confirmed {
                let b = &blobs[bi];
                let inside = t.x >= b.x0 as f32
                    && t.x <= b.x1 as f32
                    && t.y >= b.y0 as f32
                    && t.y <= b.y1 as f32;
                if inside {
                    self.assign[ti] = Some(bi);
                    self.share[bi] += 1;
                }
            }
        }
        // In a shared blob, a track much smaller than the blob was a
        // fragment of the person it belongs to: it ends (the largest track
        // stays in any case).
        for (bi, blob) in blobs.iter().enumerate() {
            if self.share[bi] < 2 {
                continue;
            }
            let min_area = JOIN_SHARE * blob.area as f32;
            let largest = (0..self.tracks.len())
                .filter(|&ti| self.assign[ti] == Some(bi))
                .max_by(|&a, &b| self.tracks[a].area.total_cmp(&self.tracks[b].area));
            for ti in 0..self.tracks.len() {
                if self.assign[ti] == Some(bi)
                    && Some(ti) != largest
                    && self.tracks[ti].area < min_area
                {
                    self.assign[ti] = None;
                    self.share[bi] -= 1;
                    self.tracks[ti].misses = u32::MAX / 2;
                    self.tracks[ti].confirmed = false;
                }
            }
        }
        let mut counts = Counts::default();
        // Update the tracks.
        for ti in 0..self.tracks.len() {
            let t = &mut self.tracks[ti];
            match self.assign[ti] {
                Some(bi) => {
                    let b = &blobs[bi];
                    let (px, py) = (t.x - t.vx, t.y - t.vy);
                    let (mx, my) = if self.share[bi] == 1 {
                        (b.cx, b.cy)
                    } else {
                        // In a group: halfway from the prediction to the
                        // group's centre, so each keeps its own path.
                        (t.x + 0.5 * (b.cx - t.x), t.y + 0.5 * (b.cy - t.y))
                    };
                    t.vx = 0.6 * t.vx + 0.4 * (mx - px);
                    t.vy = 0.6 * t.vy + 0.4 * (my - py);
                    t.x = mx;
                    t.y = my;
                    t.w = b.width();
                    t.h = b.height();
                    t.at_edge =
                        b.x0 == 0 || b.y0 == 0 || b.x1 as f32 >= geom.w || b.y1 as f32 >= geom.h;
                    if self.share[bi] == 1 && t.confirmed && t.people == 1 {
                        let h = b.height();
                        let r = if h > self.person_h { 0.05 } else { 0.0005 };
                        self.person_h += r * (h - self.person_h);
                        let a = b.area as f32;
                        let r = if a > self.person_a { 0.05 } else { 0.0005 };
                        self.person_a += r * (a - self.person_a);
                        if !t.at_edge {
                            self.single_n = self.single_n.saturating_add(1);
                            let r = (1.0 / self.single_n as f32).max(0.01);
                            self.single_a += r * (a - self.single_a);
                        }
                    }
                    if self.share[bi] == 1 {
                        t.area = if t.hits == 0 {
                            b.area as f32
                        } else {
                            0.7 * t.area + 0.3 * b.area as f32
                        };
                    }
                    t.hits += 1;
                    t.misses = 0;
                    let est = people(b, self.person_a.max(self.single_a), self.single_n)
                        / self.share[bi] as f32;
                    t.people_est = if t.hits == 1 {
                        est
                    } else {
                        0.8 * t.people_est + 0.2 * est
                    };
                    // Hysteresis: change only when the estimate is well
                    // past the half-way point.
                    let cur = t.people as f32;
                    if t.people_est > cur + 0.65 || t.people_est < cur - 0.65 {
                        t.people = (t.people_est.round() as u32).max(1);
                    }
                    if !t.confirmed
                        && t.hits >= p.confirm_hits
                        && t.area >= CONFIRM_SHARE * self.person_a
                    {
                        t.confirmed = true;
                        counts.inward += t.pending[0] * t.people;
                        counts.outward += t.pending[1] * t.people;
                    }
                    if let Some(line) = &geom.line {
                        let (d, s) = line.locate(t.x, t.y);
                        let new_side = if d > p.hysteresis {
                            1
                        } else if d < -p.hysteresis {
                            -1
                        } else {
                            t.side
                        };
                        if new_side != t.side {
                            let on_segment = s >= -p.segment_margin && s <= 1.0 + p.segment_margin;
                            if t.side != 0 && on_segment && new_side != t.last_dir {
                                t.last_dir = new_side;
                                let k = usize::from(new_side < 0);
                                if t.confirmed {
                                    if k == 0 {
                                        counts.inward += t.people;
                                    } else {
                                        counts.outward += t.people;
                                    }
                                } else {
                                    t.pending[k] += 1;
                                }
                            }
                            t.side = new_side;
                        }
                    }
                }
                None => {
                    t.misses += 1;
                    t.vx *= 0.8;
                    t.vy *= 0.8;
                }
            }
        }
        // Drop the lost: tentative tracks at their first miss, confirmed
        // ones after coasting, unless last seen at the picture's edge (they
        // walked out).
        self.tracks.retain(|t| {
            if t.confirmed && !t.at_edge {
                t.misses <= p.coast
            } else {
                t.misses == 0
            }
        });
        // New tracks for blobs nobody took, unless the blob is small and
        // near a confirmed track's box (a fragment of that person: feet,
        // a hand).
        for (bi, b) in blobs.iter().enumerate() {
            if self.share.get(bi).copied().unwrap_or(0) > 0 {
                continue;
            }
            let fragment = self.tracks.iter().any(|t| {
                t.confirmed
                    && t.misses == 0
                    && (b.area as f32) < FRAGMENT_SHARE * t.area
                    && (b.cx - t.x).abs() <= FRAGMENT_REACH * t.w
                    && (b.cy - t.y).abs() <= FRAGMENT_REACH * t.h
            });
            if fragment {
                continue;
            }
            let side = geom.line.as_ref().map_or(0, |l| {
                let d = l.locate(b.cx, b.cy).0;
                if d > p.hysteresis {
                    1
                } else if d < -p.hysteresis {
                    -1
                } else {
                    0
                }
            });
            let est = people(b, self.person_a.max(self.single_a), self.single_n);
            self.tracks.push(Track {
                x: b.cx,
                y: b.cy,
                vx: 0.0,
                vy: 0.0,
                w: b.width(),
                h: b.height(),
                area: b.area as f32,
                at_edge: false,
                hits: 1,
                misses: 0,
                confirmed: p.confirm_hits <= 1,
                people: (est.round() as u32).max(1),
                people_est: est,
                side,
                last_dir: 0,
                pending: [0, 0],
                cell: None,
            });
        }
        // Occupancy and heat from confirmed tracks.
        for t in &mut self.tracks {
            if !t.confirmed {
                continue;
            }
            if geom.in_region(t.x, t.y) {
                counts.occupancy += t.people;
            }
            if t.misses == 0 {
                let c = geom.cell(t.x, t.y);
                if t.cell != Some(c) {
                    t.cell = Some(c);
                    counts
                        .entered
                        .extend(std::iter::repeat_n(c, t.people as usize));
                }
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CameraSettings, CountingLine, Point};

    fn blob(cx: f32, cy: f32, w: u32, h: u32) -> Blob {
        let (x0, y0) = ((cx - w as f32 / 2.0) as u32, (cy - h as f32 / 2.0) as u32);
        Blob {
            area: w * h,
            x0,
            y0,
            x1: x0 + w,
            y1: y0 + h,
            cx,
            cy,
        }
    }

    #[test]
    fn a_blob_twice_a_person_is_two_people() {
        let settings = CameraSettings {
            line: Some(CountingLine {
                a: Point { x: 0.0, y: 0.5 },
                b: Point { x: 1.0, y: 0.5 },
                inside: Point { x: 0.5, y: 0.0 },
            }),
            ..CameraSettings::default()
        };
        let geom = Geometry::new(&settings, 100, 100);
        let mut tracker = Tracker::new(Params::new(10.0, 100.0));
        let walk = |w: u32, tracker: &mut Tracker| {
            let (mut inward, mut most) = (0, 0);
            for k in 0..70 {
                let c = tracker.update(&[blob(50.0, 85.0 - k as f32, w, 20)], &geom);
                inward += c.inward;
                most = most.max(c.occupancy);
            }
            for _ in 0..10 {
                tracker.update(&[], &geom);
            }
            (inward, most)
        };
        // One person alone: their area is learnt.
        assert_eq!(walk(10, &mut tracker), (1, 1));
        // Two side by side in one blob.
        assert_eq!(walk(20, &mut tracker), (2, 2));
        // A person a third larger is still one.
        assert_eq!(walk(13, &mut tracker), (1, 1));
    }
}
