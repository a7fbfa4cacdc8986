//! The daemon's live loop: a monitor interface and a camera in, summaries
//! out, windows closed by the clock even when nothing is heard, the
//! recording indicator lit while capturing, the kill switch obeyed, and the
//! systemd watchdog fed only while the loop goes round.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vitrine_camera_analytics::CameraSettings;
use vitrine_camera_capture::v4l2::{
    Event as CameraEvent, Negotiated, PixelFormat, V4l2Config, V4l2Error, V4l2Source,
};
use vitrine_camera_capture::y4m::Y4mClip;
use vitrine_gpio::{Gpio, SwitchEdge};
use vitrine_radio::{Event, EventSource};
use vitrine_schema::{CameraStatus, SensorState, SensorsStatus, Summary, SwitchState};
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::CaptureStage;

use crate::{Pipeline, RunStats};

/// Wall-clock time, Unix microseconds: the clock of a live run.
pub fn now_us() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Where the loop reports to systemd (or to nothing outside systemd).
pub trait Supervisor {
    /// Capture started for the first time, or resumed.
    fn ready(&mut self, status: &str);
    /// The loop went round: feeds the watchdog.
    fn alive(&mut self);
    fn status(&mut self, status: &str);
}

/// `sd_notify`: READY, WATCHDOG and STATUS; does nothing outside systemd.
#[derive(Debug)]
pub struct Systemd {
    /// Feed the watchdog at most this often (half its period).
    every: Option<Duration>,
    last: Instant,
    ready: bool,
}

impl Systemd {
    pub fn new() -> Self {
        Systemd {
            every: sd_notify::watchdog_enabled().map(|d| d / 2),
            last: Instant::now(),
            ready: false,
        }
    }
}

impl Default for Systemd {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor for Systemd {
    fn ready(&mut self, status: &str) {
        let mut states = vec![sd_notify::NotifyState::Status(status)];
        if !self.ready {
            states.push(sd_notify::NotifyState::Ready);
            self.ready = true;
        }
        let _ = sd_notify::notify(&states);
    }

    fn alive(&mut self) {
        if let Some(every) = self.every
            && self.last.elapsed() >= every
        {
            self.last = Instant::now();
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
    }

    fn status(&mut self, status: &str) {
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(status)]);
    }
}

/// Runs until `stop` is set, then closes the current window and returns:
/// Wi-Fi alone, without GPIO ([`run_live_with`] has every sensor).
pub fn run_live(
    capture: &mut dyn EventSource,
    stage: &mut CaptureStage,
    cfg: Config,
    stop: &AtomicBool,
    supervisor: &mut dyn Supervisor,
    clock: &mut dyn FnMut() -> i64,
    emit: &mut dyn FnMut(Summary),
) -> RunStats {
    let mut gpio = Gpio::from_parts(None, None);
    let mut sensors = LiveSensors {
        wifi: capture,
        camera: None,
        gpio: &mut gpio,
        on_status: &mut |_| {},
    };
    run_live_with(&mut sensors, stage, cfg, stop, supervisor, clock, emit)
}

/// A camera as the live loop drives it: events without waiting, and the
/// kill switch's stop.
pub trait CameraEvents {
    /// The next event if one is ready, else `Idle` at once.
    fn try_event(&mut self) -> CameraEvent;
    /// Stops capture and releases the device (`true`), or starts it again.
    fn set_stopped(&mut self, stopped: bool);
}

/// A V4L2 camera for the live loop: capture on its own thread
/// ([`V4l2Source`]), stopped by dropping it.
#[derive(Debug)]
pub struct V4l2Camera {
    cfg: V4l2Config,
    source: Option<V4l2Source>,
    /// Said once per failure to start the thread.
    start_error: Option<String>,
}

impl V4l2Camera {
    /// Capture starts at once; a missing device is reported in the loop
    /// (as `Lost`) and capture starts when it appears.
    pub fn new(cfg: V4l2Config) -> Self {
        let mut camera = V4l2Camera {
            cfg,
            source: None,
            start_error: None,
        };
        camera.set_stopped(false);
        camera
    }
}

impl CameraEvents for V4l2Camera {
    fn try_event(&mut self) -> CameraEvent {
        match &mut self.source {
            Some(source) => source.try_event(),
            None => CameraEvent::Idle,
        }
    }

