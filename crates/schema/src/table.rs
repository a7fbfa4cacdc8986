//! The human-readable view of summaries: one row per window, with the
//! columns of the sensors the summary has ([`Layout`]).

use std::fmt::Write as _;

use crate::Summary;

/// Which sensors' columns a table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub wifi: bool,
    pub camera: bool,
}

impl Layout {
    /// Wi-Fi's columns only (the table as it was before the camera).
    pub const WIFI: Layout = Layout {
        wifi: true,
        camera: false,
    };

    /// The columns of the sensors `s` has; Wi-Fi's when it has none.
    pub fn of(s: &Summary) -> Layout {
        Layout {
            wifi: s.wifi.is_some() || s.camera.is_none(),
            camera: s.camera.is_some(),
        }
    }
}

/// Wi-Fi's column header, with a legend line.
pub fn header() -> String {
    header_for(Layout::WIFI)
}

/// One window as a row of Wi-Fi's columns.
pub fn row(s: &Summary) -> String {
    row_for(s, Layout::WIFI)
}

/// The column header of `layout`, with a legend line.
pub fn header_for(layout: Layout) -> String {
    let (mut top, mut legend) = (format!("{:<20}", "window (UTC)"), format!("{:<20}", ""));
    if layout.wifi {
        let _ = write!(
            top,
            " {:>8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7}",
            "frames", "probes", "bad", "addresses", "random", "devices", "naming"
        );
        let _ = write!(
            legend,
            " {:>8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7}",
            "", "", "", "(MACs)", "MACs", "(est.)", "a net"
        );
    }
    if layout.camera {
        let _ = write!(
            top,
            "  {:>6} {:>5} {:>5} {:>6} {:>5}  {:<8}",
            "images", "in", "out", "people", "mean", "camera"
        );
        let _ = write!(
            legend,
            "  {:>6} {:>5} {:>5} {:>6} {:>5}  {:<8}",
            "", "", "", "(max)", "", ""
        );
    }
    if layout.wifi {
        top.push_str("  addresses by signal (dBm)");
        legend.push_str("  -90 -80 -70 -60 -50 -40 -30");
    }
    format!("{}\n{}", top.trim_end(), legend.trim_end())
}

/// One window as a table row of `layout`'s columns. Suppressed figures
/// (fewer than k devices) show as `<k`; a sensor the window has no section
/// for shows dashes.
pub fn row_for(s: &Summary, layout: Layout) -> String {
    let start = s
        .window_start
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string();
    let mut out = format!("{start:<20}");
    let mut bars = String::new();
    if layout.wifi {
        match &s.wifi {
            None => {
                let _ = write!(
                    out,
                    " {:>8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7}",
                    "-", "-", "-", "-", "-", "-", "-"
                );
            }
            Some(w) => {
                let d = &w.devices;
                let hidden = format!("<{}", s.k);
                let opt = |v: Option<u64>| v.map_or(hidden.clone(), |v| v.to_string());
                bars = w
                    .rssi_dbm
                    .counts
                    .iter()
                    .skip(1)
                    .map(|c| match c {
                        None => " ░░ ".to_string(),
                        Some(0) => "  · ".to_string(),
                        Some(n) => format!("{:>3} ", n),
                    })
                    .collect();
                let _ = write!(
                    out,
                    " {:>8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>7}",
                    w.frames.total,
                    w.frames.probe_req,
                    w.frames.malformed,
                    d.distinct_macs,
                    opt(d.randomized_macs),
                    d.estimated,
                    opt(d.ssid_leaking),
                );
            }
        }
    }
    if layout.camera {
        match &s.camera {
            None => {
                let _ = write!(
                    out,
                    "  {:>6} {:>5} {:>5} {:>6} {:>5}  {:<8}",
                    "-", "-", "-", "-", "-", "-"
                );
            }
            Some(c) => {
                let _ = write!(
                    out,
                    "  {:>6} {:>5} {:>5} {:>6} {:>5.1}  {:<8}",
                    c.frames,
                    c.crossings.inward,
                    c.crossings.outward,
                    c.occupancy.max,
                    c.occupancy.mean,
                    c.health.state
                );
            }
        }
    }
    if layout.wifi && !bars.is_empty() {
        out.push_str("  ");
        out.push_str(bars.trim_end());
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CameraHealth, CameraSummary, Crossings, HeatGrid, Occupancy};

    fn camera() -> CameraSummary {
        CameraSummary {
            frames: 600,
            lost_frames: 0,
            crossings: Crossings {
                inward: 7,
                outward: 3,
            },
            occupancy: Occupancy {
                mean: 1.25,
                max: 4,
                episodes: 2,
            },
            heat: HeatGrid::default(),
            health: CameraHealth {
                state: "dark".into(),
                ..CameraHealth::default()
            },
        }
    }

    #[test]
    fn a_camera_row_lines_up_with_its_header() {
        let mut s = Summary::new(1_704_556_320, 60, 0, 5);
        s.camera = Some(camera());
        let layout = Layout::of(&s);
        assert_eq!(
            layout,
            Layout {
                wifi: false,
                camera: true
            }
        );
        let header = header_for(layout);
        let row = row_for(&s, layout);
        assert_eq!(
            row,
            "2024-01-06 15:52:00      600     7     3      4   1.2  dark"
        );
        // Each figure ends where its column's title ends.
        let top = header.lines().next().unwrap();
        for (title, figure) in [("images", "600"), ("in", "7"), ("people", "4")] {
            let end = top.find(&format!(" {title}")).unwrap() + 1 + title.len();
            assert_eq!(&row[end - figure.len()..end], figure, "{title}");
        }
    }

    #[test]
    fn a_sensor_without_its_section_shows_dashes() {
        let s = Summary::new(0, 60, 0, 5);
        let both = Layout {
            wifi: true,
            camera: true,
        };
        let row = row_for(&s, both);
        assert_eq!(row.matches(" -").count(), 7 + 6, "{row}");
        assert_eq!(Layout::of(&s), Layout::WIFI);
        assert!(header().contains("addresses by signal") && !header().contains("camera"));
    }
}
