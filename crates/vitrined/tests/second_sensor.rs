//! A second sensor plugged into the core beside Wi-Fi through the
//! `vitrine_window::Sensor` trait alone: its section is windowed with the
//! Wi-Fi one, k-suppressed by the same rule (its withheld figures listed in
//! the same `suppressed`), and published beside `wifi` through the real
//! publisher and a real mosquitto. Nothing of the Wi-Fi crates or of the
//! publisher knows it: the Wi-Fi section of every window is exactly what
//! the Wi-Fi pipeline alone gives.

use std::time::Duration;

use serde_json::json;
use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_publish::{Codec, SpoolPolicy};
use vitrine_schema::{Section, Summary};
use vitrine_testkit::{Broker, capture, distinct_payloads};
use vitrine_wifi_aggregate::{Aggregator, Config};
use vitrine_wifi_capture::{CaptureStage, FrameSource, PcapFile};
use vitrine_window::{Observe, Sensor, Suppressor, Window};

/// A made-up people counter (a camera, say): each observation is the number
/// of people in one frame. Its section: frames seen, the window's peak and a
/// histogram of people per frame, every count of people k-suppressed.
#[derive(Default)]
struct PeopleCounter {
    frames: u64,
    peak: u64,
    per_frame: [u64; 3],
}

const PER_FRAME_EDGES: [i64; 4] = [0, 2, 5, 100];

impl Sensor for PeopleCounter {
    fn rotate_epoch(&mut self, _: Option<&Window>) {}

    fn close(&mut self, _: &Window, k: &mut Suppressor) -> Section {
        let done = std::mem::take(self);
        let peak = k.gate("people.peak".into(), done.peak);
        let per_frame = k.histogram("people.per_frame", &PER_FRAME_EDGES, &done.per_frame);
        Section::Undescribed(
            "people".into(),
            json!({ "frames": done.frames, "peak": peak, "per_frame": per_frame }),
        )
    }
}

impl Observe<u64> for PeopleCounter {
    fn observe(&mut self, _: &Window, people: u64) {
        self.frames += 1;
        self.peak = self.peak.max(people);
        let bin = PER_FRAME_EDGES[1..]
            .iter()
            .position(|&e| (people as i64) < e)
            .unwrap_or(2);
        self.per_frame[bin] += 1;
    }
}

/// People in the frame at `t_s`: a made-up day that goes from empty to busy.
fn people_at(t_s: i64) -> u64 {
    [0, 1, 3, 6, 9, 4][(t_s / 600).rem_euclid(6) as usize]
}

fn config() -> Config {
    Config {
        window_s: 60,
        ..Config::default()
    }
}

const PCAP: &str = "lab-occupancy/sc6-61_2022-10-19_anonymized.pcap";

/// The Wi-Fi pipeline alone, as `vitrined replay` runs it.
fn wifi_alone() -> Vec<Summary> {
    let mut stage = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    let mut source = PcapFile::open(&capture(PCAP)).unwrap();
    let mut out = Vec::new();
    let (_, result) = vitrined::run(&mut source, &mut stage, config(), &mut |s| out.push(s));
    result.unwrap();
    out
}

/// The same capture with the people counter beside Wi-Fi, fed one frame
/// every 10 s of capture time; with the times of the frames it was fed.
fn wifi_and_people() -> (Vec<Summary>, Vec<i64>) {
    let stage = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    let mut source = PcapFile::open(&capture(PCAP)).unwrap();
    let mut agg = Aggregator::new(config());
    let people = agg.windows_mut().add(PeopleCounter::default());
    let mut out = Vec::new();
    let mut emit = |s: Summary| out.push(s);
    let mut next_frame_s = None;
    let mut fed = Vec::new();
    while let Some(p) = source.next_packet().unwrap() {
        let t_s = p.ts_us.div_euclid(1_000_000);
        let mut t = next_frame_s.unwrap_or(t_s - t_s.rem_euclid(10));
        while t <= t_s {
            agg.windows_mut()
                .push(people, t * 1_000_000, people_at(t), &mut emit);
            fed.push(t);
            t += 10;
        }
        next_frame_s = Some(t);
        let obs = stage.observe_captured(p.ts_us, p.link, p.data, p.orig_len);
        agg.push(obs, &mut emit);
    }
    agg.finish(&mut emit);
    (out, fed)
}

