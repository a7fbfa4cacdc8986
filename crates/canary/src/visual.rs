//! Visual canaries: a patch of pixels the auditor shows a camera, then
//! looks for in what the device keeps (its memory, its files).
//!
//! The patch is random noise drawn from the canary's seed (itself drawn
//! from the registry's seed), so it cannot occur by chance and a vendor
//! cannot know it in advance. It is made of three bands of square cells of
//! one grey value each: 2, 4 and 6 pixels wide. A cell of `c` pixels, box-
//! downsampled by a factor `f` that divides `c` (the patch being placed at
//! a multiple of [`ALIGN`] pixels), becomes cells of `c / f` pixels of the
//! very same value, whatever the rounding of the averaging. So the rows of
//! the patch can be searched for at full size and at 1/2, 1/3, 1/4 and 1/6
//! of it: the sizes analytics work at (a 640x480 picture is worked on at
//! half size, 1280x720 at a quarter, 1920x1080 at a sixth).
//!
//! Searched forms ([`VisualForm`]): each row of a band at each scale where
//! a cell is one or two pixels wide (at least 128 bits of randomness in
//! any 32 bytes), laid out either as 8-bit grey (`8-bit`: a grey frame, a
//! luma plane) or with one byte between two pixels (`interleaved`: YUYV or
//! UYVY luma with chroma between, 16-bit samples, and 8.8 fixed-point
//! models, whose high byte is the pixel). A find is any run of at least
//! [`MIN_RUN`] pixels of one row. Not searchable byte-wise: the patch
//! compressed (JPEG, PNG, video codecs), downsampled by other factors (8,
//! or not a divisor of the cell) or by filters other than a box (Gaussian
//! pyramids), rotated, or with its values changed (gain, gamma, noise).

use std::collections::HashMap;
use std::io::Read;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

/// Width of the patch, in pixels (a multiple of every cell size).
pub const WIDTH: usize = 192;
/// Cell sizes of the bands, top to bottom.
pub const CELLS: [usize; 3] = [6, 4, 2];
/// Height of each band, in pixels (a multiple of every cell size).
pub const BAND: usize = 24;
/// Height of the patch.
pub const HEIGHT: usize = BAND * CELLS.len();
/// The patch is placed at multiples of this many pixels (a multiple of
/// every cell size), so that cells fall on the downsampling grid.
pub const ALIGN: usize = 12;
/// Shortest run of a row's pixels that counts as a find: 32 bytes hold at
/// least 128 random bits in every form searched.
pub const MIN_RUN: usize = 32;

/// A visual canary: the seed its patch is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisualCanary {
    pub seed: u64,
}

/// How the pixels of a row are laid out in memory or in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layout {
    /// One byte per pixel: grey frames, luma planes.
    Packed,
    /// One byte between two pixels: YUYV/UYVY luma, 16-bit samples, 8.8
    /// fixed point.
    Interleaved,
}

/// One searched form: a row of one band at one scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisualForm {
    /// The downsampling factor (1: full size).
    pub scale: usize,
    /// The row's pixels at that scale.
    pub bytes: Vec<u8>,
}

/// A form's stable name in reports: `pixels(1/2)/interleaved`.
pub fn form_name(scale: usize, layout: Layout) -> String {
    let layout = match layout {
        Layout::Packed => "8-bit",
        Layout::Interleaved => "interleaved",
    };
    format!("pixels(1/{scale})/{layout}")
}

impl VisualCanary {
    /// The cell values of each band: `[band][cell row][cell column]`.
    fn cells(&self) -> Vec<Vec<Vec<u8>>> {
        let mut rng = ChaCha20Rng::seed_from_u64(self.seed);
        CELLS
            .iter()
            .map(|&c| {
                (0..BAND / c)
                    .map(|_| (0..WIDTH / c).map(|_| rng.random::<u8>()).collect())
                    .collect()
            })
            .collect()
    }

    /// The patch, `WIDTH` x `HEIGHT` grey pixels, row by row.
    pub fn patch(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(WIDTH * HEIGHT);
        for (band, &c) in self.cells().iter().zip(&CELLS) {
            for row in band {
                let line: Vec<u8> = row
                    .iter()
                    .flat_map(|&v| std::iter::repeat_n(v, c))
                    .collect();
                for _ in 0..c {
                    out.extend_from_slice(&line);
                }
            }
        }
        out
    }

