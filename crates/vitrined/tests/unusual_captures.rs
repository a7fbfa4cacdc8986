//! Capture files as sensors and tools really write them: cut by a snapshot
//! length, pcapng with interfaces of other link types or Simple Packet
//! Blocks, link-type flag bits, a timestamp that leaps. Each is held against
//! what tshark reads in the same file, or against the simulator's truth.

use std::path::{Path, PathBuf};
use std::process::Command;

use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_schema::Summary;
use vitrine_sim::{SimConfig, SimFrame, Simulator};
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::{CaptureStage, PcapFile};
use vitrined::RunStats;

/// One window of a week: a whole capture in one summary.
fn week() -> Config {
    Config {
        window_s: 7 * 86_400,
        ..Config::default()
    }
}

fn replay(path: &Path, cfg: Config) -> (Vec<Summary>, RunStats) {
    let mut stage = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    let mut source = PcapFile::open(path).unwrap();
    let mut out = Vec::new();
    let (stats, result) = vitrined::run(&mut source, &mut stage, cfg, &mut |s| out.push(s));
    result.unwrap();
    (out, stats)
}

fn probe_reqs(summaries: &[Summary]) -> u64 {
    summaries
        .iter()
        .map(|s| s.wifi.as_ref().unwrap().frames.probe_req)
        .sum()
}

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} is needed (cargo xtask deps installs it): {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Probe requests tshark reads in `file`, and their distinct transmitters.
fn tshark_probes(file: &Path) -> (u64, usize) {
    let out = tool(
        "tshark",
        &[
            "-n",
            "-r",
            file.to_str().unwrap(),
            "-Y",
            "wlan.fc.type_subtype == 4",
            "-T",
            "fields",
            "-e",
            "wlan.sa",
        ],
    );
    let mut macs: Vec<&str> = out.lines().collect();
    let n = macs.len() as u64;
    macs.sort_unstable();
    macs.dedup();
    (n, macs.len())
}

fn phones() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures/phones");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the shared captures at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 4);
    files
}

#[test]
fn probes_cut_by_a_small_snaplen_count_as_tshark_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    // 128 bytes is a common sensor setting; the iPhones' probe requests are
    // shorter than that, and 80 bytes cuts theirs too.
    for snaplen in ["128", "80"] {
        let mut cut_packets = 0;
        for phone in phones() {
            let cut = dir.path().join("cut.pcap");
            tool(
                "editcap",
                &[
                    "-s",
                    snaplen,
                    phone.to_str().unwrap(),
                    cut.to_str().unwrap(),
                ],
            );
            let (whole, _) = replay(&phone, week());
            let (summaries, stats) = replay(&cut, week());
            let (tshark_n, tshark_macs) = tshark_probes(&cut);
            let name = format!(
                "{} -s {snaplen}",
                phone.file_name().unwrap().to_string_lossy()
            );
            cut_packets += stats.cut;
            assert_eq!(probe_reqs(&summaries), tshark_n, "{name}");
            assert_eq!(probe_reqs(&summaries), probe_reqs(&whole), "{name}");
            let w = summaries[0].wifi.as_ref().unwrap();
            assert_eq!(
                w.frames.malformed,
                whole[0].wifi.as_ref().unwrap().frames.malformed,
                "{name}"
            );
            assert_eq!(w.devices.distinct_macs as usize, tshark_macs, "{name}");
            assert_eq!(
                w.devices.distinct_macs,
                whole[0].wifi.as_ref().unwrap().devices.distinct_macs,
                "{name}"
            );
            assert!(w.devices.estimated >= 1, "{name}: no device counted");
        }
        assert!(
            cut_packets > 1000,
            "-s {snaplen} cut only {cut_packets} packets"
        );
    }
}

// ---- pcapng, written block by block (format: draft-ietf-opsawg-pcapng) ----

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().next_multiple_of(4);
    let len = (12 + padded) as u32;
    let mut b = Vec::with_capacity(len as usize);
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(8 + padded, 0);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn section() -> Vec<u8> {
    let mut body = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    body.extend_from_slice(&[1, 0, 0, 0]);
    body.extend_from_slice(&(-1i64).to_le_bytes());
    block(0x0a0d_0d0a, &body)
}

