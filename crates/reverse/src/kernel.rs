//! One digest per candidate MAC at the speed of the compression function.
//!
//! Every input is at most 17 bytes, so its padded message is a single block.
//! The block is built once per OUI and input, and only the bytes that spell
//! the device part are rewritten per candidate; the compression function
//! then runs on it from the initial state, without the buffering, padding
//! and finalization of the generic `Digest` API.
//!
//! On x86-64 processors with AVX-512F, MD5, SHA-1 and SHA-256 run sixteen
//! candidates per call instead, one per 32-bit vector lane ([`avx512`]).

use sha2::digest::generic_array::GenericArray;
use vitrine_canary::{Algorithm, Case, Input};

#[cfg(target_arch = "x86_64")]
mod avx512;

/// The kernels the search runs on this processor: `"avx512"` (sixteen
/// candidates per call for MD5, SHA-1 and SHA-256) or `"portable"`.
pub fn kernels() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        return "avx512";
    }
    "portable"
}

/// Candidates hashed one after the other with no test in between: the
/// processor overlaps independent compressions (SHA-256 on one core went
/// from 21 to 32 M/s, SHA-1 from 22 to 42 M/s).
pub(crate) const LANES: usize = 8;

/// A hash reduced to what the search needs.
pub(crate) trait Kernel {
    type Block: Copy + AsRef<[u8]> + AsMut<[u8]>;

    /// `message` padded into one block.
    fn block(message: &[u8]) -> Self::Block;

    /// The first four digest bytes, big-endian.
    fn key(block: &Self::Block) -> u32;

    /// [`Kernel::key`] of several blocks.
    #[inline(always)]
    fn keys(blocks: &[Self::Block; LANES]) -> [u32; LANES] {
        blocks.each_ref().map(Self::key)
    }

    /// The whole digest.
    #[cfg(test)]
    fn digest(block: &Self::Block) -> Vec<u8>;
}

fn pad<const N: usize>(message: &[u8], length_at: usize, length: &[u8]) -> [u8; N] {
    let mut b = [0u8; N];
    b[..message.len()].copy_from_slice(message);
    b[message.len()] = 0x80;
    b[length_at..length_at + length.len()].copy_from_slice(length);
    b
}

fn bit_len(message: &[u8]) -> u64 {
    message.len() as u64 * 8
}

pub(crate) struct Md5;
pub(crate) struct Sha1;
pub(crate) struct Sha256;
pub(crate) struct Sha512;

const SHA1_IV: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const SHA512_IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

impl Sha256 {
    #[inline(always)]
    fn state(block: &[u8; 64]) -> [u32; 8] {
        let mut s = SHA256_IV;
        sha2::compress256(
            &mut s,
            std::slice::from_ref(GenericArray::from_slice(block)),
        );
        s
    }
}

impl Kernel for Sha256 {
    type Block = [u8; 64];
    fn block(message: &[u8]) -> [u8; 64] {
        pad(message, 56, &bit_len(message).to_be_bytes())
    }
    #[inline(always)]
    fn key(block: &[u8; 64]) -> u32 {
        Sha256::state(block)[0]
    }
    #[cfg(test)]
    fn digest(block: &[u8; 64]) -> Vec<u8> {
        Sha256::state(block)
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect()
    }
}

impl Sha1 {
    #[inline(always)]
    fn state(block: &[u8; 64]) -> [u32; 5] {
        let mut s = SHA1_IV;
        sha1::compress(
            &mut s,
            std::slice::from_ref(GenericArray::from_slice(block)),
        );
        s
    }
}

impl Kernel for Sha1 {
    type Block = [u8; 64];
    fn block(message: &[u8]) -> [u8; 64] {
        pad(message, 56, &bit_len(message).to_be_bytes())
    }
    #[inline(always)]
    fn key(block: &[u8; 64]) -> u32 {
        Sha1::state(block)[0]
    }
    #[cfg(test)]
    fn digest(block: &[u8; 64]) -> Vec<u8> {
        Sha1::state(block)
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect()
    }
}

