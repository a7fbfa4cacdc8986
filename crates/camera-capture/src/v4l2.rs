//! Live capture from a V4L2 camera (`/dev/video0`), with recovery when the
//! device goes away.
//!
//! [`V4l2Source::start`] runs the capture on a thread of its own: it opens
//! the device, negotiates a format ([`PixelFormat`]: GREY, then YUYV, then
//! MJPEG, at the configured size and rate), streams through memory-mapped
//! driver buffers, turns each frame into a [`RawImage`] of its luma plane
//! and hands it over through a bounded channel; the consumer reads
//! [`Event`]s with [`V4l2Source::next_event`], as the Wi-Fi live capture's
//! (`vitrine_radio::live`). When the device disappears (unplugged, driver
//! unloaded, no frame for [`V4l2Config::stall`]) the source says
//! [`Event::Lost`] and reopens it with backoff; [`Event::Started`] says
//! capture runs again. Frames the driver skipped (gaps in its sequence
//! numbers), frames it marked bad, and frames the consumer was too slow to
//! take are counted in [`Event::Dropped`], for the window's lost frames.
//!
//! Chroma is never kept: YUYV's chroma bytes are skipped, MJPEG is decoded
//! to luma only (`zune-jpeg`). The one copy of compressed data this module
//! makes (an MJPEG frame without Huffman tables, see [`mjpeg_to_luma`]) is
//! zeroized after each frame. The driver's own buffers are the kernel's,
//! overwritten by the next frames.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use v4l::buffer::{Flags as BufFlags, Type};
use v4l::capability::Flags as CapFlags;
use v4l::format::FieldOrder;
use v4l::io::traits::CaptureStream;
use v4l::prelude::{Device, MmapStream};
use v4l::video::Capture;
use v4l::video::capture::Parameters;
use v4l::{Format, FourCC};
use vitrine_privacy::RawImage;
use zeroize::Zeroize;

use crate::Frame;

/// A pixel format this source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// 8-bit luma: copied as it is.
    Grey,
    /// 4:2:2 packed Y, U, Y, V: every other byte.
    Yuyv,
    /// Motion JPEG: each frame decoded to its luma plane.
    Mjpeg,
}

impl PixelFormat {
    /// The order formats are tried in: least work per frame first.
    pub const PREFERENCE: [PixelFormat; 3] =
        [PixelFormat::Grey, PixelFormat::Yuyv, PixelFormat::Mjpeg];

    pub fn fourcc(self) -> FourCC {
        FourCC::new(match self {
            PixelFormat::Grey => b"GREY",
            PixelFormat::Yuyv => b"YUYV",
            PixelFormat::Mjpeg => b"MJPG",
        })
    }

    /// Bytes per pixel of a line (`None`: compressed).
    fn bytes_per_pixel(self) -> Option<usize> {
        match self {
            PixelFormat::Grey => Some(1),
            PixelFormat::Yuyv => Some(2),
            PixelFormat::Mjpeg => None,
        }
    }
}

/// What to capture, and how to behave when the device misbehaves.
#[derive(Debug, Clone)]
pub struct V4l2Config {
    pub device: PathBuf,
    /// Size asked for; the driver may choose the nearest it has
    /// ([`Negotiated`] says which).
    pub width: u32,
    pub height: u32,
    /// Frames per second asked for.
    pub fps: u32,
    /// Formats accepted, in order of preference.
    pub formats: Vec<PixelFormat>,
    /// Driver buffers.
    pub buffers: u32,
    /// Frames the channel holds for the consumer; past that, new frames are
    /// dropped (and counted).
    pub queue: usize,
    /// How long [`V4l2Source::next_event`] waits at most, and how often the
    /// capture thread looks at its stop flag.
    pub poll: Duration,
    /// First wait before reopening a lost device; doubled on each failure
    /// up to `retry_max`.
    pub retry: Duration,
    pub retry_max: Duration,
    /// No frame for this long while streaming: the device is taken as lost.
    pub stall: Duration,
}

impl V4l2Config {
    pub fn new(device: impl Into<PathBuf>, width: u32, height: u32, fps: u32) -> Self {
        V4l2Config {
            device: device.into(),
            width,
            height,
            fps,
            formats: PixelFormat::PREFERENCE.to_vec(),
            buffers: 4,
            queue: 4,
            poll: Duration::from_millis(100),
            retry: Duration::from_millis(250),
            retry_max: Duration::from_secs(5),
            stall: Duration::from_secs(5),
        }
    }
}

