//! YUV4MPEG2 clips, as ffmpeg writes them (`-f yuv4mpegpipe`).
//!
//! A clip is a text header line (`YUV4MPEG2 W640 H360 F10:1 Ip A1:1 Cmono
//! ...`), then per frame a `FRAME` line and the planes: luma, then (except
//! for `Cmono`) two chroma planes. Only the luma plane is kept: it is read
//! straight into a [`RawImage`]; the chroma bytes go through one small
//! scratch buffer that is zeroized after every frame.
//!
//! Read: 8-bit `Cmono`, `C420jpeg`, `C420paldv`, `C420mpeg2`, `C420`,
//! `C411`, `C422`, `C444` and `C444alpha` (no `C` tag: 4:2:0, as ffmpeg
//! takes it). Refused with a clear error: more than 8 bits per sample
//! (`C420p10`, `Cmono16`, ...), unknown colour spaces, a missing or zero
//! width or height, sizes past [`MAX_SIDE`], and broken frame lines.
//! Interlacing (`I`), aspect (`A`) and extension (`X`) tags are ignored; a
//! clip without an `F` tag is 25 frames/s, as ffmpeg reads it.
//!
//! Our own parser rather than the `y4m` crate: that crate reads each frame
//! into buffers of its own (a second copy of the pixels, never zeroized)
//! and its errors say neither the frame nor the byte offset
//! (docs/dependencies.md).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use vitrine_privacy::RawImage;
use zeroize::Zeroize;

use crate::Frame;

/// The largest width or height read (8K is 7680 wide): a header asking
/// for more is refused rather than allocated.
pub const MAX_SIDE: u32 = 8192;

/// The longest header or `FRAME` line read, in bytes.
const MAX_LINE: usize = 1024;

/// Chroma is read through a buffer of at most this many bytes.
const SCRATCH_MAX: usize = 64 * 1024;

const MAGIC: &[u8] = b"YUV4MPEG2 ";

/// What went wrong reading a clip. Every message names the source (a file
/// name or `stdin`); those about frames name the frame (counted from 0)
/// and the byte offset in the stream.
#[derive(Debug, thiserror::Error)]
pub enum Y4mError {
    #[error(
        "{name}: not a YUV4MPEG2 clip (it does not start with \"YUV4MPEG2 \"); decode it with ffmpeg -pix_fmt gray -f yuv4mpegpipe"
    )]
    Magic { name: String },
    #[error("{name}: bad YUV4MPEG2 header at byte {offset}: {reason}")]
    Header {
        name: String,
        offset: u64,
        reason: String,
    },
    #[error("{name}: colour space {tag}: {reason}")]
    Colour {
        name: String,
        tag: String,
        reason: &'static str,
    },
    #[error("{name}: bad frame header of frame {frame} at byte {offset}: {reason}")]
    FrameHeader {
        name: String,
        frame: u64,
        offset: u64,
        reason: String,
    },
    #[error(
        "{name}: frame {frame} is truncated: the clip ends at byte {offset}, {missing} bytes short of the frame's end"
    )]
    Truncated {
        name: String,
        frame: u64,
        offset: u64,
        missing: u64,
    },
    #[error("{name}: cannot open: {err}")]
    Open { name: String, err: io::Error },
    #[error("{name}: read error in frame {frame} at byte {offset}: {err}")]
    Io {
        name: String,
        frame: u64,
        offset: u64,
        err: io::Error,
    },
}

/// How a clip stores colour; only the size of the chroma planes matters
/// here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    Mono,
    C420,
    C411,
    C422,
    C444,
    /// 4:4:4 with an alpha plane.
    C444Alpha,
}

