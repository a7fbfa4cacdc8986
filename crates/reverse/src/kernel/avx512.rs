//! Sixteen candidates per call: SHA-256, SHA-1 and MD5 across the sixteen
//! 32-bit lanes of AVX-512 registers, one candidate per lane.
//!
//! The sixteen candidates of a call differ only in the low device byte
//! (device parts `16g .. 16g + 15` of one 2^8 run), so only the one or two
//! message words that spell that byte differ between lanes. Every other
//! word is the same in all lanes, and so is every schedule term and every
//! round computed from such words alone: those are worked out once per
//! middle device byte in scalar code ([`Pre`]) and enter the vector code as
//! broadcast constants. Which words vary is known per input layout, so the
//! kernels are generic over it (`V`, a bit per message word) and the
//! compiler drops the vector work of every constant term.
//!
//! SHA-1's message schedule is linear (XOR and rotation), so a candidate's
//! schedule word is that of its block without the low device byte (scalar,
//! per middle byte) XOR that of a block holding only the low byte, which
//! depends on the lane alone: those are worked out once per span
//! ([`Span::sha1`]), and a varying word costs one XOR and a load instead of
//! its recurrence.
//!
//! Only the first digest word is computed (the key the search filters on);
//! the other words' last rounds and final additions are left out. Against
//! a few whole digests MD5 and SHA-1 stop earlier still: the digests are
//! run backwards through the last steps, and each candidate is compared
//! where the two meet; those that pass are checked whole. MD5 undoes its
//! steps whose message words are the same in every lane ([`md5_back`]);
//! SHA-1 undoes round 79 ([`sha1_back`]), whose word enters by addition,
//! so candidates stop after round 74.
//!
//! MD5 runs two groups of sixteen candidates interleaved (each step waits
//! on the one before); SHA-1 does not, as its round has enough independent
//! work: two groups were slower (SHA-1 of raw bytes 173 against 184 M/s on
//! one core).
//!
//! The only module of the crate with `unsafe`: calls to functions compiled
//! for AVX-512, made after the processor was seen to have it, and unaligned
//! loads and stores between arrays and registers.

#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m512i, _mm512_add_epi32, _mm512_cmpeq_epi32_mask, _mm512_load_si512, _mm512_loadu_si512,
    _mm512_or_si512, _mm512_rol_epi32, _mm512_ror_epi32, _mm512_set1_epi32, _mm512_setzero_si512,
    _mm512_srli_epi32, _mm512_storeu_si512, _mm512_sub_epi32, _mm512_ternarylogic_epi32,
    _mm512_xor_si512,
};
use std::ops::Range;
use std::sync::OnceLock;

use super::{KeyFilter, Layout};

/// Candidates per call.
pub(crate) const WIDTH: u32 = 16;

/// The algorithms with a kernel here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algo {
    Md5,
    Sha1,
    Sha256,
}

const MD5: u8 = 0;
const SHA1: u8 = 1;
const SHA256: u8 = 2;

impl Algo {
    const fn id(self) -> u8 {
        match self {
            Algo::Md5 => MD5,
            Algo::Sha1 => SHA1,
            Algo::Sha256 => SHA256,
        }
    }
}

/// Whether the search uses these kernels: the processor has AVX-512F and
/// `VITRINE_REVERSE_SIMD` is not `off` (which measures the portable path).
pub(crate) fn available() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::env::var("VITRINE_REVERSE_SIMD").map_or(true, |v| v != "off")
    })
}