impl Sha512 {
    #[inline(always)]
    fn state(block: &[u8; 128]) -> [u64; 8] {
        let mut s = SHA512_IV;
        sha2::compress512(
            &mut s,
            std::slice::from_ref(GenericArray::from_slice(block)),
        );
        s
    }
}

impl Kernel for Sha512 {
    type Block = [u8; 128];
    fn block(message: &[u8]) -> [u8; 128] {
        pad(message, 112, &(u128::from(bit_len(message))).to_be_bytes())
    }
    #[inline(always)]
    fn key(block: &[u8; 128]) -> u32 {
        (Sha512::state(block)[0] >> 32) as u32
    }
    #[cfg(test)]
    fn digest(block: &[u8; 128]) -> Vec<u8> {
        Sha512::state(block)
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect()
    }
}

impl Kernel for Md5 {
    type Block = [u8; 64];
    fn block(message: &[u8]) -> [u8; 64] {
        pad(message, 56, &bit_len(message).to_le_bytes())
    }
    #[inline(always)]
    fn key(block: &[u8; 64]) -> u32 {
        md5_first_words(std::array::from_ref(block))[0].swap_bytes()
    }
    #[inline(always)]
    fn keys(blocks: &[[u8; 64]; LANES]) -> [u32; LANES] {
        // Two at a time: four or eight in one group ran slower (9 to 14 M/s
        // against 31 M/s on one core).
        let mut keys = [0; LANES];
        for (k, pair) in keys.chunks_exact_mut(2).zip(blocks.chunks_exact(2)) {
            let pair: &[[u8; 64]; 2] = pair.try_into().expect("chunks of 2");
            k.copy_from_slice(&md5_first_words(pair).map(u32::swap_bytes));
        }
        keys
    }
    #[cfg(test)]
    fn digest(block: &[u8; 64]) -> Vec<u8> {
        md5_state(block)
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    }
}

const MD5_IV: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

// The md-5 crate keeps its compression function private, so the reference
// one (RFC 1321) is here, unrolled by macros, over several candidates at
// once: each MD5 step waits on the one before, and independent candidates
// fill the gaps (and SIMD lanes where the compiler finds them).
macro_rules! md5_step {
    ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:ident, $w:expr, $k:expr, $s:expr) => {
        for l in 0..$a.len() {
            $a[l] = $b[l].wrapping_add(
                $a[l]
                    .wrapping_add($f($b[l], $c[l], $d[l]))
                    .wrapping_add($m[$w][l])
                    .wrapping_add($k)
                    .rotate_left($s),
            );
        }
    };
}

#[inline(always)]
fn f(x: u32, y: u32, z: u32) -> u32 {
    ((y ^ z) & x) ^ z
}
#[inline(always)]
fn g(x: u32, y: u32, z: u32) -> u32 {
    ((x ^ y) & z) ^ y
}
#[inline(always)]
fn h(x: u32, y: u32, z: u32) -> u32 {
    x ^ y ^ z
}
#[inline(always)]
fn i(x: u32, y: u32, z: u32) -> u32 {
    y ^ (x | !z)
}

