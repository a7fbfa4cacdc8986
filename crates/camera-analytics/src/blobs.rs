//! Connected components of the foreground mask, by runs: each row's runs
//! of foreground joined (8-connected) to the runs of the row above by a
//! union-find, then summed per component.

/// A blob in internal pixels: area, bounding box (`x1`, `y1` exclusive)
/// and centroid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Blob {
    pub area: u32,
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
    pub cx: f32,
    pub cy: f32,
}

impl Blob {
    pub(crate) fn width(&self) -> f32 {
        (self.x1 - self.x0) as f32
    }

    pub(crate) fn height(&self) -> f32 {
        (self.y1 - self.y0) as f32
    }

    fn absorb(&mut self, o: &Blob) {
        let a = (self.area + o.area) as f32;
        self.cx = (self.cx * self.area as f32 + o.cx * o.area as f32) / a;
        self.cy = (self.cy * self.area as f32 + o.cy * o.area as f32) / a;
        self.area += o.area;
        self.x0 = self.x0.min(o.x0);
        self.y0 = self.y0.min(o.y0);
        self.x1 = self.x1.max(o.x1);
        self.y1 = self.y1.max(o.y1);
    }
}

#[derive(Default)]
pub(crate) struct Labeller {
    /// Runs: (row, x0, x1 exclusive).
    runs: Vec<(u32, u32, u32)>,
    parent: Vec<u32>,
    sums: Vec<(u64, u64, u32, u32, u32, u32, u32)>,
}

impl Labeller {
    fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let p = self.parent[i as usize];
            self.parent[i as usize] = self.parent[p as usize];
            i = p;
        }
        i
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }

    /// The components of a 0/255 mask `w` wide with at least `min_area`
    /// pixels, appended to `out`.
    pub(crate) fn label(&mut self, mask: &[u8], w: usize, min_area: u32, out: &mut Vec<Blob>) {
        self.runs.clear();
        self.parent.clear();
        let mut prev = 0..0; // runs of the row above
        for (y, row) in mask.chunks_exact(w).enumerate() {
            let start = self.runs.len();
            let mut x = 0;
            while x < w {
                // Skip background eight bytes at a time.
                while x + 8 <= w && u64::from_ne_bytes(row[x..x + 8].try_into().unwrap()) == 0 {
                    x += 8;
                }
                while x < w && row[x] == 0 {
                    x += 1;
                }
                if x >= w {
                    break;
                }
                let x0 = x;
                while x < w && row[x] != 0 {
                    x += 1;
                }
                self.runs.push((y as u32, x0 as u32, x as u32));
                self.parent.push((self.runs.len() - 1) as u32);
            }
            // Join with the runs above that touch (diagonals included).
            let mut j = prev.start;
            for i in start..self.runs.len() {
                let (_, a0, a1) = self.runs[i];
                while j < prev.end && self.runs[j].2 < a0 {
                    j += 1;
                }
                let mut k = j;
                while k < prev.end && self.runs[k].1 <= a1 {
                    self.union(i as u32, k as u32);
                    k += 1;
                }
            }
            prev = start..self.runs.len();
        }
        // Sums per root.
        self.sums.clear();
        self.sums
            .resize(self.runs.len(), (0, 0, 0, u32::MAX, u32::MAX, 0, 0));
        for i in 0..self.runs.len() {
            let r = self.find(i as u32) as usize;
            let (y, x0, x1) = self.runs[i];
            let len = u64::from(x1 - x0);
            let s = &mut self.sums[r];
            s.0 += (u64::from(x0) + u64::from(x1) - 1) * len; // twice the sum of x
            s.1 += u64::from(y) * len;
            s.2 += len as u32;
            s.3 = s.3.min(x0);
            s.4 = s.4.min(y);
            s.5 = s.5.max(x1);
            s.6 = s.6.max(y + 1);
        }
        for s in &self.sums {
            if s.2 >= min_area.max(1) {
                out.push(Blob {
                    area: s.2,
                    x0: s.3,
                    y0: s.4,
                    x1: s.5,
                    y1: s.6,
                    cx: s.0 as f32 / (2 * s.2) as f32 + 0.5,
                    cy: s.1 as f32 / s.2 as f32 + 0.5,
                });
            }
        }
    }
}