/// The block's sixteen message words: big-endian for SHA, little for MD5.
fn words(a: u8, block: &[u8; 64]) -> [u32; 16] {
    std::array::from_fn(|w| {
        let b: [u8; 4] = block[4 * w..4 * w + 4].try_into().expect("4 bytes");
        if a == MD5 {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    })
}

/// What one 2^16 span needs: the block with its top device byte written and
/// the two others zeroed, and each lane's share of the varying words.
struct Span {
    base: [u8; 64],
    /// Bit `w`: message word `w` holds part of the low device byte.
    vary: u32,
    /// `[g][w][lane]`: word `w` of a zeroed block holding only the low
    /// device byte `16 g + lane`.
    low: Box<[[[u32; 16]; 16]; 16]>,
    /// SHA-1 only: `[g][t]`, word `t` of the message schedule of `low[g]`,
    /// one lane per candidate. The schedule is linear (XOR and rotation),
    /// so a candidate's word is this XOR the one of the block without its
    /// low device byte.
    sha1: Option<Box<[[Lanes; 80]; 16]>>,
}

/// One 32-bit word per lane, aligned so that a load stays in one cache
/// line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Lanes([u32; 16]);

impl Span {
    fn new(a: u8, template: &[u8; 64], layout: &Layout, top: u8) -> Span {
        let width = if layout.digits.is_some() { 2 } else { 1 };
        let mut base = *template;
        for &at in &layout.at[1..] {
            base[at..at + width].fill(0);
        }
        layout.put(&mut base, 0, top);
        let at = layout.at[2];
        let vary = (at / 4..=(at + width - 1) / 4).fold(0, |m, w| m | 1 << w);
        let mut low = Box::new([[[0u32; 16]; 16]; 16]);
        let mut zero = [0u8; 64];
        for (g, words_of_g) in low.iter_mut().enumerate() {
            for lane in 0..16 {
                layout.put(&mut zero, 2, (16 * g + lane) as u8);
                let ws = words(a, &zero);
                for (w, word) in words_of_g.iter_mut().enumerate() {
                    word[lane] = ws[w];
                }
            }
        }
        let sha1 = (a == SHA1).then(|| {
            let mut sched = Box::new([[Lanes([0; 16]); 80]; 16]);
            // [`sha1_schedule`] on the sixteen lanes at once.
            for (w, words_of_g) in sched.iter_mut().zip(low.iter()) {
                for (row, word) in w.iter_mut().zip(words_of_g) {
                    row.0 = *word;
                }
                for t in 16..80 {
                    w[t].0 = std::array::from_fn(|l| {
                        (w[t - 3].0[l] ^ w[t - 8].0[l] ^ w[t - 14].0[l] ^ w[t - 16].0[l])
                            .rotate_left(1)
                    });
                }
            }
            sched
        });
        Span {
            base,
            vary,
            low,
            sha1,
        }
    }

    /// The message words shared by the 256 candidates of middle byte `mid`.
    fn words(&self, a: u8, layout: &Layout, mid: u8) -> [u32; 16] {
        let mut b = self.base;
        layout.put(&mut b, 1, mid);
        words(a, &b)
    }
}

/// Scalar work shared by the lanes of every call with the same middle byte.
#[derive(Clone, Copy)]
struct Pre {
    /// The state before the first round whose message word varies, that
    /// round's share of the constant terms already added (see each kernel).
    state: [u32; 8],
    /// Per round: for a constant message word, the word plus the round
    /// constant; for a varying one, the sum of its constant schedule terms
    /// (SHA-256) or the word of the block without the low device byte
    /// (SHA-1).
    c: [u32; 80],
    /// The message words.
    m: [u32; 16],
}

/// Scans `devices` (one 2^16 span, start and end multiples of [`WIDTH`])
/// and pushes those whose key passes `filter` onto `hits`, in order.
pub(crate) fn scan(
    algo: Algo,
    template: &[u8; 64],
    layout: &Layout,
    devices: Range<u32>,
    filter: &KeyFilter,
    hits: &mut Vec<u32>,
) {
    assert!(available(), "AVX-512 kernels called without AVX-512F");
    assert!(devices.start.is_multiple_of(WIDTH) && devices.end.is_multiple_of(WIDTH));
    if devices.is_empty() {
        return;
    }
    assert_eq!(devices.start >> 16, (devices.end - 1) >> 16, "one span");
    #[cfg(test)]
    {
        let mut seen = tests::SCANNED.lock().unwrap();
        if !seen.contains(template) {
            seen.push(*template);
        }
    }
    let a = algo.id();
    let span = Span::new(a, template, layout, (devices.start >> 16) as u8);
    type Run = unsafe fn(&Span, &Layout, Range<u32>, &KeyFilter, &mut Vec<u32>);
    macro_rules! pick {
        ($($v:literal)*) => {
            match (a, span.vary) {
                $(
                    (MD5, $v) => run::<MD5, $v> as Run,
                    (SHA1, $v) => run::<SHA1, $v>,
                    (SHA256, $v) => run::<SHA256, $v>,
                )*
                // Any other layout: every word treated as varying.
                (MD5, _) => run::<MD5, 0xffff>,
                (SHA1, _) => run::<SHA1, 0xffff>,
                (_, _) => run::<SHA256, 0xffff>,
            }
        };
    }
    // The nine inputs tried: raw (word 1), bare (2), dot (3), colon and
    // dash (3 and 4).
    let kernel = pick!(0b10 0b100 0b1000 0b11000);
    // SAFETY: `available()` checked that the processor has AVX-512F, the
    // only feature `kernel` enables.
    unsafe { kernel(&span, layout, devices, filter, hits) };
}

#[target_feature(enable = "avx512f")]
fn run<const A: u8, const V: u32>(
    span: &Span,
    layout: &Layout,
    devices: Range<u32>,
    filter: &KeyFilter,
    hits: &mut Vec<u32>,
) {
    if A == MD5 && !filter.whole.is_empty() && filter.whole.len() <= FEW_KEYS {
        return md5_run_back::<V>(span, layout, devices, filter, hits);
    }
    if A == SHA1 && !filter.whole.is_empty() && filter.whole.len() <= FEW_KEYS {
        return sha1_run_back::<V>(span, layout, devices, filter, hits);
    }
    let mut mid = None;
    let mut pre = Pre {
        state: [0; 8],
        c: [0; 80],
        m: [0; 16],
    };
    // A few keys are compared in the registers, one instruction each (MD5's
    // byte-swapped to the state word's order); more go through the filter's
    // bitmap, lane by lane.
    let few = filter.keys.len() <= FEW_KEYS;
    let mut targets = [_mm512_setzero_si512(); FEW_KEYS];
    for (t, &key) in targets.iter_mut().zip(&filter.keys) {
        *t = _mm512_set1_epi32(if A == MD5 { key.swap_bytes() } else { key } as i32);
    }
    let targets = &targets[..filter.keys.len().min(FEW_KEYS)];
    let mut keys = [0u32; 16];
    for d in devices.step_by(WIDTH as usize) {
        let m = (d >> 8) as u8;
        if mid != Some(m) {
            mid = Some(m);
            pre = prepare::<A, V>(&span.words(A, layout, m));
        }
        let k = group::<A, V>(span, &pre, ((d >> 4) & 15) as usize);
        if few {
            let mut lanes = 0u16;
            for &t in targets {
                lanes |= _mm512_cmpeq_epi32_mask(k, t);
            }
            while lanes != 0 {
                hits.push(d + lanes.trailing_zeros());
                lanes &= lanes - 1;
            }
            continue;
        }
        // SAFETY: `keys` is 64 bytes, the size of the store; unaligned
        // stores are allowed.
        unsafe { _mm512_storeu_si512(keys.as_mut_ptr().cast(), k) };
        for (lane, &key) in keys.iter().enumerate() {
            let key = if A == MD5 { key.swap_bytes() } else { key };
            if filter.may_match(key) {
                hits.push(d + lane as u32);
            }
        }
    }
}

/// Keys compared in the registers rather than through the bitmap.
const FEW_KEYS: usize = 8;

fn prepare<const A: u8, const V: u32>(m: &[u32; 16]) -> Pre {
    match A {
        MD5 => md5_pre::<V>(m),
        SHA1 => sha1_pre::<V>(m),
        _ => sha256_pre::<V>(m),
    }
}

/// The keys of candidates `16 g ..` under `pre`'s middle byte, as the first
/// state word (not yet byte-swapped for MD5).
#[target_feature(enable = "avx512f")]
fn group<const A: u8, const V: u32>(span: &Span, pre: &Pre, g: usize) -> __m512i {
    match A {
        MD5 => md5_16::<V, false>(pre, &vars::<V>(span, pre, g)),
        SHA1 => sha1_16::<V, false>(pre, &span.sha1.as_deref().expect("a SHA-1 span")[g]),
        _ => sha256_16::<V>(pre, &vars::<V>(span, pre, g)),
    }
}

/// The varying message words of candidates `16 g ..` under `pre`'s middle
/// byte, one candidate per lane (the others are left zero).
#[target_feature(enable = "avx512f")]
fn vars<const V: u32>(span: &Span, pre: &Pre, g: usize) -> [__m512i; 16] {
    let mut vars = [_mm512_setzero_si512(); 16];
    for (w, var) in vars.iter_mut().enumerate() {
        if V >> w & 1 == 1 {
            // SAFETY: a `[u32; 16]` is 64 bytes, the size of the load;
            // unaligned loads are allowed.
            let low = unsafe { _mm512_loadu_si512(span.low[g][w].as_ptr().cast()) };
            *var = _mm512_or_si512(_mm512_set1_epi32(pre.m[w] as i32), low);
        }
    }
    vars
}

/// The keys of sixteen device parts starting at a multiple of 16, through
/// the same preparation as [`scan`]: for tests against the reference.
#[cfg(test)]
pub(crate) fn keys_at(algo: Algo, template: &[u8; 64], layout: &Layout, d: u32) -> [u32; 16] {
    assert!(available() && d.is_multiple_of(WIDTH));
    let a = algo.id();
    let span = Span::new(a, template, layout, (d >> 16) as u8);
    let m = span.words(a, layout, (d >> 8) as u8);
    let g = ((d >> 4) & 15) as usize;
    #[target_feature(enable = "avx512f")]
    fn keys<const A: u8>(span: &Span, m: &[u32; 16], g: usize) -> [u32; 16] {
        let mut out = [0u32; 16];
        let k = group::<A, 0xffff>(span, &prepare::<A, 0xffff>(m), g);
        // SAFETY: `out` is 64 bytes.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), k) };
        out
    }
    #[target_feature(enable = "avx512f")]
    fn keys_v<const A: u8, const V: u32>(span: &Span, m: &[u32; 16], g: usize) -> [u32; 16] {
        let mut out = [0u32; 16];
        let k = group::<A, V>(span, &prepare::<A, V>(m), g);
        // SAFETY: `out` is 64 bytes.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), k) };
        out
    }
    // SAFETY (each call): `available()` was asserted above.
    let (specific, general) = unsafe {
        match (a, span.vary) {
            (MD5, 0b10) => (keys_v::<MD5, 0b10>(&span, &m, g), keys::<MD5>(&span, &m, g)),
            (SHA1, 0b10) => (
                keys_v::<SHA1, 0b10>(&span, &m, g),
                keys::<SHA1>(&span, &m, g),
            ),
            (_, 0b10) => (
                keys_v::<SHA256, 0b10>(&span, &m, g),
                keys::<SHA256>(&span, &m, g),
            ),
            (MD5, 0b100) => (
                keys_v::<MD5, 0b100>(&span, &m, g),
                keys::<MD5>(&span, &m, g),
            ),
            (SHA1, 0b100) => (
                keys_v::<SHA1, 0b100>(&span, &m, g),
                keys::<SHA1>(&span, &m, g),
            ),
            (_, 0b100) => (
                keys_v::<SHA256, 0b100>(&span, &m, g),
                keys::<SHA256>(&span, &m, g),
            ),
            (MD5, 0b1000) => (
                keys_v::<MD5, 0b1000>(&span, &m, g),
                keys::<MD5>(&span, &m, g),
            ),
            (SHA1, 0b1000) => (
                keys_v::<SHA1, 0b1000>(&span, &m, g),
                keys::<SHA1>(&span, &m, g),
            ),
            (_, 0b1000) => (
                keys_v::<SHA256, 0b1000>(&span, &m, g),
                keys::<SHA256>(&span, &m, g),
            ),
            (MD5, 0b11000) => (
                keys_v::<MD5, 0b11000>(&span, &m, g),
                keys::<MD5>(&span, &m, g),
            ),
            (SHA1, 0b11000) => (
                keys_v::<SHA1, 0b11000>(&span, &m, g),
                keys::<SHA1>(&span, &m, g),
            ),
            (_, 0b11000) => (
                keys_v::<SHA256, 0b11000>(&span, &m, g),
                keys::<SHA256>(&span, &m, g),
            ),
            (MD5, _) => (keys::<MD5>(&span, &m, g), keys::<MD5>(&span, &m, g)),
            (SHA1, _) => (keys::<SHA1>(&span, &m, g), keys::<SHA1>(&span, &m, g)),
            (_, _) => (keys::<SHA256>(&span, &m, g), keys::<SHA256>(&span, &m, g)),
        }
    };
    // The layout-specific kernel and the one treating every word as
    // varying agree.
    assert_eq!(specific, general, "{algo:?} at {d:#x}");
    specific.map(|k| if a == MD5 { k.swap_bytes() } else { k })
}

/// Repeats `$body` with `$t` a constant of each value, so that every test of
/// `V`'s bits on it is settled when compiling.
macro_rules! unroll {
    ($t:ident in [$($n:literal)*] $body:block) => {
        $( { const $t: usize = $n; $body } )*
    };
}

macro_rules! add {
    ($x:expr) => { $x };
    ($x:expr, $($rest:expr),+) => { _mm512_add_epi32($x, add!($($rest),+)) };
}

macro_rules! splat {
    ($x:expr) => {
        _mm512_set1_epi32(($x) as i32)
    };
}

/// Bit `t`: word `t` of a schedule whose first sixteen varying words are
/// the bits of `v` varies, given which earlier words it is made of.
const fn schedule_vary(v: u32, len: usize, terms: [usize; 4]) -> u128 {
    let mut m = (v & 0xffff) as u128;
    let mut t = 16;
    while t < len {
        let mut k = 0;
        while k < 4 {
            if m >> (t - terms[k]) & 1 == 1 {
                m |= 1 << t;
            }
            k += 1;
        }
        t += 1;
    }
    m
}

// ---------------------------------------------------------------- SHA-256

const SHA256_K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// `W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]`.
const SHA256_VARY: [u128; 5] = [
    schedule_vary(0b10, 64, [2, 7, 15, 16]),
    schedule_vary(0b100, 64, [2, 7, 15, 16]),
    schedule_vary(0b1000, 64, [2, 7, 15, 16]),
    schedule_vary(0b11000, 64, [2, 7, 15, 16]),
    schedule_vary(0xffff, 64, [2, 7, 15, 16]),
];

const fn vary_of(v: u32, table: &[u128; 5]) -> u128 {
    match v {
        0b10 => table[0],
        0b100 => table[1],
        0b1000 => table[2],
        0b11000 => table[3],
        _ => table[4],
    }
}

fn sha256_pre<const V: u32>(m: &[u32; 16]) -> Pre {
    let vary = vary_of(V, &SHA256_VARY);
    let constant = |t: usize| vary >> t & 1 == 0;
    let s0 = |x: u32| x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3);
    let s1 = |x: u32| x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10);
    // `w[t]`: the word where constant, else the sum of its constant terms.
    let mut w = [0u32; 64];
    w[..16].copy_from_slice(m);
    for t in 16..64 {
        let mut c = 0u32;
        if constant(t - 2) {
            c = c.wrapping_add(s1(w[t - 2]));
        }
        if constant(t - 7) {
            c = c.wrapping_add(w[t - 7]);
        }
        if constant(t - 15) {
            c = c.wrapping_add(s0(w[t - 15]));
        }
        if constant(t - 16) {
            c = c.wrapping_add(w[t - 16]);
        }
        w[t] = c;
    }
    let mut c = [0u32; 80];
    for t in 0..64 {
        c[t] = if constant(t) {
            w[t].wrapping_add(SHA256_K[t])
        } else {
            w[t]
        };
    }
    // The rounds before the first varying word, then that round without
    // its word: lanes add it to `a` and `e`.
    let r0 = V.trailing_zeros() as usize;
    let [mut a, mut b, mut cc, mut d, mut e, mut f, mut g, mut h] = super::SHA256_IV;
    let big_s0 = |x: u32| x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22);
    let big_s1 = |x: u32| x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25);
    for &kw in &c[..r0] {
        let t1 = h
            .wrapping_add(big_s1(e))
            .wrapping_add((e & f) ^ (!e & g))
            .wrapping_add(kw);
        let t2 = big_s0(a).wrapping_add((a & b) ^ (a & cc) ^ (b & cc));
        (h, g, f, e, d, cc, b, a) = (g, f, e, d.wrapping_add(t1), cc, b, a, t1.wrapping_add(t2));
    }
    let t1 = h
        .wrapping_add(big_s1(e))
        .wrapping_add((e & f) ^ (!e & g))
        .wrapping_add(SHA256_K[r0]);
    let t2 = big_s0(a).wrapping_add((a & b) ^ (a & cc) ^ (b & cc));
    Pre {
        state: [t1.wrapping_add(t2), a, b, cc, d.wrapping_add(t1), e, f, g],
        c,
        m: *m,
    }
}

