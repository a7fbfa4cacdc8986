//! Raw images as captured by a camera.

use std::fmt;

/// One frame's luma (brightness) plane, exactly as captured: `width` x
/// `height` bytes, row by row. Capture-stage only, like [`crate::RawMac`].
///
/// Not `Clone`, `Copy`, `Display` or `Serialize`; `Debug` shows the size
/// only; the pixels are zeroized when it is dropped. A source fills one in
/// place ([`RawImage::zeroed`], [`RawImage::luma_mut`]) so that no other
/// copy of the pixels is made; the camera's analytics read it and drop it
/// as soon as the frame's features are extracted. Chroma is never kept.
pub struct RawImage {
    width: u32,
    height: u32,
    luma: Vec<u8>,
}

impl RawImage {
    /// A black image, for a source to fill in place.
    pub fn zeroed(width: u32, height: u32) -> Self {
        let len = width as usize * height as usize;
        RawImage {
            width,
            height,
            luma: vec![0; len],
        }
    }

    #[inline]
    pub fn width(&self) -> u32 {
        self.width
    }

    #[inline]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels, row by row, for the analytics to read.
    #[inline]
    pub fn luma(&self) -> &[u8] {
        &self.luma
    }

    /// The pixels, for a source to write the frame into.
    #[inline]
    pub fn luma_mut(&mut self) -> &mut [u8] {
        &mut self.luma
    }
}

impl fmt::Debug for RawImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawImage({}x{}, <redacted>)", self.width, self.height)
    }
}

impl Drop for RawImage {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.luma);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::assert_not_impl_any!(RawImage: Clone, Copy, fmt::Display);

    #[test]
    fn debug_shows_the_size_and_never_a_pixel() {
        let mut img = RawImage::zeroed(4, 2);
        img.luma_mut().copy_from_slice(&[0xab; 8]);
        let text = format!("{img:?}");
        assert_eq!(text, "RawImage(4x2, <redacted>)");
        assert_eq!(img.luma().len(), 8);
        assert!(img.luma().iter().all(|&p| p == 0xab));
    }
}
