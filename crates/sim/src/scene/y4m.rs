//! Scenes written as YUV4MPEG2 clips, as ffmpeg writes gray video
//! (`-pix_fmt gray -f yuv4mpegpipe`).

use std::io::{self, Write};

use super::{FrameTruth, Scene};

/// The clip's header line, ffmpeg's for gray frames.
pub fn y4m_header(width: u32, height: u32, fps: u32) -> String {
    format!("YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 Cmono XCOLORRANGE=FULL\n")
}

/// Writes every frame of `scene` to `out` and returns the frames' truth.
pub fn write_y4m(scene: &Scene, out: impl Write) -> io::Result<Vec<FrameTruth>> {
    write_y4m_frames(scene, 0..scene.frames(), out)
}

/// Writes the given frames of `scene` (in that order) to `out`.
pub fn write_y4m_frames(
    scene: &Scene,
    frames: impl IntoIterator<Item = u32>,
    mut out: impl Write,
) -> io::Result<Vec<FrameTruth>> {
    out.write_all(y4m_header(scene.width(), scene.height(), scene.config().fps).as_bytes())?;
    let mut luma = vec![0u8; scene.width() as usize * scene.height() as usize];
    let mut truths = Vec::new();
    for frame in frames {
        truths.push(scene.render(frame, &mut luma));
        out.write_all(b"FRAME\n")?;
        out.write_all(&luma)?;
    }
    out.flush()?;
    Ok(truths)
}