/// What the device agreed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Negotiated {
    pub device: PathBuf,
    /// The device's name and driver, as it reports them.
    pub card: String,
    pub driver: String,
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    /// Bytes from one line to the next (uncompressed formats).
    pub stride: u32,
    /// Frame rate the driver set, if it says.
    pub fps: Option<f32>,
}

/// Why a camera cannot be used (now); every variant names the device.
#[derive(Debug, thiserror::Error)]
pub enum V4l2Error {
    #[error("camera {device}: no such device")]
    NotFound { device: PathBuf },
    #[error(
        "camera {device}: permission denied (the daemon needs read and write access, \
         usually through the video group)"
    )]
    PermissionDenied { device: PathBuf },
    #[error("camera {device}: {step}: {source}")]
    Io {
        device: PathBuf,
        step: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("camera {device} ({card}) cannot stream video capture")]
    NotCapture { device: PathBuf, card: String },
    #[error("camera {device} offers none of {wanted} (it offers {offered})")]
    NoFormat {
        device: PathBuf,
        wanted: String,
        offered: String,
    },
    #[error("camera {device}: no frame for {after:?}")]
    Stalled { device: PathBuf, after: Duration },
    #[error("camera {device}: the capture thread stopped: {reason}")]
    Thread { device: PathBuf, reason: String },
}

fn io_error(device: &Path, step: &'static str, e: io::Error) -> V4l2Error {
    let device = device.to_path_buf();
    match e.kind() {
        io::ErrorKind::NotFound => V4l2Error::NotFound { device },
        io::ErrorKind::PermissionDenied => V4l2Error::PermissionDenied { device },
        _ => V4l2Error::Io {
            device,
            step,
            source: e,
        },
    }
}

/// Why one frame could not be read; the frame is counted as dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    #[error("frame of {got} bytes, {need} needed for {width}x{height} with stride {stride}")]
    Short {
        got: usize,
        need: usize,
        width: u32,
        height: u32,
        stride: usize,
    },
    #[error("MJPEG frame: {0}")]
    Jpeg(String),
}

fn check_len(
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    bpp: usize,
) -> Result<(), ConvertError> {
    let line = width as usize * bpp;
    let need = if height == 0 {
        0
    } else {
        stride * (height as usize - 1) + line
    };
    if stride < line || src.len() < need {
        return Err(ConvertError::Short {
            got: src.len(),
            need: need.max(line * height as usize),
            width,
            height,
            stride,
        });
    }
    Ok(())
}

/// A GREY frame's lines, copied into a new image.
pub fn grey_to_luma(
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<RawImage, ConvertError> {
    check_len(src, width, height, stride, 1)?;
    let mut img = RawImage::zeroed(width, height);
    let w = width as usize;
    if w > 0 {
        for (row, out) in img.luma_mut().chunks_exact_mut(w).enumerate() {
            out.copy_from_slice(&src[row * stride..row * stride + w]);
        }
    }
    Ok(img)
}

/// A YUYV frame's luma: the even bytes of each line.
pub fn yuyv_to_luma(
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<RawImage, ConvertError> {
    check_len(src, width, height, stride, 2)?;
    let mut img = RawImage::zeroed(width, height);
    let w = width as usize;
    if w > 0 {
        for (row, out) in img.luma_mut().chunks_exact_mut(w).enumerate() {
            let line = &src[row * stride..row * stride + 2 * w];
            for (o, pair) in out.iter_mut().zip(line.chunks_exact(2)) {
                *o = pair[0];
            }
        }
    }
    Ok(img)
}

/// Largest MJPEG frame decoded, either side: bounds the decoder's memory
/// whatever a device sends.
pub const MJPEG_MAX_SIDE: usize = 8192;

/// Whether the tables a baseline decoder needs come before the first scan.
/// Malformed data answers `true`: the decoder will say what is wrong.
fn has_huffman_tables(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xff {
            return true;
        }
        match jpeg[i + 1] {
            0xff => i += 1,
            0xc4 => return true,
            0xda => return false,
            0x01 | 0xd0..=0xd7 => i += 2,
            _ => i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]])),
        }
    }
    true
}

