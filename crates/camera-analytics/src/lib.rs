//! The camera sensor: people counted on the luma plane, and nothing else.
//!
//! [`CameraStage`] is the camera's capture stage: it takes each
//! [`RawImage`] by value, extracts the frame's features (foreground against
//! an adaptive background, blobs, tracks) and drops the image; what leaves
//! it is a [`CameraObservation`] of counts and grid cells, which holds no
//! pixel. [`CameraSensor`] is the camera's [`vitrine_window::Sensor`]: it
//! sums observations into the window's `camera` section.

mod background;
mod blobs;
mod geometry;
mod health;
mod pixels;
mod sensor;
mod stage;
mod tracker;

pub use sensor::CameraSensor;
pub use stage::CameraStage;

/// A point in the picture, in fractions of its width (`x`, from the left)
/// and height (`y`, from the top): the same line and region whatever the
/// resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// A counting line: any two points, and a point on its inward side.
#[derive(Debug, Clone, PartialEq)]
pub struct CountingLine {
    pub a: Point,
    pub b: Point,
    /// Any point on the inward side: a crossing towards it is `inward`.
    pub inside: Point,
}

/// What the camera counts, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSettings {
    /// The counting line; `None`: no crossings are counted.
    pub line: Option<CountingLine>,
    /// The occupancy region, a polygon (at least three points); `None`: the
    /// whole picture.
    pub region: Option<Vec<Point>>,
    /// Heat grid size (default 16 x 12).
    pub grid_cols: u16,
    pub grid_rows: u16,
    /// Frames per second the source promises (to tell lost frames).
    pub fps: f32,
}

impl Default for CameraSettings {
    fn default() -> Self {
        CameraSettings {
            line: None,
            region: None,
            grid_cols: 16,
            grid_rows: 12,
            fps: 10.0,
        }
    }
}

/// The camera's health in one frame; several can hold at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Health {
    pub frozen: bool,
    pub dark: bool,
    pub covered: bool,
    pub blurred: bool,
    pub motion: bool,
}

/// What one frame gave, after its image was dropped. No pixel, no
/// position finer than a grid cell, no track identity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CameraObservation {
    /// Crossings of the counting line completed at this frame.
    pub inward: u32,
    pub outward: u32,
    /// People in the occupancy region in this frame.
    pub occupancy: u32,
    /// Heat grid cells (index `row * cols + col`) that a person entered at
    /// this frame: a person standing still in one cell is counted once.
    pub entered_cells: Vec<u16>,
    pub health: Health,
}

/// A frame the source should have delivered and did not, counted in the
/// window it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostFrames(pub u32);
