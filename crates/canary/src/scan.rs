//! Looking for every form of every canary at once.
//!
//! A hundred canaries in every encoding are some twenty thousand patterns of
//! six bytes and more. A general multi-pattern automaton of that size no
//! longer fits in cache, so the scanner samples instead, with three kinds of
//! patterns:
//!
//! - Hex digests (a third of all patterns) only count where a run of hex
//!   digits begins (eight digits inside a longer run mean nothing), or one
//!   byte into it (a binary neighbour such as a SQLite serial type may be a
//!   hex digit; then at least twelve digits must match), so they are looked
//!   for there and nowhere else: a bit per byte, 64 bytes at a time, tells
//!   where runs of at least eight hex digits begin, and the first eight
//!   digits at the run's first two bytes are looked up. Sampled like the
//!   rest, they would make almost any four hex digits of a log line a hit
//!   to verify.
//! - The other patterns of 8 bytes and more: one 4-byte word is read every
//!   `stride` bytes (`stride` = shortest such pattern - 3, so every
//!   occurrence covers a sampled word at one of the first `stride` offsets
//!   of its pattern) and tested against a bitmap of the words the patterns
//!   have at those offsets.
//! - Shorter patterns (the six raw bytes of a MAC): the first two bytes of
//!   the same sampled word are tested against a bitmap of the byte pairs at
//!   their first `stride` offsets, so that they do not force a small stride
//!   on everything else.
//!
//! A sampled word that hits is tested against a second bitmap with another
//! hash; one that passes both is looked up with the places (offset, length
//! that must match) it has in patterns, and for each place one hash of the
//! bytes there picks the patterns compared in full. Most data costs, per
//! `stride` bytes, one load, one multiply and two bit tests.

use std::io::Read;

use crate::encoding::{Case, Encoding, MIN_HEX_DIGITS_IN_RUN, Truncation};
use crate::registry::Registry;

/// One find: which canary, in which form, where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index of the canary in the registry.
    pub canary: usize,
    pub encoding: Encoding,
    /// Byte offset of the first byte of the match.
    pub offset: u64,
    /// Length of the match in bytes.
    pub len: usize,
    /// Shorter than the whole form (a truncated digest).
    pub truncated: bool,
}

#[derive(Debug)]
struct Pattern {
    canary: usize,
    encoding: Encoding,
    bytes: Vec<u8>,
    /// Bytes that must match for a find.
    min_len: usize,
    hex_boundaries: bool,
    /// Sides (before, after) that must not continue the form with a hex
    /// digit of this case ([`Truncation::Apart`]).
    apart: Option<(bool, bool, Case)>,
}

/// Bits of the sampled-word bitmap (512 KiB).
const BLOOM_BITS: u32 = 22;
/// Bits of the hex-run key bitmap (32 KiB).
const KEY_BITS: u32 = 18;
/// Patterns shorter than this are sampled by their byte pairs.
const SHORT: usize = 8;
/// Bytes a hex-run key holds: hex patterns are at least this long.
const KEY_LEN: usize = 8;

/// Values by a hashed key: `entries[starts[b]..starts[b + 1]]` hold the
/// values of bucket `b`.
#[derive(Debug, Default)]
struct Buckets<K, V> {
    starts: Vec<u32>,
    entries: Vec<(K, V)>,
}

impl<K: Copy + Ord, V: Copy + Ord> Buckets<K, V> {
    fn build(buckets: usize, mut items: Vec<(usize, K, V)>) -> Self {
        items.sort_unstable();
        items.dedup();
        let mut starts = vec![0u32; buckets + 1];
        for &(b, ..) in &items {
            starts[b + 1] += 1;
        }
        for i in 0..buckets {
            starts[i + 1] += starts[i];
        }
        Buckets {
            starts,
            entries: items.into_iter().map(|(_, k, v)| (k, v)).collect(),
        }
    }

    fn get(&self, bucket: usize, key: K) -> impl Iterator<Item = V> + '_ {
        let range = self.starts[bucket] as usize..self.starts[bucket + 1] as usize;
        self.entries[range]
            .iter()
            .filter(move |e| e.0 == key)
            .map(|e| e.1)
    }
}