    fn set_stopped(&mut self, stopped: bool) {
        if stopped {
            // Stops the thread and closes the device; queued frames are
            // dropped (zeroized).
            self.source = None;
        } else if self.source.is_none() {
            match V4l2Source::start(self.cfg.clone()) {
                Ok(s) => self.source = Some(s),
                Err(e) => {
                    let e = e.to_string();
                    if self.start_error.as_ref() != Some(&e) {
                        tracing::error!(error = %e, "cannot start camera capture");
                        self.start_error = Some(e);
                    }
                }
            }
        }
    }
}

/// A YUV4MPEG2 stream on standard input as the live camera (a Pi camera
/// module through `rpicam-vid | ffmpeg`, docs/camera.md): read on a thread
/// of its own, each frame stamped with the time it arrived. The stream is
/// read once: when it ends the camera is lost for good, and the kill
/// switch stops frames being taken (the writer then blocks on the pipe).
#[derive(Debug)]
pub struct StdinCamera {
    rx: std::sync::mpsc::Receiver<CameraEvent>,
    stopped: bool,
}

impl StdinCamera {
    pub fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        std::thread::Builder::new()
            .name("camera-stdin".into())
            .spawn(move || {
                let clip = crate::camera::stdin_unbuffered()
                    .map_err(|e| e.to_string())
                    .and_then(|stdin| {
                        Y4mClip::new(stdin, "stdin", now_us()).map_err(|e| e.to_string())
                    });
                let clip = match clip {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(CameraEvent::Lost(stdin_lost(e)));
                        return;
                    }
                };
                let started = Negotiated {
                    device: "-".into(),
                    card: "YUV4MPEG2 on standard input".into(),
                    driver: "y4m".into(),
                    format: PixelFormat::Grey,
                    width: clip.width(),
                    height: clip.height(),
                    stride: clip.width(),
                    fps: Some(clip.fps() as f32),
                };
                if tx.send(CameraEvent::Started(started)).is_err() {
                    return;
                }
                for item in clip {
                    let event = match item {
                        // Stamped on arrival: the stream's own clock is its
                        // frame count, which drifts from the wall clock.
                        Ok(mut frame) => {
                            frame.ts_us = now_us();
                            CameraEvent::Frame(frame)
                        }
                        Err(e) => CameraEvent::Lost(stdin_lost(e.to_string())),
                    };
                    let end = matches!(event, CameraEvent::Lost(_));
                    if tx.send(event).is_err() || end {
                        return;
                    }
                }
                let _ = tx.send(CameraEvent::Lost(stdin_lost("standard input ended".into())));
            })
            .expect("a thread can be started");
        StdinCamera { rx, stopped: false }
    }
}

fn stdin_lost(reason: String) -> V4l2Error {
    V4l2Error::Thread {
        device: "-".into(),
        reason,
    }
}

impl CameraEvents for StdinCamera {
    fn try_event(&mut self) -> CameraEvent {
        match self.rx.try_recv() {
            // Frames read while stopped are dropped (zeroized) unanalysed.
            Ok(CameraEvent::Frame(_)) if self.stopped => CameraEvent::Idle,
            Ok(event) => event,
            Err(_) => CameraEvent::Idle,
        }
    }

    fn set_stopped(&mut self, stopped: bool) {
        self.stopped = stopped;
    }
}

/// What the live loop captures with and reports to.
pub struct LiveSensors<'a> {
    pub wifi: &'a mut dyn EventSource,
    /// The camera and its analytics' settings.
    pub camera: Option<(&'a mut dyn CameraEvents, CameraSettings)>,
    /// The recording indicator and the kill switch (either may be absent).
    pub gpio: &'a mut Gpio,
    /// The sensors' state changed (the retained status says so).
    pub on_status: &'a mut dyn FnMut(SensorsStatus),
}

impl std::fmt::Debug for LiveSensors<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSensors")
            .field("camera", &self.camera.as_ref().map(|(_, s)| s))
            .field("gpio", &self.gpio)
            .finish()
    }
}

/// The most camera events handled per turn of the loop, so that Wi-Fi is
/// read in between.
const CAMERA_EVENTS_PER_TURN: usize = 8;

/// What the status says, kept up to date by the loop.
struct Reported {
    status: SensorsStatus,
    changed: bool,
}

