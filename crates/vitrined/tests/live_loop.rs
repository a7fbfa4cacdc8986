//! The live loop on a scripted event source: windows close by the clock
//! while the adapter is away, capture resumes, and the supervisor hears of
//! it. The real monitor interface is exercised on the emulated board
//! (hil-tests/).

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;

use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_radio::{Event, EventSource, RadioError};
use vitrine_schema::Summary;
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::{CaptureStage, LinkType, Packet};
use vitrined::live::{Supervisor, run_live};

enum Step {
    Frame { ts_s: i64, mac: u8 },
    Idle,
    Lost,
    Started,
}

/// Plays a script; each step moves the shared clock to `now_s` when given.
struct Script {
    steps: VecDeque<(i64, Step)>,
    frame: Vec<u8>,
    clock: std::rc::Rc<std::cell::Cell<i64>>,
    stop: std::sync::Arc<AtomicBool>,
}

impl EventSource for Script {
    fn next_event(&mut self) -> Event<'_> {
        let Some((now_s, step)) = self.steps.pop_front() else {
            self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            return Event::Idle;
        };
        self.clock.set(now_s * 1_000_000);
        match step {
            Step::Frame { ts_s, mac } => {
                self.frame = vitrine_dot11::build::probe_request(
                    [0x02, 0xca, 0xfe, 0, 0, mac],
                    1,
                    None,
                    vitrine_dot11::build::templates::IPHONE_IOS_17,
                    6,
                    -50,
                );
                Event::Packet(Packet {
                    ts_us: ts_s * 1_000_000,
                    link: LinkType::Radiotap,
                    data: &self.frame,
                    orig_len: self.frame.len(),
                })
            }
            Step::Idle => Event::Idle,
            Step::Lost => Event::Lost(RadioError::NoInterface("vmon1".into())),
            Step::Started => Event::Started {
                monitor: "vmon1".into(),
                wiphy: 1,
            },
        }
    }
}

#[derive(Default)]
struct Recorder {
    ready: Vec<String>,
    statuses: Vec<String>,
    alive: usize,
}

impl Supervisor for Recorder {
    fn ready(&mut self, status: &str) {
        self.ready.push(status.to_string());
    }
    fn alive(&mut self) {
        self.alive += 1;
    }
    fn status(&mut self, status: &str) {
        self.statuses.push(status.to_string());
    }
}

#[test]
fn windows_close_on_time_while_the_adapter_is_away_and_capture_resumes() {
    // Window 0..60: two devices; the adapter is lost at 70 s and returns at
    // 200 s; window 180..240 hears a third device.
    let t0 = 1_700_000_040; // a multiple of 60
    let script = vec![
        (t0, Step::Started),
        (
            t0 + 1,
            Step::Frame {
                ts_s: t0 + 1,
                mac: 1,
            },
        ),
        (
            t0 + 2,
            Step::Frame {
                ts_s: t0 + 2,
                mac: 2,
            },
        ),
        (
            t0 + 3,
            Step::Frame {
                ts_s: t0 + 3,
                mac: 1,
            },
        ),
        (t0 + 70, Step::Lost),
        (t0 + 130, Step::Idle),
        (t0 + 150, Step::Idle),
        (t0 + 200, Step::Started),
        (
            t0 + 201,
            Step::Frame {
                ts_s: t0 + 201,
                mac: 3,
            },
        ),
        (t0 + 250, Step::Idle),
    ];
    let clock = std::rc::Rc::new(std::cell::Cell::new(0));
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let mut source = Script {
        steps: script.into_iter().collect(),
        frame: Vec::new(),
        clock: clock.clone(),
        stop: stop.clone(),
    };
    let mut stage = CaptureStage::new(RotationPolicy { period_s: 86_400 }, IgnoreList::default());
    let cfg = Config {
        window_s: 60,
        k: 1,
        ..Config::default()
    };
    let mut sup = Recorder::default();
    let mut out: Vec<Summary> = Vec::new();
    let stats = run_live(
        &mut source,
        &mut stage,
        cfg,
        &stop,
        &mut sup,
        &mut || clock.get(),
        &mut |s| out.push(s),
    );

    let frames: Vec<u64> = out
        .iter()
        .map(|s| s.wifi.as_ref().unwrap().frames.probe_req)
        .collect();
    // Windows 0, 60, 120 and 180 closed by the clock (60 and 120 while the
    // adapter was away, with nothing in them), 240 closed at the stop.
    assert_eq!(
        frames,
        [3, 0, 0, 1, 0],
        "{:?}",
        out.iter().map(|s| &s.window_start).collect::<Vec<_>>()
    );
    assert_eq!(out[0].wifi.as_ref().unwrap().devices.distinct_macs, 2);
    assert_eq!(out[3].wifi.as_ref().unwrap().devices.distinct_macs, 1);
    assert_eq!(stats.packets, 4);
    assert_eq!(sup.ready.len(), 3, "{:?}", sup.ready); // at start, then each capture start
    assert_eq!(sup.statuses, ["adapter lost; waiting for it to return"]);
    assert!(
        sup.alive >= 10,
        "the watchdog is fed on every turn: {}",
        sup.alive
    );
}