/// The MD5 rounds on `L` blocks from the initial state, without the final
/// addition; stops after the step that fixes `a` when `first_word_only`.
#[inline(always)]
fn md5_rounds<const L: usize>(blocks: &[[u8; 64]; L], first_word_only: bool) -> [[u32; L]; 4] {
    let mut m = [[0u32; L]; 16];
    for (l, block) in blocks.iter().enumerate() {
        for (w, c) in block.chunks_exact(4).enumerate() {
            m[w][l] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
    let [mut a, mut b, mut c, mut d] = MD5_IV.map(|v| [v; L]);
    md5_step!(f, a, b, c, d, m, 0, 0xd76aa478, 7);
    md5_step!(f, d, a, b, c, m, 1, 0xe8c7b756, 12);
    md5_step!(f, c, d, a, b, m, 2, 0x242070db, 17);
    md5_step!(f, b, c, d, a, m, 3, 0xc1bdceee, 22);
    md5_step!(f, a, b, c, d, m, 4, 0xf57c0faf, 7);
    md5_step!(f, d, a, b, c, m, 5, 0x4787c62a, 12);
    md5_step!(f, c, d, a, b, m, 6, 0xa8304613, 17);
    md5_step!(f, b, c, d, a, m, 7, 0xfd469501, 22);
    md5_step!(f, a, b, c, d, m, 8, 0x698098d8, 7);
    md5_step!(f, d, a, b, c, m, 9, 0x8b44f7af, 12);
    md5_step!(f, c, d, a, b, m, 10, 0xffff5bb1, 17);
    md5_step!(f, b, c, d, a, m, 11, 0x895cd7be, 22);
    md5_step!(f, a, b, c, d, m, 12, 0x6b901122, 7);
    md5_step!(f, d, a, b, c, m, 13, 0xfd987193, 12);
    md5_step!(f, c, d, a, b, m, 14, 0xa679438e, 17);
    md5_step!(f, b, c, d, a, m, 15, 0x49b40821, 22);

    md5_step!(g, a, b, c, d, m, 1, 0xf61e2562, 5);
    md5_step!(g, d, a, b, c, m, 6, 0xc040b340, 9);
    md5_step!(g, c, d, a, b, m, 11, 0x265e5a51, 14);
    md5_step!(g, b, c, d, a, m, 0, 0xe9b6c7aa, 20);
    md5_step!(g, a, b, c, d, m, 5, 0xd62f105d, 5);
    md5_step!(g, d, a, b, c, m, 10, 0x02441453, 9);
    md5_step!(g, c, d, a, b, m, 15, 0xd8a1e681, 14);
    md5_step!(g, b, c, d, a, m, 4, 0xe7d3fbc8, 20);
    md5_step!(g, a, b, c, d, m, 9, 0x21e1cde6, 5);
    md5_step!(g, d, a, b, c, m, 14, 0xc33707d6, 9);
    md5_step!(g, c, d, a, b, m, 3, 0xf4d50d87, 14);
    md5_step!(g, b, c, d, a, m, 8, 0x455a14ed, 20);
    md5_step!(g, a, b, c, d, m, 13, 0xa9e3e905, 5);
    md5_step!(g, d, a, b, c, m, 2, 0xfcefa3f8, 9);
    md5_step!(g, c, d, a, b, m, 7, 0x676f02d9, 14);
    md5_step!(g, b, c, d, a, m, 12, 0x8d2a4c8a, 20);

    md5_step!(h, a, b, c, d, m, 5, 0xfffa3942, 4);
    md5_step!(h, d, a, b, c, m, 8, 0x8771f681, 11);
    md5_step!(h, c, d, a, b, m, 11, 0x6d9d6122, 16);
    md5_step!(h, b, c, d, a, m, 14, 0xfde5380c, 23);
    md5_step!(h, a, b, c, d, m, 1, 0xa4beea44, 4);
    md5_step!(h, d, a, b, c, m, 4, 0x4bdecfa9, 11);
    md5_step!(h, c, d, a, b, m, 7, 0xf6bb4b60, 16);
    md5_step!(h, b, c, d, a, m, 10, 0xbebfbc70, 23);
    md5_step!(h, a, b, c, d, m, 13, 0x289b7ec6, 4);
    md5_step!(h, d, a, b, c, m, 0, 0xeaa127fa, 11);
    md5_step!(h, c, d, a, b, m, 3, 0xd4ef3085, 16);
    md5_step!(h, b, c, d, a, m, 6, 0x04881d05, 23);
    md5_step!(h, a, b, c, d, m, 9, 0xd9d4d039, 4);
    md5_step!(h, d, a, b, c, m, 12, 0xe6db99e5, 11);
    md5_step!(h, c, d, a, b, m, 15, 0x1fa27cf8, 16);
    md5_step!(h, b, c, d, a, m, 2, 0xc4ac5665, 23);

    md5_step!(i, a, b, c, d, m, 0, 0xf4292244, 6);
    md5_step!(i, d, a, b, c, m, 7, 0x432aff97, 10);
    md5_step!(i, c, d, a, b, m, 14, 0xab9423a7, 15);
    md5_step!(i, b, c, d, a, m, 5, 0xfc93a039, 21);
    md5_step!(i, a, b, c, d, m, 12, 0x655b59c3, 6);
    md5_step!(i, d, a, b, c, m, 3, 0x8f0ccc92, 10);
    md5_step!(i, c, d, a, b, m, 10, 0xffeff47d, 15);
    md5_step!(i, b, c, d, a, m, 1, 0x85845dd1, 21);
    md5_step!(i, a, b, c, d, m, 8, 0x6fa87e4f, 6);
    md5_step!(i, d, a, b, c, m, 15, 0xfe2ce6e0, 10);
    md5_step!(i, c, d, a, b, m, 6, 0xa3014314, 15);
    md5_step!(i, b, c, d, a, m, 13, 0x4e0811a1, 21);
    md5_step!(i, a, b, c, d, m, 4, 0xf7537e82, 6);
    // `a` is final here: the first digest word needs no more steps.
    if first_word_only {
        return [a, b, c, d];
    }
    md5_step!(i, d, a, b, c, m, 11, 0xbd3af235, 10);
    md5_step!(i, c, d, a, b, m, 2, 0x2ad7d2bb, 15);
    md5_step!(i, b, c, d, a, m, 9, 0xeb86d391, 21);
    [a, b, c, d]
}

/// The whole MD5 state after the block: the digest's words, little-endian.
#[cfg(any(test, target_arch = "x86_64"))]
fn md5_state(block: &[u8; 64]) -> [u32; 4] {
    let r = md5_rounds(std::array::from_ref(block), false);
    std::array::from_fn(|k| MD5_IV[k].wrapping_add(r[k][0]))
}

#[inline(always)]
fn md5_first_words<const L: usize>(blocks: &[[u8; 64]; L]) -> [u32; L] {
    md5_rounds(blocks, true)[0].map(|a| MD5_IV[0].wrapping_add(a))
}

/// Where the three device-part bytes of a MAC sit in one input's message,
/// and how they are written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Offset of each device byte (raw) or of its two hex digits (text).
    pub at: [usize; 3],
    pub digits: Option<&'static [[u8; 2]; 256]>,
}

const fn hex_pairs(alphabet: &[u8; 16]) -> [[u8; 2]; 256] {
    let mut t = [[0u8; 2]; 256];
    let mut v = 0;
    while v < 256 {
        t[v] = [alphabet[v >> 4], alphabet[v & 0xf]];
        v += 1;
    }
    t
}

static HEX_LOWER: [[u8; 2]; 256] = hex_pairs(b"0123456789abcdef");
static HEX_UPPER: [[u8; 2]; 256] = hex_pairs(b"0123456789ABCDEF");

impl Layout {
    /// Found by writing the input with each device byte changed in turn, so
    /// the spellings stay exactly those of `vitrine-canary`.
    pub fn of(input: Input) -> Layout {
        let mut base = Vec::new();
        input.write(&[0; 6], &mut base);
        let mut at = [0; 3];
        let mut other = Vec::new();
        for (k, at) in at.iter_mut().enumerate() {
            let mut mac = [0u8; 6];
            mac[3 + k] = 0xff;
            input.write(&mac, &mut other);
            *at = base
                .iter()
                .zip(&other)
                .position(|(x, y)| x != y)
                .expect("every device byte shows in every input");
        }
        let digits = match input {
            Input::Raw => None,
            Input::Text {
                case: Case::Lower, ..
            } => Some(&HEX_LOWER),
            Input::Text {
                case: Case::Upper, ..
            } => Some(&HEX_UPPER),
        };
        Layout { at, digits }
    }

    /// Writes device byte `k` (0 for the most significant) as `v`.
    #[inline(always)]
    pub fn put(&self, block: &mut [u8], k: usize, v: u8) {
        let at = self.at[k];
        match self.digits {
            None => block[at] = v,
            Some(t) => block[at..at + 2].copy_from_slice(&t[usize::from(v)]),
        }
    }

    /// Writes the whole 24-bit device part.
    #[inline(always)]
    pub fn put_device(&self, block: &mut [u8], device: u32) {
        self.put(block, 0, (device >> 16) as u8);
        self.put(block, 1, (device >> 8) as u8);
        self.put(block, 2, device as u8);
    }
}

/// The block of `input` for a MAC under `oui` (device part zero).
pub(crate) fn template<K: Kernel>(oui: [u8; 3], input: Input) -> K::Block {
    let mut message = Vec::with_capacity(17);
    input.write(&[oui[0], oui[1], oui[2], 0, 0, 0], &mut message);
    K::block(&message)
}

/// Filters a digest's first four bytes against the targets' in one memory
/// access for almost every candidate: a bitmap of their top 16 bits, then
/// the sorted keys.
#[derive(Debug, Clone)]
pub(crate) struct KeyFilter {
    bits: Box<[u64; 1024]>,
    keys: Vec<u32>,
    /// The targets' whole digests when every target gives all of its
    /// digest, else empty: a kernel may then compare more than the key.
    whole: Vec<Vec<u8>>,
}

impl KeyFilter {
    pub fn new(keys: impl IntoIterator<Item = u32>) -> KeyFilter {
        let mut bits = Box::new([0u64; 1024]);
        let mut keys: Vec<u32> = keys.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        for k in &keys {
            let i = (k >> 16) as usize;
            bits[i >> 6] |= 1 << (i & 63);
        }
        KeyFilter {
            bits,
            keys,
            whole: Vec::new(),
        }
    }

    /// Adds the targets' whole digests, those whose keys the filter holds.
    pub fn with_whole(mut self, digests: impl IntoIterator<Item = Vec<u8>>) -> KeyFilter {
        self.whole = digests.into_iter().collect();
        self.whole.sort_unstable();
        self.whole.dedup();
        debug_assert!(self.whole.iter().all(|d| {
            self.keys
                .contains(&u32::from_be_bytes(d[..4].try_into().unwrap()))
        }));
        self
    }

    #[inline(always)]
    pub fn may_match(&self, key: u32) -> bool {
        let i = (key >> 16) as usize;
        (self.bits[i >> 6] >> (i & 63)) & 1 == 1 && self.keys.binary_search(&key).is_ok()
    }
}

/// Hashes every device part in `devices` (within one 2^16-aligned span, so
/// the top device byte is fixed) and pushes those whose key passes `filter`
/// onto `hits`.
#[inline(never)]
pub(crate) fn scan<K: Kernel>(
    template: &K::Block,
    layout: &Layout,
    devices: std::ops::Range<u32>,
    filter: &KeyFilter,
    hits: &mut Vec<u32>,
) {
    debug_assert!(devices.is_empty() || (devices.start >> 16) == ((devices.end - 1) >> 16));
    let mut blocks = [*template; LANES];
    for b in &mut blocks {
        layout.put_device(b.as_mut(), devices.start);
    }
    let mut device = devices.start;
    // Lane l holds device + l: its middle byte changes when the low byte
    // wraps within the last LANES steps.
    while device + LANES as u32 <= devices.end {
        for (l, b) in blocks.iter_mut().enumerate() {
            let d = device + l as u32;
            if (d as u8) < LANES as u8 {
                layout.put(b.as_mut(), 1, (d >> 8) as u8);
            }
            layout.put(b.as_mut(), 2, d as u8);
        }
        for (l, key) in K::keys(&blocks).into_iter().enumerate() {
            if filter.may_match(key) {
                hits.push(device + l as u32);
            }
        }
        device += LANES as u32;
    }
    let b = &mut blocks[0];
    for d in device..devices.end {
        layout.put(b.as_mut(), 1, (d >> 8) as u8);
        layout.put(b.as_mut(), 2, d as u8);
        if filter.may_match(K::key(b)) {
            hits.push(d);
        }
    }
}

/// Dispatch on the algorithm for one input.
#[derive(Debug, Clone)]
pub(crate) enum Template {
    Md5([u8; 64]),
    Sha1([u8; 64]),
    Sha256([u8; 64]),
    Sha512([u8; 128]),
}

impl Template {
    pub fn new(algorithm: Algorithm, oui: [u8; 3], input: Input) -> Template {
        match algorithm {
            Algorithm::Md5 => Template::Md5(template::<Md5>(oui, input)),
            Algorithm::Sha1 => Template::Sha1(template::<Sha1>(oui, input)),
            Algorithm::Sha256 => Template::Sha256(template::<Sha256>(oui, input)),
            Algorithm::Sha512 => Template::Sha512(template::<Sha512>(oui, input)),
        }
    }

    /// Scans `devices` (within one 2^16-aligned span), through the AVX-512
    /// kernels where the processor has them, sixteen aligned candidates at a
    /// time, and the portable ones for the rest.
    pub fn scan(
        &self,
        layout: &Layout,
        devices: std::ops::Range<u32>,
        filter: &KeyFilter,
        hits: &mut Vec<u32>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if avx512::available() {
            let simd = match self {
                Template::Md5(b) => Some((avx512::Algo::Md5, b)),
                Template::Sha1(b) => Some((avx512::Algo::Sha1, b)),
                Template::Sha256(b) => Some((avx512::Algo::Sha256, b)),
                Template::Sha512(_) => None,
            };
            if let Some((algo, block)) = simd {
                let w = avx512::WIDTH;
                let start = devices.start.next_multiple_of(w).min(devices.end);
                let end = (devices.end / w * w).max(start);
                self.scan_portable(layout, devices.start..start, filter, hits);
                avx512::scan(algo, block, layout, start..end, filter, hits);
                self.scan_portable(layout, end..devices.end, filter, hits);
                return;
            }
        }
        self.scan_portable(layout, devices, filter, hits);
    }

    /// [`Template::scan`] through the portable kernels only.
    pub fn scan_portable(
        &self,
        layout: &Layout,
        devices: std::ops::Range<u32>,
        filter: &KeyFilter,
        hits: &mut Vec<u32>,
    ) {
        if devices.is_empty() {
            return;
        }
        match self {
            Template::Md5(b) => scan::<Md5>(b, layout, devices, filter, hits),
            Template::Sha1(b) => scan::<Sha1>(b, layout, devices, filter, hits),
            Template::Sha256(b) => scan::<Sha256>(b, layout, devices, filter, hits),
            Template::Sha512(b) => scan::<Sha512>(b, layout, devices, filter, hits),
        }
    }

    /// The digest of one device part, through the same block rewriting as
    /// [`Template::scan`].
    #[cfg(test)]
    pub fn digest(&self, layout: &Layout, device: u32) -> Vec<u8> {
        fn one<K: Kernel>(t: &K::Block, layout: &Layout, device: u32) -> (u32, Vec<u8>) {
            let mut b = *t;
            layout.put_device(b.as_mut(), device);
            (K::key(&b), K::digest(&b))
        }
        let (key, digest) = match self {
            Template::Md5(b) => one::<Md5>(b, layout, device),
            Template::Sha1(b) => one::<Sha1>(b, layout, device),
            Template::Sha256(b) => one::<Sha256>(b, layout, device),
            Template::Sha512(b) => one::<Sha512>(b, layout, device),
        };
        debug_assert_eq!(key.to_be_bytes(), digest[..4]);
        digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: random enough MACs without a dependency.
    fn macs(n: usize) -> Vec<[u8; 6]> {
        let mut x: u64 = 0x5eed_0fba_5e00;
        (0..n)
            .map(|_| {
                x = x.wrapping_add(0x9e3779b97f4a7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
                z ^= z >> 31;
                let b = z.to_le_bytes();
                [b[0], b[1], b[2], b[3], b[4], b[5]]
            })
            .collect()
    }

    #[test]
    fn the_fast_path_matches_the_generic_digest_for_every_input_and_algorithm() {
        let mut message = Vec::new();
        let mut edges = vec![[0u8; 6], [0xff; 6], [0x00, 0x00, 0x00, 0xff, 0x00, 0xff]];
        edges.extend(macs(100));
        for mac in edges {
            let oui = [mac[0], mac[1], mac[2]];
            let device = u32::from_be_bytes([0, mac[3], mac[4], mac[5]]);
            for input in Input::all() {
                input.write(&mac, &mut message);
                let layout = Layout::of(input);
                for algorithm in Algorithm::ALL {
                    let expected = algorithm.digest(&message);
                    let t = Template::new(algorithm, oui, input);
                    assert_eq!(
                        t.digest(&layout, device),
                        expected,
                        "{algorithm:?}({input}) of {mac:02x?}"
                    );
                    // The scan loop rewrites bytes in place from the span's
                    // start: it must reach the same message.
                    let key = u32::from_be_bytes(expected[..4].try_into().unwrap());
                    let filter = KeyFilter::new([key]);
                    let mut hits = Vec::new();
                    let start = (device & !0xffff).max(device.saturating_sub(40));
                    t.scan(&layout, start..device + 1, &filter, &mut hits);
                    assert_eq!(hits.last(), Some(&device), "{algorithm:?}({input})");
                }
            }
        }
    }

    #[test]
    fn scanning_in_lanes_rewrites_the_middle_byte_across_wraps_at_any_alignment() {
        let oui = [0xac, 0xde, 0x48];
        let wanted = [0x200, 0x201, 0x203, 0x2ff, 0x300, 0x305];
        let mut message = Vec::new();
        for input in [Input::Raw, Input::all().last().unwrap()] {
            let layout = Layout::of(input);
            for algorithm in Algorithm::ALL {
                let keys = wanted.map(|d: u32| {
                    let b = d.to_be_bytes();
                    input.write(&[oui[0], oui[1], oui[2], b[1], b[2], b[3]], &mut message);
                    u32::from_be_bytes(algorithm.digest(&message)[..4].try_into().unwrap())
                });
                let filter = KeyFilter::new(keys);
                let t = Template::new(algorithm, oui, input);
                for start in 0x1f9..0x200 {
                    for end in [0x306, 0x307, 0x309] {
                        let mut hits = Vec::new();
                        t.scan(&layout, start..end, &filter, &mut hits);
                        assert_eq!(hits, wanted, "{algorithm:?}({input}) {start:#x}..{end:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn layouts_point_at_the_device_part() {
        let colon = Input::Text {
            spelling: vitrine_canary::Spelling::Colon,
            case: Case::Upper,
        };
        assert_eq!(Layout::of(colon).at, [9, 12, 15]);
        assert_eq!(Layout::of(Input::Raw).at, [3, 4, 5]);
        let dot = Input::Text {
            spelling: vitrine_canary::Spelling::Dot,
            case: Case::Lower,
        };
        assert_eq!(Layout::of(dot).at, [7, 10, 12]);
    }

    #[test]
    fn the_key_filter_passes_its_keys_only() {
        let f = KeyFilter::new([0x1234_5678, 0xffff_0000, 0]);
        for k in [0x1234_5678, 0xffff_0000, 0] {
            assert!(f.may_match(k));
        }
        for k in [0x1234_5679, 0x1235_5678, 0xffff_0001, 1] {
            assert!(!f.may_match(k));
        }
    }
}