#[test]
fn a_second_sensor_is_windowed_suppressed_and_published_beside_wifi() {
    let alone = wifi_alone();
    let (both, fed) = wifi_and_people();
    assert!(alone.len() > 50, "{} windows", alone.len());
    assert_eq!(both.len(), alone.len(), "the same windows");

    let mut withheld_peaks = 0;
    for (a, b) in alone.iter().zip(&both) {
        assert_eq!(a.window_start, b.window_start);
        // Wi-Fi's section and its withheld paths are untouched.
        assert_eq!(a.wifi, b.wifi, "{}", a.window_start);
        let wifi_paths: Vec<&String> = b
            .suppressed
            .iter()
            .filter(|p| p.starts_with("wifi."))
            .collect();
        assert_eq!(wifi_paths, a.suppressed.iter().collect::<Vec<_>>());
        // The people section: the frames of its window, the peak published
        // only from k people up, and every withheld figure named.
        let p = &b.undescribed["people"];
        let start_s = time::OffsetDateTime::parse(
            &b.window_start,
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp();
        let frames: Vec<i64> = fed
            .iter()
            .copied()
            .filter(|t| (start_s..start_s + 60).contains(t))
            .collect();
        assert_eq!(p["frames"], json!(frames.len()), "{}: {p}", b.window_start);
        let peak = p["peak"].as_u64();
        let k = u64::from(b.k);
        let true_peak = frames.into_iter().map(people_at).max().unwrap_or(0);
        if (1..k).contains(&true_peak) {
            assert_eq!(peak, None);
            assert!(b.suppressed.contains(&"people.peak".to_string()));
            withheld_peaks += 1;
        } else {
            assert_eq!(peak, Some(true_peak));
            assert!(!b.suppressed.contains(&"people.peak".to_string()));
        }
        for c in p["per_frame"]["counts"].as_array().unwrap() {
            let c = c.as_u64();
            assert!(c.is_none_or(|c| c == 0 || c >= k), "{p}");
        }
    }
    assert!(withheld_peaks > 0, "some peaks are below k");
    assert!(
        both.iter()
            .any(|s| s.undescribed["people"]["peak"].as_u64() > Some(0)),
        "some peaks are published"
    );

    // Published through the real publisher: each sensor's section arrives
    // on its own topic, with the common part and its own withheld figures.
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let wifi_sub = broker.subscribe("vitrine/s/r/wifi", both.len());
    let people_sub = broker.subscribe("vitrine/s/r/people", both.len());
    let cfg = vitrined::publishing::new_broker(&broker.url(), "s", "r").unwrap();
    let mut publishing = vitrined::publishing::Publishing::start(
        cfg,
        &dir.path().join("spool"),
        SpoolPolicy::default(),
    )
    .unwrap();
    for s in &both {
        publishing.push(s.clone()).unwrap();
    }
    let stats = publishing.finish(Duration::from_secs(20));
    assert_eq!(stats.acknowledged, 2 * both.len() as u64);
    let codec = Codec::shipped();
    let decode = |payloads: Vec<Vec<u8>>| -> Vec<Summary> {
        payloads
            .iter()
            .map(|p| codec.decode(p).unwrap().summary)
            .collect()
    };
    let wifi = decode(distinct_payloads(wifi_sub, both.len()));
    let people = decode(distinct_payloads(people_sub, both.len()));
    for ((b, w), p) in both.iter().zip(&wifi).zip(&people) {
        assert!(w.undescribed.is_empty() && p.wifi.is_none());
        assert_eq!(
            (&w.window_start, &p.window_start),
            (&b.window_start, &b.window_start)
        );
        assert_eq!(w.wifi, b.wifi);
        assert_eq!(p.undescribed, b.undescribed);
        // Together, the two parts withhold exactly what the whole did.
        let mut parts: Vec<&String> = w.suppressed.iter().chain(&p.suppressed).collect();
        let mut whole: Vec<&String> = b.suppressed.iter().collect();
        parts.sort();
        whole.sort();
        assert_eq!(parts, whole);
        assert!(w.suppressed.iter().all(|s| s.starts_with("wifi.")));
        assert!(p.suppressed.iter().all(|s| s.starts_with("people.")));
    }
}
