//! `vitrine-audit inject`: a capture file's frames sent over the air.

pub fn run(
    interface: &str,
    monitor: &str,
    channel: u8,
    pcap: &std::path::Path,
    speed: f64,
) -> anyhow::Result<()> {
    use vitrine_wifi_capture::{FrameSource, LinkType, PcapFile};
    let mut file = PcapFile::open(pcap)?;
    let mut injector = vitrine_radio::Injector::open(interface, monitor, channel)?;
    let mut paced;
    let source: &mut dyn FrameSource = if speed > 0.0 {
        paced = vitrine_wifi_capture::Paced::new(&mut file, speed);
        &mut paced
    } else {
        &mut file
    };
    let started = std::time::Instant::now();
    let mut skipped = 0u64;
    while let Some(packet) = source.next_packet()? {
        let frame = match packet.link {
            LinkType::Ieee80211 => packet.data,
            LinkType::Radiotap => match vitrine_dot11::radiotap::parse(packet.data) {
                Ok((radio, frame)) if radio.fcs_at_end && frame.len() >= 4 => {
                    &frame[..frame.len() - 4]
                }
                Ok((_, frame)) => frame,
                Err(_) => {
                    skipped += 1;
                    continue;
                }
            },
        };
        injector.send(frame)?;
    }
    let line = serde_json::json!({
        "sent": injector.sent(),
        "skipped": skipped,
        "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    });
    println!("{line}");
    Ok(())
}