/// Where a sampled word or pair sits in the patterns that have it: its
/// offset in them and how many of their bytes must match. Patterns that
/// share a word there (every form that starts with the same OUI) are told
/// apart by one hash of those bytes, not one comparison each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    offset: u16,
    min_len: u16,
}

/// Patterns by a hash of the bytes that must match ([`prefix_hash`]):
/// open addressing, linear probing, behind a bitmap of the hashes (most
/// lookups are for bytes that match no pattern).
#[derive(Debug)]
struct Prefixes {
    /// Bit `h >> (64 - FILTER_BITS)` set for every hash `h` held.
    filter: Vec<u8>,
    /// (hash, pattern); `u32::MAX` marks an empty slot.
    slots: Vec<(u64, u32)>,
}

/// Bits of the second-stage bitmaps (128 KiB).
const FILTER_BITS: u32 = 20;

impl Prefixes {
    fn build(items: impl ExactSizeIterator<Item = (u64, u32)>) -> Prefixes {
        let size = (items.len() * 2).next_power_of_two().max(16);
        let mut slots = vec![(0u64, u32::MAX); size];
        let mut filter = vec![0u8; 1 << (FILTER_BITS - 3)];
        for (h, pattern) in items {
            let f = (h >> (64 - FILTER_BITS)) as usize;
            filter[f >> 3] |= 1 << (f & 7);
            let mut i = h as usize & (size - 1);
            while slots[i].1 != u32::MAX {
                i = (i + 1) & (size - 1);
            }
            slots[i] = (h, pattern);
        }
        Prefixes { filter, slots }
    }

    fn get(&self, h: u64) -> impl Iterator<Item = u32> + '_ {
        let f = (h >> (64 - FILTER_BITS)) as usize;
        let held = (self.filter[f >> 3] >> (f & 7)) & 1 != 0;
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        std::iter::from_fn(move || {
            if !held {
                return None;
            }
            loop {
                let (sh, pattern) = self.slots[i];
                if pattern == u32::MAX {
                    return None;
                }
                i = (i + 1) & mask;
                if sh == h {
                    return Some(pattern);
                }
            }
        })
    }
}

/// A hash of 4 or more bytes.
#[inline]
fn prefix_hash(b: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let n = b.len();
    let mut h = (n as u64).wrapping_mul(K);
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            h = (h ^ u64_at(b, i)).wrapping_mul(K).rotate_left(29);
            i += 8;
        }
        h = (h ^ u64_at(b, n - 8)).wrapping_mul(K);
    } else {
        let word = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()));
        h = (h ^ (word(0) | word(n - 4) << 32)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// The compiled patterns of a registry. Cheap to share between threads.
#[derive(Debug)]
pub struct Scanner {
    patterns: Vec<Pattern>,
    stride: usize,
    /// Bitmap of the 4-byte words sampled patterns have at offsets
    /// `0..stride`, by [`bucket`].
    bloom: Vec<u8>,
    /// The same words by [`bucket2`]: most words that pass the first
    /// bitmap by chance fail this one.
    bloom2: Vec<u8>,
    /// The same words, in buckets of 64 bits of the bitmap.
    words: Buckets<u32, Place>,
    /// Bitmap of the byte pairs short patterns have at offsets `0..stride`.
    pairs: Vec<u8>,
    pair_places: Buckets<u16, Place>,
    /// Sampled and short patterns by the bytes that must match.
    prefixes: Prefixes,
    /// Bitmap of the first 8 bytes of hex patterns, by [`key_bucket`].
    keys: Vec<u64>,
    key_candidates: Buckets<u64, u32>,
    longest: usize,
}

#[inline(always)]
fn bucket(word: u32) -> usize {
    (word.wrapping_mul(0x9E37_79B1) >> (32 - BLOOM_BITS)) as usize
}

/// A second, independent hash of a sampled word, into [`FILTER_BITS`].
#[inline(always)]
fn bucket2(word: u32) -> usize {
    (word.wrapping_mul(0x85EB_CA77) >> (32 - FILTER_BITS)) as usize
}

#[inline(always)]
fn key_bucket(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - KEY_BITS)) as usize
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// A hex digit that would continue a hex number written in `case`.
fn is_hex_of(b: u8, case: Case) -> bool {
    match case {
        Case::Lower => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        Case::Upper => b.is_ascii_digit() || (b'A'..=b'F').contains(&b),
    }
}

