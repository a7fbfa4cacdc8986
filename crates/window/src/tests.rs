use serde_json::json;

use super::*;

/// Counts its observations; publishes the count (k-suppressed) and how many
/// rotations it was told of.
#[derive(Default)]
struct Counter {
    name: &'static str,
    n: u64,
    rotations_seen: Vec<Option<i64>>,
}

impl Sensor for Counter {
    fn rotate_epoch(&mut self, current: Option<&Window>) {
        self.rotations_seen.push(current.map(|w| w.start_s));
    }

    fn close(&mut self, window: &Window, k: &mut Suppressor) -> Section {
        let n = k.gate(format!("{}.n", self.name), std::mem::take(&mut self.n));
        Section::Undescribed(
            self.name.to_string(),
            json!({ "n": n, "start": window.start_s }),
        )
    }
}

impl Observe<u64> for Counter {
    fn observe(&mut self, _: &Window, obs: u64) {
        self.n += obs;
    }
}

fn counter(name: &'static str) -> Counter {
    Counter {
        name,
        ..Counter::default()
    }
}

const S: i64 = 1_000_000;

#[test]
fn windows_close_on_their_boundary_and_gaps_give_empty_windows() {
    let mut w = Windows::new(60, 5);
    let a = w.add(counter("a"));
    let mut out = Vec::new();
    let mut emit = |s: Summary| out.push(s);
    w.push(a, 1_000 * S + 5, 7, &mut emit);
    w.push(a, 1_019 * S, 1, &mut emit);
    // 1,020 starts the next window; 1,200 is two windows later.
    w.push(a, 1_020 * S, 6, &mut emit);
    w.push(a, 1_200 * S, 9, &mut emit);
    w.finish(&mut emit);
    let starts: Vec<&str> = out.iter().map(|s| s.window_start.as_str()).collect();
    assert_eq!(
        starts,
        [
            "1970-01-01T00:16:00Z",
            "1970-01-01T00:17:00Z",
            "1970-01-01T00:18:00Z",
            "1970-01-01T00:19:00Z",
            "1970-01-01T00:20:00Z"
        ]
    );
    let ns: Vec<&serde_json::Value> = out.iter().map(|s| &s.undescribed["a"]["n"]).collect();
    assert_eq!(ns, [&json!(8), &json!(6), &json!(0), &json!(0), &json!(9)]);
    assert!(out.iter().all(|s| s.suppressed.is_empty() && s.k == 5));
}

#[test]
fn a_gap_longer_than_the_empty_window_cap_is_skipped() {
    let mut w = Windows::new(60, 5);
    let a = w.add(counter("a"));
    let mut n = 0;
    let mut emit = |_: Summary| n += 1;
    w.push(a, 0, 5, &mut emit);
    w.push(a, (MAX_EMPTY_WINDOWS + 5) * 60 * S, 5, &mut emit);
    w.finish(&mut emit);
    // The first window and the last; none of the gap's.
    assert_eq!(n, 2);
}

#[test]
fn every_sensor_has_its_section_and_one_suppressor_spans_them() {
    let mut w = Windows::new(60, 5);
    let a = w.add(counter("a"));
    let b = w.add(counter("b"));
    let mut out = Vec::new();
    let mut emit = |s: Summary| out.push(s);
    w.push(a, 10 * S, 9, &mut emit);
    w.push(b, 11 * S, 2, &mut emit);
    w.finish(&mut emit);
    let [s] = &out[..] else {
        panic!("one window: {out:?}")
    };
    assert_eq!(s.undescribed["a"]["n"], json!(9));
    assert_eq!(s.undescribed["b"]["n"], json!(null));
    assert_eq!(s.suppressed, ["b.n"]);
    assert_eq!(s.wifi, None);
}

#[test]
fn a_rotation_tells_every_sensor_and_later_windows_carry_the_new_epoch() {
    let mut w = Windows::new(60, 1);
    let a = w.add(counter("a"));
    w.rotate_epoch();
    let mut out = Vec::new();
    let mut emit = |s: Summary| out.push(s);
    w.push(a, 61 * S, 1, &mut emit);
    w.rotate_epoch();
    w.push(a, 130 * S, 1, &mut emit);
    assert_eq!(w.epoch(), 2);
    assert_eq!(w.sensor(a).rotations_seen, [None, Some(60)]);
    w.finish(&mut emit);
    let epochs: Vec<u64> = out.iter().map(|s| s.epoch).collect();
    // The first window closed after the second rotation.
    assert_eq!(epochs, [2, 2]);
}

#[test]
fn a_clock_stepping_back_counts_in_the_open_window() {
    let mut w = Windows::new(60, 1);
    let a = w.add(counter("a"));
    let mut out = Vec::new();
    let mut emit = |s: Summary| out.push(s);
    w.push(a, 125 * S, 1, &mut emit);
    w.push(a, 5 * S, 1, &mut emit);
    w.finish(&mut emit);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].undescribed["a"]["n"], json!(2));
}
