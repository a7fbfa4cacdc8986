//! Sending canaries over the air: probe requests from each canary MAC, some
//! naming a canary SSID, as a phone looking for its home network would.

use std::time::Duration;

use time::OffsetDateTime;
use vitrine_canary::Registry;
use vitrine_dot11::build;

/// The elements of the canary probe requests: an iPhone's (iOS 17).
const IPHONE: &[build::Ie] = build::templates::IPHONE_IOS_17;

/// Transmits `rounds` probe requests from every MAC canary on `channel`
/// through a monitor interface created on `interface`, and records the
/// emission time in the registry. Returns the frames sent.
pub fn over_the_air(
    registry: &mut Registry,
    interface: &str,
    monitor: &str,
    channel: u8,
    rounds: u32,
) -> Result<u64, vitrine_radio::RadioError> {
    let mut injector = vitrine_radio::Injector::open(interface, monitor, channel)?;
    let frames = frames(registry, channel, rounds);
    let at = OffsetDateTime::now_utc();
    for frame in &frames {
        injector.send(frame)?;
        // Spread the burst a little, as a real phone's probes are.
        std::thread::sleep(Duration::from_millis(5));
    }
    registry.mark_emitted(at);
    Ok(injector.sent())
}

/// The 802.11 frames (no radiotap) that carry the canaries.
pub fn frames(registry: &Registry, channel: u8, rounds: u32) -> Vec<Vec<u8>> {
    let ssids: Vec<&str> = registry.ssids().map(|(_, s)| s).collect();
    let mut out = Vec::new();
    for round in 0..rounds {
        for (i, (_, mac)) in registry.macs().enumerate() {
            // Wildcard probes and directed ones, so SSID canaries go out too.
            let ssid = (!ssids.is_empty() && (i + round as usize).is_multiple_of(2))
                .then(|| ssids[(i + round as usize) % ssids.len()].as_bytes());
            let frame = build::probe_request(mac, round as u16, ssid, IPHONE, channel, -40);
            out.push(frame[build::RADIOTAP_LEN..].to_vec());
        }
    }
    out
}
