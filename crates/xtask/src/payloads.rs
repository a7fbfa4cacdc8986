//! Payload sizes: training the shipped dictionary, and bytes per day per rig.

use std::path::Path;

use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_publish::{Codec, Envelope};
use vitrine_sim::{SimConfig, Simulator};
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::CaptureStage;
use vitrined::demo::SimSource;

/// Envelopes of simulated summaries (60 s windows) as they would be published.
pub fn simulated_envelopes(sim: SimConfig) -> Vec<Envelope> {
    let (frames, _) = Simulator::new(sim).run();
    let mut stage = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    let mut out = Vec::new();
    let (_, result) = vitrined::run(
        &mut SimSource::new(frames),
        &mut stage,
        Config::default(),
        &mut |summary| {
            let seq = out.len() as u64;
            out.push(Envelope {
                site: "store-0042".into(),
                rig: "rig-01".into(),
                boot: "6f1c2a9e4b7d4e21".into(),
                seq,
                summary,
            });
        },
    );
    result.expect("in-memory source");
    out
}

pub fn train_dict(root: &Path) -> anyhow::Result<()> {
    let mut samples = Vec::new();
    for seed in 1..=6u64 {
        let base = if seed % 2 == 0 {
            SimConfig::busy_store()
        } else {
            SimConfig::quiet_store()
        };
        let sim = SimConfig {
            seed,
            duration_s: 3 * 3600,
            start_unix_s: base.start_unix_s + seed as i64 * 86_400,
            ..base
        };
        for e in simulated_envelopes(sim) {
            samples.push(serde_json::to_vec(&e)?);
        }
    }
    let dict = vitrine_publish::payload::train(&samples, 16 * 1024)?;
    let path = root.join("crates/publish/dict/summary-v1.zdict");
    std::fs::write(&path, &dict)?;
    let codec = Codec::with_dictionary(dict);
    eprintln!(
        "xtask: {} samples, dictionary id {} ({} bytes) written to {}",
        samples.len(),
        codec.dict_id(),
        codec.dictionary().len(),
        path.display()
    );
    Ok(())
}

/// Bytes per day per rig at 60 s windows for a busy store: plain JSON, zstd,
/// zstd with the shipped dictionary. Returns a Markdown table.
pub fn bytes_per_day() -> String {
    let sim = SimConfig {
        duration_s: 86_400,
        seed: 0xda7a,
        ..SimConfig::busy_store()
    };
    let envelopes = simulated_envelopes(sim);
    let days = envelopes.len() as f64 * 60.0 / 86_400.0;
    let (plain, dict) = (Codec::plain(), Codec::shipped());
    let mut sizes = [0usize; 3];
    for e in &envelopes {
        let json = serde_json::to_vec(e).expect("envelopes serialize");
        sizes[0] += json.len();
        sizes[1] += plain.compress(&json).len();
        let payload = dict.compress(&json);
        assert_eq!(dict.decode(&payload).expect("round trip"), *e);
        sizes[2] += payload.len();
    }
    let mut out = format!(
        "{} summaries (60 s windows, simulated busy store, one day; seed 0xda7a, not a training seed):\n\n\
         | encoding | bytes/day | bytes/summary | vs plain JSON |\n|---|---|---|---|\n",
        envelopes.len()
    );
    for (name, total) in [
        ("plain JSON", sizes[0]),
        ("zstd -19", sizes[1]),
        ("zstd -19 + shipped dictionary", sizes[2]),
    ] {
        out += &format!(
            "| {name} | {:.0} KB | {:.0} | {:.1}x smaller |\n",
            total as f64 / days / 1000.0,
            total as f64 / envelopes.len() as f64,
            sizes[0] as f64 / total as f64
        );
    }
    out
}
