//! The written pcap files are read back by an independent parser and, when
//! installed, by tshark.

use std::path::Path;
use std::process::Command;

use vitrine_sim::{DeviceSpec, PcapWriter, SimConfig, Simulator, models, write_pcap};

fn config() -> SimConfig {
    SimConfig {
        duration_s: 300,
        seed: 99,
        ..SimConfig::busy_store()
    }
}

#[test]
fn pcap_round_trips_through_pcap_parser() {
    let (frames, truth) = Simulator::new(config()).run();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.pcap");
    write_pcap(&path, &frames).unwrap();

    let data = std::fs::read(&path).unwrap();
    let (rest, capture) = pcap_parser::parse_pcap(&data).unwrap();
    assert!(rest.is_empty());
    assert_eq!(capture.header.network.0, 127);
    assert_eq!(capture.blocks.len() as u64, truth.frames);
    for (block, frame) in capture.blocks.iter().zip(&frames) {
        let ts = i64::from(block.ts_sec) * 1_000_000 + i64::from(block.ts_usec);
        assert_eq!(ts, frame.ts_us);
        assert_eq!(block.data, frame.bytes.as_slice());
        assert_eq!(block.caplen, block.origlen);
    }
}

#[test]
fn streaming_writer_matches_write_pcap() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.pcap");
    let (frames, _) = Simulator::new(config()).run();
    write_pcap(&a, &frames).unwrap();

    let mut w = PcapWriter::new(Vec::new()).unwrap();
    let mut err = None;
    Simulator::new(config()).run_with(|f| {
        if let Err(e) = w.write(f) {
            err.get_or_insert(e);
        }
    });
    assert!(err.is_none());
    assert_eq!(w.finish().unwrap(), std::fs::read(&a).unwrap());
}

fn tshark(args: &[&str], file: &Path) -> Option<String> {
    let out = match Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: skipping tshark check, tshark not runnable: {e}");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn tshark_reads_the_pcap_without_malformed_packets() {
    let (frames, truth) = Simulator::new(config()).run();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.pcap");
    write_pcap(&path, &frames).unwrap();

    let fields = [
        "-T",
        "fields",
        "-e",
        "wlan.fc.type_subtype",
        "-e",
        "wlan.ta",
        "-e",
        "wlan.seq",
        "-e",
        "radiotap.dbm_antsignal",
        "-e",
        "radiotap.channel.freq",
    ];
    let Some(listing) = tshark(&fields, &path) else {
        return;
    };
    let rows: Vec<Vec<&str>> = listing.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len() as u64, truth.frames);
    let probes = rows
        .iter()
        .filter(|r| r[0] == "0x0004" || r[0] == "4")
        .count() as u64;
    assert_eq!(probes, truth.probe_requests);
    for (row, frame) in rows.iter().zip(&frames) {
        let b = &frame.bytes;
        let ta: Vec<String> = b[25..31].iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(row[1], ta.join(":"));
        assert_eq!(
            row[2],
            (u16::from_le_bytes([b[37], b[38]]) >> 4).to_string()
        );
        assert_eq!(row[3], (b[14] as i8).to_string());
        assert_eq!(row[4], u16::from_le_bytes([b[10], b[11]]).to_string());
    }

    let malformed = tshark(&["-Y", "_ws.malformed"], &path).unwrap();
    assert!(
        malformed.trim().is_empty(),
        "malformed packets:\n{malformed}"
    );
    // Anything tshark flags at warning level or above (bad lengths, etc.).
    let flagged = tshark(&["-Y", "_ws.expert.severity >= 0x00600000"], &path).unwrap();
    assert!(flagged.trim().is_empty(), "expert warnings:\n{flagged}");
}

#[test]
fn tshark_decodes_every_model_cleanly() {
    // One resident device per model, so rare models (the laptop's WPS
    // element, the wearable) are always covered.
    let devices = (0..models().len())
        .map(|m| DeviceSpec::resident(m, 5.0))
        .collect();
    let (frames, truth) = Simulator::with_population(config(), devices).run();
    assert_eq!(truth.devices, models().len() as u64);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.pcap");
    write_pcap(&path, &frames).unwrap();

    // Spot-check that the distinctive elements are decoded as such.
    for filter in [
        "wps.uuid_e",
        "wlan.tag.oui == 0x0017f2",
        "wlan.ext_tag.number == 35",
        "wlan.tag.oui == 0x00904c",
    ] {
        let Some(hits) = tshark(&["-Y", filter], &path) else {
            return;
        };
        assert!(!hits.trim().is_empty(), "nothing matches {filter}");
    }
    let flagged = tshark(
        &["-Y", "_ws.malformed || _ws.expert.severity >= 0x00600000"],
        &path,
    )
    .unwrap();
    assert!(flagged.trim().is_empty(), "flagged packets:\n{flagged}");
}
