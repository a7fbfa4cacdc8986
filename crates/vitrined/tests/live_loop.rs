//! The live loop on a scripted event source: windows close by the clock
//! while the adapter is away, capture resumes, and the supervisor hears of
//! it. The real monitor interface is exercised on the emulated board
//! (hil-tests/).

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;

use vitrine_camera_capture::Frame;
use vitrine_camera_capture::v4l2::{Event as CameraEvent, Negotiated, PixelFormat};
use vitrine_gpio::Gpio;
use vitrine_gpio::sim::SimChip;
use vitrine_privacy::RawImage;
use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_radio::{Event, EventSource, RadioError};
use vitrine_schema::Summary;
use vitrine_schema::{SensorState, SensorsStatus, SwitchState};
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::{CaptureStage, LinkType, Packet};
use vitrined::live::{CameraEvents, LiveSensors, Supervisor, run_live, run_live_with};

enum Step {
    Frame {
        ts_s: i64,
        mac: u8,
    },
    Idle,
    Lost,
    Started,
    /// The kill switch is pressed (the simulated chip's line driven).
    Press,
}

/// Plays a script; each step moves the shared clock to `now_s` when given.
struct Script {
    steps: VecDeque<(i64, Step)>,
    frame: Vec<u8>,
    clock: std::rc::Rc<std::cell::Cell<i64>>,
    stop: std::sync::Arc<AtomicBool>,
    /// What the loop asked of the adapter (`set_stopped`).
    stopped: Vec<bool>,
    /// The chip whose switch line `Step::Press` drives.
    chip: Option<(SimChip, u32)>,
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
            Step::Press => {
                let (chip, line) = self.chip.as_ref().expect("a chip to press on");
                chip.drive(*line, true);
                Event::Idle
            }
        }
    }

    fn set_stopped(&mut self, stopped: bool) {
        self.stopped.push(stopped);
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
        stopped: Vec::new(),
        chip: None,
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

/// A camera that plays its frames, one per call, stamped by the shared
/// clock; records what the loop asked of it.
struct FakeCamera {
    started: bool,
    frames_left: usize,
    clock: std::rc::Rc<std::cell::Cell<i64>>,
    stopped: Vec<bool>,
    /// The indicator's level each time a frame was taken.
    lit: Vec<bool>,
    chip: SimChip,
}

impl CameraEvents for FakeCamera {
    fn try_event(&mut self) -> CameraEvent {
        if self.stopped.last() == Some(&true) {
            return CameraEvent::Idle;
        }
        if !self.started {
            self.started = true;
            return CameraEvent::Started(Negotiated {
                device: "/dev/video0".into(),
                card: "fake".into(),
                driver: "fake".into(),
                format: PixelFormat::Grey,
                width: 32,
                height: 24,
                stride: 32,
                fps: Some(10.0),
            });
        }
        if self.frames_left == 0 {
            return CameraEvent::Idle;
        }
        self.frames_left -= 1;
        self.lit.push(self.chip.level(INDICATOR));
        let mut image = RawImage::zeroed(32, 24);
        image.luma_mut().fill(90);
        CameraEvent::Frame(Frame {
            ts_us: self.clock.get(),
            image,
        })
    }

    fn set_stopped(&mut self, stopped: bool) {
        self.stopped.push(stopped);
        if !stopped {
            self.started = false;
        }
    }
}

const INDICATOR: u32 = 0;
const SWITCH: u32 = 1;

#[test]
fn the_kill_switch_stops_every_sensor_wipes_the_key_and_the_indicator_follows_capture() {
    let t0 = 1_700_000_040;
    let chip = SimChip::new("sim", 4);
    let script = vec![
        (t0, Step::Started),
        (
            t0 + 1,
            Step::Frame {
                ts_s: t0 + 1,
                mac: 1,
            },
        ),
        (t0 + 2, Step::Idle),
        (t0 + 3, Step::Press),
        // Read only after the switch is released (by the clock, below).
        (t0 + 130, Step::Started),
        (
            t0 + 131,
            Step::Frame {
                ts_s: t0 + 131,
                mac: 2,
            },
        ),
        (t0 + 132, Step::Idle),
    ];
    let clock = std::rc::Rc::new(std::cell::Cell::new(0));
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let mut source = Script {
        steps: script.into_iter().collect(),
        frame: Vec::new(),
        clock: clock.clone(),
        stop: stop.clone(),
        stopped: Vec::new(),
        chip: Some((chip.clone(), SWITCH)),
    };
    let mut camera = FakeCamera {
        started: false,
        frames_left: 1000,
        clock: clock.clone(),
        stopped: Vec::new(),
        lit: Vec::new(),
        chip: chip.clone(),
    };
    let mut gpio = Gpio::from_parts(
        Some(Box::new(chip.indicator(INDICATOR, false).unwrap())),
        Some(Box::new(chip.switch(SWITCH, false).unwrap())),
    );
    let mut statuses: Vec<SensorsStatus> = Vec::new();
    let mut on_status = |s: SensorsStatus| statuses.push(s);
    let mut stage = CaptureStage::new(RotationPolicy { period_s: 86_400 }, IgnoreList::default());
    let cfg = Config {
        window_s: 60,
        k: 1,
        ..Config::default()
    };
    let mut sup = Recorder::default();
    let mut out: Vec<Summary> = Vec::new();
    // While the switch is engaged the loop reads no device, only the clock:
    // the clock moves time on, checks that the lamp is out, and releases
    // the switch after a while.
    let mut killed_turns = 0;
    let mut lit_while_killed = Vec::new();
    let released_at = t0 + 120;
    let mut ticking = || {
        let now = clock.get();
        if source_pressed(&chip) {
            killed_turns += 1;
            lit_while_killed.push(chip.level(INDICATOR));
            clock.set(now + 10_000_000);
            if clock.get() >= released_at * 1_000_000 {
                chip.drive(SWITCH, false);
            }
        }
        clock.get()
    };
    let settings = vitrine_camera_analytics::CameraSettings {
        fps: 10.0,
        ..Default::default()
    };
    let stats = {
        let mut sensors = LiveSensors {
            wifi: &mut source,
            camera: Some((&mut camera, settings)),
            gpio: &mut gpio,
            on_status: &mut on_status,
        };
        run_live_with(
            &mut sensors,
            &mut stage,
            cfg,
            &stop,
            &mut sup,
            &mut ticking,
            &mut |s| out.push(s),
        )
    };

    assert_eq!(source.stopped, [true, false], "Wi-Fi stopped, then resumed");
    assert_eq!(camera.stopped, [true, false], "the camera too");
    assert_eq!(stats.rotations, 1, "the key was wiped once");
    assert!(killed_turns >= 12, "{killed_turns}");
    // The turn in which the switch is pressed ends before the loop reads
    // it (within one poll); from the next turn on the lamp is out.
    assert!(
        lit_while_killed.iter().skip(1).all(|&l| !l),
        "the lamp is out while killed: {lit_while_killed:?}"
    );
    assert!(
        !camera.lit.is_empty() && camera.lit.iter().all(|&l| l),
        "lit while capturing"
    );
    assert!(!chip.level(INDICATOR), "out after the loop");
    // The status went from capturing to stopped by the switch and back.
    let stopped = statuses
        .iter()
        .position(|s| s.kill_switch == Some(SwitchState::Engaged))
        .expect("the status says the switch is engaged");
    let s = &statuses[stopped];
    assert_eq!(s.wifi, Some(SensorState::Stopped));
    assert_eq!(s.camera.as_ref().unwrap().state, SensorState::Stopped);
    assert_eq!(s.indicator, Some(false));
    assert!(
        statuses[..stopped]
            .iter()
            .any(|s| s.wifi == Some(SensorState::Capturing)
                && s.camera.as_ref().unwrap().state == SensorState::Capturing
                && s.indicator == Some(true))
    );
    let last = statuses.last().unwrap();
    assert_eq!(last.kill_switch, Some(SwitchState::Released));
    assert_eq!(last.wifi, Some(SensorState::Capturing));
    // Nothing was captured while killed: windows 60 and 120 (the switch
    // held from t0 + 3 to t0 + 120) have no camera frame and no packet.
    let frames: Vec<(u64, u64)> = out
        .iter()
        .map(|s| {
            (
                s.wifi.as_ref().unwrap().frames.probe_req,
                s.camera.as_ref().unwrap().frames,
            )
        })
        .collect();
    assert_eq!(frames[1], (0, 0), "{frames:?}");
    assert!(frames[0].0 == 1 && frames[0].1 > 0, "{frames:?}");
    assert!(frames[2].0 == 1 && frames[2].1 > 0, "{frames:?}");
    assert!(
        sup.statuses
            .iter()
            .any(|s| s == "stopped by the kill switch")
    );
}

/// Whether the switch line is driven (pressed).
fn source_pressed(chip: &SimChip) -> bool {
    chip.level(SWITCH)
}

#[test]
fn a_switch_engaged_before_the_start_lets_nothing_be_captured() {
    let t0 = 1_700_000_040;
    let chip = SimChip::new("sim", 4);
    chip.drive(SWITCH, true);
    let clock = std::rc::Rc::new(std::cell::Cell::new(t0 * 1_000_000));
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let mut source = Script {
        steps: vec![
            (t0, Step::Started),
            (
                t0 + 1,
                Step::Frame {
                    ts_s: t0 + 1,
                    mac: 1,
                },
            ),
        ]
        .into_iter()
        .collect(),
        frame: Vec::new(),
        clock: clock.clone(),
        stop: stop.clone(),
        stopped: Vec::new(),
        chip: None,
    };
    let mut gpio = Gpio::from_parts(
        Some(Box::new(chip.indicator(INDICATOR, false).unwrap())),
        Some(Box::new(chip.switch(SWITCH, false).unwrap())),
    );
    let mut statuses: Vec<SensorsStatus> = Vec::new();
    let mut stage = CaptureStage::new(RotationPolicy { period_s: 86_400 }, IgnoreList::default());
    let mut out: Vec<Summary> = Vec::new();
    let mut turns = 0;
    let mut ticking = || {
        turns += 1;
        clock.set(clock.get() + 10_000_000);
        if turns == 20 {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        clock.get()
    };
    let stats = {
        let mut sensors = LiveSensors {
            wifi: &mut source,
            camera: None,
            gpio: &mut gpio,
            on_status: &mut |s| statuses.push(s),
        };
        run_live_with(
            &mut sensors,
            &mut stage,
            Config::default(),
            &stop,
            &mut Recorder::default(),
            &mut ticking,
            &mut |s| out.push(s),
        )
    };
    assert_eq!(source.stopped, [true]);
    assert_eq!(source.steps.len(), 2, "the adapter was never read");
    assert_eq!(stats.packets, 0);
    assert!(!chip.level(INDICATOR));
    assert_eq!(statuses[0].kill_switch, Some(SwitchState::Engaged));
    assert_eq!(statuses[0].wifi, Some(SensorState::Stopped));
    assert!(out.len() >= 3, "windows keep closing: {}", out.len());
}