#[target_feature(enable = "avx512f")]
fn sha256_16<const V: u32>(pre: &Pre, vars: &[__m512i; 16]) -> __m512i {
    let vary = const { vary_of(V, &SHA256_VARY) };
    let r0 = const { V.trailing_zeros() as usize };
    let varies = |t: usize| vary >> t & 1 == 1;
    macro_rules! s0 {
        ($x:expr) => {{
            let x = $x;
            _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<7>(x),
                _mm512_ror_epi32::<18>(x),
                _mm512_srli_epi32::<3>(x),
            )
        }};
    }
    macro_rules! s1 {
        ($x:expr) => {{
            let x = $x;
            _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<17>(x),
                _mm512_ror_epi32::<19>(x),
                _mm512_srli_epi32::<10>(x),
            )
        }};
    }
    let mut w = [_mm512_setzero_si512(); 64];
    w[..16].copy_from_slice(vars);
    unroll!(T in [16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39
                  40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63] {
        if varies(T) {
            // The constant terms are in `pre.c[T]`; a term of all-varying
            // words starts the sum instead when there is none.
            let all = varies(T - 2) && varies(T - 7) && varies(T - 15) && varies(T - 16);
            let mut x = splat!(pre.c[T]);
            let mut first = all;
            macro_rules! plus {
                ($y:expr) => {{
                    let y = $y;
                    x = if first { y } else { _mm512_add_epi32(x, y) };
                    first = false;
                }};
            }
            if varies(T - 2) { plus!(s1!(w[T - 2])); }
            if varies(T - 7) { plus!(w[T - 7]); }
            if varies(T - 15) { plus!(s0!(w[T - 15])); }
            if varies(T - 16) { plus!(w[T - 16]); }
            let _ = first;
            w[T] = x;
        }
    });
    let s = &pre.state;
    let mut a = _mm512_add_epi32(splat!(s[0]), w[r0]);
    let (mut b, mut c, mut d) = (splat!(s[1]), splat!(s[2]), splat!(s[3]));
    let mut e = _mm512_add_epi32(splat!(s[4]), w[r0]);
    let (mut f, mut g, mut h) = (splat!(s[5]), splat!(s[6]), splat!(s[7]));
    unroll!(T in [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
                  32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58
                  59 60 61 62 63] {
        if T > r0 {
            let kw = if varies(T) {
                _mm512_add_epi32(w[T], splat!(SHA256_K[T]))
            } else {
                splat!(pre.c[T])
            };
            let big_s1 = _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<6>(e),
                _mm512_ror_epi32::<11>(e),
                _mm512_ror_epi32::<25>(e),
            );
            let ch = _mm512_ternarylogic_epi32::<0xca>(e, f, g);
            let t1 = add!(h, big_s1, ch, kw);
            let big_s0 = _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<2>(a),
                _mm512_ror_epi32::<13>(a),
                _mm512_ror_epi32::<22>(a),
            );
            let maj = _mm512_ternarylogic_epi32::<0xe8>(a, b, c);
            let t2 = _mm512_add_epi32(big_s0, maj);
            (h, g, f, e, d, c, b, a) = (
                g,
                f,
                e,
                _mm512_add_epi32(d, t1),
                c,
                b,
                a,
                _mm512_add_epi32(t1, t2),
            );
        }
    });
    let _ = (b, c, d, e, f, g, h);
    _mm512_add_epi32(a, splat!(super::SHA256_IV[0]))
}

// ------------------------------------------------------------------ SHA-1

/// `W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16])`.
const SHA1_VARY: [u128; 5] = [
    schedule_vary(0b10, 80, [3, 8, 14, 16]),
    schedule_vary(0b100, 80, [3, 8, 14, 16]),
    schedule_vary(0b1000, 80, [3, 8, 14, 16]),
    schedule_vary(0b11000, 80, [3, 8, 14, 16]),
    schedule_vary(0xffff, 80, [3, 8, 14, 16]),
];

const fn sha1_k(t: usize) -> u32 {
    match t / 20 {
        0 => 0x5a827999,
        1 => 0x6ed9eba1,
        2 => 0x8f1bbcdc,
        _ => 0xca62c1d6,
    }
}

fn sha1_f(t: usize, b: u32, c: u32, d: u32) -> u32 {
    match t / 20 {
        0 => (b & c) | (!b & d),
        2 => (b & c) | (b & d) | (c & d),
        _ => b ^ c ^ d,
    }
}

