//! The demo: simulated store traffic through the real pipeline.

use vitrine_camera_analytics::{CameraSettings, CountingLine, Point};
use vitrine_camera_capture::Frame;
use vitrine_privacy::RawImage;
use vitrine_schema::Summary;
use vitrine_sim::scene::{Scene, SceneConfig};
use vitrine_sim::{GroundTruth, SimConfig, SimFrame, Simulator};
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::{CaptureStage, FrameSource, LinkType, Packet, SourceError};

/// Simulated frames as a frame source (the simulator writes radiotap).
#[derive(Debug)]
pub struct SimSource {
    frames: Vec<SimFrame>,
    next: usize,
}

impl SimSource {
    pub fn new(frames: Vec<SimFrame>) -> Self {
        SimSource { frames, next: 0 }
    }
}

impl FrameSource for SimSource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        let Some(f) = self.frames.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        Ok(Some(Packet {
            ts_us: f.ts_us,
            link: LinkType::Radiotap,
            data: &f.bytes,
            orig_len: f.bytes.len(),
        }))
    }
}

/// The simulation used by the demo: `minutes` of a store.
pub fn sim_config(minutes: u32, seed: u64, arrivals_per_hour: f64) -> SimConfig {
    SimConfig {
        seed,
        duration_s: minutes * 60,
        arrivals_per_hour,
        ..SimConfig::quiet_store()
    }
}

/// The demo's camera: a simulated view of the shop's door over the same
/// minutes, people crossing a line across it in both directions, some in
/// groups, some stopping, with the light changing.
pub fn door_scene(sim: &SimConfig) -> Scene {
    let mut c = SceneConfig::base(sim.seed);
    c.duration_s = sim.duration_s as f32;
    // Most people near the rig walk by; those the camera sees go in or out.
    c.arrivals_per_min = (sim.arrivals_per_hour / 60.0 / 2.0).clamp(0.05, 20.0) as f32;
    c.group_probability = 0.15;
    c.stop_probability = 0.1;
    c.lighting_changes = true;
    Scene::new(c).expect("the demo's scene is valid")
}

/// The camera's settings for a scene: its line, inside and region.
pub fn scene_settings(scene: &Scene) -> CameraSettings {
    let c = scene.config();
    let point = |(x, y): (f32, f32)| Point { x, y };
    CameraSettings {
        line: Some(CountingLine {
            a: point(c.line.0),
            b: point(c.line.1),
            inside: point(c.inside),
        }),
        region: Some(c.region.iter().copied().map(point).collect()),
        fps: c.fps as f32,
        ..CameraSettings::default()
    }
}

/// A scene's frames as a clip from `start_unix_s`, each rendered when it
/// is taken.
#[derive(Debug)]
pub struct SceneFrames<'a> {
    scene: &'a Scene,
    next: u32,
    start_us: i64,
}

impl<'a> SceneFrames<'a> {
    pub fn new(scene: &'a Scene, start_unix_s: i64) -> Self {
        SceneFrames {
            scene,
            next: 0,
            start_us: start_unix_s * 1_000_000,
        }
    }
}

impl Iterator for SceneFrames<'_> {
    type Item = Result<Frame, std::convert::Infallible>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.scene.frames() {
            return None;
        }
        let mut image = RawImage::zeroed(self.scene.width(), self.scene.height());
        self.scene.render(self.next, image.luma_mut());
        let fps = i64::from(self.scene.config().fps.max(1));
        let ts_us = self.start_us + i64::from(self.next) * 1_000_000 / fps;
        self.next += 1;
        Some(Ok(Frame { ts_us, image }))
    }
}

/// Runs the pipeline over simulated traffic; returns the summaries and the
/// simulator's ground truth.
pub fn simulate(
    sim: SimConfig,
    cfg: Config,
    mut stage: CaptureStage,
) -> (Vec<Summary>, GroundTruth) {
    let (start, scene) = (sim.start_unix_s, door_scene(&sim));
    let (frames, truth) = Simulator::new(sim).run();
    let mut source = SimSource::new(frames);
    let mut summaries = Vec::new();
    let mut clip = SceneFrames::new(&scene, start);
    let (_, _, result) = crate::run_with_clip(
        &mut source,
        &mut stage,
        cfg,
        &mut clip,
        scene_settings(&scene),
        &mut |s| summaries.push(s),
    );
    result.expect("an in-memory source cannot fail");
    (summaries, truth)
}

