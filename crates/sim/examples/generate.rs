//! Writes a simulated capture: `generate OUT.pcap [busy|quiet] [duration_s] [seed]`.
//! Prints the ground truth and generation speed.

use std::path::PathBuf;
use std::time::Instant;

use vitrine_sim::{PcapWriter, SimConfig, Simulator};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "sim.pcap".to_owned()));
    let mut cfg = match args.next().as_deref() {
        Some("quiet") => SimConfig::quiet_store(),
        _ => SimConfig::busy_store(),
    };
    if let Some(d) = args.next() {
        cfg.duration_s = d.parse().expect("duration_s must be an integer");
    }
    if let Some(s) = args.next() {
        cfg.seed = s.parse().expect("seed must be an integer");
    }

    let start = Instant::now();
    let mut writer = PcapWriter::create(&out)?;
    let mut result = Ok(());
    let truth = Simulator::new(cfg).run_with(|f| {
        if result.is_ok() {
            result = writer.write(f);
        }
    });
    result?;
    writer.finish()?;
    let elapsed = start.elapsed();
    println!(
        "{}: {} frames ({} probe requests, {} beacons, {} data) in {:.2?}",
        out.display(),
        truth.frames,
        truth.probe_requests,
        truth.beacons,
        truth.data_frames,
        elapsed
    );
    println!(
        "{} devices, {} distinct MACs ({} randomized), {} visitors, {} passers-by",
        truth.devices, truth.distinct_macs, truth.randomized_macs, truth.visitors, truth.passers_by
    );
    Ok(())
}