impl Reported {
    fn set(&mut self, f: impl FnOnce(&mut SensorsStatus)) {
        let before = self.status.clone();
        f(&mut self.status);
        self.changed |= before != self.status;
    }
}

/// Runs until `stop` is set, then closes the current window and returns.
///
/// When the adapter or the camera goes away the loop says so, keeps closing
/// windows (they are published with what was heard) and picks capture up
/// again when the device returns. READY is sent once the loop runs, devices
/// or not, so that a rig whose adapter is missing still publishes its
/// (empty) windows.
///
/// The recording indicator is lit exactly while a sensor captures. While
/// the kill switch is engaged no sensor captures: the devices are released,
/// the epoch key was wiped when it engaged, windows keep closing (empty)
/// and the status says `stopped`. A switch that cannot be read counts as
/// engaged: the rig fails closed.
pub fn run_live_with(
    sensors: &mut LiveSensors<'_>,
    stage: &mut CaptureStage,
    cfg: Config,
    stop: &AtomicBool,
    supervisor: &mut dyn Supervisor,
    clock: &mut dyn FnMut() -> i64,
    emit: &mut dyn FnMut(Summary),
) -> RunStats {
    let mut pipeline = Pipeline::new(stage, cfg);
    let has_switch = sensors.gpio.kill_switch().is_some();
    let mut reported = Reported {
        status: SensorsStatus {
            kill_switch: has_switch.then_some(SwitchState::Released),
            indicator: None,
            wifi: Some(SensorState::Lost),
            camera: None,
        },
        changed: true,
    };
    if let Some((_, settings)) = &sensors.camera {
        pipeline = pipeline.with_camera(settings.clone());
        reported.status.camera = Some(CameraStatus {
            state: SensorState::Lost,
            health: "absent".into(),
        });
    }
    let mut killed = false;
    let mut first_turn = true;
    let mut switch_error_reported = false;
    supervisor.ready("waiting for the adapter");
    // Each window's camera health, for the status.
    let mut health: Option<String> = None;
    let mut emit_and_note = |s: Summary, health: &mut Option<String>| {
        if let Some(c) = &s.camera {
            *health = Some(c.health.state.clone());
        }
        emit(s);
    };
    while !stop.load(Ordering::Relaxed) {
        // The kill switch first: while engaged, wait on it instead of
        // reading any device.
        if let Some(switch) = sensors.gpio.kill_switch() {
            let wait = if killed { KILLED_POLL } else { Duration::ZERO };
            // At the start, the switch's state: engaged before the daemon
            // started means no capture at all.
            let read = if first_turn {
                switch.is_engaged().map(Some)
            } else {
                switch
                    .wait(wait)
                    .map(|e| e.map(|e| e == SwitchEdge::Engaged))
            };
            let engaged = match read {
                Ok(engaged) => engaged,
                Err(e) => {
                    if !switch_error_reported {
                        tracing::error!(error = %e, "cannot read the kill switch: capture stops until it can be read");
                        switch_error_reported = true;
                    }
                    Some(true)
                }
            };
            if let Some(engaged) = engaged {
                if engaged && !killed {
                    killed = true;
                    sensors.wifi.set_stopped(true);
                    if let Some((camera, _)) = sensors.camera.as_mut() {
                        camera.set_stopped(true);
                    }
                    set_capturing(sensors.gpio, "wifi", false);
                    set_capturing(sensors.gpio, "camera", false);
                    pipeline.wipe_keys();
                    reported.set(|s| {
                        s.kill_switch = Some(SwitchState::Engaged);
                        s.wifi = Some(SensorState::Stopped);
                        camera_state(s, SensorState::Stopped);
                    });
                    tracing::warn!(
                        "kill switch engaged: every sensor stopped, the epoch key wiped"
                    );
                    supervisor.status("stopped by the kill switch");
                } else if !engaged && killed {
                    killed = false;
                    switch_error_reported = false;
                    sensors.wifi.set_stopped(false);
                    if let Some((camera, _)) = sensors.camera.as_mut() {
                        camera.set_stopped(false);
                    }
                    reported.set(|s| {
                        s.kill_switch = Some(SwitchState::Released);
                        s.wifi = Some(SensorState::Lost);
                        camera_state(s, SensorState::Lost);
                    });
                    tracing::info!("kill switch released: capture starts again");
                    supervisor.status("kill switch released; starting capture");
                }
            }
        }
        first_turn = false;
        let ts_us = if killed {
            clock()
        } else {
            let ts = match sensors.wifi.next_event() {
                Event::Packet(packet) => {
                    pipeline.packet(&packet, &mut |s| emit_and_note(s, &mut health));
                    None
                }
                Event::Idle => Some(clock()),
                Event::Started { monitor, wiphy } => {
                    tracing::info!(monitor, phy = wiphy, "capture started");
                    supervisor.ready(&format!("capturing on {monitor}"));
                    set_capturing(sensors.gpio, "wifi", true);
                    reported.set(|s| s.wifi = Some(SensorState::Capturing));
                    Some(clock())
                }
                Event::Lost(e) => {
                    tracing::warn!(
                        error = %e,
                        "capture stopped: the adapter went away; windows keep being published, and capture resumes when it returns"
                    );
                    supervisor.status("adapter lost; waiting for it to return");
                    set_capturing(sensors.gpio, "wifi", false);
                    reported.set(|s| s.wifi = Some(SensorState::Lost));
                    Some(clock())
                }
            };
            if let Some((camera, _)) = sensors.camera.as_mut() {
                for _ in 0..CAMERA_EVENTS_PER_TURN {
                    match camera.try_event() {
                        CameraEvent::Frame(frame) => {
                            pipeline.frame(frame, &mut |s| emit_and_note(s, &mut health))
                        }
                        CameraEvent::Dropped(n) => {
                            pipeline.lost_frames(clock(), n, &mut |s| emit_and_note(s, &mut health))
                        }
                        CameraEvent::Started(n) => {
                            tracing::info!(camera = ?n, "camera capture started");
                            set_capturing(sensors.gpio, "camera", true);
                            reported.set(|s| {
                                camera_state(s, SensorState::Capturing);
                            });
                        }
                        CameraEvent::Lost(e) => {
                            tracing::warn!(error = %e, "camera capture stopped: the camera went away; windows keep being published, and capture resumes when it returns");
                            set_capturing(sensors.gpio, "camera", false);
                            reported.set(|s| {
                                camera_state(s, SensorState::Lost);
                            });
                        }
                        CameraEvent::Idle => break,
                    }
                }
            }
            match ts {
                Some(ts) => ts,
                None => {
                    supervisor.alive();
                    report(&mut reported, sensors, &mut health);
                    continue;
                }
            }
        };
        // No packet: close windows on time and rotate the key on time.
        pipeline.tick(ts_us, &mut |s| emit_and_note(s, &mut health));
        supervisor.alive();
        report(&mut reported, sensors, &mut health);
    }
    let stats = pipeline.finish(&mut |s| emit(s));
    set_capturing(sensors.gpio, "wifi", false);
    set_capturing(sensors.gpio, "camera", false);
    stats
}

