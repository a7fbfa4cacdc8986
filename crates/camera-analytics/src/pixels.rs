//! Pixel loops: the box downsampling of a frame, the binary morphology of
//! the foreground mask and the frame's fingerprint. Every loop walks whole
//! rows as slices of equal length, so that the compiler vectorizes it.

/// The internal resolution's factor for a frame of `width` x `height`:
/// about 180 internal rows or more (a person some 20 internal pixels tall at
/// the far end of a store), and at least one.
pub(crate) fn factor_for(width: usize, height: usize) -> usize {
    (width.min(height) / 180).clamp(1, 8)
}

/// `src` (`w` x `h`) box-averaged by `f` x `f` into `dst` (`w / f` x
/// `h / f`, the last partial rows and columns dropped); `acc` is a row of
/// sums, `w / f` long.
pub(crate) fn downsample(src: &[u8], w: usize, f: usize, dst: &mut [u8], acc: &mut [u32]) {
    let dw = acc.len();
    let dh = dst.len() / dw.max(1);
    if f == 1 {
        for (y, out) in dst.chunks_exact_mut(dw).enumerate() {
            out.copy_from_slice(&src[y * w..y * w + dw]);
        }
        return;
    }
    if f == 2 {
        for (y, out) in dst.chunks_exact_mut(dw).enumerate().take(dh) {
            let r0 = &src[2 * y * w..2 * y * w + 2 * dw];
            let r1 = &src[(2 * y + 1) * w..(2 * y + 1) * w + 2 * dw];
            for ((o, a), b) in out
                .iter_mut()
                .zip(r0.chunks_exact(2))
                .zip(r1.chunks_exact(2))
            {
                let s = u16::from(a[0]) + u16::from(a[1]) + u16::from(b[0]) + u16::from(b[1]);
                *o = ((s + 2) >> 2) as u8;
            }
        }
        return;
    }
    // Any other factor: sums of f rows, then of f columns, divided by a
    // multiplication (f * f is at most 64, the sum at most 16320).
    let n = (f * f) as u32;
    let inv = (1u32 << 16).div_ceil(n);
    for (y, out) in dst.chunks_exact_mut(dw).enumerate().take(dh) {
        acc.fill(0);
        for r in 0..f {
            let row = &src[(y * f + r) * w..(y * f + r) * w + dw * f];
            for (a, px) in acc.iter_mut().zip(row.chunks_exact(f)) {
                *a += px.iter().map(|&p| u32::from(p)).sum::<u32>();
            }
        }
        for (o, &a) in out.iter_mut().zip(acc.iter()) {
            *o = (((a + n / 2) * inv) >> 16).min(255) as u8;
        }
    }
}

/// A 64-bit fingerprint of the whole frame (every pixel counts, so that
/// the sensor noise of a live camera changes it): to tell a frozen source
/// without keeping the previous frame.
pub(crate) fn fingerprint(luma: &[u8]) -> u64 {
    // Four independent lanes of multiply-rotate over 8-byte words.
    let mut lanes = [
        0x9e37_79b9_7f4a_7c15u64,
        0xc2b2_ae3d_27d4_eb4f,
        0x1656_67b1_9e37_79f9,
        0x27d4_eb2f_1656_67c5,
    ];
    let mut chunks = luma.chunks_exact(32);
    for c in &mut chunks {
        for (k, lane) in lanes.iter_mut().enumerate() {
            let word = u64::from_le_bytes(c[k * 8..k * 8 + 8].try_into().unwrap());
            *lane = (*lane ^ word)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
        }
    }
    let mut h =
        lanes[0] ^ lanes[1].rotate_left(16) ^ lanes[2].rotate_left(32) ^ lanes[3].rotate_left(48);
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h ^ luma.len() as u64
}

/// One pass of a 3 x 3 minimum (`erode`) or maximum (dilate), of a 0/255
/// mask or of any plane, `src` into `dst`, both `w` wide; the border repeats the edge (a
/// person entering at the edge of the picture is not eaten from it).
pub(crate) fn pass3(src: &[u8], dst: &mut [u8], tmp: &mut [u8], w: usize, erode: bool) {
    let op = |a: u8, b: u8| if erode { a.min(b) } else { a.max(b) };
    // Rows: src into tmp.
    for (s, t) in src.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        if w < 3 {
            let v = s.iter().copied().fold(s[0], op);
            t.fill(v);
            continue;
        }
        for (((o, &a), &b), &c) in t[1..w - 1]
            .iter_mut()
            .zip(&s[..w - 2])
            .zip(&s[1..w - 1])
            .zip(&s[2..])
        {
            *o = op(op(a, b), c);
        }
        t[0] = op(s[0], s[1]);
        t[w - 1] = op(s[w - 2], s[w - 1]);
    }
    // Columns: tmp into dst.
    let h = src.len() / w;
    for y in 0..h {
        let up = &tmp[y.saturating_sub(1) * w..][..w];
        let mid = &tmp[y * w..][..w];
        let down = &tmp[(y + 1).min(h - 1) * w..][..w];
        let out = &mut dst[y * w..][..w];
        for (((o, &a), &b), &c) in out.iter_mut().zip(up).zip(mid).zip(down) {
            *o = op(op(a, b), c);
        }
    }
}

