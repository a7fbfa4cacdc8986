//! Estimating real devices behind randomized MAC addresses.
//!
//! Phones change their MAC address for probing, often at every scan burst,
//! so distinct addresses overcount devices many times over. At the end of a
//! window the estimator groups the window's addresses by the keyed
//! **fingerprint** of their ordered information elements (what a device
//! model announces about itself, Vanhoef et al. 2016) and, within a group,
//! links addresses that belong to one device:
//!
//! - **Sequence-number continuity.** Many devices keep their 12-bit frame
//!   counter across address changes: an address whose first sequence number
//!   follows closely on another's last one, soon after it went silent, is the
//!   same device. When most addresses of a group link this way, the group's
//!   devices keep their counters, and each chain of linked addresses is one
//!   device. This keeps phones of the same model apart, however many share
//!   the fingerprint.
//! - **Timing.** In a group whose counters do not continue (devices that
//!   randomize them too), one device still uses one address at a time: the
//!   fewest devices that explain the group is the largest number of its
//!   addresses active at the same moment (interval partitioning). Devices of
//!   one model that never overlap cannot be told apart then, so the estimate
//!   is a lower bound for them (docs/estimator.md).
//!
//! Random counters also continue by chance (a gap of 1..=64 out of 4096 is
//! 1.6 % per candidate), so a fingerprint only counts as counter-keeping when
//! its links clearly exceed what random counters would give: the evidence
//! (links and links expected by chance) accumulates over the key epoch, and
//! the excess must be at least five standard deviations of the chance count.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use vitrine_privacy::Fingerprint;

/// Tuning of the estimator; the defaults are discussed in docs/estimator.md.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkerParams {
    /// Largest forward jump of the sequence number that continues a device.
    pub max_seq_gap: u16,
    /// Longest silence between two addresses of a device linked by sequence number.
    pub max_seq_silence_us: i64,
    /// Two addresses closer in time than this count as active at once.
    pub overlap_guard_us: i64,
    /// How many earlier addresses are tried as a predecessor.
    pub max_candidates: usize,
}

impl Default for LinkerParams {
    fn default() -> Self {
        LinkerParams {
            max_seq_gap: 64,
            max_seq_silence_us: 120_000_000,
            overlap_guard_us: 10_000,
            max_candidates: 64,
        }
    }
}

/// What the estimator knows of one address in one window. No identifier:
/// the address itself is not needed to link it.
#[derive(Debug, Clone, Copy)]
pub struct AddressTrack {
    pub fingerprint: Fingerprint,
    pub first_us: i64,
    pub last_us: i64,
    pub first_seq: u16,
    pub last_seq: u16,
}

impl AddressTrack {
    pub fn new(fingerprint: Fingerprint, ts_us: i64, seq: u16) -> Self {
        AddressTrack {
            fingerprint,
            first_us: ts_us,
            last_us: ts_us,
            first_seq: seq,
            last_seq: seq,
        }
    }

    #[inline]
    pub fn update(&mut self, ts_us: i64, seq: u16) {
        if ts_us >= self.last_us {
            self.last_us = ts_us;
            self.last_seq = seq;
        }
    }
}

/// Sequence-number evidence for one fingerprint, accumulated over an epoch.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinkEvidence {
    links: u64,
    expected_by_chance: f64,
}

impl LinkEvidence {
    /// Whether the devices of this fingerprint keep their counters across
    /// address changes: links in excess of chance by five standard deviations
    /// (Poisson), and at least three.
    pub fn keeps_counters(&self) -> bool {
        let excess = self.links as f64 - self.expected_by_chance;
        self.links >= 3 && excess >= 5.0 * self.expected_by_chance.sqrt() + 1.0
    }
}

/// Per-fingerprint evidence of one key epoch. Bounded by the caller.
pub type EvidenceBook = crate::KeyedMap<Fingerprint, LinkEvidence>;

/// The estimated number of devices behind `tracks` (reordered in place),
/// adding this window's sequence-number evidence to `book`.
pub fn estimate_devices(
    tracks: &mut [AddressTrack],
    p: &LinkerParams,
    book: &mut EvidenceBook,
    max_entries: usize,
) -> u64 {
    tracks.sort_unstable_by_key(|t| (t.fingerprint, t.first_us));
    tracks
        .chunk_by(|a, b| a.fingerprint == b.fingerprint)
        .map(|group| {
            let n = group.len();
            if n <= 1 {
                return n as u64;
            }
            let (links, chance) = sequence_links(group, p);
            let mut evidence = book.get(&group[0].fingerprint).copied().unwrap_or_default();
            evidence.links += links as u64;
            evidence.expected_by_chance += chance;
            if book.len() < max_entries || book.contains_key(&group[0].fingerprint) {
                book.insert(group[0].fingerprint, evidence);
            }
            if evidence.keeps_counters() {
                (n - links) as u64
            } else {
                max_concurrent(group, p.overlap_guard_us)
            }
        })
        .sum()
}

/// Number of addresses that continue an earlier one's sequence numbers, and
/// how many would do so by chance if the counters were random.
fn sequence_links(group: &[AddressTrack], p: &LinkerParams) -> (usize, f64) {
    let mut has_successor = vec![false; group.len()];
    let mut links = 0;
    let mut expected = 0.0;
    // Chance that one random 12-bit counter lands within the gap.
    let miss = 1.0 - f64::from(p.max_seq_gap) / 4096.0;
    for (i, b) in group.iter().enumerate() {
        let mut best: Option<(u16, usize)> = None;
        let mut candidates = 0;
        // Filter first, then cap: in a busy group the real predecessor may be
        // behind addresses that cannot be it. The scan itself is bounded too,
        // so a window's estimate stays linear in its addresses.
        let eligible = group[..i]
            .iter()
            .enumerate()
            .rev()
            .take(p.max_candidates * 8)
            .filter(|&(j, a)| {
                let silence = b.first_us - a.last_us;
                !has_successor[j] && silence > 0 && silence <= p.max_seq_silence_us
            });
        for (j, a) in eligible.take(p.max_candidates) {
            candidates += 1;
            let gap = b.first_seq.wrapping_sub(a.last_seq) & 0x0fff;
            if gap > 0 && gap <= p.max_seq_gap && best.is_none_or(|(g, _)| gap < g) {
                best = Some((gap, j));
            }
        }
        expected += 1.0 - miss.powi(candidates);
        if let Some((_, j)) = best {
            has_successor[j] = true;
            links += 1;
        }
    }
    (links, expected)
}

/// The fewest devices that can use these address intervals one at a time.
fn max_concurrent(group: &[AddressTrack], guard_us: i64) -> u64 {
    let mut ends: BinaryHeap<Reverse<i64>> = BinaryHeap::new();
    for t in group {
        match ends.peek() {
            Some(&Reverse(end)) if end + guard_us <= t.first_us => {
                ends.pop();
            }
            _ => {}
        }
        ends.push(Reverse(t.last_us));
    }
    ends.len() as u64
}