impl Chroma {
    fn parse(tag: &str) -> Result<Chroma, &'static str> {
        Ok(match tag {
            "mono" => Chroma::Mono,
            "420jpeg" | "420paldv" | "420mpeg2" | "420" => Chroma::C420,
            "411" => Chroma::C411,
            "422" => Chroma::C422,
            "444" => Chroma::C444,
            "444alpha" => Chroma::C444Alpha,
            _ if tag.starts_with("mono") || tag.contains('p') => {
                return Err(
                    "more than 8 bits per sample (e.g. 10-bit) is not supported, re-encode with -pix_fmt gray",
                );
            }
            _ => return Err("unknown colour space, re-encode with -pix_fmt gray"),
        })
    }

    /// Bytes of chroma (and alpha) after a `width` x `height` luma plane.
    fn extra_bytes(self, width: u32, height: u32) -> u64 {
        let (w, h) = (u64::from(width), u64::from(height));
        match self {
            Chroma::Mono => 0,
            Chroma::C420 => 2 * w.div_ceil(2) * h.div_ceil(2),
            Chroma::C411 => 2 * w.div_ceil(4) * h,
            Chroma::C422 => 2 * w.div_ceil(2) * h,
            Chroma::C444 => 2 * w * h,
            Chroma::C444Alpha => 3 * w * h,
        }
    }
}

/// A YUV4MPEG2 clip read frame by frame: an iterator of
/// `Result<Frame, Y4mError>`. After an error it ends, so a truncated clip
/// gives its whole frames, then the error.
pub struct Y4mClip<R: Read> {
    reader: R,
    name: String,
    width: u32,
    height: u32,
    rate: (u32, u32),
    chroma: Chroma,
    chroma_len: u64,
    start_us: i64,
    /// The next frame's number.
    frame: u64,
    /// Bytes consumed so far.
    offset: u64,
    /// Where chroma passes through, zeroized after each frame.
    scratch: Vec<u8>,
    done: bool,
}

impl Y4mClip<File> {
    /// Opens a clip file; its errors are named by the path.
    pub fn open(path: &Path, start_us: i64) -> Result<Self, Y4mError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|err| Y4mError::Open {
            name: name.clone(),
            err,
        })?;
        Y4mClip::new(file, name, start_us)
    }
}