/// `img` (`w` wide) smoothed in place by a 3 x 3 box (the edge repeated),
/// with `sums` (as long as `img`) as scratch: the sensor's noise drops to
/// a third, a person's contrast stays.
pub(crate) fn box3(img: &mut [u8], sums: &mut [u16], w: usize) {
    let h = img.len() / w;
    if w < 3 || h < 3 {
        return;
    }
    for (src, out) in img.chunks_exact(w).zip(sums.chunks_exact_mut(w)) {
        for (((o, &a), &b), &c) in out[1..w - 1]
            .iter_mut()
            .zip(&src[..w - 2])
            .zip(&src[1..w - 1])
            .zip(&src[2..])
        {
            *o = u16::from(a) + u16::from(b) + u16::from(c);
        }
        out[0] = 2 * u16::from(src[0]) + u16::from(src[1]);
        out[w - 1] = 2 * u16::from(src[w - 1]) + u16::from(src[w - 2]);
    }
    for y in 0..h {
        let up = &sums[y.saturating_sub(1) * w..][..w];
        let mid = &sums[y * w..][..w];
        let down = &sums[(y + 1).min(h - 1) * w..][..w];
        let out = &mut img[y * w..][..w];
        for (((o, &a), &b), &c) in out.iter_mut().zip(up).zip(mid).zip(down) {
            // Divided by 9: times 7282 / 65536, rounded.
            let s = u32::from(a) + u32::from(b) + u32::from(c);
            *o = ((s * 7282 + 32768) >> 16) as u8;
        }
    }
}

/// The mask opened (3 x 3: specks of noise go) and then closed (5 x 5:
/// holes and narrow gaps inside a person fill), in place; `t1` and `t2`
/// are scratch of the same size.
pub(crate) fn open_close(mask: &mut [u8], t1: &mut [u8], t2: &mut [u8], w: usize) {
    pass3(mask, t1, t2, w, true);
    pass3(t1, mask, t2, w, false);
    pass3(mask, t1, t2, w, false);
    pass3(t1, mask, t2, w, false);
    pass3(mask, t1, t2, w, true);
    pass3(t1, mask, t2, w, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampling_by_two_averages_each_square() {
        let src = [0, 4, 10, 10, 8, 4, 20, 20];
        let mut dst = [0u8; 2];
        let mut acc = [0u32; 2];
        downsample(&src, 4, 2, &mut dst, &mut acc);
        assert_eq!(dst, [4, 15]);
    }

    #[test]
    fn downsampling_by_three_averages_each_square() {
        let mut src = vec![0u8; 36];
        src[..3].copy_from_slice(&[9, 9, 9]);
        src[6..9].copy_from_slice(&[9, 9, 9]);
        src[12..15].copy_from_slice(&[9, 9, 9]);
        let mut dst = [0u8; 4];
        let mut acc = [0u32; 2];
        downsample(&src, 6, 3, &mut dst, &mut acc);
        assert_eq!(dst, [9, 0, 0, 0]);
    }

    #[test]
    fn opening_drops_a_speck_and_closing_fills_a_hole() {
        let w = 16;
        let mut mask = vec![0u8; w * 16];
        mask[w + 1] = 255; // a speck
        for y in 3..10 {
            for x in 3..10 {
                mask[y * w + x] = 255;
            }
        }
        mask[6 * w + 6] = 0; // a hole
        let (mut a, mut b) = (vec![0; mask.len()], vec![0; mask.len()]);
        open_close(&mut mask, &mut a, &mut b, w);
        assert_eq!(mask[w + 1], 0);
        assert_eq!(mask[6 * w + 6], 255);
        assert_eq!(mask[3 * w + 3], 255);
        assert_eq!(mask.iter().filter(|&&m| m == 255).count(), 49);
    }

    #[test]
    fn the_box_averages_each_neighbourhood() {
        let mut img = vec![0u8; 25];
        img[12] = 90;
        let mut sums = vec![0u16; 25];
        box3(&mut img, &mut sums, 5);
        assert_eq!(img[12], 10);
        assert_eq!(img[6], 10);
        assert_eq!(img[0], 0);
        let mut flat = vec![77u8; 20];
        box3(&mut flat, &mut sums[..20], 5);
        assert!(flat.iter().all(|&p| p == 77));
    }

    #[test]
    fn the_fingerprint_changes_with_one_pixel() {
        let mut a = vec![7u8; 1000];
        let h = fingerprint(&a);
        assert_eq!(h, fingerprint(&a));
        a[999] = 8;
        assert_ne!(h, fingerprint(&a));
        a[999] = 7;
        a[3] = 6;
        assert_ne!(h, fingerprint(&a));
    }
}