/// Bit i set when `data[at + i]` is a hex digit (0 past the end).
#[inline(always)]
fn hex_bits(data: &[u8], at: usize) -> u64 {
    let Some(block) = data.get(at..at + 64) else {
        let tail = data.get(at..).unwrap_or_default();
        return tail
            .iter()
            .enumerate()
            .fold(0, |bits, (i, &b)| bits | u64::from(is_hex(b)) << i);
    };
    // One byte per flag first: compiled to vector compares.
    let mut flags = [0u8; 64];
    for (f, &b) in flags.iter_mut().zip(block) {
        *f = u8::from((b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 6));
    }
    // Then the low bit of each of eight bytes into one byte.
    let mut bits = 0;
    for (k, eight) in flags.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
        bits |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    bits
}

#[inline(always)]
fn u64_at(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().expect("eight bytes"))
}

/// A find, before byte-identical forms are merged.
struct Find {
    pattern: u32,
    offset: u64,
    len: usize,
}

impl Scanner {
    pub fn new(registry: &Registry) -> Scanner {
        let mut patterns = Vec::new();
        for (canary, c) in registry.canaries.iter().enumerate() {
            for form in c.forms() {
                let mut apart = None;
                let (min_len, hex_boundaries) = match form.truncatable {
                    Truncation::Whole => (form.bytes.len(), false),
                    Truncation::Apart {
                        before,
                        after,
                        case,
                    } => {
                        apart = Some((before, after, case));
                        (form.bytes.len(), false)
                    }
                    Truncation::HexPrefix(n) => (n.min(form.bytes.len()), true),
                    Truncation::Prefix(n) => (n.min(form.bytes.len()), false),
                };
                assert!(min_len >= 4, "patterns are at least four bytes long");
                patterns.push(Pattern {
                    canary,
                    encoding: form.encoding,
                    bytes: form.bytes,
                    min_len,
                    hex_boundaries,
                    apart,
                });
            }
        }
        Scanner::from_patterns(patterns)
    }