impl<R: Read> Y4mClip<R> {
    /// Reads the header. `name` names the source in errors (a path,
    /// `stdin`); frame `i` is stamped `start_us + i / rate` (Unix
    /// microseconds, rate from the `F` tag).
    ///
    /// The reader need not be buffered: the header and frame lines are
    /// read a few bytes at a time, each plane in one call. (A `BufReader`
    /// would hold a copy of pixels in its buffer.)
    pub fn new(mut reader: R, name: impl Into<String>, start_us: i64) -> Result<Self, Y4mError> {
        let name = name.into();
        let mut magic = [0u8; MAGIC.len()];
        let got = read_full(&mut reader, &mut magic).map_err(|err| Y4mError::Io {
            name: name.clone(),
            frame: 0,
            offset: 0,
            err,
        })?;
        if got < magic.len() || magic != MAGIC {
            return Err(Y4mError::Magic { name });
        }
        let mut offset = MAGIC.len() as u64;
        let mut line = Vec::with_capacity(128);
        let header_error = |offset: u64, reason: String| Y4mError::Header {
            name: name.clone(),
            offset,
            reason,
        };
        match read_line(&mut reader, &mut line) {
            Ok(LineEnd::Newline) => {}
            Ok(LineEnd::Eof) => {
                return Err(header_error(
                    offset + line.len() as u64,
                    "the clip ends inside the header line".into(),
                ));
            }
            Ok(LineEnd::TooLong) => {
                return Err(header_error(
                    offset,
                    format!("the header line is longer than {MAX_LINE} bytes"),
                ));
            }
            Err(err) => {
                return Err(Y4mError::Io {
                    name: name.clone(),
                    frame: 0,
                    offset,
                    err,
                });
            }
        }
        let (mut width, mut height, mut rate, mut chroma) = (None, None, (25, 1), Chroma::C420);
        for field in line.split(|&b| b == b' ') {
            let field_offset = offset;
            offset += field.len() as u64 + 1;
            let Some((&tag, value)) = field.split_first() else {
                continue;
            };
            let value = std::str::from_utf8(value)
                .map_err(|_| header_error(field_offset, "a tag's value is not ASCII".into()))?;
            match tag {
                b'W' | b'H' => {
                    let side: u32 = value.parse().map_err(|_| {
                        header_error(
                            field_offset,
                            format!("{} is not a number: {value:?}", tag as char),
                        )
                    })?;
                    if side == 0 || side > MAX_SIDE {
                        return Err(header_error(
                            field_offset,
                            format!(
                                "{}{side}: a picture's sides must be 1 to {MAX_SIDE} pixels",
                                tag as char
                            ),
                        ));
                    }
                    if tag == b'W' {
                        width = Some(side);
                    } else {
                        height = Some(side);
                    }
                }
                b'F' => {
                    let parsed = value
                        .split_once(':')
                        .and_then(|(n, d)| Some((n.parse::<u32>().ok()?, d.parse::<u32>().ok()?)));
                    match parsed {
                        Some((n, d)) if n > 0 && d > 0 => rate = (n, d),
                        _ => {
                            return Err(header_error(
                                field_offset,
                                format!(
                                    "F{value}: the frame rate must be two positive numbers, as F10:1"
                                ),
                            ));
                        }
                    }
                }
                b'C' => {
                    chroma = Chroma::parse(value).map_err(|reason| Y4mError::Colour {
                        name: name.clone(),
                        tag: format!("C{value}"),
                        reason,
                    })?;
                }
                // Interlacing, aspect, extensions: nothing the luma needs.
                _ => {}
            }
        }
        offset = MAGIC.len() as u64 + line.len() as u64 + 1;
        let (Some(width), Some(height)) = (width, height) else {
            let missing = if width.is_none() {
                "width (W)"
            } else {
                "height (H)"
            };
            return Err(header_error(
                MAGIC.len() as u64,
                format!("the header has no {missing}"),
            ));
        };
        let chroma_len = chroma.extra_bytes(width, height);
        let scratch_len = chroma_len.min(SCRATCH_MAX as u64) as usize;
        Ok(Y4mClip {
            reader,
            name,
            width,
            height,
            rate,
            chroma,
            chroma_len,
            start_us,
            frame: 0,
            offset,
            scratch: vec![0; scratch_len],
            done: false,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The frame rate, as the `F` tag's numerator and denominator.
    pub fn frame_rate(&self) -> (u32, u32) {
        self.rate
    }

    /// The frame rate in frames per second.
    pub fn fps(&self) -> f64 {
        f64::from(self.rate.0) / f64::from(self.rate.1)
    }

    pub fn chroma(&self) -> Chroma {
        self.chroma
    }

    /// Frame `index`'s time: the start plus `index` frame intervals.
    fn timestamp(&self, index: u64) -> i64 {
        let (num, den) = (i128::from(self.rate.0), i128::from(self.rate.1));
        let offset_us = (i128::from(index) * 1_000_000 * den + num / 2) / num;
        (i128::from(self.start_us) + offset_us) as i64
    }

    fn io_error(&self, offset: u64, err: io::Error) -> Y4mError {
        Y4mError::Io {
            name: self.name.clone(),
            frame: self.frame,
            offset,
            err,
        }
    }

    fn truncated(&self, offset: u64, missing: u64) -> Y4mError {
        Y4mError::Truncated {
            name: self.name.clone(),
            frame: self.frame,
            offset,
            missing,
        }
    }

    /// Reads the `FRAME` line; `Ok(false)` at a clean end of the clip.
    fn frame_header(&mut self) -> Result<bool, Y4mError> {
        let mut head = [0u8; 6];
        let start = self.offset;
        let got = read_full(&mut self.reader, &mut head).map_err(|e| self.io_error(start, e))?;
        if got == 0 {
            return Ok(false);
        }
        let frame_len = 6 + self.luma_len() + self.chroma_len;
        if got < head.len() {
            if b"FRAME\n"[..got] == head[..got] {
                return Err(self.truncated(start + got as u64, frame_len - got as u64));
            }
            return Err(self.bad_frame_line(start));
        }
        if &head[..5] != b"FRAME" {
            return Err(self.bad_frame_line(start));
        }
        self.offset += 6;
        match head[5] {
            b'\n' => Ok(true),
            // Frame parameters (ffmpeg writes none): read and ignored.
            b' ' => {
                let mut params = Vec::new();
                let end = read_line(&mut self.reader, &mut params)
                    .map_err(|e| self.io_error(self.offset, e))?;
                self.offset += params.len() as u64;
                match end {
                    LineEnd::Newline => {
                        self.offset += 1;
                        Ok(true)
                    }
                    LineEnd::Eof => Err(self.truncated(self.offset, frame_len - 6)),
                    LineEnd::TooLong => Err(Y4mError::FrameHeader {
                        name: self.name.clone(),
                        frame: self.frame,
                        offset: start,
                        reason: format!("the FRAME line is longer than {MAX_LINE} bytes"),
                    }),
                }
            }
            _ => Err(self.bad_frame_line(start)),
        }
    }

    /// The bytes found are not shown: they may be pixels.
    fn bad_frame_line(&self, offset: u64) -> Y4mError {
        Y4mError::FrameHeader {
            name: self.name.clone(),
            frame: self.frame,
            offset,
            reason: "expected a \"FRAME\" line (are the header's size and colour space right?)"
                .into(),
        }
    }

    fn luma_len(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    fn read_frame(&mut self) -> Result<Option<Frame>, Y4mError> {
        if !self.frame_header()? {
            return Ok(None);
        }
        let mut image = RawImage::zeroed(self.width, self.height);
        let luma_start = self.offset;
        let got = read_full(&mut self.reader, image.luma_mut())
            .map_err(|e| self.io_error(luma_start, e))?;
        self.offset += got as u64;
        if (got as u64) < self.luma_len() {
            let missing = self.luma_len() - got as u64 + self.chroma_len;
            return Err(self.truncated(self.offset, missing));
        }
        let chroma = self.skip_chroma();
        self.scratch.as_mut_slice().zeroize();
        chroma?;
        let ts_us = self.timestamp(self.frame);
        self.frame += 1;
        Ok(Some(Frame { ts_us, image }))
    }

    /// Reads the chroma planes through the scratch buffer (the caller
    /// zeroizes it).
    fn skip_chroma(&mut self) -> Result<(), Y4mError> {
        let mut left = self.chroma_len;
        while left > 0 {
            let n = left.min(self.scratch.len() as u64) as usize;
            let start = self.offset;
            let got = read_full(&mut self.reader, &mut self.scratch[..n])
                .map_err(|e| self.io_error(start, e))?;
            self.offset += got as u64;
            left -= got as u64;
            if got < n {
                return Err(self.truncated(self.offset, left));
            }
        }
        Ok(())
    }
}

/// The clip's shape and position; never the scratch buffer's bytes.
impl<R: Read> std::fmt::Debug for Y4mClip<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Y4mClip")
            .field("name", &self.name)
            .field("size", &(self.width, self.height))
            .field("rate", &self.rate)
            .field("chroma", &self.chroma)
            .field("frame", &self.frame)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Iterator for Y4mClip<R> {
    type Item = Result<Frame, Y4mError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_frame() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

impl<R: Read> Drop for Y4mClip<R> {
    fn drop(&mut self) {
        self.scratch.zeroize();
    }
}

/// Reads until `buf` is full or the stream ends; how many bytes came.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

enum LineEnd {
    Newline,
    Eof,
    TooLong,
}

/// Reads one byte at a time up to a newline (not kept in `line`), so that
/// nothing past the line is consumed.
fn read_line(reader: &mut impl Read, line: &mut Vec<u8>) -> io::Result<LineEnd> {
    let mut byte = [0u8];
    loop {
        if read_full(reader, &mut byte)? == 0 {
            return Ok(LineEnd::Eof);
        }
        if byte[0] == b'\n' {
            return Ok(LineEnd::Newline);
        }
        if line.len() == MAX_LINE {
            return Ok(LineEnd::TooLong);
        }
        line.push(byte[0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_700_000_000_000_000;

    /// A clip as ffmpeg writes it: `header` after the magic, then frames
    /// whose luma is `frame index + pixel index` and whose chroma is 0x80.
    fn clip(header: &str, w: usize, h: usize, chroma: usize, frames: usize) -> Vec<u8> {
        let mut out = format!("YUV4MPEG2 {header}\n").into_bytes();
        for f in 0..frames {
            out.extend_from_slice(b"FRAME\n");
            out.extend((0..w * h).map(|i| (f + i) as u8));
            out.extend(std::iter::repeat_n(0x80, chroma));
        }
        out
    }

    fn read_all(bytes: &[u8]) -> (Vec<Frame>, Option<Y4mError>) {
        let clip = Y4mClip::new(bytes, "test.y4m", START).unwrap();
        let mut frames = Vec::new();
        let mut error = None;
        for item in clip {
            match item {
                Ok(f) => frames.push(f),
                Err(e) => {
                    assert!(error.is_none(), "a second item after an error");
                    error = Some(e);
                }
            }
        }
        (frames, error)
    }

    fn header_error(bytes: &[u8]) -> String {
        Y4mClip::new(bytes, "test.y4m", START)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn gray_clip_as_ffmpeg_writes_it() {
        let bytes = clip("W5 H3 F10:1 Ip A1:1 Cmono XCOLORRANGE=FULL", 5, 3, 0, 3);
        let clip = Y4mClip::new(&bytes[..], "test.y4m", START).unwrap();
        assert_eq!(
            (clip.width(), clip.height(), clip.frame_rate()),
            (5, 3, (10, 1))
        );
        assert_eq!(clip.chroma(), Chroma::Mono);
        let (frames, error) = read_all(&bytes);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(frames.len(), 3);
        for (f, frame) in frames.iter().enumerate() {
            let want: Vec<u8> = (0..15).map(|i| (f + i) as u8).collect();
            assert_eq!(frame.image.luma(), &want[..]);
            assert_eq!((frame.image.width(), frame.image.height()), (5, 3));
        }
    }

    #[test]
    fn chroma_420_is_skipped_whatever_its_siting_tag() {
        // Odd sides: chroma planes are ceil(w/2) x ceil(h/2), as ffmpeg's.
        for tag in ["C420jpeg", "C420paldv", "C420mpeg2", "C420", ""] {
            let bytes = clip(&format!("W5 H3 F25:1 {tag}"), 5, 3, 2 * 3 * 2, 2);
            let (frames, error) = read_all(&bytes);
            assert!(error.is_none(), "{tag}: {error:?}");
            assert_eq!(frames.len(), 2, "{tag}");
            let want: Vec<u8> = (0..15).map(|i| (1 + i) as u8).collect();
            assert_eq!(frames[1].image.luma(), &want[..], "{tag}");
        }
    }

    #[test]
    fn chroma_422_444_and_411_sizes() {
        for (tag, chroma) in [
            ("C422", 2 * 3 * 3),
            ("C444", 2 * 5 * 3),
            ("C444alpha", 3 * 5 * 3),
            ("C411", 2 * 2 * 3),
        ] {
            let bytes = clip(&format!("W5 H3 F10:1 {tag}"), 5, 3, chroma, 2);
            let (frames, error) = read_all(&bytes);
            assert!(error.is_none(), "{tag}: {error:?}");
            assert_eq!(frames.len(), 2, "{tag}");
            assert_eq!(frames[1].image.luma()[0], 1, "{tag}");
        }
    }

    #[test]
    fn chroma_larger_than_the_scratch_buffer() {
        // 4:4:4 at 200 x 200: 80,000 chroma bytes, read in two goes.
        let bytes = clip("W200 H200 F10:1 C444", 200, 200, 80_000, 2);
        let (frames, error) = read_all(&bytes);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].image.luma()[199], 200u8);
    }

    #[test]
    fn timestamps_follow_the_frame_rate() {
        let bytes = clip("W2 H2 F30000:1001 Cmono", 2, 2, 0, 4);
        let (frames, _) = read_all(&bytes);
        let ts: Vec<i64> = frames.iter().map(|f| f.ts_us - START).collect();
        // 1001/30000 s = 33,366.67 us, rounded per frame from the start.
        assert_eq!(ts, [0, 33_367, 66_733, 100_100]);
        let bytes = clip("W2 H2 F10:1 Cmono", 2, 2, 0, 3);
        let (frames, _) = read_all(&bytes);
        let ts: Vec<i64> = frames.iter().map(|f| f.ts_us - START).collect();
        assert_eq!(ts, [0, 100_000, 200_000]);
    }

    #[test]
    fn no_rate_is_25_frames_per_second() {
        let bytes = clip("W2 H2 Cmono", 2, 2, 0, 2);
        let (frames, _) = read_all(&bytes);
        assert_eq!(frames[1].ts_us - START, 40_000);
    }

    #[test]
    fn frame_parameters_are_ignored() {
        let mut bytes =
            b"YUV4MPEG2 W2 H1 F10:1 Cmono\nFRAME Ixyz\n\x01\x02FRAME\n\x03\x04".to_vec();
        let (frames, error) = read_all(&bytes);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].image.luma(), &[3, 4]);
        bytes.truncate(bytes.len() - 1);
        let (frames, error) = read_all(&bytes);
        assert_eq!(frames.len(), 1);
        assert!(matches!(error, Some(Y4mError::Truncated { frame: 1, .. })));
    }

    #[test]
    fn wrong_magic() {
        for bytes in [&b"RIFF0000WAVEfmt "[..], b"YUV4", b"", b"YUV4MPEG2W2 H2\n"] {
            let text = header_error(bytes);
            assert!(text.starts_with("test.y4m: not a YUV4MPEG2 clip"), "{text}");
        }
    }

    #[test]
    fn unsupported_colour_spaces_say_how_to_re_encode() {
        for tag in ["C420p10", "Cmono16", "Cmono10", "C444p12", "C422p16"] {
            let text = header_error(format!("YUV4MPEG2 W2 H2 F10:1 {tag}\n").as_bytes());
            assert_eq!(
                text,
                format!(
                    "test.y4m: colour space {tag}: more than 8 bits per sample (e.g. 10-bit) is not supported, re-encode with -pix_fmt gray"
                )
            );
        }
        let text = header_error(b"YUV4MPEG2 W2 H2 F10:1 Cxyz\n");
        assert_eq!(
            text,
            "test.y4m: colour space Cxyz: unknown colour space, re-encode with -pix_fmt gray"
        );
    }

    #[test]
    fn missing_zero_bad_or_huge_sides() {
        for (header, offset, says) in [
            ("F10:1 H2", 10, "the header has no width (W)"),
            ("W2 F10:1", 10, "the header has no height (H)"),
            (
                "W0 H2",
                10,
                "W0: a picture's sides must be 1 to 8192 pixels",
            ),
            (
                "W2 H0",
                13,
                "H0: a picture's sides must be 1 to 8192 pixels",
            ),
            (
                "W8193 H2",
                10,
                "W8193: a picture's sides must be 1 to 8192 pixels",
            ),
            ("W2 H99999999999", 13, "H is not a number: \"99999999999\""),
            ("W2x H2", 10, "W is not a number: \"2x\""),
            (
                "W2 H2 F10",
                16,
                "F10: the frame rate must be two positive numbers",
            ),
            (
                "W2 H2 F10:0",
                16,
                "F10:0: the frame rate must be two positive numbers",
            ),
        ] {
            let text = header_error(format!("YUV4MPEG2 {header}\n").as_bytes());
            assert!(
                text.starts_with(&format!(
                    "test.y4m: bad YUV4MPEG2 header at byte {offset}: {says}"
                )),
                "{header}: {text}"
            );
        }
    }

    #[test]
    fn header_without_end_or_too_long() {
        let text = header_error(b"YUV4MPEG2 W2 H2");
        assert_eq!(
            text,
            "test.y4m: bad YUV4MPEG2 header at byte 15: the clip ends inside the header line"
        );
        let long = format!("YUV4MPEG2 W2 H2 X{}\n", "a".repeat(2000));
        let text = header_error(long.as_bytes());
        assert!(text.contains("longer than 1024 bytes"), "{text}");
    }

    #[test]
    fn bad_frame_line_names_frame_and_offset() {
        // The second frame's line is garbage: the first is delivered.
        let mut bytes = clip("W2 H2 F10:1 Cmono", 2, 2, 0, 1);
        let second = bytes.len();
        bytes.extend_from_slice(b"FRAMX\n\x00\x00\x00\x00");
        let (frames, error) = read_all(&bytes);
        assert_eq!(frames.len(), 1);
        assert_eq!(
            error.unwrap().to_string(),
            format!(
                "test.y4m: bad frame header of frame 1 at byte {second}: expected a \"FRAME\" line (are the header's size and colour space right?)"
            )
        );
        // A colour space that does not match the data: 4:2:0 declared, gray
        // written, so the second "FRAME" is looked for inside the pixels.
        let bytes = clip("W4 H4 F10:1 C420", 4, 4, 0, 3);
        let (frames, error) = read_all(&bytes);
        assert_eq!(frames.len(), 1);
        assert!(
            matches!(error, Some(Y4mError::FrameHeader { frame: 1, .. })),
            "{error:?}"
        );
    }

    #[test]
    fn truncated_last_frame_gives_the_frames_before_it_then_the_error() {
        let whole = clip("W4 H2 F10:1 C420jpeg", 4, 2, 4, 3);
        let frame_len = 6 + 8 + 4;
        let header_len = whole.len() - 3 * frame_len;
        // Cut inside the third frame's luma, chroma, and FRAME line.
        for (cut, missing) in [(10, 8), (16, 2), (3, 15), (5, 13)] {
            let end = header_len + 2 * frame_len + cut;
            let (frames, error) = read_all(&whole[..end]);
            assert_eq!(frames.len(), 2, "cut {cut}");
            assert_eq!(frames[1].ts_us - START, 100_000);
            let text = error.unwrap().to_string();
            assert_eq!(
                text,
                format!(
                    "test.y4m: frame 2 is truncated: the clip ends at byte {end}, {missing} bytes short of the frame's end"
                ),
                "cut {cut}"
            );
        }
        // Cut exactly between frames: a clean end.
        let (frames, error) = read_all(&whole[..header_len + 2 * frame_len]);
        assert_eq!(frames.len(), 2);
        assert!(error.is_none());
    }

    #[test]
    fn read_errors_name_the_frame() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let header = b"YUV4MPEG2 W2 H2 Cmono\n";
                if self.0 < header.len() {
                    buf[0] = header[self.0];
                    self.0 += 1;
                    return Ok(1);
                }
                Err(io::Error::other("device gone"))
            }
        }
        let mut clip = Y4mClip::new(Failing(0), "stdin", START).unwrap();
        let err = clip.next().unwrap().unwrap_err().to_string();
        assert_eq!(err, "stdin: read error in frame 0 at byte 22: device gone");
        assert!(clip.next().is_none());
    }

    /// A clip ffmpeg wrote itself, gray and 4:2:0, with odd sides.
    #[test]
    fn reads_what_ffmpeg_writes() {
        let dir = tempfile::tempdir().unwrap();
        for (pix_fmt, chroma) in [
            ("gray", Chroma::Mono),
            ("yuv420p", Chroma::C420),
            ("yuv422p", Chroma::C422),
        ] {
            let out = dir.path().join(format!("{pix_fmt}.y4m"));
            let status = std::process::Command::new("ffmpeg")
                .args([
                    "-loglevel",
                    "error",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc=size=33x17:rate=10",
                ])
                .args(["-frames:v", "7", "-pix_fmt", pix_fmt, "-f", "yuv4mpegpipe"])
                .arg(&out)
                .status()
                .expect("ffmpeg is needed for this test (Debian package ffmpeg)");
            assert!(status.success(), "ffmpeg failed for {pix_fmt}");
            let clip = Y4mClip::open(&out, START).unwrap();
            assert_eq!(
                (clip.width(), clip.height(), clip.chroma()),
                (33, 17, chroma)
            );
            let frames: Vec<Frame> = clip.map(|f| f.unwrap()).collect();
            assert_eq!(frames.len(), 7, "{pix_fmt}");
            assert_eq!(frames[6].ts_us - START, 600_000);
            // testsrc is not flat: the luma was read from the right place.
            let luma = frames[3].image.luma();
            assert!(luma.iter().any(|&p| p != luma[0]), "{pix_fmt}");
        }
    }

    #[test]
    fn debug_shows_the_shape_not_the_buffers() {
        let bytes = clip("W200 H200 F10:1 C444", 200, 200, 80_000, 1);
        let clip = Y4mClip::new(&bytes[..], "test.y4m", START).unwrap();
        let text = format!("{clip:?}");
        assert!(
            text.starts_with("Y4mClip { name: \"test.y4m\", size: (200, 200)"),
            "{text}"
        );
        assert!(text.len() < 200, "{text}");
    }

    #[test]
    fn opening_a_missing_file_names_it() {
        let err = Y4mClip::open(Path::new("/nonexistent/clip.y4m"), 0).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/clip.y4m: cannot open: "),
            "{err}"
        );
    }
}
