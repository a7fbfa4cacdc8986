//! Camera frame sources. Every source yields [`Frame`]s: a capture time and
//! a [`RawImage`] (the luma plane only), which go straight into the camera's
//! analytics (`vitrine-camera-analytics`) and are dropped there.
//!
//! - [`y4m`]: YUV4MPEG2 clips (`vitrined replay --clip`), as ffmpeg writes
//!   them, from a file or standard input.
//! - [`v4l2`]: V4L2 cameras (`/dev/video0`), captured on a thread of their
//!   own, reopened when the device comes back (feature `v4l2`).

#[cfg(feature = "v4l2")]
pub mod v4l2;
pub mod y4m;

use vitrine_privacy::RawImage;

/// One captured frame.
#[derive(Debug)]
pub struct Frame {
    /// Capture time, Unix microseconds.
    pub ts_us: i64,
    pub image: RawImage,
}
