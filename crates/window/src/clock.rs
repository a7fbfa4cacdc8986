//! Guarding the window clock against timestamps that leap.
//!
//! Capture files carry timestamps the sensor wrote, and a sensor's clock can
//! be wrong for one packet: a far-future time from a corrupt record, or the
//! epoch (1970) from a radio that had not synced yet. The window clock only
//! moves forward, so a single packet dated 2106 would close every window of
//! the capture and leave the rest of it counted in a window of 2106. The
//! guard holds a packet that leaps more than [`MAX_LEAP_US`] away from the
//! clock until the next packets say whether the capture really went on from
//! there (a gap, a second capture appended) or came back (an outlier). An
//! outlier is counted at the clock's time and reported; it never moves the
//! clock.
//!
//! It works on observations, which hold no raw identifier: a held packet has
//! already been through the capture stage.

use std::collections::VecDeque;

/// The largest jump between neighbouring packets that is taken as it is.
/// Longer jumps wait for the next packet to confirm them.
pub const MAX_LEAP_US: i64 = 3_600 * 1_000_000;

/// The largest forward leap taken without a packet after it to confirm it
/// (the last packet of a capture).
pub const MAX_UNCONFIRMED_US: i64 = 30 * 86_400 * 1_000_000;

/// What the guard decided about one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timed {
    /// On the clock's course: count it at its own time.
    Accepted(i64),
    /// An outlier: count it at this time (the clock's), and report it.
    Contained { at_us: i64, was_us: i64 },
}

/// Orders items by plausible time; holds at most two.
#[derive(Debug)]
pub struct ClockGuard<T> {
    /// Time of the last accepted item.
    clock: Option<i64>,
    held: VecDeque<(T, i64)>,
    contained: u64,
}

impl<T> Default for ClockGuard<T> {
    fn default() -> Self {
        ClockGuard {
            clock: None,
            held: VecDeque::new(),
            contained: 0,
        }
    }
}

fn near(a: i64, b: i64) -> bool {
    a.abs_diff(b) <= MAX_LEAP_US as u64
}

impl<T> ClockGuard<T> {
    /// True when an item at `ts_us` would be accepted at once: nothing is
    /// held and it is near the clock. The caller can then advance its clocks
    /// to `ts_us` before making the item.
    pub fn is_on_course(&self, ts_us: i64) -> bool {
        self.held.is_empty() && self.clock.is_some_and(|c| near(c, ts_us))
    }

    /// Items whose timestamps leaped and were counted at the clock's time.
    pub fn contained(&self) -> u64 {
        self.contained
    }

    /// Takes one item; hands every item it can decide on to `out`, in order.
    pub fn push(&mut self, item: T, ts_us: i64, out: &mut impl FnMut(T, Timed)) {
        self.held.push_back((item, ts_us));
        self.decide(false, out);
    }

    /// Decides on what is still held (the end of the capture).
    pub fn finish(&mut self, out: &mut impl FnMut(T, Timed)) {
        self.decide(true, out);
    }

    fn decide(&mut self, end: bool, out: &mut impl FnMut(T, Timed)) {
        while let Some(&(_, ts)) = self.held.front() {
            let next = self.held.get(1).map(|h| h.1);
            let after = self.held.get(2).map(|h| h.1);
            let verdict = match self.clock {
                Some(clock) if near(clock, ts) => Some(true),
                // A leap from the clock: back near the clock next means an
                // outlier; staying near the leap means the capture went on
                // from there. Moving on further is taken as a sparse capture
                // when it keeps going forward.
                Some(clock) => match next {
                    Some(n) if near(clock, n) => Some(false),
                    Some(n) if near(ts, n) => Some(true),
                    Some(n) => Some(clock < ts && ts < n),
                    // A last packet that leaps has nothing to confirm it:
                    // taken if it goes forward by a plausible gap.
                    None if end => Some(clock < ts && ts - clock <= MAX_UNCONFIRMED_US),
                    None => None,
                },
                // The first packet sets the clock unless the two after it
                // agree with each other and not with it.
                None => match (next, after) {
                    (Some(n), _) if near(ts, n) => Some(true),
                    (Some(n), Some(a)) => Some(!near(n, a) || near(ts, a)),
                    (Some(_), None) | (None, _) if end => Some(true),
                    _ => None,
                },
            };
            let Some(accept) = verdict else { break };
            let (item, ts) = self.held.pop_front().expect("checked above");
            if accept {
                self.clock = Some(ts);
                out(item, Timed::Accepted(ts));
            } else {
                // With no clock yet, the outlier is counted at the time of
                // the packet that follows it.
                let at_us = self.clock.or(next).unwrap_or(ts);
                self.contained += 1;
                out(item, Timed::Contained { at_us, was_us: ts });
            }
        }
    }