/// Visitors (not passers-by) present in each window, from their first to
/// their last probe request, by window start: what `devices.estimated` is
/// meant to measure. A device that stays silent through a whole window cannot
/// be heard in it, so short windows undercount; 5-minute windows suit
/// occupancy.
pub fn visitors_by_window(truth: &GroundTruth, window_s: u32) -> Vec<(i64, u64)> {
    truth
        .windows(window_s)
        .iter()
        .map(|w| {
            let (start, end) = (
                w.start_unix_s * 1_000_000,
                (w.start_unix_s + i64::from(window_s)) * 1_000_000,
            );
            let n = truth
                .device_log
                .iter()
                .filter(|d| {
                    !d.passer_by
                        && d.probe_requests > 0
                        && d.first_probe_us < end
                        && d.last_probe_us >= start
                })
                .count();
            (w.start_unix_s, n as u64)
        })
        .collect()
}

/// Median absolute percentage error of the published estimate against the
/// visitors present, and of the naive distinct-MAC count, over windows with visitors.
pub fn estimate_error(summaries: &[Summary], truth: &GroundTruth, window_s: u32) -> (f64, f64) {
    let visitors = visitors_by_window(truth, window_s);
    let mut est_err = Vec::new();
    let mut naive_err = Vec::new();
    for s in summaries {
        let start = time_of(&s.window_start);
        let Some(&(_, v)) = visitors.iter().find(|(t, _)| Some(*t) == start) else {
            continue;
        };
        if let (true, Some(wifi)) = (v > 0, &s.wifi) {
            let v = v as f64;
            est_err.push((wifi.devices.estimated as f64 - v).abs() / v);
            naive_err.push((wifi.devices.distinct_macs as f64 - v).abs() / v);
        }
    }
    (median(&mut est_err), median(&mut naive_err))
}

/// The closing explanation: what was published against what was true.
pub fn report(summaries: &[Summary], truth: &GroundTruth, window_s: u32) -> String {
    let probes: u64 = summaries
        .iter()
        .filter_map(|s| s.wifi.as_ref())
        .map(|w| w.frames.probe_req)
        .sum();
    let (est, naive) = estimate_error(summaries, truth, window_s);
    let suppressed: usize = summaries.iter().map(|s| s.suppressed.len()).sum();
    format!(
        "What the simulator knows and the rig never published:\n  \
         {} probe requests counted (truth {}) from {} devices ({} in the shop, {} passing by outside)\n  \
         behind {} MAC addresses, {} of them randomized.\n  \
         Per window, the device estimate is off by {:.0} % (median) from the devices really in the shop;\n  \
         counting MAC addresses instead would be off by {:.0} %.\n  \
         {} small bins were withheld (fewer than k devices), so no one can be singled out.\n\
         No MAC address, SSID or pseudonym was written anywhere: the key that made pseudonyms lived only in memory.",
        probes,
        truth.probe_requests,
        truth.devices,
        truth.visitors,
        truth.passers_by,
        truth.distinct_macs,
        truth.randomized_macs,
        100.0 * est,
        100.0 * naive,
        suppressed
    )
}

/// The camera's part of the closing explanation: crossings counted against
/// the scene's truth.
pub fn camera_report(summaries: &[Summary], scene: &Scene) -> String {
    let (mut inward, mut outward, mut frames) = (0, 0, 0);
    for c in summaries.iter().filter_map(|s| s.camera.as_ref()) {
        inward += c.crossings.inward;
        outward += c.crossings.outward;
        frames += c.frames;
    }
    let (mut true_in, mut true_out) = (0u64, 0u64);
    for t in scene.truths() {
        true_in += u64::from(t.inward);
        true_out += u64::from(t.outward);
    }
    format!(
        "The camera watched the door in {frames} simulated frames of {}x{}: it counted {inward} people in and {outward} out\n  \
         (the scene's truth: {true_in} in, {true_out} out). Each frame was dropped, zeroized, as soon as it was counted:\n  \
         only the counts, occupancy and a coarse heat grid left the camera's stage.",
        scene.width(),
        scene.height()
    )
}

/// Unix seconds of an RFC 3339 UTC timestamp as written in summaries.
pub fn time_of(rfc3339: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(t.unix_timestamp())
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A broker on a free loopback port for the demo: mosquitto when it is
/// installed (stopped when dropped), else rumqttd embedded in this process
/// (`VITRINE_DEMO_BROKER=embedded` forces it) when the build has it: the
/// cargo feature `embedded-broker`, which `cargo xtask demo` enables and the
/// Debian package leaves off.
#[derive(Debug)]
pub struct LocalBroker {
    child: Option<std::process::Child>,
    pub port: u16,
    dir: std::path::PathBuf,
    /// "mosquitto" or "rumqttd (embedded)".
    pub kind: &'static str,
}

/// Why the demo has no local broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoBroker {
    /// `VITRINE_DEMO_BROKER=embedded` asked for the embedded broker.
    pub forced: bool,
    /// Why, as a sentence for the viewer.
    pub reason: String,
}

