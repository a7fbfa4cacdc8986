//! Estimating real devices behind randomized MAC addresses.
//!
//! Phones change their MAC address for probing, often at every scan burst,
//! so distinct addresses overcount devices many times over. At the end of a
//! window the estimator groups the window's addresses by **family** (the
//! keyed hash of what a device announces alike on every band and in every
//! scan: its OFDM rates and HT capabilities, made by the capture stage) and,
//! within a family, links addresses that belong to one device:
//!
//! - **Sequence-number continuity.** Many devices keep their 12-bit frame
//!   counter across address changes and across their fingerprint variants
//!   (Vanhoef et al. 2016; Martin et al. 2017): an address whose first
//!   sequence number follows closely on another's last one, soon after it
//!   went silent, is the same device. A counter that moved by a few steps
//!   only (a phone idle between scans) continues over a longer silence.
//!   Whether a **fingerprint** (the keyed hash of the ordered elements,
//!   finer than the family) keeps its counters is learnt from the traffic:
//!   the addresses of a counter-keeping fingerprint are chained, and each
//!   chain is one device, whichever variants it went through. This keeps
//!   phones of the same model apart, however many share the fingerprint.
//! - **Alternation in time.** Addresses whose fingerprint does not keep its
//!   counters (devices that randomize them too) are still used one at a
//!   time by one device, whichever variant they show: the fewest devices
//!   that explain them is the largest number of the family's such
//!   addresses active at the same moment (interval partitioning; Matte et
//!   al. 2016 on timing). Devices of one family that never overlap cannot
//!   be told apart then, so the estimate is a lower bound for them
//!   (docs/estimator.md).
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
    /// Largest forward jump of the sequence number that continues a device
    /// over a longer silence (up to `max_idle_silence_us`): a phone idle
    /// between scans sends few frames.
    pub max_idle_seq_gap: u16,
    /// Longest silence bridged by a small sequence-number step.
    pub max_idle_silence_us: i64,
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
            max_idle_seq_gap: 16,
            max_idle_silence_us: 600_000_000,
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
    pub family: Fingerprint,
    pub first_us: i64,
    pub last_us: i64,
    pub first_seq: u16,
    pub last_seq: u16,
}

impl AddressTrack {
    pub fn new(fingerprint: Fingerprint, family: Fingerprint, ts_us: i64, seq: u16) -> Self {
        AddressTrack {
            fingerprint,
            family,
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
    tracks.sort_unstable_by_key(|t| (t.family, t.first_us));
    tracks
        .chunk_by_mut(|a, b| a.family == b.family)
        .map(|family| estimate_family(family, p, book, max_entries))
        .sum()
}

/// The devices of one family (its tracks in order of first appearance).
fn estimate_family(
    family: &mut [AddressTrack],
    p: &LinkerParams,
    book: &mut EvidenceBook,
    max_entries: usize,
) -> u64 {
    if family.len() <= 1 {
        return family.len() as u64;
    }
    // Evidence, per fingerprint of the later address: links to any address
    // of the family, since a device's counter runs across its variants.
    let links = sequence_links(family, p);
    // Keyed maps, not lists: a family may hold many fingerprints, and the
    // window's estimate stays linear in its addresses.
    let mut window: crate::KeyedMap<Fingerprint, LinkEvidence> = Default::default();
    for (t, &(predecessor, chance)) in family.iter().zip(&links) {
        let e = window.entry(t.fingerprint).or_default();
        e.links += u64::from(predecessor.is_some());
        e.expected_by_chance += chance;
    }
    // Whether each fingerprint keeps its counters, with the epoch's evidence.
    let mut keeping: crate::KeyedMap<Fingerprint, bool> = Default::default();
    for (f, e) in window {
        let mut evidence = book.get(&f).copied().unwrap_or_default();
        evidence.links += e.links;
        evidence.expected_by_chance += e.expected_by_chance;
        if book.len() < max_entries || book.contains_key(&f) {
            book.insert(f, evidence);
        }
        keeping.insert(f, evidence.keeps_counters());
    }
    // Chains: links with a counter-keeping address at either end, so that
    // a variant not yet known to keep its counter (too few links so far in
    // the epoch) joins the chain it continues. Each chain is one device; the
    // family's addresses in none are counted by alternation in time.
    let keeps: Vec<bool> = family.iter().map(|t| keeping[&t.fingerprint]).collect();
    let mut chain: Vec<usize> = (0..family.len()).collect();
    for (i, &(predecessor, _)) in links.iter().enumerate() {
        if let Some(j) = predecessor.filter(|&j| keeps[i] || keeps[j]) {
            // Predecessors come first: the chain is named by its first address.
            chain[i] = chain[j];
        }
    }
    let mut kept = vec![false; family.len()];
    for (i, &k) in keeps.iter().enumerate() {
        kept[chain[i]] |= k;
    }
    let chains = (0..family.len())
        .filter(|&i| chain[i] == i && kept[i])
        .count();
    let loose: Vec<AddressTrack> = (0..family.len())
        .filter(|&i| !kept[chain[i]])
        .map(|i| family[i])
        .collect();
    chains as u64 + max_concurrent(&loose, p.overlap_guard_us)
}

/// For each address (in order of first appearance): the earlier one whose
/// sequence numbers it continues, if any, and the chance that it would
/// continue one if the counters were random. Each address continues at
/// most one and is continued by at most one.
fn sequence_links(group: &[AddressTrack], p: &LinkerParams) -> Vec<(Option<usize>, f64)> {
    let mut has_successor = vec![false; group.len()];
    let mut out = Vec::with_capacity(group.len());
    let longest = p.max_seq_silence_us.max(p.max_idle_silence_us);
    for (i, b) in group.iter().enumerate() {
        let mut best: Option<(u16, usize)> = None;
        let mut miss = 1.0;
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
                !has_successor[j] && silence > 0 && silence <= longest
            });
        for (j, a) in eligible.take(p.max_candidates) {
            let silence = b.first_us - a.last_us;
            let max_gap = if silence <= p.max_seq_silence_us {
                p.max_seq_gap
            } else {
                p.max_idle_seq_gap
            };
            // Chance that one random 12-bit counter lands within the gap.
            miss *= 1.0 - f64::from(max_gap) / 4096.0;
            let gap = b.first_seq.wrapping_sub(a.last_seq) & 0x0fff;
            if gap > 0 && gap <= max_gap && best.is_none_or(|(g, _)| gap < g) {
                best = Some((gap, j));
            }
        }
        if let Some((_, j)) = best {
            has_successor[j] = true;
        }
        out.push((best.map(|(_, j)| j), 1.0 - miss));
    }
    out
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