/// An interface with microsecond timestamps (the default resolution).
fn interface(link: u16, snaplen: u32) -> Vec<u8> {
    let mut body = link.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&snaplen.to_le_bytes());
    block(1, &body)
}

fn enhanced(interface: u32, ts_us: i64, data: &[u8]) -> Vec<u8> {
    let ts = ts_us as u64;
    let mut body = interface.to_le_bytes().to_vec();
    body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    block(6, &body)
}

fn simple(data: &[u8]) -> Vec<u8> {
    let mut body = (data.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(data);
    block(3, &body)
}

/// An Ethernet frame carrying nothing in particular (an ARP request).
const ETHERNET: [u8; 42] = {
    let mut f = [0u8; 42];
    let mut i = 0;
    while i < 6 {
        f[i] = 0xff;
        i += 1;
    }
    f[12] = 0x08;
    f[13] = 0x06;
    f
};

fn store(seconds: u32) -> Vec<SimFrame> {
    let (frames, _) = Simulator::new(SimConfig {
        duration_s: seconds,
        seed: 5,
        ..SimConfig::busy_store()
    })
    .run();
    assert!(frames.len() > 100);
    frames
}

fn sim_probes(frames: &[SimFrame], cfg: Config) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.pcap");
    vitrine_sim::write_pcap(&path, frames).unwrap();
    probe_reqs(&replay(&path, cfg).0)
}

#[test]
fn ethernet_interfaces_in_a_pcapng_are_skipped_and_counted_as_tshark_reads_it() {
    let frames = store(120);
    let expected = sim_probes(&frames, week());
    let dir = tempfile::tempdir().unwrap();
    // Described first, and described only half-way through the section.
    for late in [false, true] {
        let mut file = section();
        if !late {
            file.extend(interface(1, 0));
        }
        file.extend(interface(127, 0));
        let (radio, ethernet) = if late { (0, 1) } else { (1, 0) };
        let mut ethernet_packets = 0;
        for (i, f) in frames.iter().enumerate() {
            if late && i == frames.len() / 2 {
                file.extend(interface(1, 0));
            }
            file.extend(enhanced(radio, f.ts_us, &f.bytes));
            if i % 3 == 0 && (!late || i >= frames.len() / 2) {
                file.extend(enhanced(ethernet, f.ts_us, &ETHERNET));
                ethernet_packets += 1;
            }
        }
        let path = dir.path().join("mixed.pcapng");
        std::fs::write(&path, file).unwrap();
        let (summaries, stats) = replay(&path, week());
        assert_eq!(probe_reqs(&summaries), expected, "late: {late}");
        assert_eq!(tshark_probes(&path).0, expected, "late: {late}");
        assert_eq!(stats.source.other_link, ethernet_packets, "late: {late}");
        assert_eq!(
            summaries[0].wifi.as_ref().unwrap().frames.total,
            frames.len() as u64
        );
    }
}

#[test]
fn a_pcapng_with_only_ethernet_interfaces_is_refused_by_its_link_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = section();
    file.extend(interface(1, 0));
    file.extend(enhanced(0, 1_700_000_000_000_000, &ETHERNET));
    let path = dir.path().join("ethernet.pcapng");
    std::fs::write(&path, file).unwrap();
    let mut stage = CaptureStage::new(RotationPolicy::default(), IgnoreList::default());
    let mut source = PcapFile::open(&path).unwrap();
    let (_, result) = vitrined::run(&mut source, &mut stage, week(), &mut |_| {});
    let err = result.unwrap_err().to_string();
    assert!(err.contains("link type 1 is not 802.11"), "{err}");
}

