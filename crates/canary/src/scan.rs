//! Looking for every form of every canary at once.
//!
//! A hundred canaries in every encoding are some twenty thousand patterns of
//! six bytes and more. A general multi-pattern automaton of that size no
//! longer fits in cache, so the scanner samples instead: it reads one
//! 4-byte word every `stride` bytes (`stride` = shortest pattern - 3, so
//! every occurrence covers a sampled word at one of the first `stride`
//! offsets of its pattern), tests the word against a bitmap of the words
//! patterns have at those offsets, and only on a hit looks the word up and
//! compares whole patterns. Most data costs one load, one multiply and one
//! bit test per `stride` bytes.

use std::collections::HashMap;
use std::io::Read;

use crate::encoding::{Encoding, Truncation};
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
}

const BLOOM_BITS: u32 = 22;

/// The compiled patterns of a registry. Cheap to share between threads.
#[derive(Debug)]
pub struct Scanner {
    patterns: Vec<Pattern>,
    stride: usize,
    bloom: Vec<u64>,
    /// Sampled word to (pattern, offset of the word in the pattern).
    words: HashMap<u32, Vec<(u32, u8)>>,
    longest: usize,
}

#[inline(always)]
fn bucket(word: u32) -> usize {
    (word.wrapping_mul(0x9E37_79B1) >> (32 - BLOOM_BITS)) as usize
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

impl Scanner {
    pub fn new(registry: &Registry) -> Scanner {
        let mut patterns = Vec::new();
        for (canary, c) in registry.canaries.iter().enumerate() {
            for form in c.forms() {
                let (min_len, hex_boundaries) = match form.truncatable {
                    Truncation::Whole => (form.bytes.len(), false),
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
                });
            }
        }
        Scanner::from_patterns(patterns)
    }

    fn from_patterns(patterns: Vec<Pattern>) -> Scanner {
        let shortest = patterns.iter().map(|p| p.min_len).min().unwrap_or(7);
        let stride = (shortest - 3).clamp(1, 8);
        let mut bloom = vec![0u64; 1 << (BLOOM_BITS - 6)];
        let mut words: HashMap<u32, Vec<(u32, u8)>> = HashMap::new();
        for (i, p) in patterns.iter().enumerate() {
            for off in 0..stride {
                let w = u32::from_le_bytes(p.bytes[off..off + 4].try_into().unwrap());
                let b = bucket(w);
                bloom[b >> 6] |= 1 << (b & 63);
                let entry = words.entry(w).or_default();
                if !entry.contains(&(i as u32, off as u8)) {
                    entry.push((i as u32, off as u8));
                }
            }
        }
        let longest = patterns.iter().map(|p| p.bytes.len()).max().unwrap_or(0);
        Scanner {
            patterns,
            stride,
            bloom,
            words,
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
        let mut found: Vec<Match> = Vec::new();
        let stride = self.stride;
        let n = data.len();
        let mut p = from - from % stride;
        while p + 4 <= n {
            let w = u32::from_le_bytes([data[p], data[p + 1], data[p + 2], data[p + 3]]);
            let b = bucket(w);
            if self.bloom[b >> 6] & (1 << (b & 63)) != 0 {
                self.verify(data, p, w, from, until, base, &mut found);
            }
            p += stride;
        }
        if found.is_empty() {
            return;
        }
        // Forms that are byte-identical (hex of a digest with no letters in
        // either case) are one find.
        found.sort_by_key(|m| (m.offset, m.canary, std::cmp::Reverse(m.len)));
        found.dedup_by_key(|m| (m.offset, m.canary, m.len));
        for m in found {
            on_match(m);
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[cold]
    fn verify(
        &self,
        data: &[u8],
        p: usize,
        w: u32,
        from: usize,
        until: usize,
        base: u64,
        found: &mut Vec<Match>,
    ) {
        let Some(cands) = self.words.get(&w) else {
            return;
        };
        for &(pi, off) in cands {
            let Some(start) = p.checked_sub(usize::from(off)) else {
                continue;
            };
            if start < from || start >= until {
                continue;
            }
            let pat = &self.patterns[pi as usize];
            let rest = &data[start..];
            if rest.len() < pat.min_len || rest[..pat.min_len] != pat.bytes[..pat.min_len] {
                continue;
            }
            let len = pat.min_len
                + rest[pat.min_len..]
                    .iter()
                    .zip(&pat.bytes[pat.min_len..])
                    .take_while(|(a, b)| a == b)
                    .count();
            if pat.hex_boundaries {
                // A truncated digest stands alone: not inside a longer run
                // of hex digits, where eight matching digits mean nothing.
                let before = start.checked_sub(1).map(|i| data[i]);
                let after = data.get(start + len).copied();
                if before.is_some_and(is_hex)
                    || (len < pat.bytes.len() && after.is_some_and(is_hex))
                {
                    continue;
                }
            }
            found.push(Match {
                canary: pat.canary,
                encoding: pat.encoding,
                offset: base + start as u64,
                len,
                truncated: len < pat.bytes.len(),
            });
        }
    }

    /// Every find in a stream, read in chunks; offsets are from the start of
    /// the stream. Returns the bytes read.
    pub fn scan_reader(
        &self,
        mut reader: impl Read,
        on_match: &mut impl FnMut(Match),
    ) -> std::io::Result<u64> {
        const CHUNK: usize = 8 << 20;
        let overlap = self.overlap();
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + overlap);
        // Offset in the stream of buf[0]; finds before `from` were reported.
        let mut base = 0u64;
        let mut from = 0usize;
        let mut eof = false;
        while !eof {
            let keep = buf.len();
            buf.resize(keep + CHUNK, 0);
            let mut filled = keep;
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(k) => filled += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            // Only report finds with room for their whole form after them;
            // the rest are found again, complete, with the next chunk.
            let until = if eof {
                buf.len()
            } else {
                buf.len().saturating_sub(overlap)
            };
            self.scan_range(&buf, from, until.max(from), base, on_match);
            if !eof {
                let cut = buf.len().saturating_sub(overlap + 1).min(until.max(from));
                let cut = cut.saturating_sub(1);
                buf.drain(..cut);
                base += cut as u64;
                from = until.max(from) - cut;
            }
        }
        Ok(base + buf.len() as u64)
    }
}

#[cfg(test)]
mod tests;