    /// A time from a trusted clock (the system's, between packets of a live
    /// capture): the course moves on with it unless a packet is held.
    pub fn tick(&mut self, ts_us: i64) {
        if self.held.is_empty() {
            self.clock = Some(ts_us);
        }
    }

    /// Accepts an item the caller found on course (see [`is_on_course`](Self::is_on_course)).
    pub fn accept(&mut self, ts_us: i64) {
        debug_assert!(self.held.is_empty());
        self.clock = Some(ts_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;
    const T0: i64 = 1_700_000_000 * S;
    /// 2106-02-07, the last second of a 32-bit pcap timestamp.
    const FAR: i64 = 4_294_967_295 * S;

    fn run(times: &[i64]) -> Vec<Timed> {
        let mut guard = ClockGuard::default();
        let mut out = Vec::new();
        for (i, &t) in times.iter().enumerate() {
            if guard.is_on_course(t) {
                guard.accept(t);
                out.push((i, Timed::Accepted(t)));
            } else {
                guard.push(i, t, &mut |i, d| out.push((i, d)));
            }
        }
        guard.finish(&mut |i, d| out.push((i, d)));
        // Every item comes out once, in order.
        assert_eq!(
            out.iter().map(|o| o.0).collect::<Vec<_>>(),
            (0..times.len()).collect::<Vec<_>>()
        );
        out.into_iter().map(|o| o.1).collect()
    }

    fn accepted(times: &[i64]) -> Vec<Timed> {
        times.iter().map(|&t| Timed::Accepted(t)).collect()
    }

    #[test]
    fn a_steady_capture_passes_as_it_is() {
        let times = [T0, T0 + S, T0 + 2 * S, T0 + S, T0 + 90 * S];
        assert_eq!(run(&times), accepted(&times));
    }

    #[test]
    fn one_far_future_packet_is_contained_at_the_clock() {
        let got = run(&[T0, T0 + S, FAR, T0 + 2 * S, T0 + 3 * S]);
        assert_eq!(
            got[2],
            Timed::Contained {
                at_us: T0 + S,
                was_us: FAR
            }
        );
        assert_eq!(got[3], Timed::Accepted(T0 + 2 * S));
    }

    #[test]
    fn one_packet_from_1970_is_contained_too() {
        let got = run(&[T0, 0, T0 + S]);
        assert_eq!(
            got[1],
            Timed::Contained {
                at_us: T0,
                was_us: 0
            }
        );
    }

    #[test]
    fn a_wrong_first_packet_does_not_set_the_clock() {
        let got = run(&[FAR, T0, T0 + S, T0 + 2 * S]);
        assert_eq!(
            got[0],
            Timed::Contained {
                at_us: T0,
                was_us: FAR
            }
        );
        assert_eq!(&got[1..], &accepted(&[T0, T0 + S, T0 + 2 * S])[..]);
    }

    #[test]
    fn a_real_gap_is_taken_when_the_capture_goes_on_after_it() {
        let day = 86_400 * S;
        let times = [T0, T0 + S, T0 + day, T0 + day + S, T0 + day + 2 * S];
        assert_eq!(run(&times), accepted(&times));
    }

    #[test]
    fn a_sparse_capture_that_keeps_going_forward_is_taken() {
        let h = 3 * 3_600 * S;
        let times = [T0, T0 + h, T0 + 2 * h, T0 + 3 * h];
        assert_eq!(run(&times), accepted(&times));
    }

    #[test]
    fn a_leap_in_the_last_packet_is_contained() {
        let got = run(&[T0, T0 + S, FAR]);
        assert_eq!(
            got[2],
            Timed::Contained {
                at_us: T0 + S,
                was_us: FAR
            }
        );
    }

    #[test]
    fn single_and_paired_packets_are_taken_as_they_are() {
        assert_eq!(run(&[FAR]), accepted(&[FAR]));
        assert_eq!(run(&[T0, T0 + S]), accepted(&[T0, T0 + S]));
    }
}