#[test]
fn simple_packet_blocks_are_read_at_the_time_of_the_packet_before_them() {
    let frames = store(120);
    let expected = sim_probes(&frames, Config::default());
    let mut file = section();
    file.extend(interface(127, 0));
    // The first packet gives the time; the rest have none of their own.
    file.extend(enhanced(0, frames[0].ts_us, &frames[0].bytes));
    for f in &frames[1..] {
        file.extend(simple(&f.bytes));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("simple.pcapng");
    std::fs::write(&path, file).unwrap();
    let (summaries, stats) = replay(&path, Config::default());
    assert_eq!(stats.source.untimed, frames.len() as u64 - 1);
    assert_eq!(probe_reqs(&summaries), expected);
    assert_eq!(tshark_probes(&path).0, expected);
    // All in the first packet's window.
    assert_eq!(summaries.len(), 1);
}

#[test]
fn simple_packet_blocks_are_cut_at_the_interface_snaplen() {
    let frames = store(60);
    let mut file = section();
    file.extend(interface(127, 100));
    file.extend(enhanced(0, frames[0].ts_us, &frames[0].bytes[..100]));
    for f in &frames[1..] {
        // The block keeps the original length; the data stops at snaplen.
        let mut body = (f.bytes.len() as u32).to_le_bytes().to_vec();
        body.extend_from_slice(&f.bytes[..f.bytes.len().min(100)]);
        file.extend(block(3, &body));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("simple-cut.pcapng");
    std::fs::write(&path, file).unwrap();
    let (summaries, stats) = replay(&path, week());
    let long = frames[1..].iter().filter(|f| f.bytes.len() > 100).count() as u64;
    assert!(long > 0);
    assert_eq!(stats.cut, long);
    assert_eq!(summaries[0].wifi.as_ref().unwrap().frames.malformed, 0);
    assert_eq!(tshark_probes(&path).0, probe_reqs(&summaries));
}

#[test]
fn link_type_flag_bits_in_a_pcap_header_are_masked() {
    let frames = store(120);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.pcap");
    vitrine_sim::write_pcap(&plain, &frames).unwrap();
    let mut bytes = std::fs::read(&plain).unwrap();
    // 0x3000007F: radiotap with the upper flag bits some tcpdump test
    // files carry (the FCS-length bits, without the bit that makes them
    // valid).
    bytes[20..24].copy_from_slice(&0x3000_007fu32.to_le_bytes());
    let flagged = dir.path().join("flagged.pcap");
    std::fs::write(&flagged, bytes).unwrap();
    let (a, _) = replay(&plain, week());
    let (b, _) = replay(&flagged, week());
    assert_eq!(a, b);
    assert_eq!(tshark_probes(&flagged).0, probe_reqs(&b));
}

#[test]
fn one_packet_dated_2106_does_not_move_the_window_clock() {
    let frames = store(600);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leap.pcap");
    vitrine_sim::write_pcap(&path, &frames).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // The 40th record's seconds set to the last second a pcap can hold.
    let mut at = 24;
    for _ in 0..40 {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        at += 16 + caplen as usize;
    }
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();

    let (summaries, stats) = replay(&path, Config::default());
    assert_eq!(stats.time_outliers, 1);
    let total: u64 = summaries
        .iter()
        .map(|s| s.wifi.as_ref().unwrap().frames.total)
        .sum();
    assert_eq!(total, frames.len() as u64, "every packet is counted once");
    // Ten minutes of capture: ten or eleven one-minute windows, all of them
    // within the capture's span.
    assert!((10..=11).contains(&summaries.len()), "{}", summaries.len());
    let first = &frames[0];
    let year = time::OffsetDateTime::from_unix_timestamp(first.ts_us / 1_000_000)
        .unwrap()
        .year()
        .to_string();
    assert!(
        summaries.iter().all(|s| s.window_start.starts_with(&year)),
        "a window left the capture's span: {:?}",
        summaries
            .iter()
            .map(|s| &s.window_start)
            .collect::<Vec<_>>()
    );
    // The same capture without the leap gives the same windows.
    let path2 = dir.path().join("steady.pcap");
    vitrine_sim::write_pcap(&path2, &frames).unwrap();
    let (steady, steady_stats) = replay(&path2, Config::default());
    assert_eq!(steady_stats.time_outliers, 0);
    assert_eq!(steady.len(), summaries.len());
}