impl std::fmt::Display for NoBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for NoBroker {}

/// Whether this build has the embedded broker.
pub const EMBEDDED_BROKER: bool = cfg!(feature = "embedded-broker");

/// What a build without the embedded broker says when it would start it.
pub const NO_EMBEDDED_BROKER: &str = "this vitrined was built without the embedded broker \
     (cargo feature `embedded-broker`, which `cargo xtask demo` enables)";

impl LocalBroker {
    /// Starts mosquitto, else the embedded broker; or says why neither runs.
    pub fn start(dir: &std::path::Path) -> Result<LocalBroker, NoBroker> {
        let forced = std::env::var("VITRINE_DEMO_BROKER").is_ok_and(|v| v == "embedded");
        if !forced && let Some(broker) = LocalBroker::start_mosquitto(dir) {
            return Ok(broker);
        }
        let reason = if !EMBEDDED_BROKER && forced {
            format!("VITRINE_DEMO_BROKER=embedded, but {NO_EMBEDDED_BROKER}")
        } else if !EMBEDDED_BROKER {
            format!("mosquitto could not be started, and {NO_EMBEDDED_BROKER}")
        } else {
            match LocalBroker::start_embedded(dir) {
                Some(broker) => return Ok(broker),
                None => "the embedded broker could not be started".to_owned(),
            }
        };
        Err(NoBroker { forced, reason })
    }

    #[cfg(not(feature = "embedded-broker"))]
    fn start_embedded(_dir: &std::path::Path) -> Option<LocalBroker> {
        None
    }

    #[cfg(feature = "embedded-broker")]
    fn start_embedded(dir: &std::path::Path) -> Option<LocalBroker> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let settings = format!(
            "id = 0\n[router]\nid = 0\nmax_connections = 100\nmax_outgoing_packet_count = 200\n\
             max_segment_size = 10485760\nmax_segment_count = 10\n\
             [v4.1]\nname = \"v4-1\"\nlisten = \"127.0.0.1:{port}\"\nnext_connection_delay_ms = 1\n\
             [v4.1.connections]\nconnection_timeout_ms = 60000\nmax_payload_size = 1048576\n\
             max_inflight_count = 100\ndynamic_filters = true\n"
        );
        let config: rumqttd::Config = toml::from_str(&settings).ok()?;
        std::thread::spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::warn!(error = %e, "the embedded broker stopped");
            }
        });
        wait_for_port(port)?;
        Some(LocalBroker {
            child: None,
            port,
            dir: dir.to_owned(),
            kind: "rumqttd, embedded",
        })
    }

    fn start_mosquitto(dir: &std::path::Path) -> Option<LocalBroker> {
        let program = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .map(std::path::PathBuf::from)
            .or_else(|| {
                let path = std::env::var_os("PATH")?;
                std::env::split_paths(&path)
                    .map(|d| d.join("mosquitto"))
                    .find(|p| p.is_file())
            })?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        std::fs::create_dir_all(dir).ok()?;
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
        )
        .ok()?;
        let child = std::process::Command::new(program)
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let broker = LocalBroker {
            child: Some(child),
            port,
            dir: dir.to_owned(),
            kind: "mosquitto",
        };
        wait_for_port(port)?;
        Some(broker)
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