/// Fragments of one person joined: two blobs whose boxes overlap across
/// (at least half the narrower width) and lie one above the other within
/// `gap_frac` of the taller height (legs and torso split by a belt or a
/// bag of the background's colour) or together no taller than `person_h`
/// (head and legs of someone dressed like the wall behind them), or whose
/// boxes nearly touch (`touch` pixels). Side by side people stay apart
/// (their boxes do not overlap across).
pub(crate) fn merge_fragments(blobs: &mut Vec<Blob>, gap_frac: f32, touch: f32, person_h: f32) {
    loop {
        let mut merged = false;
        'outer: for i in 0..blobs.len() {
            for j in i + 1..blobs.len() {
                let (a, b) = (&blobs[i], &blobs[j]);
                let overlap_x = a.x1.min(b.x1) as f32 - a.x0.max(b.x0) as f32;
                let gap_y = a.y0.max(b.y0) as f32 - a.y1.min(b.y1) as f32;
                let gap_x = -overlap_x;
                let union_h = (a.y1.max(b.y1) - a.y0.min(b.y0)) as f32;
                let stacked = overlap_x >= 0.5 * a.width().min(b.width())
                    && (gap_y <= gap_frac * a.height().max(b.height()) || union_h <= person_h);
                let touching = gap_x <= touch && gap_y <= touch;
                if stacked || touching {
                    let b = blobs.swap_remove(j);
                    blobs[i].absorb(&b);
                    merged = true;
                    break 'outer;
                }
            }
        }
        if !merged {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(mask: &mut [u8], w: usize, x0: usize, y0: usize, side: usize) {
        for y in y0..y0 + side {
            mask[y * w + x0..y * w + x0 + side].fill(255);
        }
    }

    #[test]
    fn components_have_area_box_and_centroid() {
        let w = 20;
        let mut mask = vec![0u8; w * 20];
        square(&mut mask, w, 2, 3, 4);
        square(&mut mask, w, 12, 10, 6);
        mask[19 * w + 19] = 255; // too small
        let mut blobs = Vec::new();
        Labeller::default().label(&mask, w, 2, &mut blobs);
        blobs.sort_by_key(|b| b.area);
        assert_eq!(blobs.len(), 2);
        assert_eq!(
            (
                blobs[0].area,
                blobs[0].x0,
                blobs[0].y0,
                blobs[0].x1,
                blobs[0].y1
            ),
            (16, 2, 3, 6, 7)
        );
        assert_eq!((blobs[0].cx, blobs[0].cy), (4.0, 5.0));
        assert_eq!((blobs[1].area, blobs[1].cx, blobs[1].cy), (36, 15.0, 13.0));
    }

    #[test]
    fn a_u_shape_and_a_diagonal_are_one_component_each() {
        let w = 10;
        let mut mask = vec![0u8; w * 10];
        for y in 0..5 {
            mask[y * w + 1] = 255;
            mask[y * w + 5] = 255;
        }
        mask[5 * w + 1..5 * w + 6].fill(255);
        mask[7 * w + 8] = 255;
        mask[8 * w + 9] = 255;
        let mut blobs = Vec::new();
        Labeller::default().label(&mask, w, 1, &mut blobs);
        blobs.sort_by_key(|b| b.area);
        assert_eq!(
            blobs.iter().map(|b| b.area).collect::<Vec<_>>(),
            vec![2, 15]
        );
    }

    #[test]
    fn stacked_fragments_merge_and_side_by_side_ones_do_not() {
        let mk = |x0, y0, x1, y1| Blob {
            area: (x1 - x0) * (y1 - y0),
            x0,
            y0,
            x1,
            y1,
            cx: (x0 + x1) as f32 / 2.0,
            cy: (y0 + y1) as f32 / 2.0,
        };
        // Torso above legs with a gap of 4: one person.
        let mut blobs = vec![mk(10, 10, 20, 30), mk(11, 34, 19, 50)];
        merge_fragments(&mut blobs, 0.3, 2.0, 0.0);
        assert_eq!(blobs.len(), 1);
        assert_eq!((blobs[0].y0, blobs[0].y1), (10, 50));
        // Two people side by side, 6 apart: two.
        let mut blobs = vec![mk(10, 10, 20, 50), mk(26, 10, 36, 50)];
        merge_fragments(&mut blobs, 0.3, 2.0, 100.0);
        assert_eq!(blobs.len(), 2);
        // A head far above the legs: one person when people are that tall.
        let mut blobs = vec![mk(12, 0, 18, 8), mk(10, 30, 20, 50)];
        merge_fragments(&mut blobs, 0.3, 2.0, 40.0);
        assert_eq!(blobs.len(), 2);
        merge_fragments(&mut blobs, 0.3, 2.0, 55.0);
        assert_eq!(blobs.len(), 1);
    }
}
