//! The demo: simulated store traffic through the real pipeline.

use vitrine_aggregate::Config;
use vitrine_capture::{CaptureStage, FrameSource, LinkType, Packet, SourceError};
use vitrine_schema::Summary;
use vitrine_sim::{GroundTruth, SimConfig, SimFrame, Simulator};

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
        let Some(f) = self.frames.get(self.next) else { return Ok(None) };
        self.next += 1;
        Ok(Some(Packet { ts_us: f.ts_us, link: LinkType::Radiotap, data: &f.bytes }))
    }
}

/// The simulation used by the demo: `minutes` of a store.
pub fn sim_config(minutes: u32, seed: u64, arrivals_per_hour: f64) -> SimConfig {
    SimConfig { seed, duration_s: minutes * 60, arrivals_per_hour, ..SimConfig::quiet_store() }
}

/// Runs the pipeline over simulated traffic; returns the summaries and the
/// simulator's ground truth.
pub fn simulate(sim: SimConfig, cfg: Config, mut stage: CaptureStage) -> (Vec<Summary>, GroundTruth) {
    let (frames, truth) = Simulator::new(sim).run();
    let mut source = SimSource::new(frames);
    let mut summaries = Vec::new();
    let (_, result) = crate::run(&mut source, &mut stage, cfg, &mut |s| summaries.push(s));
    result.expect("an in-memory source cannot fail");
    (summaries, truth)
}

/// The closing explanation: what was published against what was true.
pub fn report(summaries: &[Summary], truth: &GroundTruth, window_s: u32) -> String {
    let probes: u64 = summaries.iter().map(|s| s.wifi.frames.probe_req).sum();
    let truth_windows = truth.windows(window_s);
    let mut est_err = Vec::new();
    let mut naive_err = Vec::new();
    for s in summaries {
        let Some(t) = truth_windows.iter().find(|t| vitrine_schema_start(s) == Some(t.start_unix_s)) else { continue };
        if t.devices > 0 {
            let d = t.devices as f64;
            est_err.push((s.wifi.devices.estimated as f64 - d).abs() / d);
            naive_err.push((s.wifi.devices.distinct_macs as f64 - d).abs() / d);
        }
    }
    let suppressed: usize = summaries.iter().map(|s| s.suppressed.len()).sum();
    format!(
        "What the simulator knows and the rig never published:\n  \
         {} probe requests counted (truth {}), {} devices in all behind {} MAC addresses, {} of them randomized.\n  \
         Per window, the device estimate is off by {:.0} % (median) from the true number of devices nearby;\n  \
         counting MAC addresses instead would be off by {:.0} %.\n  \
         {} small bins were withheld (fewer than k devices), so no one can be singled out.\n\
         No MAC address, SSID or pseudonym was written anywhere: the key that made pseudonyms lived only in memory.",
        probes,
        truth.probe_requests,
        truth.devices,
        truth.distinct_macs,
        truth.randomized_macs,
        100.0 * median(&mut est_err),
        100.0 * median(&mut naive_err),
        suppressed
    )
}

fn vitrine_schema_start(s: &Summary) -> Option<i64> {
    time_of(&s.window_start)
}

/// Unix seconds of an RFC 3339 UTC timestamp as written in summaries.
pub fn time_of(rfc3339: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp())
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