/// The message schedule of one block.
fn sha1_schedule(m: &[u32; 16]) -> [u32; 80] {
    let mut w = [0u32; 80];
    w[..16].copy_from_slice(m);
    for t in 16..80 {
        w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
    }
    w
}

fn sha1_pre<const V: u32>(m: &[u32; 16]) -> Pre {
    let vary = vary_of(V, &SHA1_VARY);
    let constant = |t: usize| vary >> t & 1 == 0;
    // The schedule of the block without its low device byte: a lane's word
    // is this XOR its share ([`Span::sha1`]), which is zero where no
    // lane's word differs.
    let w = sha1_schedule(m);
    let mut c = [0u32; 80];
    for t in 0..80 {
        c[t] = if constant(t) {
            w[t].wrapping_add(sha1_k(t))
        } else {
            w[t]
        };
    }
    let r0 = V.trailing_zeros() as usize;
    let [mut a, mut b, mut cc, mut d, mut e] = super::SHA1_IV;
    for (t, &kw) in c[..r0].iter().enumerate() {
        let x = a
            .rotate_left(5)
            .wrapping_add(sha1_f(t, b, cc, d))
            .wrapping_add(e)
            .wrapping_add(kw);
        (e, d, cc, b, a) = (d, cc, b.rotate_left(30), a, x);
    }
    // Round r0 without its word: lanes add it to `a`.
    let x = a
        .rotate_left(5)
        .wrapping_add(sha1_f(r0, b, cc, d))
        .wrapping_add(e)
        .wrapping_add(sha1_k(r0));
    Pre {
        state: [x, a, b.rotate_left(30), cc, d, 0, 0, 0],
        c,
        m: *m,
    }
}

/// The new word candidates are compared at against whole digests: `a75`,
/// the first state word after round 74 ([`sha1_back`]).
const SHA1_MEET: usize = 75;

/// Sixteen candidates' first digest word (the key) when `BACK` is false:
/// candidates `16 g ..` under `pre`'s middle byte, `sched` being
/// `span.sha1[g]`. When true, the rounds stop at [`SHA1_MEET`] and each
/// lane gives `rol30(a75) + W79'`, `W79'` round 79's word where it varies
/// (else 0), to be compared with [`sha1_back`]'s.
///
/// A varying schedule word is `pre.c[t]` XOR the lane's share from
/// [`Span::sha1`]: one operation and a load instead of its recurrence.
#[target_feature(enable = "avx512f")]
fn sha1_16<const V: u32, const BACK: bool>(pre: &Pre, sched: &[Lanes; 80]) -> __m512i {
    let vary = const { vary_of(V, &SHA1_VARY) };
    let r0 = const { V.trailing_zeros() as usize };
    let last = const { if BACK { SHA1_MEET - 1 } else { 79 } };
    let varies = |t: usize| vary >> t & 1 == 1;
    // Word `t`, where it varies.
    let word = |t: usize| {
        // SAFETY: `Lanes` is 64 bytes, the size of the load, and aligned
        // to 64.
        let share = unsafe { _mm512_load_si512(sched[t].0.as_ptr().cast()) };
        _mm512_xor_si512(splat!(pre.c[t]), share)
    };
    let s = &pre.state;
    let mut a = _mm512_add_epi32(splat!(s[0]), word(r0));
    let (mut b, mut c, mut d, mut e) = (splat!(s[1]), splat!(s[2]), splat!(s[3]), splat!(s[4]));
    unroll!(T in [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
                  30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56
                  57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79] {
        if T > r0 && T <= last {
            let kw = if varies(T) {
                _mm512_add_epi32(word(T), splat!(sha1_k(T)))
            } else {
                splat!(pre.c[T])
            };
            let f = match T / 20 {
                0 => _mm512_ternarylogic_epi32::<0xca>(b, c, d),
                2 => _mm512_ternarylogic_epi32::<0xe8>(b, c, d),
                _ => _mm512_ternarylogic_epi32::<0x96>(b, c, d),
            };
            let x = add!(_mm512_rol_epi32::<5>(a), f, e, kw);
            (e, d, c, b, a) = (d, c, _mm512_rol_epi32::<30>(b), a, x);
        }
    });
    let _ = (b, c, d, e);
    if !BACK {
        _mm512_add_epi32(a, splat!(super::SHA1_IV[0]))
    } else if varies(79) {
        _mm512_add_epi32(_mm512_rol_epi32::<30>(a), word(79))
    } else {
        _mm512_rol_epi32::<30>(a)
    }
}

/// A whole digest run back through round 79, once per middle byte: the
/// value of `rol30(a75) + W79'` ([`sha1_16`]) of a candidate with that
/// digest. The digest gives round 79's other inputs: `a80`, `a79` and the
/// rotated `a78`, `a77`, `a76`; round 79's word enters by addition, so its
/// constant part (all of it where no lane's differs) goes here and the
/// varying part to the lanes.
fn sha1_back<const V: u32>(pre: &Pre, digest: &[u32; 5]) -> u32 {
    let vary = vary_of(V, &SHA1_VARY);
    let iv = super::SHA1_IV;
    let [a80, a79, c, d, e]: [u32; 5] = std::array::from_fn(|k| digest[k].wrapping_sub(iv[k]));
    // Round 79 ran on (a79, a78, rol30(a77), rol30(a76), rol30(a75)).
    let kw = if vary >> 79 & 1 == 1 {
        sha1_k(79)
    } else {
        pre.c[79]
    };
    a80.wrapping_sub(a79.rotate_left(5))
        .wrapping_sub(sha1_f(79, c.rotate_right(30), d, e))
        .wrapping_sub(kw)
}

/// Bit `lane`: candidate `16 g + lane` may have one of the digests `backs`
/// comes from ([`sha1_16`] when `BACK`, `sched` being `span.sha1[g]`).
#[target_feature(enable = "avx512f")]
fn sha1_meet<const V: u32>(pre: &Pre, sched: &[Lanes; 80], backs: &[u32]) -> u16 {
    let y = sha1_16::<V, true>(pre, sched);
    let mut lanes = 0;
    for &back in backs {
        lanes |= _mm512_cmpeq_epi32_mask(y, splat!(back));
    }
    lanes
}

/// [`run`] for SHA-1 against at most [`FEW_KEYS`] whole digests: candidates
/// stop at round [`SHA1_MEET`] and are compared with the digests run back to
/// there ([`sha1_back`]); the few that pass are checked whole by the
/// portable kernel, so every hit is a match.
#[target_feature(enable = "avx512f")]
fn sha1_run_back<const V: u32>(
    span: &Span,
    layout: &Layout,
    devices: Range<u32>,
    filter: &KeyFilter,
    hits: &mut Vec<u32>,
) {
    let digests: Vec<[u32; 5]> = filter
        .whole
        .iter()
        .map(|d| {
            std::array::from_fn(|k| {
                u32::from_be_bytes(d[4 * k..4 * k + 4].try_into().expect("20 bytes"))
            })
        })
        .collect();
    assert!(!digests.is_empty() && digests.len() <= FEW_KEYS);
    let sched = span.sha1.as_deref().expect("a SHA-1 span");
    let mut backs = [0u32; FEW_KEYS];
    let backs = &mut backs[..digests.len()];
    let mut mid = None;
    let mut pre = Pre {
        state: [0; 8],
        c: [0; 80],
        m: [0; 16],
    };
    let mut block = span.base;
    // Called through a pointer the compiler cannot see through, so that it
    // is not inlined in the loop below, where its rounds spilled registers
    // (SHA-1 of raw bytes 167 instead of 185 M/s on one core);
    // `#[inline(never)]` is not passed on to the back end for a function
    // with `#[target_feature]`.
    let meet: unsafe fn(&Pre, &[Lanes; 80], &[u32]) -> u16 = std::hint::black_box(sha1_meet::<V>);
    for d in devices.step_by(WIDTH as usize) {
        let m = (d >> 8) as u8;
        if mid != Some(m) {
            mid = Some(m);
            pre = sha1_pre::<V>(&span.words(SHA1, layout, m));
            for (back, digest) in backs.iter_mut().zip(&digests) {
                *back = sha1_back::<V>(&pre, digest);
            }
            layout.put(&mut block, 1, m);
        }
        // SAFETY: this function runs only where the processor has
        // AVX-512F, the only feature `meet` enables.
        let mut lanes = unsafe { meet(&pre, &sched[((d >> 4) & 15) as usize], backs) };
        while lanes != 0 {
            let device = d + lanes.trailing_zeros();
            lanes &= lanes - 1;
            #[cfg(test)]
            tests::EARLY_PASSES.with(|n| n.set(n.get() + 1));
            layout.put(&mut block, 2, device as u8);
            if digests.contains(&super::Sha1::state(&block)) {
                hits.push(device);
            }
        }
    }
}