    /// Where [`paint`](Self::paint) puts the patch in a `width` x
    /// `height` picture: near the centre, at multiples of [`ALIGN`];
    /// `None` when the picture is too small.
    pub fn place(width: usize, height: usize) -> Option<(usize, usize)> {
        if width < WIDTH || height < HEIGHT {
            return None;
        }
        let at = |side: usize, size: usize| ((side - size) / 2) / ALIGN * ALIGN;
        Some((at(width, WIDTH), at(height, HEIGHT)))
    }

    /// Paints the patch into a grey picture (a luma plane), `width` pixels
    /// a row. Returns false, leaving it as it was, when it does not fit.
    pub fn paint(&self, luma: &mut [u8], width: usize, height: usize) -> bool {
        let Some((x0, y0)) = Self::place(width, height) else {
            return false;
        };
        if luma.len() < width * height {
            return false;
        }
        for (y, row) in self.patch().chunks_exact(WIDTH).enumerate() {
            let at = (y0 + y) * width + x0;
            luma[at..at + WIDTH].copy_from_slice(row);
        }
        true
    }

    /// Every form searched for: each row of each band at each scale that
    /// divides its cells and leaves them at most two pixels wide.
    pub fn forms(&self) -> Vec<VisualForm> {
        let mut out = Vec::new();
        for (band, &c) in self.cells().iter().zip(&CELLS) {
            for scale in (1..=c).filter(|f| c % f == 0 && c / f <= 2) {
                for row in band {
                    let bytes = row
                        .iter()
                        .flat_map(|&v| std::iter::repeat_n(v, c / scale))
                        .collect();
                    out.push(VisualForm { scale, bytes });
                }
            }
        }
        out
    }
}

/// One find of a visual canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisualMatch {
    /// Index of the canary in the registry.
    pub canary: usize,
    pub scale: usize,
    pub layout: Layout,
    /// Byte offset of the run's first pixel.
    pub offset: u64,
    /// Pixels of the row matched.
    pub pixels: usize,
}

impl VisualMatch {
    /// The form's stable name ([`form_name`]).
    pub fn form(&self) -> String {
        form_name(self.scale, self.layout)
    }
}

/// Pixels a sampled gram holds.
const GRAM: usize = 8;
/// A gram is read every this many bytes: every run of [`MIN_RUN`] pixels
/// covers a whole sampled gram in either layout.
const STEP: usize = 16;
/// Bits of the gram bitmap (128 KiB).
const FILTER_BITS: u32 = 20;

#[derive(Debug)]
struct Row {
    canary: usize,
    scale: usize,
    bytes: Vec<u8>,
}

/// Every visual canary of a registry, compiled for searching.
#[derive(Debug)]
pub struct VisualScanner {
    rows: Vec<Row>,
    filter: Vec<u64>,
    grams: HashMap<u64, Vec<(u32, u16)>>,
    longest: usize,
}