fn wait_for_port(port: u16) -> Option<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Some(())
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        // The embedded broker ends with the process.
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Why the demo with a broker failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("publishing the demo's summaries to {url}")]
    Publishing {
        url: String,
        #[source]
        source: crate::publishing::PublishingError,
    },
    /// The summaries read back from the broker could not be written out.
    #[error("showing the summaries read back from {url}")]
    Show {
        url: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the demo with a broker ran: the summaries, the ground truth, and
/// how many summaries and payload bytes were published.
pub type LiveRun = (Vec<Summary>, GroundTruth, (u64, u64));

/// The demo with a broker: simulated traffic at an accelerated clock (the
/// whole simulation in `seconds`), published through the spool,
/// read back from the broker and written to `out` as it arrives.
// Each argument is a setting of the demo's command line.
#[allow(clippy::too_many_arguments)]
pub fn simulate_live(
    sim: SimConfig,
    cfg: Config,
    mut stage: CaptureStage,
    url: &str,
    spool: &std::path::Path,
    format: crate::table::Format,
    seconds: f64,
    out: &mut (dyn std::io::Write + Send),
) -> Result<LiveRun, DemoError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use vitrine_publish::consume::{Received, subscribe};

    let publishing_error = |source| DemoError::Publishing {
        url: url.to_owned(),
        source,
    };
    let duration_s = f64::from(sim.duration_s);
    let (start, scene) = (sim.start_unix_s, door_scene(&sim));
    let (frames, truth) = Simulator::new(sim).run();
    let broker =
        crate::publishing::new_broker(url, "demo-store", "rig-1").map_err(publishing_error)?;
    let mut publishing = crate::publishing::Publishing::start(broker, spool, Default::default())
        .map_err(publishing_error)?;
    // How many summaries the viewer shows before it stops: known at the end.
    let expected = AtomicU64::new(u64::MAX);
    let broker = publishing.broker().clone();
    std::thread::scope(|scope| {
        // Scoped, so that the viewer writes to the caller's `out`.
        // One reader per sensor's topic; the viewer joins their parts by
        // window and shows a row once it has both.
        let (parts_tx, parts_rx) = std::sync::mpsc::channel::<Summary>();
        for (sensor, id) in [
            ("wifi", "vitrine-demo-viewer"),
            ("camera", "vitrine-demo-viewer-camera"),
        ] {
            let (tx, broker, expected) = (parts_tx.clone(), &broker, &expected);
            scope.spawn(move || {
                let mut received = 0u64;
                let _ = subscribe(&broker.broker, id, &broker.topic(sensor), |r| {
                    if let Received::Summary { envelope, .. } = r {
                        received += 1;
                        let _ = tx.send(envelope.summary);
                    }
                    if received >= expected.load(Ordering::SeqCst) {
                        std::ops::ControlFlow::Break(())
                    } else {
                        std::ops::ControlFlow::Continue(())
                    }
                });
            });
        }
        drop(parts_tx);
        let consumer = scope.spawn(|| {
            let mut shown = 0u64;
            // The first write error; the viewer keeps reading to the end
            // but writes no more.
            let mut failed = None;
            let mut halves: std::collections::BTreeMap<String, Summary> = Default::default();
            for part in parts_rx {
                let whole = match halves.remove(&part.window_start) {
                    None => {
                        halves.insert(part.window_start.clone(), part);
                        continue;
                    }
                    Some(other) => {
                        // Whichever topic's part came first, the Wi-Fi
                        // part's withheld entries come first, as in the
                        // summary the parts were split from.
                        let (mut whole, camera) = if other.wifi.is_some() {
                            (other, part)
                        } else {
                            (part, other)
                        };
                        whole.wifi = whole.wifi.or(camera.wifi);
                        whole.camera = whole.camera.or(camera.camera);
                        whole.suppressed.extend(camera.suppressed);
                        whole
                    }
                };
                if failed.is_none() {
                    let row = crate::table::render(&whole, shown, format);
                    if let Err(e) = out.write_all(row.as_bytes()).and_then(|()| out.flush()) {
                        failed = Some(e);
                    }
                }
                shown += 1;
            }
            failed
        });
        // Let the viewer subscribe before the first window closes.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut source = SimSource::new(frames);
        let mut paced =
            vitrine_wifi_capture::Paced::new(&mut source, (duration_s / seconds.max(0.1)).max(1.0));
        let mut summaries = Vec::new();
        let mut error = None;
        let mut clip = SceneFrames::new(&scene, start);
        let (_, _, result) = crate::run_with_clip(
            &mut paced,
            &mut stage,
            cfg,
            &mut clip,
            scene_settings(&scene),
            &mut |s| {
                if let Err(e) = publishing.push(s.clone()) {
                    error.get_or_insert(e);
                }
                summaries.push(s);
            },
        );
        result.expect("an in-memory source cannot fail");
        let published = match error {
            Some(e) => Err(publishing_error(e)),
            None => {
                let bytes = publishing.bytes;
                publishing.finish(std::time::Duration::from_secs(10));
                Ok(bytes)
            }
        };
        // The viewer stops once it has shown every summary published (at
        // its next idle moment after an error).
        let count = summaries.len() as u64;
        expected.store(if published.is_ok() { count } else { 0 }, Ordering::SeqCst);
        // A viewer that panicked has shown what it could, as before.
        let failed = consumer.join().unwrap_or_default();
        let bytes = published?;
        if let Some(source) = failed {
            return Err(DemoError::Show {
                url: url.to_owned(),
                source,
            });
        }
        Ok((summaries, truth, (count, bytes)))
    })
}