/// An MJPEG frame decoded to its luma plane, straight into the image.
///
/// UVC cameras leave the Huffman tables out of their frames (the standard
/// ones of the JPEG specification's Annex K are implied, as in AVI's MJPEG).
/// For such a frame a copy is made in `scratch` with an `AVI1` APP0
/// segment, which makes the decoder use the standard tables; `scratch` is
/// zeroized before returning.
pub fn mjpeg_to_luma(src: &[u8], scratch: &mut Vec<u8>) -> Result<RawImage, ConvertError> {
    if src.len() < 4 || src[..2] != [0xff, 0xd8] {
        return Err(ConvertError::Jpeg("no start of image".into()));
    }
    let data: &[u8] = if has_huffman_tables(src) {
        src
    } else {
        scratch.clear();
        scratch.extend_from_slice(&src[..2]);
        scratch.extend_from_slice(&[0xff, 0xe0, 0x00, 0x07, b'A', b'V', b'I', b'1', 0]);
        scratch.extend_from_slice(&src[2..]);
        scratch
    };
    let result = decode_luma(data);
    scratch.zeroize();
    result
}

fn decode_luma(data: &[u8]) -> Result<RawImage, ConvertError> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let jpeg_err = |e: zune_jpeg::errors::DecodeErrors| ConvertError::Jpeg(e.to_string());
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        .set_max_width(MJPEG_MAX_SIDE)
        .set_max_height(MJPEG_MAX_SIDE);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), options);
    dec.decode_headers().map_err(jpeg_err)?;
    let (w, h) = dec
        .dimensions()
        .ok_or_else(|| ConvertError::Jpeg("no dimensions".into()))?;
    if dec.output_buffer_size() != Some(w * h) {
        return Err(ConvertError::Jpeg(format!(
            "{:?} cannot be decoded to luma",
            dec.input_colorspace()
        )));
    }
    // Both sides are at most MJPEG_MAX_SIDE.
    let mut img = RawImage::zeroed(w as u32, h as u32);
    dec.decode_into(img.luma_mut()).map_err(jpeg_err)?;
    Ok(img)
}

/// Frames the driver skipped between sequence numbers `last` and `seq`.
/// A number going backwards (the driver restarted its count) is no loss.
pub fn sequence_gap(last: u32, seq: u32) -> u32 {
    let d = seq.wrapping_sub(last);
    if d == 0 || d > u32::MAX / 2 { 0 } else { d - 1 }
}

/// A buffer's capture time as Unix microseconds. Drivers stamp buffers with
/// the monotonic clock: the buffer's age on that clock is taken from the
/// wall clock now. Otherwise (or an implausible age), now.
pub fn unix_time_us(buf_us: i64, monotonic: bool, mono_now_us: i64, unix_now_us: i64) -> i64 {
    let age = mono_now_us - buf_us;
    if monotonic && (0..10_000_000).contains(&age) {
        unix_now_us - age
    } else {
        unix_now_us
    }
}

fn now_us() -> (i64, i64) {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() * 1_000_000 + t.tv_nsec() / 1000)
        .unwrap_or(i64::MIN);
    (mono, unix)
}

/// Opens the device and negotiates a format: what [`V4l2Source`] does
/// before streaming, and a way to check a configuration.
pub fn probe(cfg: &V4l2Config) -> Result<Negotiated, V4l2Error> {
    open(cfg).map(|(_, n)| n)
}