/// The camera's state in the status, on a rig that has one.
fn camera_state(s: &mut SensorsStatus, state: SensorState) {
    if let Some(c) = &mut s.camera {
        c.state = state;
    }
}

/// How often the loop looks at an engaged kill switch (and closes windows).
const KILLED_POLL: Duration = Duration::from_millis(100);

/// Tells the GPIO whether `sensor` captures; an indicator that cannot be
/// set is said, not fatal (capture matters more than the lamp).
fn set_capturing(gpio: &mut Gpio, sensor: &str, capturing: bool) {
    if let Err(e) = gpio.set_capturing(sensor, capturing) {
        tracing::error!(error = %e, "cannot set the recording indicator");
    }
}

/// Sends the status when it changed (also the camera's health of the last
/// window and the indicator).
fn report(reported: &mut Reported, sensors: &mut LiveSensors<'_>, health: &mut Option<String>) {
    if let Some(h) = health.take() {
        reported.set(|s| {
            if let Some(c) = &mut s.camera {
                c.health = h;
            }
        });
    }
    let lit = sensors
        .gpio
        .has_indicator()
        .then(|| sensors.gpio.any_capturing());
    reported.set(|s| s.indicator = lit);
    if reported.changed {
        reported.changed = false;
        (sensors.on_status)(reported.status.clone());
    }
}