// -------------------------------------------------------------------- MD5

/// Per step: message word, rotation, constant (RFC 1321).
const MD5_STEPS: [(usize, u32, u32); 64] = {
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    const S: [[u32; 4]; 4] = [
        [7, 12, 17, 22],
        [5, 9, 14, 20],
        [4, 11, 16, 23],
        [6, 10, 15, 21],
    ];
    let mut steps = [(0, 0, 0); 64];
    let mut i = 0;
    while i < 64 {
        let word = match i / 16 {
            0 => i,
            1 => (5 * i + 1) % 16,
            2 => (3 * i + 5) % 16,
            _ => (7 * i) % 16,
        };
        steps[i] = (word, S[i / 16][i % 4], K[i]);
        i += 1;
    }
    steps
};

/// The step after which the first state word is final.
const MD5_LAST: usize = 60;

fn md5_f(i: usize, b: u32, c: u32, d: u32) -> u32 {
    match i / 16 {
        0 => (b & c) | (!b & d),
        1 => (b & d) | (c & !d),
        2 => b ^ c ^ d,
        _ => c ^ (b | !d),
    }
}

fn md5_pre<const V: u32>(m: &[u32; 16]) -> Pre {
    let mut c = [0u32; 80];
    for (i, &(word, _, k)) in MD5_STEPS.iter().enumerate() {
        c[i] = m[word].wrapping_add(k);
    }
    // The first steps take the words in order: those before the first
    // varying word run here.
    let r0 = V.trailing_zeros() as usize;
    let [mut a, mut b, mut cc, mut d] = super::MD5_IV;
    for (i, &(_, s, _)) in MD5_STEPS[..r0].iter().enumerate() {
        let x = a.wrapping_add(md5_f(i, b, cc, d)).wrapping_add(c[i]);
        (a, b, cc, d) = (d, b.wrapping_add(x.rotate_left(s)), b, cc);
    }
    // Step r0 without its word: lanes add it before the rotation.
    let x = a
        .wrapping_add(md5_f(r0, b, cc, d))
        .wrapping_add(MD5_STEPS[r0].2);
    Pre {
        state: [x, b, cc, d, 0, 0, 0, 0],
        c,
        m: *m,
    }
}

/// The last step whose message word varies between lanes (0 to 63).
const fn md5_last_varying(v: u32) -> usize {
    let mut i = 63;
    while v >> MD5_STEPS[i].0 & 1 == 0 {
        i -= 1;
    }
    i
}

/// The step whose new word candidates are compared at against whole
/// digests: L - 6, L the last step whose word varies (see [`md5_back`]).
const fn md5_meet_step(v: u32) -> usize {
    md5_last_varying(v) - 6
}

/// A whole digest run backwards to where the lanes take over: with L the
/// last step whose word varies, `[t, u1, u2, v[L - 3], v[L - 2]]`, `v[i]`
/// being step i's new word. The steps after L take words that are the same
/// in every lane (`m`'s), so they are undone here, once per middle byte.
/// Steps L, L - 1 and L - 2 are undone but for their terms that depend on
/// the lanes' words (see [`md5_meet`]): `t = v[L - 4] + m[L]`, and `u1`,
/// `u2` are `v[L - 5]`, `v[L - 6]` plus their steps' `I` term (and word,
/// where it varies).
fn md5_back<const V: u32>(m: &[u32; 16], digest: &[u32; 4]) -> [u32; 5] {
    let last = md5_last_varying(V);
    let iv = super::MD5_IV;
    let mut v = [0u32; 64];
    // The state after step 63 is (a, b, c, d) = (v60, v63, v62, v61).
    v[60] = digest[0].wrapping_sub(iv[0]);
    v[63] = digest[1].wrapping_sub(iv[1]);
    v[62] = digest[2].wrapping_sub(iv[2]);
    v[61] = digest[3].wrapping_sub(iv[3]);
    // Step i: v[i] = v[i-1] + rol(v[i-4] + I(v[i-1], v[i-2], v[i-3]) +
    // m + k, s); the part of v[i-4] known from v[i-1] and v[i].
    let part = |v: &[u32; 64], i: usize| {
        let (w, s, k) = MD5_STEPS[i];
        let m = if V >> w & 1 == 1 { 0 } else { m[w] };
        v[i].wrapping_sub(v[i - 1])
            .rotate_right(s)
            .wrapping_sub(k)
            .wrapping_sub(m)
    };
    for i in (last + 1..64).rev() {
        v[i - 4] = part(&v, i).wrapping_sub(md5_f(i, v[i - 1], v[i - 2], v[i - 3]));
    }
    let t = part(&v, last).wrapping_sub(md5_f(last, v[last - 1], v[last - 2], v[last - 3]));
    [
        t,
        part(&v, last - 1),
        part(&v, last - 2),
        v[last - 3],
        v[last - 2],
    ]
}

/// The function of MD5 step `$i` on vectors.
macro_rules! md5_f {
    ($i:expr, $b:expr, $c:expr, $d:expr) => {
        match $i / 16 {
            0 => _mm512_ternarylogic_epi32::<0xca>($b, $c, $d),
            1 => _mm512_ternarylogic_epi32::<0xe4>($b, $c, $d),
            2 => _mm512_ternarylogic_epi32::<0x96>($b, $c, $d),
            _ => _mm512_ternarylogic_epi32::<0x39>($b, $c, $d),
        }
    };
}

/// Per lane, the new word step L - 6 must have for the lane's candidate to
/// have the digest `back` comes from ([`md5_back`], splat): steps L, L - 1
/// and L - 2 undone with the lane's words. Two steps fewer than running
/// them forward: their rotations apply to words the digest fixes.
#[target_feature(enable = "avx512f")]
fn md5_meet<const V: u32>(back: &[__m512i; 5], vars: &[__m512i; 16]) -> __m512i {
    let last = const { md5_last_varying(V) };
    let varies = |i: usize| V >> MD5_STEPS[i].0 & 1 == 1;
    let word = |i: usize| vars[MD5_STEPS[i].0];
    let [t, u1, u2, v3, v2] = *back;
    let x4 = _mm512_sub_epi32(t, word(last));
    let mut x5 = _mm512_sub_epi32(u1, md5_f!(last - 1, v2, v3, x4));
    if varies(last - 1) {
        x5 = _mm512_sub_epi32(x5, word(last - 1));
    }
    let mut x6 = _mm512_sub_epi32(u2, md5_f!(last - 2, v3, x4, x5));
    if varies(last - 2) {
        x6 = _mm512_sub_epi32(x6, word(last - 2));
    }
    x6
}

/// Sixteen candidates' first state word after step 60 (the key, less the
/// initial value) when `BACK` is false; when true, the new word of step
/// [`md5_meet_step`], to be compared with [`md5_meet`]'s.
#[target_feature(enable = "avx512f")]
fn md5_16<const V: u32, const BACK: bool>(pre: &Pre, vars: &[__m512i; 16]) -> __m512i {
    let [y] = md5_n::<V, BACK, 1>(pre, std::array::from_ref(vars));
    y
}

/// [`md5_16`] on `N` groups of sixteen candidates at once, step by step:
/// each step waits on the one before, and the other groups' fill the gaps.
#[target_feature(enable = "avx512f")]
fn md5_n<const V: u32, const BACK: bool, const N: usize>(
    pre: &Pre,
    vars: &[[__m512i; 16]; N],
) -> [__m512i; N] {
    let r0 = const { V.trailing_zeros() as usize };
    let stop = const { if BACK { md5_meet_step(V) } else { MD5_LAST } };
    let varies = |w: usize| V >> w & 1 == 1;
    let s = &pre.state;
    // Step r0: b + rol(x + M, s), with a rotation known only per r0.
    let b = vars.map(|vars| {
        let x = _mm512_add_epi32(splat!(s[0]), vars[r0]);
        let rotated = match r0 {
            0 | 4 | 8 | 12 => _mm512_rol_epi32::<7>(x),
            1 | 5 | 9 | 13 => _mm512_rol_epi32::<12>(x),
            2 | 6 | 10 | 14 => _mm512_rol_epi32::<17>(x),
            _ => _mm512_rol_epi32::<22>(x),
        };
        _mm512_add_epi32(splat!(s[1]), rotated)
    });
    let (mut a, mut b, mut c, mut d) = ([splat!(s[3]); N], b, [splat!(s[1]); N], [splat!(s[2]); N]);
    unroll!(I in [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
                  30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56
                  57 58 59 60] {
        if I > r0 && I <= stop {
            const WORD: usize = MD5_STEPS[I].0;
            const S: i32 = MD5_STEPS[I].1 as i32;
            for n in 0..N {
                let km = if varies(WORD) {
                    _mm512_add_epi32(vars[n][WORD], splat!(MD5_STEPS[I].2))
                } else {
                    splat!(pre.c[I])
                };
                let f = md5_f!(I, b[n], c[n], d[n]);
                let x = add!(a[n], f, km);
                let new = _mm512_add_epi32(b[n], _mm512_rol_epi32::<S>(x));
                (a[n], b[n], c[n], d[n]) = (d[n], new, b[n], c[n]);
            }
        }
    });
    let _ = (a, c, d);
    const { assert!(MD5_LAST == 60) };
    // After step `stop` its new word is in `b`.
    if BACK {
        b
    } else {
        b.map(|b| _mm512_add_epi32(b, splat!(super::MD5_IV[0])))
    }
}

