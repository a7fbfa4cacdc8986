//! The settings' line, region and grid in internal pixels.

use crate::{CameraSettings, CountingLine, Point};

/// The counting line in internal pixels, oriented so that the signed
/// distance is positive on the inward side.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    ax: f32,
    ay: f32,
    /// Unit direction a to b.
    ux: f32,
    uy: f32,
    len: f32,
    /// +1 or -1: the side of `inside`.
    sign: f32,
}

impl Line {
    fn new(l: &CountingLine, w: f32, h: f32) -> Option<Line> {
        let (ax, ay, bx, by) = (l.a.x * w, l.a.y * h, l.b.x * w, l.b.y * h);
        let len = (bx - ax).hypot(by - ay);
        if len < 1e-3 {
            return None;
        }
        let (ux, uy) = ((bx - ax) / len, (by - ay) / len);
        let (ix, iy) = (l.inside.x * w, l.inside.y * h);
        let side = ux * (iy - ay) - uy * (ix - ax);
        let sign = if side >= 0.0 { 1.0 } else { -1.0 };
        Some(Line {
            ax,
            ay,
            ux,
            uy,
            len,
            sign,
        })
    }

    /// Signed distance of a point (positive inward) and its position along
    /// the segment (0 at a, 1 at b).
    pub(crate) fn locate(&self, x: f32, y: f32) -> (f32, f32) {
        let (dx, dy) = (x - self.ax, y - self.ay);
        let d = (self.ux * dy - self.uy * dx) * self.sign;
        let t = (self.ux * dx + self.uy * dy) / self.len;
        (d, t)
    }
}

/// Everything the tracker needs to know about the picture.
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    pub w: f32,
    pub h: f32,
    pub line: Option<Line>,
    /// The region in internal pixels.
    region: Option<Vec<(f32, f32)>>,
    cols: u16,
    rows: u16,
}

impl Geometry {
    pub(crate) fn new(s: &CameraSettings, w: usize, h: usize) -> Geometry {
        let (w, h) = (w as f32, h as f32);
        Geometry {
            w,
            h,
            line: s.line.as_ref().and_then(|l| Line::new(l, w, h)),
            region: s
                .region
                .as_ref()
                .filter(|r| r.len() >= 3)
                .map(|r| r.iter().map(|p: &Point| (p.x * w, p.y * h)).collect()),
            cols: s.grid_cols.max(1),
            rows: s.grid_rows.max(1),
        }
    }

    /// Whether a point is in the occupancy region (even-odd rule).
    pub(crate) fn in_region(&self, x: f32, y: f32) -> bool {
        let Some(poly) = &self.region else {
            return true;
        };
        let mut inside = false;
        let mut j = poly.len() - 1;
        for i in 0..poly.len() {
            let (xi, yi) = poly[i];
            let (xj, yj) = poly[j];
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// The heat grid cell of a point.
    pub(crate) fn cell(&self, x: f32, y: f32) -> u16 {
        let c = ((x / self.w * f32::from(self.cols)) as i32).clamp(0, i32::from(self.cols) - 1);
        let r = ((y / self.h * f32::from(self.rows)) as i32).clamp(0, i32::from(self.rows) - 1);
        r as u16 * self.cols + c as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f32, y: f32) -> Point {
        Point { x, y }
    }

    #[test]
    fn the_inward_side_is_positive() {
        let l = CountingLine {
            a: p(0.0, 0.5),
            b: p(1.0, 0.5),
            inside: p(0.5, 0.1),
        };
        let line = Line::new(&l, 100.0, 100.0).unwrap();
        let (d, t) = line.locate(25.0, 40.0);
        assert!((d - 10.0).abs() < 1e-4 && (t - 0.25).abs() < 1e-4);
        assert!(line.locate(25.0, 60.0).0 < 0.0);
        // The same line given the other way round.
        let l = CountingLine {
            a: p(1.0, 0.5),
            b: p(0.0, 0.5),
            inside: p(0.5, 0.1),
        };
        assert!(Line::new(&l, 100.0, 100.0).unwrap().locate(25.0, 40.0).0 > 0.0);
    }

    #[test]
    fn points_inside_and_outside_a_polygon() {
        let s = CameraSettings {
            region: Some(vec![
                p(0.1, 0.1),
                p(0.6, 0.1),
                p(0.6, 0.3),
                p(0.3, 0.3),
                p(0.3, 0.8),
                p(0.1, 0.8),
            ]),
            ..CameraSettings::default()
        };
        let g = Geometry::new(&s, 100, 100);
        assert!(g.in_region(20.0, 50.0));
        assert!(g.in_region(50.0, 20.0));
        assert!(!g.in_region(50.0, 50.0), "in the L's notch");
        assert!(!g.in_region(5.0, 5.0));
        assert!(Geometry::new(&CameraSettings::default(), 100, 100).in_region(99.0, 99.0));
    }

    #[test]
    fn cells_are_row_major() {
        let g = Geometry::new(&CameraSettings::default(), 160, 120);
        assert_eq!(g.cell(0.0, 0.0), 0);
        assert_eq!(g.cell(159.9, 0.0), 15);
        assert_eq!(g.cell(15.0, 15.0), 17);
        assert_eq!(g.cell(200.0, 200.0), 191);
    }
}
