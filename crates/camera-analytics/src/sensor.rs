//! The camera's part of every window: observations summed into the
//! `camera` section.

use vitrine_schema::{CameraHealth, CameraSummary, Crossings, HeatGrid, Occupancy, Section};
use vitrine_window::{Observe, Sensor, Suppressor, Window};

use crate::{CameraObservation, CameraSettings, LostFrames};

/// Sums the camera's observations per window. Holds counts only.
#[derive(Debug)]
pub struct CameraSensor {
    cols: u16,
    rows: u16,
    frames: u64,
    lost: u64,
    crossings: Crossings,
    occupancy_sum: u64,
    occupancy_max: u64,
    episodes: u64,
    /// Occupancy of the last frame, across windows: an episode that goes on
    /// into the next window is not a new one.
    occupied: bool,
    heat: Vec<u64>,
    health: CameraHealth,
}

impl CameraSensor {
    pub fn new(settings: &CameraSettings) -> Self {
        let cells = usize::from(settings.grid_cols) * usize::from(settings.grid_rows);
        CameraSensor {
            cols: settings.grid_cols,
            rows: settings.grid_rows,
            frames: 0,
            lost: 0,
            crossings: Crossings::default(),
            occupancy_sum: 0,
            occupancy_max: 0,
            episodes: 0,
            occupied: false,
            heat: vec![0; cells],
            health: CameraHealth::default(),
        }
    }

    /// Which state held in at least half of the window's frames, worst
    /// first; `ok` when none did, `absent` without frames.
    fn state(&self) -> &'static str {
        let h = &self.health;
        if self.frames == 0 {
            return "absent";
        }
        [
            ("covered", h.covered),
            ("dark", h.dark),
            ("frozen", h.frozen),
            ("blurred", h.blurred),
            ("motion", h.motion),
        ]
        .into_iter()
        .find(|&(_, n)| n * 2 >= self.frames)
        .map_or("ok", |(name, _)| name)
    }
}

impl Sensor for CameraSensor {
    /// The camera keys nothing: tracks hold positions, not identities.
    fn rotate_epoch(&mut self, _current: Option<&Window>) {}

    fn close(&mut self, _window: &Window, k: &mut Suppressor) -> Section {
        let heat = k.grid("camera.heat", usize::from(self.cols), &self.heat);
        let mean = if self.frames == 0 {
            0.0
        } else {
            self.occupancy_sum as f64 / self.frames as f64
        };
        let summary = CameraSummary {
            frames: self.frames,
            lost_frames: self.lost,
            crossings: std::mem::take(&mut self.crossings),
            occupancy: Occupancy {
                mean: (mean * 100.0).round() / 100.0,
                max: self.occupancy_max,
                episodes: self.episodes,
            },
            heat: HeatGrid {
                cols: self.cols,
                rows: self.rows,
                counts: heat,
            },
            health: CameraHealth {
                state: self.state().to_string(),
                ..std::mem::take(&mut self.health)
            },
        };
        self.frames = 0;
        self.lost = 0;
        self.occupancy_sum = 0;
        self.occupancy_max = 0;
        self.episodes = 0;
        self.heat.iter_mut().for_each(|n| *n = 0);
        Section::Camera(Box::new(summary))
    }
}

impl Observe<CameraObservation> for CameraSensor {
    fn observe(&mut self, _window: &Window, obs: CameraObservation) {
        self.frames += 1;
        self.crossings.inward += u64::from(obs.inward);
        self.crossings.outward += u64::from(obs.outward);
        let n = u64::from(obs.occupancy);
        self.occupancy_sum += n;
        self.occupancy_max = self.occupancy_max.max(n);
        if n > 0 && !self.occupied {
            self.episodes += 1;
        }
        self.occupied = n > 0;
        for cell in obs.entered_cells {
            if let Some(c) = self.heat.get_mut(usize::from(cell)) {
                *c += 1;
            }
        }
        let h = &mut self.health;
        h.frozen += u64::from(obs.health.frozen);
        h.dark += u64::from(obs.health.dark);
        h.covered += u64::from(obs.health.covered);
        h.blurred += u64::from(obs.health.blurred);
        h.motion += u64::from(obs.health.motion);
    }
}

impl Observe<LostFrames> for CameraSensor {
    fn observe(&mut self, _window: &Window, lost: LostFrames) {
        self.lost += u64::from(lost.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Health;
    use vitrine_window::Windows;

    fn obs(inward: u32, occupancy: u32, cells: &[u16]) -> CameraObservation {
        CameraObservation {
            inward,
            outward: 0,
            occupancy,
            entered_cells: cells.to_vec(),
            health: Health::default(),
        }
    }

    #[test]
    fn a_window_sums_crossings_occupancy_and_withholds_small_heat_cells() {
        let settings = CameraSettings {
            grid_cols: 2,
            grid_rows: 2,
            ..CameraSettings::default()
        };
        let mut windows = Windows::new(60, 3);
        let id = windows.add(CameraSensor::new(&settings));
        let mut out = Vec::new();
        let mut emit = |s| out.push(s);
        let t0 = 1_700_000_040_000_000;
        for (i, o) in [
            obs(1, 1, &[0]),
            obs(0, 2, &[0, 3]),
            obs(0, 0, &[]),
            obs(2, 3, &[0, 1, 1, 1, 3]),
        ]
        .into_iter()
        .enumerate()
        {
            windows.push(id, t0 + i as i64 * 100_000, o, &mut emit);
        }
        windows.push(id, t0 + 500_000, LostFrames(2), &mut emit);
        windows.finish(&mut emit);
        let [s] = &out[..] else { panic!("{out:?}") };
        let c = s.camera.as_ref().expect("a camera section");
        assert_eq!((c.frames, c.lost_frames), (4, 2));
        assert_eq!((c.crossings.inward, c.crossings.outward), (3, 0));
        assert_eq!(c.occupancy.max, 3);
        assert_eq!(c.occupancy.episodes, 2, "0 -> 1 and 0 -> 3");
        assert_eq!(c.occupancy.mean, 1.5);
        // Cell 3 has 2 entries (< k = 3): withheld, and as it is the only
        // one, the smallest other non-empty cell (the first of two 3s) goes
        // too. The empty cell is published.
        assert_eq!(c.heat.counts, [None, Some(3), Some(0), None]);
        assert_eq!(s.suppressed, ["camera.heat[1,1]", "camera.heat[0,0]"]);
        assert_eq!(c.health.state, "ok");
    }

    #[test]
    fn health_state_is_the_worst_that_held_half_the_window() {
        let mut sensor = CameraSensor::new(&CameraSettings::default());
        let w = Window {
            start_s: 0,
            length_s: 60,
            epoch: 0,
        };
        let mut k = Suppressor::new(3);
        let Section::Camera(c) = sensor.close(&w, &mut k) else {
            panic!()
        };
        assert_eq!(c.health.state, "absent");
        for dark in [true, true, false, false] {
            let mut o = obs(0, 0, &[]);
            o.health.dark = dark;
            o.health.motion = true;
            sensor.observe(&w, o);
        }
        let Section::Camera(c) = sensor.close(&w, &mut k) else {
            panic!()
        };
        assert_eq!(c.health.state, "dark");
        assert_eq!((c.health.dark, c.health.motion), (2, 4));
    }
}