fn open(cfg: &V4l2Config) -> Result<(Device, Negotiated), V4l2Error> {
    let device = cfg.device.as_path();
    let dev = Device::with_path(device).map_err(|e| io_error(device, "open", e))?;
    let caps = dev
        .query_caps()
        .map_err(|e| io_error(device, "query capabilities", e))?;
    if !caps
        .capabilities
        .contains(CapFlags::VIDEO_CAPTURE | CapFlags::STREAMING)
    {
        return Err(V4l2Error::NotCapture {
            device: device.to_path_buf(),
            card: caps.card,
        });
    }
    let offered: Vec<FourCC> = dev
        .enum_formats()
        .map_err(|e| io_error(device, "list formats", e))?
        .into_iter()
        .map(|d| d.fourcc)
        .collect();
    for &format in &cfg.formats {
        if !offered.contains(&format.fourcc()) {
            continue;
        }
        let mut want = Format::new(cfg.width, cfg.height, format.fourcc());
        want.field_order = FieldOrder::Progressive;
        let got = dev
            .set_format(&want)
            .map_err(|e| io_error(device, "set format", e))?;
        if got.fourcc != format.fourcc() {
            continue;
        }
        let mut stride = got.stride;
        if let Some(bpp) = format.bytes_per_pixel() {
            let line = got.width * bpp as u32;
            if stride == 0 {
                stride = line;
            }
            if stride < line {
                continue;
            }
        }
        if (got.width, got.height) != (cfg.width, cfg.height) {
            tracing::info!(
                device = %device.display(),
                "the camera gives {}x{} instead of {}x{}",
                got.width,
                got.height,
                cfg.width,
                cfg.height
            );
        }
        // Not every driver sets a rate; the frames' own times count.
        let fps = dev
            .set_params(&Parameters::with_fps(cfg.fps))
            .ok()
            .filter(|p| p.interval.numerator > 0)
            .map(|p| p.interval.denominator as f32 / p.interval.numerator as f32);
        return Ok((
            dev,
            Negotiated {
                device: device.to_path_buf(),
                card: caps.card,
                driver: caps.driver,
                format,
                width: got.width,
                height: got.height,
                stride,
                fps,
            },
        ));
    }
    let names = |v: Vec<String>| {
        if v.is_empty() {
            "nothing".to_string()
        } else {
            v.join(", ")
        }
    };
    Err(V4l2Error::NoFormat {
        device: device.to_path_buf(),
        wanted: names(cfg.formats.iter().map(|f| f.fourcc().to_string()).collect()),
        offered: names(offered.iter().map(ToString::to_string).collect()),
    })
}

/// One step of the capture, for the consumer.
#[derive(Debug)]
pub enum Event {
    Frame(Frame),
    /// Frames lost since the previous event: skipped or marked bad by the
    /// driver, unreadable, or not taken from the queue in time.
    Dropped(u32),
    /// Nothing arrived within the poll time (or the device is still away).
    Idle,
    /// The device went away, or cannot be opened (said once per absence):
    /// capture stopped and resumes by itself.
    Lost(V4l2Error),
    /// Capture (re)started.
    Started(Negotiated),
}

/// Counters, for the status and the closing log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct V4l2Stats {
    pub frames: u64,
    /// Gaps in the driver's sequence numbers.
    pub driver_dropped: u64,
    /// Marked bad by the driver, or not decodable.
    pub corrupt: u64,
    /// Not taken from the queue in time.
    pub queue_full: u64,
    pub losses: u64,
    pub restarts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    frames: AtomicU64,
    driver_dropped: AtomicU64,
    corrupt: AtomicU64,
    queue_full: AtomicU64,
    losses: AtomicU64,
    restarts: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// The capture thread's side of the channel.
struct Link {
    tx: SyncSender<Event>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    /// Dropped frames not yet reported (the queue was full).
    pending: u32,
}

