//! Reading capture files: formats, damage, and interoperability with
//! Wireshark's tools.

use std::path::Path;
use std::process::Command;

use vitrine_wifi_capture::{FrameSource, LinkType, PcapFile, SourceError};

fn pcap(link: u32, packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&link.to_le_bytes());
    for (s, us, data) in packets {
        for v in [*s, *us, data.len() as u32, data.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(data);
    }
    out
}

fn read_all(path: &Path) -> (Vec<(i64, LinkType, usize)>, Option<SourceError>) {
    let mut src = PcapFile::open(path).unwrap();
    let mut out = Vec::new();
    loop {
        match src.next_packet() {
            Ok(Some(p)) => out.push((p.ts_us, p.link, p.data.len())),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[test]
fn packets_come_out_with_their_times_and_a_cut_off_tail_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pcap");
    let mut bytes = pcap(
        127,
        &[
            (10, 5, &[1; 30]),
            (11, 999_999, &[2; 40]),
            (12, 0, &[3; 50]),
        ],
    );
    bytes.truncate(bytes.len() - 20);
    std::fs::write(&path, bytes).unwrap();
    let (packets, err) = read_all(&path);
    assert_eq!(
        packets,
        vec![
            (10_000_005, LinkType::Radiotap, 30),
            (11_999_999, LinkType::Radiotap, 40)
        ]
    );
    assert!(
        matches!(err, Some(SourceError::Truncated { .. })),
        "{err:?}"
    );
}

#[test]
fn files_that_are_not_802_11_captures_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a capture at all, just some text").unwrap();
    let err = PcapFile::open(&text)
        .err()
        .or_else(|| read_all(&text).1)
        .unwrap();
    assert!(err.to_string().contains("notes.txt"), "{err}");

    let ethernet = dir.path().join("ethernet.pcap");
    std::fs::write(&ethernet, pcap(1, &[(1, 0, &[0; 60])])).unwrap();
    let err = read_all(&ethernet).1.unwrap();
    assert!(
        matches!(err, SourceError::LinkType { link: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("ethernet.pcap"));
}

#[test]
fn pcapng_written_by_editcap_reads_like_the_original_pcap() {
    let Ok(_) = Command::new("editcap").arg("-h").output() else {
        panic!("editcap (Wireshark) is needed: the test command installs it");
    };
    let original = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/captures/lab-occupancy/sc6-61_2023-04-13_anonymized.pcap");
    let dir = tempfile::tempdir().unwrap();
    let ng = dir.path().join("converted.pcapng");
    let status = Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(&original)
        .arg(&ng)
        .status()
        .unwrap();
    assert!(status.success());
    let (a, err_a) = read_all(&original);
    let (b, err_b) = read_all(&ng);
    assert!(err_a.is_none() && err_b.is_none());
    assert_eq!(a.len(), 2_064);
    assert_eq!(a, b);

    // Two sections back to back (what `cat` of two pcapng files gives): the
    // second section's interfaces replace the first's.
    let twice = dir.path().join("twice.pcapng");
    let bytes = std::fs::read(&ng).unwrap();
    std::fs::write(&twice, [bytes.clone(), bytes].concat()).unwrap();
    let (c, err_c) = read_all(&twice);
    assert!(err_c.is_none(), "{err_c:?}");
    assert_eq!(c, [a.clone(), a.clone()].concat());

    // Nanosecond pcap.
    let nsec = dir.path().join("nsec.pcap");
    let status = Command::new("editcap")
        .args(["-F", "nsecpcap"])
        .arg(&original)
        .arg(&nsec)
        .status()
        .unwrap();
    assert!(status.success());
    let (d, err_d) = read_all(&nsec);
    assert!(err_d.is_none());
    assert_eq!(d, a);
}