    fn from_patterns(patterns: Vec<Pattern>) -> Scanner {
        // Hex patterns that only count at the start of a hex run are found
        // from there; the others are sampled.
        let anchored = |p: &Pattern| {
            p.hex_boundaries
                && p.min_len >= KEY_LEN
                && p.bytes[..KEY_LEN].iter().all(|&b| is_hex(b))
        };
        let stride = patterns
            .iter()
            .filter(|p| !anchored(p))
            .map(|p| {
                if p.min_len < SHORT {
                    p.min_len - 1
                } else {
                    p.min_len - 3
                }
            })
            .min()
            .unwrap_or(4)
            .clamp(1, 8);
        let mut bloom = vec![0u8; 1 << (BLOOM_BITS - 3)];
        let mut bloom2 = vec![0u8; 1 << (FILTER_BITS - 3)];
        let mut pairs = vec![0u8; 1 << (16 - 3)];
        let mut keys = vec![0u64; 1 << (KEY_BITS - 6)];
        let (mut words, mut pair_items, mut key_items) = (Vec::new(), Vec::new(), Vec::new());
        let mut prefixes = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let i = i as u32;
            if anchored(p) {
                let key = u64_at(&p.bytes, 0);
                let b = key_bucket(key);
                keys[b >> 6] |= 1 << (b & 63);
                key_items.push((b >> 6, key, i));
                continue;
            }
            prefixes.push((prefix_hash(&p.bytes[..p.min_len]), i));
            let min_len = u16::try_from(p.min_len).expect("patterns are short");
            for offset in 0..stride as u16 {
                let place = Place { offset, min_len };
                let off = usize::from(offset);
                if p.min_len < SHORT {
                    let pair = u16::from_le_bytes([p.bytes[off], p.bytes[off + 1]]);
                    pairs[usize::from(pair) >> 3] |= 1 << (pair & 7);
                    pair_items.push((usize::from(pair) >> 6, pair, place));
                } else {
                    let w = u32::from_le_bytes(p.bytes[off..off + 4].try_into().unwrap());
                    let b = bucket(w);
                    bloom[b >> 3] |= 1 << (b & 7);
                    let b2 = bucket2(w);
                    bloom2[b2 >> 3] |= 1 << (b2 & 7);
                    words.push((b >> 6, w, place));
                }
            }
        }
        let longest = patterns.iter().map(|p| p.bytes.len()).max().unwrap_or(0);
        Scanner {
            patterns,
            stride,
            words: Buckets::build(1 << (BLOOM_BITS - 6), words),
            bloom,
            bloom2,
            pair_places: Buckets::build(1 << (16 - 6), pair_items),
            pairs,
            prefixes: Prefixes::build(prefixes.into_iter()),
            key_candidates: Buckets::build(keys.len(), key_items),
            keys,
            longest,
        }
    }

    /// How many patterns (canary forms) are searched for.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Bytes a chunked search must carry over from one chunk to the next.
    pub fn overlap(&self) -> usize {
        self.longest + 1
    }

    /// Every find in `data`. Offsets are relative to `data`.
    pub fn scan(&self, data: &[u8], on_match: &mut impl FnMut(Match)) {
        self.scan_range(data, 0, data.len(), 0, on_match);
    }

    /// Finds that start in `from..until` of `data`, offsets shifted by `base`.
    fn scan_range(
        &self,
        data: &[u8],
        from: usize,
        until: usize,
        base: u64,
        on_match: &mut impl FnMut(Match),
    ) {
        let mut found: Vec<Find> = Vec::new();
        let mut range = Range {
            data,
            from,
            until,
            base,
            found: &mut found,
        };
        match self.stride {
            1 => self.sample::<1>(&mut range),
            2 => self.sample::<2>(&mut range),
            3 => self.sample::<3>(&mut range),
            4 => self.sample::<4>(&mut range),
            5 => self.sample::<5>(&mut range),
            6 => self.sample::<6>(&mut range),
            7 => self.sample::<7>(&mut range),
            _ => self.sample::<8>(&mut range),
        }
        if !self.key_candidates.entries.is_empty() {
            self.hex_runs(&mut range);
        }
        if found.is_empty() {
            return;
        }
        // Forms that are byte-identical (hex of a digest with no letters in
        // either case) are one find: the first form of the canary is kept.
        let canary = |f: &Find| self.patterns[f.pattern as usize].canary;
        found.sort_by_key(|f| (f.offset, canary(f), std::cmp::Reverse(f.len), f.pattern));
        found.dedup_by_key(|f| (f.offset, canary(f), f.len));
        for f in found {
            let pat = &self.patterns[f.pattern as usize];
            on_match(Match {
                canary: pat.canary,
                encoding: pat.encoding,
                offset: f.offset,
                len: f.len,
                truncated: f.len < pat.bytes.len(),
            });
        }
    }

    /// The sampled patterns: a word every `S` bytes, four at a time.
    #[inline(always)]
    fn sample<const S: usize>(&self, r: &mut Range<'_, '_>) {
        let data = r.data;
        let n = data.len();
        let bloom: &[u8; 1 << (BLOOM_BITS - 3)] =
            self.bloom.as_slice().try_into().expect("bitmap size");
        let pairs: &[u8; 1 << 13] = self.pairs.as_slice().try_into().expect("bitmap size");
        let hit = |w: u32| {
            let b = bucket(w);
            let pair = (w & 0xffff) as usize;
            ((bloom[b >> 3] >> (b & 7)) | (pairs[pair >> 3] >> (pair & 7))) & 1
        };
        let word = |block: &[u8], at: usize| {
            u32::from_le_bytes(block[at..at + 4].try_into().expect("four bytes"))
        };
        let mut p = r.from - r.from % S;
        // A word at `p` is at offset 0..S of the patterns it may be part of:
        // from `p = until + S - 1` on, none of them starts before `until`.
        let end = n.min(r.until + S + 2);
        let block = 3 * S + 4;
        while p + block <= end {
            let b = &data[p..p + block];
            let w = [word(b, 0), word(b, S), word(b, 2 * S), word(b, 3 * S)];
            if hit(w[0]) | hit(w[1]) | hit(w[2]) | hit(w[3]) != 0 {
                for (k, &w) in w.iter().enumerate() {
                    if hit(w) != 0 {
                        self.verify_word(r, p + k * S, w, true);
                    }
                }
            }
            p += 4 * S;
        }
        while p + 4 <= end {
            let w = word(data, p);
            if hit(w) != 0 {
                self.verify_word(r, p, w, true);
            }
            p += S;
        }
        // Near the end only the byte pairs of short patterns fit.
        while p + 2 <= end {
            let w = u32::from(u16::from_le_bytes([data[p], data[p + 1]]));
            let pair = w as usize;
            if (pairs[pair >> 3] >> (pair & 7)) & 1 != 0 {
                self.verify_word(r, p, w, false);
            }
            p += S;
        }
    }

    /// Candidates of the word `w` sampled at `p` (of its first two bytes
    /// only, unless `whole`).
    #[cold]
    #[inline(never)]
    fn verify_word(&self, r: &mut Range<'_, '_>, p: usize, w: u32, whole: bool) {
        if whole {
            let (b, b2) = (bucket(w), bucket2(w));
            if (self.bloom[b >> 3] >> (b & 7)) & (self.bloom2[b2 >> 3] >> (b2 & 7)) & 1 != 0 {
                for place in self.words.get(b >> 6, w) {
                    self.verify_place(r, p, place);
                }
            }
        }
        let pair = (w & 0xffff) as u16;
        if (self.pairs[usize::from(pair) >> 3] >> (pair & 7)) & 1 != 0 {
            for place in self.pair_places.get(usize::from(pair) >> 6, pair) {
                self.verify_place(r, p, place);
            }
        }
    }

    /// The patterns that have the word sampled at `p` at `place`.
    fn verify_place(&self, r: &mut Range<'_, '_>, p: usize, place: Place) {
        let Some(start) = p.checked_sub(usize::from(place.offset)) else {
            return;
        };
        let end = start + usize::from(place.min_len);
        if start < r.from || start >= r.until || end > r.data.len() {
            return;
        }
        for pi in self.prefixes.get(prefix_hash(&r.data[start..end])) {
            self.verify(r, start, pi);
        }
    }

    /// The hex patterns, where runs of at least [`KEY_LEN`] hex digits
    /// begin: found 64 bytes at a time with a bit per byte.
    fn hex_runs(&self, r: &mut Range<'_, '_>) {
        let data = r.data;
        // Runs that begin in `from..last` have room for a key.
        let last = r.until.min((data.len() + 1).saturating_sub(KEY_LEN));
        let mut at = r.from;
        if at >= last {
            return;
        }
        // A run that began on the byte before `from` has its second byte
        // here, and was not looked at with the data before.
        if at > 0
            && is_hex(data[at - 1])
            && (at < 2 || !is_hex(data[at - 2]))
            && data[at..at + KEY_LEN].iter().all(|&b| is_hex(b))
        {
            self.run_start(r, at);
        }
        let mut before = u64::from(at > 0 && is_hex(data[at - 1]));
        let mut block = hex_bits(data, at);
        while at < last {
            let next = hex_bits(data, at + 64);
            // Bit i: bytes i..i + 8 are hex digits.
            let wide = u128::from(block) | u128::from(next) << 64;
            let mut runs = wide & wide >> 1;
            runs &= runs >> 2;
            runs &= runs >> 4;
            let mut starts = runs as u64 & !(block << 1 | before);
            while starts != 0 {
                let i = starts.trailing_zeros();
                let s = at + i as usize;
                if s >= last {
                    break;
                }
                self.run_start(r, s);
                // One byte in: a digest after a binary byte that happens
                // to be a hex digit (`runs` holds bits up to 127).
                if s + 1 < last && (runs >> (i + 1)) & 1 != 0 {
                    self.run_start(r, s + 1);
                }
                starts &= starts - 1;
            }
            before = block >> 63;
            block = next;
            at += 64;
        }
    }

    /// The hex patterns whose first 8 digits are those at `s`.
    #[inline(never)]
    fn run_start(&self, r: &mut Range<'_, '_>, s: usize) {
        let key = u64_at(r.data, s);
        let b = key_bucket(key);
        if (self.keys[b >> 6] >> (b & 63)) & 1 == 0 {
            return;
        }
        for pi in self.key_candidates.get(b >> 6, key) {
            self.verify(r, s, pi);
        }
    }

    /// Pattern `pi` at `start`, with its rules (how much of it must match,
    /// what may stand around a hex digest).
    fn verify(&self, r: &mut Range<'_, '_>, start: usize, pi: u32) {
        if start < r.from || start >= r.until {
            return;
        }
        let data = r.data;
        let pat = &self.patterns[pi as usize];
        let rest = &data[start..];
        if rest.len() < pat.min_len || rest[..pat.min_len] != pat.bytes[..pat.min_len] {
            return;
        }
        let len = pat.min_len
            + rest[pat.min_len..]
                .iter()
                .zip(&pat.bytes[pat.min_len..])
                .take_while(|(a, b)| a == b)
                .count();
        if pat.hex_boundaries {
            // A digest standing alone counts from eight digits. Next to
            // other hex digits (a longer run in text, or a binary
            // neighbour: SQLite's next column, a serial type byte) eight
            // matching digits may be chance, twelve are not; and it must
            // begin the run or its second byte.
            let hex_at = |i: Option<usize>| i.and_then(|i| data.get(i)).is_some_and(|&b| is_hex(b));
            let before = hex_at(start.checked_sub(1));
            let after = len < pat.bytes.len() && hex_at(Some(start + len));
            let alone = !before && !after;
            let near_run_start = !before || !hex_at(start.checked_sub(2));
            if !(alone || (len >= MIN_HEX_DIGITS_IN_RUN && near_run_start)) {
                return;
            }
        }
        if let Some((before, after, case)) = pat.apart {
            let continues = |i: Option<usize>| {
                i.and_then(|i| data.get(i))
                    .is_some_and(|&b| is_hex_of(b, case))
            };
            if (before && continues(start.checked_sub(1)))
                || (after && continues(Some(start + len)))
            {
                return;
            }
        }
        r.found.push(Find {
            pattern: pi,
            offset: r.base + start as u64,
            len,
        });
    }

    /// Every find in a stream, read in chunks; offsets are from the start of
    /// the stream. Returns the bytes read.
    pub fn scan_reader(
        &self,
        mut reader: impl Read,
        on_match: &mut impl FnMut(Match),
    ) -> std::io::Result<u64> {
        // Small streams (most files) get a small buffer; long ones end up
        // read 8 MiB at a time.
        const FIRST_CHUNK: usize = 64 << 10;
        const CHUNK: usize = 8 << 20;
        let overlap = self.overlap();
        let mut chunk = FIRST_CHUNK;
        let mut buf: Vec<u8> = Vec::new();
        // Bytes of `buf` holding data.
        let mut len = 0usize;
        // Offset in the stream of buf[0]; finds before `from` were reported.
        let mut base = 0u64;
        let mut from = 0usize;
        let mut eof = false;
        while !eof {
            if buf.len() < len + chunk {
                buf.resize(len + chunk, 0);
            }
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
            let data = &buf[..len];
            // Only report finds with room for their whole form after them;
            // the rest are found again, complete, with the next chunk.
            let until = if eof {
                data.len()
            } else {
                data.len().saturating_sub(overlap)
            };
            self.scan_range(data, from, until.max(from), base, on_match);
            if !eof {
                let cut = len.saturating_sub(overlap + 1).min(until.max(from));
                // Two bytes before `from` stay: what stands before a find.
                let cut = cut.saturating_sub(2);
                buf.copy_within(cut..len, 0);
                len -= cut;
                base += cut as u64;
                from = until.max(from) - cut;
                chunk = (chunk * 2).min(CHUNK);
            }
        }
        Ok(base + len as u64)
    }
}

/// The data being scanned and what was found in it.
struct Range<'d, 'f> {
    data: &'d [u8],
    /// Finds must start in `from..until`.
    from: usize,
    until: usize,
    /// Offset of `data[0]` in the stream.
    base: u64,
    found: &'f mut Vec<Find>,
}

#[cfg(test)]
mod tests;