/// [`run`] for MD5 against at most [`FEW_KEYS`] whole digests: candidates
/// stop at step [`md5_meet_step`] and are compared with the digests run
/// backwards to there ([`md5_back`], [`md5_meet`]); the few that pass are
/// checked whole by the portable kernel, so every hit is a match.
#[target_feature(enable = "avx512f")]
fn md5_run_back<const V: u32>(
    span: &Span,
    layout: &Layout,
    devices: Range<u32>,
    filter: &KeyFilter,
    hits: &mut Vec<u32>,
) {
    let digests: Vec<[u32; 4]> = filter
        .whole
        .iter()
        .map(|d| {
            std::array::from_fn(|k| {
                u32::from_le_bytes(d[4 * k..4 * k + 4].try_into().expect("16 bytes"))
            })
        })
        .collect();
    assert!(!digests.is_empty() && digests.len() <= FEW_KEYS);
    let mut backs = [[_mm512_setzero_si512(); 5]; FEW_KEYS];
    let backs = &mut backs[..digests.len()];
    let mut mid = None;
    let mut pre = Pre {
        state: [0; 8],
        c: [0; 80],
        m: [0; 16],
    };
    let mut block = span.base;
    let mut d = devices.start;
    while d < devices.end {
        let m = (d >> 8) as u8;
        if mid != Some(m) {
            mid = Some(m);
            let words = span.words(MD5, layout, m);
            pre = md5_pre::<V>(&words);
            for (back, digest) in backs.iter_mut().zip(&digests) {
                *back = md5_back::<V>(&words, digest).map(|x| splat!(x));
            }
            layout.put(&mut block, 1, m);
        }
        let g = ((d >> 4) & 15) as usize;
        // MD5_GROUPS groups of the same middle byte at once where the
        // range has them all, else one.
        const N: usize = MD5_GROUPS;
        const { assert!(16 % N == 0) };
        let (n, lanes) = if g.is_multiple_of(N) && d + N as u32 * WIDTH <= devices.end {
            let vars: [[__m512i; 16]; N] = std::array::from_fn(|k| vars::<V>(span, &pre, g + k));
            let ys = md5_n::<V, true, N>(&pre, &vars);
            let mut lanes = 0u64;
            for back in backs.iter() {
                for k in 0..N {
                    let m = _mm512_cmpeq_epi32_mask(ys[k], md5_meet::<V>(back, &vars[k]));
                    lanes |= u64::from(m) << (16 * k);
                }
            }
            (N as u32, lanes)
        } else {
            let vars = vars::<V>(span, &pre, g);
            let y = md5_16::<V, true>(&pre, &vars);
            let mut lanes = 0u16;
            for back in backs.iter() {
                lanes |= _mm512_cmpeq_epi32_mask(y, md5_meet::<V>(back, &vars));
            }
            (1, u64::from(lanes))
        };
        let mut lanes = lanes;
        while lanes != 0 {
            let device = d + lanes.trailing_zeros();
            lanes &= lanes - 1;
            #[cfg(test)]
            tests::EARLY_PASSES.with(|n| n.set(n.get() + 1));
            layout.put(&mut block, 2, device as u8);
            if digests.contains(&super::md5_state(&block)) {
                hits.push(device);
            }
        }
        d += n * WIDTH;
    }
}