#[inline(always)]
fn slot(gram: u64) -> usize {
    (gram.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
}

/// The even bytes of `v` (byte 0, 2, ... 14), packed.
#[inline(always)]
fn evens(v: u128) -> u64 {
    let mut x = v & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    x = (x | x >> 8) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    x = (x | x >> 16) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    x = (x | x >> 32) & 0xffff_ffff_ffff_ffff;
    x as u64
}

impl VisualScanner {
    /// The visual canaries of `registry` ([`crate::CanaryValue::Visual`]).
    pub fn new(registry: &crate::Registry) -> VisualScanner {
        let mut rows = Vec::new();
        for (i, c) in registry.canaries.iter().enumerate() {
            if let crate::CanaryValue::Visual(v) = &c.value {
                for f in v.forms() {
                    rows.push(Row {
                        canary: i,
                        scale: f.scale,
                        bytes: f.bytes,
                    });
                }
            }
        }
        let mut filter = vec![0u64; 1 << (FILTER_BITS - 6)];
        let mut grams: HashMap<u64, Vec<(u32, u16)>> = HashMap::new();
        for (r, row) in rows.iter().enumerate() {
            for pos in 0..=row.bytes.len() - GRAM {
                let g = u64::from_le_bytes(row.bytes[pos..pos + GRAM].try_into().unwrap());
                let s = slot(g);
                filter[s >> 6] |= 1 << (s & 63);
                grams.entry(g).or_default().push((r as u32, pos as u16));
            }
        }
        let longest = rows.iter().map(|r| r.bytes.len()).max().unwrap_or(0);
        VisualScanner {
            rows,
            filter,
            grams,
            longest,
        }
    }

    /// No visual canary to look for.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Bytes a chunked search carries over between chunks.
    pub fn overlap(&self) -> usize {
        2 * self.longest + STEP
    }

    /// Every find in `data`, offsets shifted by `base`. A run is reported
    /// once, at its longest, by the row it matches longest.
    pub fn scan(&self, data: &[u8], base: u64, on_match: &mut impl FnMut(VisualMatch)) {
        if self.rows.is_empty() || data.len() < STEP {
            return;
        }
        // Per lane (packed, interleaved at even and at odd bytes): where
        // the last run reported from it ends, so that the samples inside
        // it are not verified again.
        let mut until = [0usize; 3];
        let mut p = 0;
        while p + STEP <= data.len() {
            let v = u128::from_le_bytes(data[p..p + STEP].try_into().unwrap());
            let at = [
                (v as u64, p, 1),
                (evens(v), p, 2),
                (evens(v >> 8), p + 1, 2),
            ];
            for (lane, (gram, start, step)) in at.into_iter().enumerate() {
                let s = slot(gram);
                if (self.filter[s >> 6] >> (s & 63)) & 1 == 0
                    || start < until[lane]
                    || start < until[0]
                {
                    continue;
                }
                let Some((run, mut pixels, row)) = self.verify(data, gram, start, step) else {
                    continue;
                };
                let end = run + (pixels - 1) * step + 1;
                until[lane] = end;
                let row = &self.rows[row];
                let (mut scale, mut layout) = (row.scale, Layout::Packed);
                if step == 2 {
                    if run < until[0] {
                        // Every other pixel of a packed run reported.
                        continue;
                    }
                    // Every other byte of pixels that come in pairs: a
                    // packed row at twice the size (the 4-pixel cells at
                    // full size read as the 1/2 form).
                    let doubled =
                        (0..pixels - 1).all(|i| data[run + 2 * i + 1] == data[run + 2 * i]);
                    if doubled && scale % 2 == 0 {
                        scale /= 2;
                        pixels *= 2;
                        until[0] = end + 1;
                    } else {
                        layout = Layout::Interleaved;
                    }
                }
                on_match(VisualMatch {
                    canary: row.canary,
                    scale,
                    layout,
                    offset: base + run as u64,
                    pixels,
                });
            }
            p += STEP;
        }
    }

    /// The longest run through the gram at `start` (pixels `step` bytes
    /// apart) that matches a row: (first byte, pixels, row).
    fn verify(
        &self,
        data: &[u8],
        gram: u64,
        start: usize,
        step: usize,
    ) -> Option<(usize, usize, usize)> {
        let mut best: Option<(usize, usize, usize)> = None;
        for &(r, pos) in self.grams.get(&gram)? {
            let row = &self.rows[r as usize].bytes;
            let pos = usize::from(pos);
            let mut back = 0;
            while back < pos
                && start >= (back + 1) * step
                && data[start - (back + 1) * step] == row[pos - back - 1]
            {
                back += 1;
            }
            let mut fwd = 0;
            while pos + GRAM + fwd < row.len()
                && start + (GRAM + fwd) * step < data.len()
                && data[start + (GRAM + fwd) * step] == row[pos + GRAM + fwd]
            {
                fwd += 1;
            }
            let pixels = back + GRAM + fwd;
            if pixels >= MIN_RUN && best.is_none_or(|b| pixels > b.1) {
                best = Some((start - back * step, pixels, r as usize));
            }
        }
        best
    }

    /// Every find in a stream read in chunks; offsets from its start.
    /// Returns the bytes read.
    pub fn scan_reader(
        &self,
        mut reader: impl Read,
        on_match: &mut impl FnMut(VisualMatch),
    ) -> std::io::Result<u64> {
        const CHUNK: usize = 8 << 20;
        let overlap = self.overlap();
        let mut buf = vec![0u8; CHUNK + overlap];
        let mut len = 0usize;
        let mut base = 0u64;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut eof = false;
            while len < buf.len() {
                match reader.read(&mut buf[len..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(k) => len += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // A run that reaches the end of the buffer may go on: it is
            // found whole with the next chunk, which starts with the
            // overlap. Runs inside the overlap are found twice: reported
            // once.
            self.scan(&buf[..len], base, &mut |m| {
                let step = match m.layout {
                    Layout::Packed => 1,
                    Layout::Interleaved => 2,
                };
                let end = (m.offset - base) as usize + (m.pixels - 1) * step + 1;
                if (eof || end + step <= len) && seen.insert((m.offset, m.layout, m.canary)) {
                    on_match(m)
                }
            });
            if eof {
                return Ok(base + len as u64);
            }
            let keep = overlap.min(len);
            buf.copy_within(len - keep..len, 0);
            base += (len - keep) as u64;
            len = keep;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Canary, CanaryValue, Registry};

    fn registry(seed: u64) -> Registry {
        Registry {
            seed: None,
            canaries: vec![
                Canary {
                    id: "mac-01".into(),
                    value: CanaryValue::Mac([0, 0x1b, 0x63, 1, 2, 3]),
                    emitted: vec![],
                },
                Canary {
                    id: "visual-01".into(),
                    value: CanaryValue::Visual(VisualCanary { seed }),
                    emitted: vec![],
                },
            ],
        }
    }

    /// A `w` x `h` picture of smooth gradients with the patch in it.
    fn picture(c: &VisualCanary, w: usize, h: usize) -> Vec<u8> {
        let mut luma: Vec<u8> = (0..w * h).map(|i| ((i % w + i / w) / 4) as u8).collect();
        assert!(c.paint(&mut luma, w, h));
        luma
    }

    /// Box downsampling by `f` with rounding to nearest.
    fn downsample(src: &[u8], w: usize, h: usize, f: usize) -> Vec<u8> {
        let (dw, dh) = (w / f, h / f);
        let mut out = Vec::with_capacity(dw * dh);
        for y in 0..dh {
            for x in 0..dw {
                let mut s = 0usize;
                for yy in 0..f {
                    for xx in 0..f {
                        s += usize::from(src[(y * f + yy) * w + x * f + xx]);
                    }
                }
                out.push(((s + f * f / 2) / (f * f)) as u8);
            }
        }
        out
    }

    fn finds(s: &VisualScanner, data: &[u8]) -> Vec<VisualMatch> {
        let mut out = Vec::new();
        s.scan(data, 0, &mut |m| out.push(m));
        out
    }

    #[test]
    fn the_patch_is_found_in_a_grey_frame_at_each_row_and_nowhere_else() {
        let c = VisualCanary { seed: 7 };
        let reg = registry(7);
        let s = VisualScanner::new(&reg);
        let (w, h) = (640, 360);
        let luma = picture(&c, w, h);
        let found = finds(&s, &luma);
        let (x0, y0) = VisualCanary::place(w, h).unwrap();
        // At full size the bands of 2- and 4-pixel cells (the 4-pixel
        // ones read every other byte, as their 1/2 form): one whole-row
        // run for each of their pixel rows, 8-bit. The 6-pixel cells
        // repeat each value 6 times there, which no form does.
        assert_eq!(found.len(), 2 * BAND, "{found:?}");
        for (i, m) in found.iter().enumerate() {
            assert_eq!(m.canary, 1);
            assert_eq!((m.scale, m.layout), (1, Layout::Packed));
            assert_eq!(m.offset, ((y0 + BAND + i) * w + x0) as u64);
            assert_eq!(m.pixels, WIDTH);
        }
        // Another seed's patch is not found.
        assert!(finds(&VisualScanner::new(&registry(8)), &luma).is_empty());
    }

    #[test]
    fn downsampled_and_interleaved_copies_are_found_by_their_form() {
        let c = VisualCanary { seed: 99 };
        let s = VisualScanner::new(&registry(99));
        let (w, h) = (1152, 720);
        let luma = picture(&c, w, h);
        for f in [2, 3, 4, 6] {
            let small = downsample(&luma, w, h, f);
            let got: Vec<String> = finds(&s, &small).iter().map(|m| m.form()).collect();
            assert!(
                got.contains(&form_name(f, Layout::Packed)),
                "1/{f}: {got:?}"
            );
            // YUYV: luma with chroma between.
            let yuyv: Vec<u8> = small
                .iter()
                .enumerate()
                .flat_map(|(i, &y)| [y, if i % 2 == 0 { 90 } else { 160 }])
                .collect();
            let got: Vec<String> = finds(&s, &yuyv).iter().map(|m| m.form()).collect();
            assert!(
                got.contains(&form_name(f, Layout::Interleaved)),
                "1/{f} YUYV: {got:?}"
            );
        }
        // 8.8 fixed point, little-endian: the pixel is the odd byte.
        let model: Vec<u8> = downsample(&luma, w, h, 2)
            .iter()
            .flat_map(|&p| (u16::from(p) << 8 | 0x37).to_le_bytes())
            .collect();
        let found = finds(&s, &model);
        assert!(
            found
                .iter()
                .any(|m| m.layout == Layout::Interleaved && m.offset % 2 == 1)
        );
        // Factor 8 divides no cell: not found, as documented.
        assert!(finds(&s, &downsample(&luma, w, h, 8)).is_empty());
    }

    #[test]
    fn runs_shorter_than_min_run_or_with_one_pixel_changed_are_not_finds() {
        let c = VisualCanary { seed: 3 };
        let s = VisualScanner::new(&registry(3));
        let row = &c.patch()[(HEIGHT - 1) * WIDTH..];
        let mut data = vec![0u8; 100];
        data.extend_from_slice(&row[10..10 + MIN_RUN - 1]);
        data.extend_from_slice(&[0u8; 100]);
        assert!(finds(&s, &data).is_empty());
        let mut data = vec![0u8; 100];
        data.extend_from_slice(&row[10..10 + MIN_RUN]);
        data.extend_from_slice(&[0u8; 100]);
        let found = finds(&s, &data);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].offset, found[0].pixels), (100, MIN_RUN));
        // A pixel off by one in the middle leaves two runs of 16.
        data[100 + 16] ^= 1;
        assert!(finds(&s, &data).is_empty());
    }

    #[test]
    fn a_stream_read_in_chunks_gives_each_run_once_at_its_offset() {
        let c = VisualCanary { seed: 11 };
        let s = VisualScanner::new(&registry(11));
        let row = &c.patch()[(HEIGHT - 1) * WIDTH..];
        // Across the first buffer's end (a chunk and the overlap).
        let at = (8 << 20) + s.overlap() - 50;
        let mut data = vec![7u8; at];
        data.extend_from_slice(row);
        data.extend(std::iter::repeat_n(7u8, 1000));
        let mut found = Vec::new();
        let n = s.scan_reader(&data[..], &mut |m| found.push(m)).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].offset, found[0].pixels), (at as u64, WIDTH));
    }

    #[test]
    fn a_registrys_visual_canaries_come_from_its_seed_and_survive_a_save() {
        let ouis = [[0x00, 0x1b, 0x63]];
        let plain = Registry::from_seed(2, 1, &ouis, 5);
        let mut a = plain.clone();
        a.add_visual();
        let mut b = Registry::from_seed(2, 1, &ouis, 5);
        b.add_visual();
        assert_eq!(a, b, "the same seed, the same patch");
        // The other canaries are what the seed made without it.
        assert_eq!(a.canaries[..3], plain.canaries[..]);
        let first = a.canaries[3].visual().unwrap();
        assert_eq!(a.add_visual().id, "visual-02");
        assert_ne!(a.canaries[4].visual().unwrap(), first);
        let mut other = Registry::from_seed(2, 1, &ouis, 6);
        other.add_visual();
        assert_ne!(other.canaries[3].visual().unwrap(), first);

        let text = serde_json::to_string(&a).unwrap();
        assert!(text.contains(r#""kind":"visual""#), "{text}");
        assert_eq!(serde_json::from_str::<Registry>(&text).unwrap(), a);

        // Emitting over the air is not showing to a camera.
        let t = time::OffsetDateTime::UNIX_EPOCH;
        a.mark_emitted(t);
        a.mark_shown(t + time::Duration::seconds(5));
        a.mark_shown(t + time::Duration::seconds(9));
        assert_eq!(a.canaries[0].emitted, [t]);
        assert_eq!(a.canaries[3].emitted.len(), 2);
        assert_eq!(
            a.canaries[3].last_emitted(),
            Some(t + time::Duration::seconds(9))
        );
        assert!(a.canaries[3].forms().is_empty());
        assert_eq!(a.visuals().map(|(i, ..)| i).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn patches_look_like_noise_and_differ_by_seed() {
        let a = VisualCanary { seed: 1 }.patch();
        let b = VisualCanary { seed: 2 }.patch();
        assert_eq!(a.len(), WIDTH * HEIGHT);
        assert_ne!(a, b);
        let mean = a.iter().map(|&p| f64::from(p)).sum::<f64>() / a.len() as f64;
        assert!((100.0..156.0).contains(&mean), "{mean}");
        // Every patch is too small for a 160x120 picture and fits 640x360.
        assert_eq!(VisualCanary::place(160, 120), None);
        assert_eq!(VisualCanary::place(640, 360), Some((216, 144)));
    }
}