impl Link {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Hands over a frame (or `None`: only `dropped` to report) without
    /// waiting: a full queue drops the frame. `false`: the consumer is gone.
    fn deliver(&mut self, dropped: u32, frame: Option<Frame>) -> bool {
        self.pending = self.pending.saturating_add(dropped);
        if self.pending > 0 {
            match self.tx.try_send(Event::Dropped(self.pending)) {
                Ok(()) => self.pending = 0,
                Err(TrySendError::Full(_)) => {
                    if frame.is_some() {
                        self.pending += 1;
                        add(&self.counters.queue_full, 1);
                    }
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        let Some(frame) = frame else { return true };
        match self.tx.try_send(Event::Frame(frame)) {
            Ok(()) => true,
            // The frame is dropped here, and its pixels zeroized.
            Err(TrySendError::Full(_)) => {
                self.pending += 1;
                add(&self.counters.queue_full, 1);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Hands over a control event, waiting for room. `false`: stopped.
    fn control(&mut self, mut ev: Event) -> bool {
        loop {
            match self.tx.try_send(ev) {
                Ok(()) => return true,
                Err(TrySendError::Full(back)) => {
                    if self.stopped() {
                        return false;
                    }
                    ev = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
    }

    /// Sleeps `d` unless stopped first; `false`: stopped.
    fn sleep(&self, d: Duration, poll: Duration) -> bool {
        let end = Instant::now() + d;
        while !self.stopped() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(poll));
        }
        false
    }
}

/// An open, negotiated device and its stream.
struct Session {
    // Field order: the stream (its buffers) goes before the device.
    stream: MmapStream<'static>,
    dev: Device,
    neg: Negotiated,
    last_seq: Option<u32>,
    streaming: bool,
    scratch: Vec<u8>,
}

impl Session {
    fn open(cfg: &V4l2Config) -> Result<Self, V4l2Error> {
        let (dev, neg) = open(cfg)?;
        let mut stream = MmapStream::with_buffers(&dev, Type::VideoCapture, cfg.buffers)
            .map_err(|e| io_error(&cfg.device, "map buffers", e))?;
        // Bounds the first frame's wait; later frames are waited for below.
        stream.set_timeout(cfg.stall);
        Ok(Session {
            stream,
            dev,
            neg,
            last_seq: None,
            streaming: false,
            scratch: Vec::new(),
        })
    }

    /// Streams until the device fails (its error) or the source stops
    /// (`None`).
    fn run(&mut self, cfg: &V4l2Config, link: &mut Link) -> Option<V4l2Error> {
        let device = cfg.device.clone();
        let poll_ms = i32::try_from(cfg.poll.as_millis()).unwrap_or(1000).max(1);
        let mut last_frame = Instant::now();
        loop {
            if link.stopped() {
                return None;
            }
            if self.streaming {
                // Wait here, not in the stream, to see the stop flag.
                match self.dev.handle().poll(libc::POLLIN, poll_ms) {
                    Ok(0) => {
                        if last_frame.elapsed() >= cfg.stall {
                            return Some(V4l2Error::Stalled {
                                device,
                                after: cfg.stall,
                            });
                        }
                        if !link.deliver(0, None) {
                            return None;
                        }
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Some(io_error(&device, "wait for a frame", e)),
                }
            }
            let (data, meta) = match CaptureStream::next(&mut self.stream) {
                Ok((data, meta)) => (data, *meta),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Some(V4l2Error::Stalled {
                        device,
                        after: cfg.stall,
                    });
                }
                Err(e) => return Some(io_error(&device, "read a frame", e)),
            };
            self.streaming = true;
            last_frame = Instant::now();
            let mut dropped = 0;
            if let Some(last) = self.last_seq {
                let gap = sequence_gap(last, meta.sequence);
                dropped += gap;
                add(&link.counters.driver_dropped, u64::from(gap));
            }
            self.last_seq = Some(meta.sequence);
            let used = match meta.bytesused as usize {
                0 => data.len(),
                n => n.min(data.len()),
            };
            // Copy out of the borrowed driver buffer before `self` is used.
            let image = if meta.flags.contains(BufFlags::ERROR) {
                Err(None)
            } else {
                let n = &self.neg;
                match n.format {
                    PixelFormat::Grey => {
                        grey_to_luma(&data[..used], n.width, n.height, n.stride as usize)
                    }
                    PixelFormat::Yuyv => {
                        yuyv_to_luma(&data[..used], n.width, n.height, n.stride as usize)
                    }
                    PixelFormat::Mjpeg => mjpeg_to_luma(&data[..used], &mut self.scratch),
                }
                .map_err(Some)
            };
            let frame = match image {
                Ok(image) => {
                    add(&link.counters.frames, 1);
                    let (mono, unix) = now_us();
                    let buf_us = meta.timestamp.sec * 1_000_000 + meta.timestamp.usec;
                    let monotonic = meta.flags.bits() & BufFlags::TIMESTAMP_MASK.bits()
                        == BufFlags::TIMESTAMP_MONOTONIC.bits();
                    Some(Frame {
                        ts_us: unix_time_us(buf_us, monotonic, mono, unix),
                        image,
                    })
                }
                Err(why) => {
                    // Counted, never quoted: the frame's bytes stay here.
                    if let Some(e) = why {
                        tracing::debug!(error = %e, "camera frame dropped");
                    }
                    add(&link.counters.corrupt, 1);
                    dropped += 1;
                    None
                }
            };
            if !link.deliver(dropped, frame) {
                return None;
            }
        }
    }
}

/// The capture thread: open, stream, reopen with backoff.
fn capture(cfg: V4l2Config, mut link: Link) {
    let mut backoff = cfg.retry;
    let mut absence_reported = false;
    while !link.stopped() {
        // A panic in the device code (the v4l crate panics on some
        // teardown errors) is a lost device, not a dead thread.
        let opened = std::panic::catch_unwind(|| Session::open(&cfg))
            .unwrap_or_else(|p| Err(panic_error(&cfg.device, p)));
        let mut session = match opened {
            Ok(s) => s,
            Err(e) => {
                if !absence_reported {
                    absence_reported = true;
                    tracing::warn!(error = %e, "camera capture cannot start yet; retrying");
                    if !link.control(Event::Lost(e)) {
                        return;
                    }
                } else {
                    tracing::debug!(error = %e, "camera still unavailable");
                }
                if !link.sleep(backoff, cfg.poll) {
                    return;
                }
                backoff = (backoff * 2).min(cfg.retry_max);
                continue;
            }
        };
        backoff = cfg.retry;
        if link.counters.losses.load(Ordering::Relaxed) > 0 {
            add(&link.counters.restarts, 1);
        }
        if !link.control(Event::Started(session.neg.clone())) {
            return;
        }
        let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let r = session.run(&cfg, &mut link);
            (r, session)
        }));
        let err = match ended {
            Ok((None, session)) => {
                drop_quietly(session);
                return;
            }
            Ok((Some(e), session)) => {
                drop_quietly(session);
                e
            }
            Err(p) => panic_error(&cfg.device, p),
        };
        add(&link.counters.losses, 1);
        absence_reported = true;
        tracing::warn!(error = %err, "camera lost; reopening");
        if !link.control(Event::Lost(err)) {
            return;
        }
    }
}

fn panic_error(device: &Path, p: Box<dyn std::any::Any + Send>) -> V4l2Error {
    let reason = p
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into());
    V4l2Error::Thread {
        device: device.to_path_buf(),
        reason,
    }
}

/// Closes a session; the v4l crate panics when stopping the stream fails
/// with anything but ENODEV, which must not end the capture thread.
fn drop_quietly(session: Session) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(session)));
}