/// Groups of sixteen candidates run through MD5 together: one group alone
/// leaves the vector units waiting on each step's result (two took MD5 of
/// raw bytes from 270 to about 380 M/s on one core; four were no faster).
const MD5_GROUPS: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Template;
    use vitrine_canary::{Algorithm, Case, Input, Spelling};

    /// Every template [`scan`] was called on.
    pub(super) static SCANNED: std::sync::Mutex<Vec<[u8; 64]>> = std::sync::Mutex::new(Vec::new());

    thread_local! {
        /// Candidates of this thread's scans that passed MD5's or SHA-1's
        /// early comparison, before their whole digest was checked.
        pub(super) static EARLY_PASSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    const ALGOS: [(Algo, Algorithm); 3] = [
        (Algo::Md5, Algorithm::Md5),
        (Algo::Sha1, Algorithm::Sha1),
        (Algo::Sha256, Algorithm::Sha256),
    ];

    fn block(t: &Template) -> [u8; 64] {
        match t {
            Template::Md5(b) | Template::Sha1(b) | Template::Sha256(b) => *b,
            Template::Sha512(_) => unreachable!(),
        }
    }

    /// SplitMix64.
    fn random(n: usize, seed: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_add(0x9e3779b97f4a7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
                z ^ (z >> 31)
            })
            .collect()
    }

    /// Inputs with a fixed layout: the nine searched, and others that take
    /// the kernel treating every word as varying.
    fn inputs() -> Vec<Input> {
        let mut v: Vec<Input> = Input::all().collect();
        for spelling in [Spelling::Colon6, Spelling::Space4, Spelling::Dot2] {
            v.push(Input::Text {
                spelling,
                case: Case::Upper,
            });
        }
        v
    }

    #[test]
    fn every_lane_matches_the_reference_digest() {
        if !available() {
            eprintln!("no AVX-512F: skipped");
            return;
        }
        let mut groups = vec![0, 0xfffff0, 0x00ff00, 0x0000f0, 0x123450, 0xabcde0];
        groups.extend(random(40, 7).iter().map(|r| (*r as u32) & 0xff_fff0));
        let ouis: Vec<[u8; 3]> = [[0u8; 3], [0xff; 3], [0x60, 0x8b, 0x0e]]
            .into_iter()
            .chain(random(6, 9).iter().map(|r| {
                let b = r.to_le_bytes();
                [b[0], b[1], b[2]]
            }))
            .collect();
        let mut message = Vec::new();
        let mut checked = 0;
        for (i, &d) in groups.iter().enumerate() {
            let oui = ouis[i % ouis.len()];
            for input in inputs() {
                let layout = Layout::of(input);
                for (algo, algorithm) in ALGOS {
                    let t = block(&Template::new(algorithm, oui, input));
                    let keys = keys_at(algo, &t, &layout, d);
                    for (lane, key) in keys.iter().enumerate() {
                        let dev = (d + lane as u32).to_be_bytes();
                        let mac = [oui[0], oui[1], oui[2], dev[1], dev[2], dev[3]];
                        input.write(&mac, &mut message);
                        let digest = algorithm.digest(&message);
                        assert_eq!(
                            key.to_be_bytes(),
                            digest[..4],
                            "{algorithm:?}({input}) of {mac:02x?}, lane {lane}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 20_000, "{checked}");
    }

    #[test]
    fn a_scan_finds_what_the_portable_scan_finds_over_a_whole_span() {
        if !available() {
            return;
        }
        let oui = [0x3c, 0x22, 0xfb];
        let span = 0x5a_0000..0x5b_0000;
        let mut message = Vec::new();
        for input in [
            Input::Raw,
            Input::Text {
                spelling: Spelling::Dot,
                case: Case::Lower,
            },
        ] {
            let layout = Layout::of(input);
            for (algo, algorithm) in ALGOS {
                // Keys of a spread of devices, and of a few outside.
                let wanted: Vec<u32> = random(50, 3)
                    .iter()
                    .map(|r| span.start + (*r as u32 & 0xffff))
                    .collect();
                let keys = wanted.iter().chain(&[0x12_3456, 0x5b_0000]).map(|&d| {
                    let b = d.to_be_bytes();
                    input.write(&[oui[0], oui[1], oui[2], b[1], b[2], b[3]], &mut message);
                    u32::from_be_bytes(algorithm.digest(&message)[..4].try_into().unwrap())
                });
                let keys: Vec<u32> = keys.collect();
                let t = Template::new(algorithm, oui, input);
                // Many keys go through the bitmap, a few are compared in
                // the registers.
                for (keys, wanted) in [(&keys[..], &wanted[..]), (&keys[..3], &wanted[..3])] {
                    let filter = KeyFilter::new(keys.iter().copied());
                    let mut simd = Vec::new();
                    scan(algo, &block(&t), &layout, span.clone(), &filter, &mut simd);
                    let mut portable = Vec::new();
                    t.scan_portable(&layout, span.clone(), &filter, &mut portable);
                    let mut expected = wanted.to_vec();
                    expected.sort_unstable();
                    expected.dedup();
                    assert_eq!(simd, portable, "{algorithm:?}({input})");
                    for d in &expected {
                        assert!(simd.contains(d), "{algorithm:?}({input}) {d:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_search_recovers_a_mac_through_these_kernels_for_each_algorithm() {
        if !available() {
            return;
        }
        // An OUI no other test searches, so that its templates show this
        // test's scans.
        let oui = [0x02, 0x5e, 0xc7];
        let table = crate::OuiTable {
            entries: vec![(oui, "Test Vendor".to_string())],
        };
        let mac = [oui[0], oui[1], oui[2], 0x9a, 0x0b, 0x13];
        let mut message = Vec::new();
        for (_, algorithm) in ALGOS {
            for input in [
                Input::Raw,
                Input::Text {
                    spelling: Spelling::Colon,
                    case: Case::Lower,
                },
            ] {
                input.write(&mac, &mut message);
                let hex = vitrine_canary::encoding::hex(&algorithm.digest(&message), Case::Lower);
                let target = crate::Target::parse(&format!("{}:{hex}", algorithm.name())).unwrap();
                let options = crate::Options {
                    inputs: Input::all().collect(),
                    device_range: 0x9a_0000..0x9b_0000,
                    threads: 2,
                    stop_when_all_found: false,
                };
                let report = crate::search(&table, &[target], &options, &()).unwrap();
                let t = &report.targets[0];
                assert_eq!(
                    t.matches.len(),
                    1,
                    "{algorithm:?}({input}): {:?}",
                    t.matches
                );
                assert_eq!((t.matches[0].mac, t.matches[0].input), (mac, input));
                let template = block(&Template::new(algorithm, oui, input));
                assert!(
                    SCANNED.lock().unwrap().contains(&template),
                    "{algorithm:?}({input}) went through the portable kernels"
                );
            }
        }
    }

    fn digest_of(algorithm: Algorithm, input: Input, mac: &[u8; 6]) -> Vec<u8> {
        let mut message = Vec::new();
        input.write(mac, &mut message);
        algorithm.digest(&message)
    }

    fn md5_of(input: Input, mac: &[u8; 6]) -> Vec<u8> {
        digest_of(Algorithm::Md5, input, mac)
    }

    fn sha1_of(input: Input, mac: &[u8; 6]) -> Vec<u8> {
        digest_of(Algorithm::Sha1, input, mac)
    }

    fn mac_of(oui: [u8; 3], device: u32) -> [u8; 6] {
        let d = device.to_be_bytes();
        [oui[0], oui[1], oui[2], d[1], d[2], d[3]]
    }

    /// A filter that gives the MD5 and SHA-1 kernels whole digests to run
    /// backwards.
    fn whole(digests: &[Vec<u8>]) -> KeyFilter {
        let keys = digests
            .iter()
            .map(|d| u32::from_be_bytes(d[..4].try_into().unwrap()));
        KeyFilter::new(keys).with_whole(digests.iter().cloned())
    }

    /// The varying words of the kernel `scan` picks for `template`.
    fn kernel_vary(template: &[u8; 64], layout: &Layout) -> u32 {
        match Span::new(MD5, template, layout, 0).vary {
            v @ (0b10 | 0b100 | 0b1000 | 0b11000) => v,
            _ => 0xffff,
        }
    }

    /// Runs `scan`, and counts the candidates that passed the early
    /// comparison (MD5 and SHA-1 against whole digests).
    fn scan_counting(
        algo: Algo,
        template: &[u8; 64],
        layout: &Layout,
        devices: Range<u32>,
        filter: &KeyFilter,
    ) -> (Vec<u32>, usize) {
        let before = EARLY_PASSES.with(|n| n.get());
        let mut hits = Vec::new();
        scan(algo, template, layout, devices, filter, &mut hits);
        (hits, EARLY_PASSES.with(|n| n.get()) - before)
    }

    fn scan_md5(
        template: &[u8; 64],
        layout: &Layout,
        devices: Range<u32>,
        filter: &KeyFilter,
    ) -> (Vec<u32>, usize) {
        scan_counting(Algo::Md5, template, layout, devices, filter)
    }

    fn scan_sha1(
        template: &[u8; 64],
        layout: &Layout,
        devices: Range<u32>,
        filter: &KeyFilter,
    ) -> (Vec<u32>, usize) {
        scan_counting(Algo::Sha1, template, layout, devices, filter)
    }

    #[test]
    fn md5_run_backwards_finds_digests_planted_in_any_lane_of_any_call() {
        if !available() {
            return;
        }
        let oui = [0x60, 0x8b, 0x0e];
        // Three middle bytes, 48 groups of sixteen, run in pairs; then one
        // more group at each end, run alone.
        let ranges = [0x2a_1200..0x2a_1500, 0x2a_11f0..0x2a_1510];
        // The first candidate of the first range (lane 0), a middle lane,
        // the last lane of the second group of a pair, lanes of the next
        // middle byte, the last candidate of the first range (lane 15), and
        // lanes of the groups run alone.
        let planted = [
            0x2a_11f3, 0x2a_1200, 0x2a_1207, 0x2a_121f, 0x2a_1300, 0x2a_13a5, 0x2a_14ff, 0x2a_150e,
        ];
        for input in inputs() {
            let layout = Layout::of(input);
            let t = block(&Template::new(Algorithm::Md5, oui, input));
            let digests: Vec<Vec<u8>> = planted
                .iter()
                .map(|&d| md5_of(input, &mac_of(oui, d)))
                .collect();
            for devices in &ranges {
                let inside: Vec<u32> = planted
                    .into_iter()
                    .filter(|d| devices.contains(d))
                    .collect();
                // All at once.
                let (hits, early) = scan_md5(&t, &layout, devices.clone(), &whole(&digests));
                assert_eq!(hits, inside, "{input} {devices:x?}");
                assert_eq!(early, inside.len(), "{input} {devices:x?}");
                // One at a time.
                for (&d, digest) in planted.iter().zip(&digests) {
                    let (hits, _) = scan_md5(
                        &t,
                        &layout,
                        devices.clone(),
                        &whole(std::slice::from_ref(digest)),
                    );
                    let expected = if devices.contains(&d) {
                        vec![d]
                    } else {
                        vec![]
                    };
                    assert_eq!(hits, expected, "{input} {d:#x} in {devices:x?}");
                }
            }
        }
        // Raw bytes and colon-lower text take the layout-specific kernels.
        let colon = Input::Text {
            spelling: Spelling::Colon,
            case: Case::Lower,
        };
        for (input, v) in [(Input::Raw, 0b10), (colon, 0b11000)] {
            let t = block(&Template::new(Algorithm::Md5, oui, input));
            assert_eq!(kernel_vary(&t, &Layout::of(input)), v, "{input}");
        }
    }

    /// A whole digest that differs from a candidate's in one word is not
    /// reported, though its key alone (its first word) lets the candidate
    /// through: only the words compared before the end tell them apart.
    fn rejects_a_digest_that_differs_in_one_word(algo: Algo, algorithm: Algorithm, words: usize) {
        if !available() {
            return;
        }
        let oui = [0x3c, 0x22, 0xfb];
        let device = 0x5a_3339;
        let devices = 0x5a_3300..0x5a_3400;
        for input in inputs() {
            let layout = Layout::of(input);
            let t = block(&Template::new(algorithm, oui, input));
            let digest = digest_of(algorithm, input, &mac_of(oui, device));
            for word in 0..words {
                let mut near = digest.clone();
                near[4 * word + 2] ^= 0x10;
                let (hits, early) = scan_counting(
                    algo,
                    &t,
                    &layout,
                    devices.clone(),
                    &whole(std::slice::from_ref(&near)),
                );
                assert_eq!((hits, early), (vec![], 0), "{input}, word {word}");
                if word > 0 {
                    let key = u32::from_be_bytes(near[..4].try_into().unwrap());
                    let mut hits = Vec::new();
                    scan(
                        algo,
                        &t,
                        &layout,
                        devices.clone(),
                        &KeyFilter::new([key]),
                        &mut hits,
                    );
                    assert_eq!(hits, [device], "{input}, word {word}");
                }
            }
        }
    }

    #[test]
    fn md5_run_backwards_rejects_a_digest_that_differs_in_one_word() {
        rejects_a_digest_that_differs_in_one_word(Algo::Md5, Algorithm::Md5, 4);
    }

    fn md5_steps(m: &[u32; 16]) -> [u32; 64] {
        let iv = crate::kernel::MD5_IV;
        let mut v = [0u32; 64];
        let at = |v: &[u32; 64], i: usize, back: usize| match i.checked_sub(back) {
            Some(j) => v[j],
            // Before step 0: a, d, c, b = IV 0, 3, 2, 1.
            None => iv[[0, 3, 2, 1][4 - (back - i)]],
        };
        for (i, &(w, s, k)) in MD5_STEPS.iter().enumerate() {
            let (a, b, c, d) = (at(&v, i, 4), at(&v, i, 1), at(&v, i, 2), at(&v, i, 3));
            let x = a
                .wrapping_add(md5_f(i, b, c, d))
                .wrapping_add(m[w])
                .wrapping_add(k);
            v[i] = b.wrapping_add(x.rotate_left(s));
        }
        v
    }

    #[test]
    fn md5_run_backwards_checks_whole_what_passes_the_early_comparison() {
        if !available() {
            return;
        }
        let oui = [0x02, 0x7a, 0x11];
        let device = 0x01_42c7;
        let devices = 0x01_4200..0x01_4300;
        for input in inputs() {
            let layout = Layout::of(input);
            let t = block(&Template::new(Algorithm::Md5, oui, input));
            let meet = md5_meet_step(kernel_vary(&t, &layout));
            let mut b = t;
            layout.put_device(&mut b, device);
            let m = words(MD5, &b);
            let mut v = md5_steps(&m);
            let iv = crate::kernel::MD5_IV;
            let digest = |v: &[u32; 64]| {
                [v[60], v[63], v[62], v[61]]
                    .iter()
                    .zip(iv)
                    .map(|(x, i)| x.wrapping_add(i))
                    .collect::<Vec<u32>>()
            };
            assert_eq!(digest(&v), crate::kernel::md5_state(&b), "{input}");
            // The state after the compared step with one of its other words
            // changed, run forwards: the digest it gives runs backwards to
            // the same compared word, and differs.
            v[meet - 1] ^= 1 << 13;
            for i in meet + 1..64 {
                let (w, s, k) = MD5_STEPS[i];
                let x = v[i - 4]
                    .wrapping_add(md5_f(i, v[i - 1], v[i - 2], v[i - 3]))
                    .wrapping_add(m[w])
                    .wrapping_add(k);
                v[i] = v[i - 1].wrapping_add(x.rotate_left(s));
            }
            let fake: Vec<u8> = digest(&v).iter().flat_map(|w| w.to_le_bytes()).collect();
            let real = md5_of(input, &mac_of(oui, device));
            assert_ne!(fake, real);
            let (hits, early) = scan_md5(
                &t,
                &layout,
                devices.clone(),
                &whole(std::slice::from_ref(&fake)),
            );
            assert_eq!(
                early, 1,
                "{input}: the forged digest passes the early comparison"
            );
            assert!(hits.is_empty(), "{input}: {hits:x?}");
            // With the real digest too (the same backward value, so the
            // lane passes once), only the real one is reported.
            let (hits, early) = scan_md5(&t, &layout, devices.clone(), &whole(&[fake, real]));
            assert_eq!((hits, early), (vec![device], 1), "{input}");
        }
    }

    #[test]
    fn sha1_against_whole_digests_finds_them_in_any_lane_of_any_call() {
        if !available() {
            return;
        }
        let oui = [0x60, 0x8b, 0x0e];
        let devices = 0x2a_11f0..0x2a_1510;
        // The first and last candidates of the range, lanes 0, 7 and 15 of
        // calls, and lanes of three middle bytes.
        let planted = [
            0x2a_11f0, 0x2a_11f3, 0x2a_1200, 0x2a_1207, 0x2a_121f, 0x2a_13a5, 0x2a_14ff, 0x2a_150f,
        ];
        for input in inputs() {
            let layout = Layout::of(input);
            let t = block(&Template::new(Algorithm::Sha1, oui, input));
            let digests: Vec<Vec<u8>> = planted
                .iter()
                .map(|&d| sha1_of(input, &mac_of(oui, d)))
                .collect();
            // All at once: only the planted candidates pass early.
            let (hits, early) = scan_sha1(&t, &layout, devices.clone(), &whole(&digests));
            assert_eq!(hits, planted, "{input}");
            assert_eq!(early, planted.len(), "{input}");
            // One at a time.
            for (&d, digest) in planted.iter().zip(&digests) {
                let (hits, _) = scan_sha1(
                    &t,
                    &layout,
                    devices.clone(),
                    &whole(std::slice::from_ref(digest)),
                );
                assert_eq!(hits, [d], "{input} {d:#x}");
            }
        }
    }

    #[test]
    fn sha1_against_whole_digests_rejects_one_that_differs_in_one_word() {
        rejects_a_digest_that_differs_in_one_word(Algo::Sha1, Algorithm::Sha1, 5);
    }

    #[test]
    fn sha1_against_whole_digests_checks_whole_what_passes_the_early_comparison() {
        if !available() {
            return;
        }
        let oui = [0x02, 0x7a, 0x11];
        let device = 0x01_42c7;
        let devices = 0x01_4200..0x01_4300;
        let iv = crate::kernel::SHA1_IV;
        for input in inputs() {
            let layout = Layout::of(input);
            let t = block(&Template::new(Algorithm::Sha1, oui, input));
            let real = sha1_of(input, &mac_of(oui, device));
            // Round 79 adds f(b, c, d) = b ^ c ^ d with d = rol30(a76) the
            // last digest word less its initial value: a bit of it flipped,
            // and the first word moved by what that does to f, leave the
            // word compared early the same and the digest different.
            let s: [u32; 5] = std::array::from_fn(|k| {
                u32::from_be_bytes(real[4 * k..4 * k + 4].try_into().unwrap()).wrapping_sub(iv[k])
            });
            let f = s[2].rotate_right(30) ^ s[3] ^ s[4];
            let e = s[4] ^ (1 << 9);
            let f2 = s[2].rotate_right(30) ^ s[3] ^ e;
            let forged = [s[0].wrapping_add(f2.wrapping_sub(f)), s[1], s[2], s[3], e];
            let fake: Vec<u8> = forged
                .iter()
                .zip(iv)
                .flat_map(|(x, i)| x.wrapping_add(i).to_be_bytes())
                .collect();
            assert_ne!(fake, real);
            let (hits, early) = scan_sha1(
                &t,
                &layout,
                devices.clone(),
                &whole(std::slice::from_ref(&fake)),
            );
            assert_eq!(
                early, 1,
                "{input}: the forged digest passes the early comparison"
            );
            assert!(hits.is_empty(), "{input}: {hits:x?}");
            // With the real digest too, only the real one is reported.
            let (hits, early) = scan_sha1(&t, &layout, devices.clone(), &whole(&[fake, real]));
            assert_eq!((hits, early), (vec![device], 1), "{input}");
        }
    }

    #[test]
    fn md5_steps_after_the_last_varying_word_use_constant_words() {
        // Raw bytes vary word 1 (last taken by step 55), bare text word 2
        // (step 62), dot text word 3 (step 53), colon and dash text words
        // 3 and 4 (step 60).
        let layouts = [0b10, 0b100, 0b1000, 0b11000, 0xffff];
        assert_eq!(layouts.map(md5_last_varying), [55, 62, 53, 60, 63]);
        assert_eq!(layouts.map(md5_meet_step), [49, 56, 47, 54, 57]);
        // Round 4 takes words 7 i mod 16: 8, 15, 6, 13, 4, 11, 2, 9 last.
        let tail: Vec<usize> = MD5_STEPS[56..].iter().map(|s| s.0).collect();
        assert_eq!(tail, [8, 15, 6, 13, 4, 11, 2, 9]);
    }
}
