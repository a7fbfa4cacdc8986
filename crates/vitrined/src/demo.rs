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
        let Some(f) = self.frames.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        Ok(Some(Packet {
            ts_us: f.ts_us,
            link: LinkType::Radiotap,
            data: &f.bytes,
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

/// Runs the pipeline over simulated traffic; returns the summaries and the
/// simulator's ground truth.
pub fn simulate(
    sim: SimConfig,
    cfg: Config,
    mut stage: CaptureStage,
) -> (Vec<Summary>, GroundTruth) {
    let (frames, truth) = Simulator::new(sim).run();
    let mut source = SimSource::new(frames);
    let mut summaries = Vec::new();
    let (_, result) = crate::run(&mut source, &mut stage, cfg, &mut |s| summaries.push(s));
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
        if v > 0 {
            let v = v as f64;
            est_err.push((s.wifi.devices.estimated as f64 - v).abs() / v);
            naive_err.push((s.wifi.devices.distinct_macs as f64 - v).abs() / v);
        }
    }
    (median(&mut est_err), median(&mut naive_err))
}

/// The closing explanation: what was published against what was true.
pub fn report(summaries: &[Summary], truth: &GroundTruth, window_s: u32) -> String {
    let probes: u64 = summaries.iter().map(|s| s.wifi.frames.probe_req).sum();
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