/// A camera, captured on a thread of its own. Dropping it stops the thread
/// and closes the device.
#[derive(Debug)]
pub struct V4l2Source {
    device: PathBuf,
    rx: Option<Receiver<Event>>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
    poll: Duration,
    dead_reported: bool,
}

impl V4l2Source {
    /// Starts capture. The device may be absent: the first event is then
    /// [`Event::Lost`] naming it, and capture starts when it appears.
    pub fn start(cfg: V4l2Config) -> Result<Self, V4l2Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel(cfg.queue.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let link = Link {
            tx,
            stop: stop.clone(),
            counters: counters.clone(),
            pending: 0,
        };
        let device = cfg.device.clone();
        let poll = cfg.poll;
        let thread = std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || capture(cfg, link))
            .map_err(|e| io_error(&device, "start the capture thread", e))?;
        Ok(V4l2Source {
            device,
            rx: Some(rx),
            stop,
            counters,
            thread: Some(thread),
            poll,
            dead_reported: false,
        })
    }

    /// The next event; returns within about the poll time.
    pub fn next_event(&mut self) -> Event {
        let Some(rx) = &self.rx else {
            return Event::Idle;
        };
        match rx.recv_timeout(self.poll) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => Event::Idle,
            Err(RecvTimeoutError::Disconnected) => {
                if self.dead_reported {
                    std::thread::sleep(self.poll);
                }
                self.thread_ended()
            }
        }
    }

    /// The next event if one is waiting, else `Idle` at once (a loop that
    /// also reads other devices).
    pub fn try_event(&mut self) -> Event {
        let Some(rx) = &self.rx else {
            return Event::Idle;
        };
        match rx.try_recv() {
            Ok(ev) => ev,
            Err(std::sync::mpsc::TryRecvError::Empty) => Event::Idle,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => self.thread_ended(),
        }
    }

    /// The capture thread is gone: said once, then `Idle`.
    fn thread_ended(&mut self) -> Event {
        if std::mem::replace(&mut self.dead_reported, true) {
            return Event::Idle;
        }
        Event::Lost(V4l2Error::Thread {
            device: self.device.clone(),
            reason: "it ended".into(),
        })
    }

    pub fn stats(&self) -> V4l2Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        V4l2Stats {
            frames: get(&c.frames),
            driver_dropped: get(&c.driver_dropped),
            corrupt: get(&c.corrupt),
            queue_full: get(&c.queue_full),
            losses: get(&c.losses),
            restarts: get(&c.restarts),
        }
    }
}

impl Drop for V4l2Source {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Frames still queued are dropped (zeroized) with the channel.
        drop(self.rx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_is_copied_line_by_line_without_the_padding() {
        // 3x2 with a stride of 4: the fourth byte of each line is padding.
        let src = [1, 2, 3, 99, 4, 5, 6, 99];
        let img = grey_to_luma(&src, 3, 2, 4).unwrap();
        assert_eq!((img.width(), img.height()), (3, 2));
        assert_eq!(img.luma(), &[1, 2, 3, 4, 5, 6]);
        // The last line needs no padding after it.
        let img = grey_to_luma(&src[..7], 3, 2, 4).unwrap();
        assert_eq!(img.luma(), &[1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn yuyv_keeps_every_other_byte() {
        // Y0 U Y1 V per pixel pair; 4x2, stride 10 (two bytes of padding).
        let src = [
            10, 200, 11, 201, 12, 202, 13, 203, 0, 0, //
            20, 210, 21, 211, 22, 212, 23, 213, 0, 0,
        ];
        let img = yuyv_to_luma(&src, 4, 2, 10).unwrap();
        assert_eq!(img.luma(), &[10, 11, 12, 13, 20, 21, 22, 23]);
    }

    #[test]
    fn short_frames_are_refused() {
        let e = yuyv_to_luma(&[0; 15], 4, 2, 8).unwrap_err();
        assert_eq!(
            e,
            ConvertError::Short {
                got: 15,
                need: 16,
                width: 4,
                height: 2,
                stride: 8
            }
        );
        // A stride shorter than a line is no frame either.
        assert!(grey_to_luma(&[0; 64], 8, 2, 4).is_err());
    }

    /// A test pattern: a horizontal ramp with a bright square.
    fn pattern(w: usize, h: usize) -> Vec<u8> {
        let mut p = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let square = (8..24).contains(&x) && (8..24).contains(&y);
                p[y * w + x] = if square {
                    230
                } else {
                    (x * 160 / w) as u8 + 20
                };
            }
        }
        p
    }

    fn encode(pixels: &[u8], w: u16, h: u16, color: jpeg_encoder::ColorType) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 95);
        // Webcams' MJPEG is 4:2:2.
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_1);
        enc.encode(pixels, w, h, color).unwrap();
        out
    }

    fn assert_close(got: &[u8], want: &[u8]) {
        assert_eq!(got.len(), want.len());
        let worst = got
            .iter()
            .zip(want)
            .map(|(&a, &b)| a.abs_diff(b))
            .max()
            .unwrap();
        // JPEG at quality 95 is lossy by a few levels, most near edges.
        assert!(worst <= 24, "worst pixel off by {worst}");
        let mean = got
            .iter()
            .zip(want)
            .map(|(&a, &b)| u32::from(a.abs_diff(b)))
            .sum::<u32>() as f64
            / got.len() as f64;
        assert!(mean < 2.0, "mean error {mean}");
    }

    #[test]
    fn a_grey_jpeg_decodes_to_its_luma() {
        let (w, h) = (48, 32);
        let want = pattern(w, h);
        let jpeg = encode(&want, w as u16, h as u16, jpeg_encoder::ColorType::Luma);
        let mut scratch = Vec::new();
        let img = mjpeg_to_luma(&jpeg, &mut scratch).unwrap();
        assert_eq!((img.width(), img.height()), (48, 32));
        assert_close(img.luma(), &want);
    }

    #[test]
    fn a_colour_jpeg_decodes_to_its_luma_only() {
        let (w, h) = (48, 32);
        let want = pattern(w, h);
        // Y from the pattern, strong chroma that must not leak into luma.
        let ycbcr: Vec<u8> = want.iter().flat_map(|&y| [y, 40, 220]).collect();
        let jpeg = encode(&ycbcr, w as u16, h as u16, jpeg_encoder::ColorType::Ycbcr);
        let img = mjpeg_to_luma(&jpeg, &mut Vec::new()).unwrap();
        assert_close(img.luma(), &want);
    }

    /// The frame without its DHT segments, as UVC cameras send it.
    fn strip_huffman_tables(jpeg: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        let mut i = 2;
        loop {
            let marker = jpeg[i + 1];
            if marker == 0xda {
                out.extend_from_slice(&jpeg[i..]);
                return out;
            }
            let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
            if marker != 0xc4 {
                out.extend_from_slice(&jpeg[i..i + 2 + len]);
            }
            i += 2 + len;
        }
    }

    #[test]
    fn a_frame_without_huffman_tables_uses_the_standard_ones() {
        let (w, h) = (48, 32);
        let want = pattern(w, h);
        let ycbcr: Vec<u8> = want.iter().flat_map(|&y| [y, 128, 128]).collect();
        let jpeg = encode(&ycbcr, w as u16, h as u16, jpeg_encoder::ColorType::Ycbcr);
        let bare = strip_huffman_tables(&jpeg);
        assert!(bare.len() < jpeg.len() - 100, "DHT segments removed");
        assert!(has_huffman_tables(&jpeg));
        assert!(!has_huffman_tables(&bare));
        let mut scratch = Vec::new();
        let img = mjpeg_to_luma(&bare, &mut scratch).unwrap();
        assert_close(img.luma(), &want);
        // The copy with the added segment is gone.
        assert!(scratch.is_empty());
    }

    #[test]
    fn broken_jpeg_is_an_error_not_a_panic() {
        let jpeg = encode(&pattern(48, 32), 48, 32, jpeg_encoder::ColorType::Luma);
        let mut scratch = Vec::new();
        assert!(mjpeg_to_luma(&jpeg[..40], &mut scratch).is_err());
        assert!(mjpeg_to_luma(b"not a jpeg", &mut scratch).is_err());
        assert!(mjpeg_to_luma(&[], &mut scratch).is_err());
        // Cut inside the scan: an error or a (partly grey) frame, never a panic.
        let _ = mjpeg_to_luma(&jpeg[..jpeg.len() / 2], &mut scratch);
    }

    #[test]
    fn frames_the_consumer_does_not_take_are_reported_as_dropped() {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let counters = Arc::new(Counters::default());
        let mut link = Link {
            tx,
            stop: Arc::new(AtomicBool::new(false)),
            counters: counters.clone(),
            pending: 0,
        };
        let frame = |ts_us| Frame {
            ts_us,
            image: RawImage::zeroed(2, 2),
        };
        assert!(link.deliver(0, Some(frame(1))));
        // The driver skipped three frames before this one.
        assert!(link.deliver(3, Some(frame(2))));
        // Queue full (frame 1 and the Dropped event took the room): frames
        // 2, 3 and 4 are dropped, and counted.
        assert!(link.deliver(0, Some(frame(3))));
        assert!(link.deliver(0, Some(frame(4))));
        assert_eq!(counters.queue_full.load(Ordering::Relaxed), 3);
        let mut seen = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            seen.push(match ev {
                Event::Frame(f) => format!("frame {}", f.ts_us),
                Event::Dropped(n) => format!("dropped {n}"),
                other => format!("{other:?}"),
            });
        }
        assert_eq!(seen, ["frame 1", "dropped 3"]);
        // Room again: what was dropped is said before the next frame.
        assert!(link.deliver(0, Some(frame(5))));
        assert!(matches!(rx.try_recv(), Ok(Event::Dropped(3))));
        assert!(matches!(rx.try_recv(), Ok(Event::Frame(f)) if f.ts_us == 5));
        drop(rx);
        assert!(!link.deliver(0, Some(frame(6))), "consumer gone");
    }

    #[test]
    fn sequence_gaps_count_skipped_frames() {
        assert_eq!(sequence_gap(7, 8), 0);
        assert_eq!(sequence_gap(7, 10), 2);
        assert_eq!(sequence_gap(u32::MAX, 1), 1);
        // The same number again, or a restarted count: nothing lost.
        assert_eq!(sequence_gap(7, 7), 0);
        assert_eq!(sequence_gap(500, 0), 0);
    }

    #[test]
    fn monotonic_buffer_times_become_unix_times() {
        // Captured 30 ms ago on the monotonic clock.
        assert_eq!(
            unix_time_us(1_000_000, true, 1_030_000, 1_700_000_000_000_000),
            1_699_999_999_970_000
        );
        // Unknown clock, or an age no queue explains: now.
        assert_eq!(unix_time_us(1_000_000, false, 1_030_000, 5), 5);
        assert_eq!(unix_time_us(2_000_000, true, 1_000_000, 5), 5);
    }
}
