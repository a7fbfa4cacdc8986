//! Known MAC addresses and SSIDs go in; none of them may come out, in any
//! encoding, on stdout, stderr (logs) or as files.

use std::process::Command;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use vitrine_dot11::build::{probe_request, templates};
use vitrine_sim::{SimFrame, write_pcap};

const CANARY_MACS: [[u8; 6]; 3] = [
    [0x02, 0xca, 0xfe, 0x00, 0x00, 0x01], // randomized
    [0x3c, 0x22, 0xfb, 0x12, 0x34, 0x56], // globally unique (Apple OUI)
    [0xda, 0xa1, 0x19, 0xbe, 0xef, 0x42], // randomized, seen many times
];
const CANARY_SSIDS: [&str; 2] = ["CanaryHomeNet-7731", "Vitrine-Canary-Office"];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every form of `text` and `raw` a careless pipeline might write.
fn encodings(texts: &[String], raw: &[u8]) -> Vec<Vec<u8>> {
    let mut forms: Vec<Vec<u8>> = vec![
        raw.to_vec(),
        hex(raw).into_bytes(),
        hex(raw).to_uppercase().into_bytes(),
    ];
    let mut inputs: Vec<Vec<u8>> = texts.iter().map(|t| t.clone().into_bytes()).collect();
    inputs.push(raw.to_vec());
    for input in inputs {
        forms.push(input.clone());
        for digest in [
            hex(&Md5::digest(&input)),
            hex(&Sha1::digest(&input)),
            hex(&Sha256::digest(&input)),
        ] {
            // Vendors also publish truncated digests.
            forms.push(digest.as_bytes()[..12].to_vec());
            forms.push(digest[..12].to_uppercase().into_bytes());
            forms.push(digest.into_bytes());
        }
    }
    forms
}

fn mac_texts(m: &[u8; 6]) -> Vec<String> {
    let parts: Vec<String> = m.iter().map(|b| format!("{b:02x}")).collect();
    let lower = [
        parts.join(":"),
        parts.join("-"),
        parts.concat(),
        format!(
            "{}.{}.{}",
            &parts[..2].concat(),
            &parts[2..4].concat(),
            &parts[4..].concat()
        ),
    ];
    lower
        .iter()
        .flat_map(|s| [s.clone(), s.to_uppercase()])
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len()
        && haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

#[test]
fn no_mac_ssid_or_pseudonym_reaches_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("canaries.pcap");
    let t0 = 1_700_000_100_000_000i64;
    // Probe requests as the simulator builds them (an iPhone's elements),
    // from three canary MACs, half of them naming a canary network.
    let frames: Vec<SimFrame> = (0..400i64)
        .map(|i| {
            let mac = CANARY_MACS[(i % 3) as usize];
            let ssid = (i % 2 == 0).then(|| CANARY_SSIDS[(i / 2 % 2) as usize].as_bytes());
            SimFrame {
                ts_us: t0 + i * 1_500_000,
                bytes: probe_request(mac, (i * 3) as u16, ssid, templates::IPHONE_IOS_17, 6, -55),
            }
        })
        .collect();
    write_pcap(&pcap, &frames).unwrap();
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();

    let mut output = Vec::new();
    for (format, log_format) in [("jsonl", "json"), ("table", "text")] {
        let out = Command::new(env!("CARGO_BIN_EXE_vitrined"))
            .current_dir(dir.path())
            .env("VITRINE_LOG", "trace")
            .args(["--log-format", log_format, "replay", "--pcap"])
            .arg(&pcap)
            // The smallest k allowed, so that as much as possible is published.
            .args(["--format", format, "--k", "2"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty() && !out.stderr.is_empty());
        output.extend_from_slice(&out.stdout);
        output.extend_from_slice(&out.stderr);
    }
    // The pipeline did see the devices (so the search below means something).
    let text = String::from_utf8_lossy(&output);
    assert!(text.contains("\"distinct_macs\":3"), "{text}");
    assert!(text.contains("\"ssid_leaking\":3"), "{text}");

    for mac in &CANARY_MACS {
        for form in encodings(&mac_texts(mac), mac) {
            assert!(
                !contains(&output, &form),
                "a MAC address leaked as {:?}",
                String::from_utf8_lossy(&form)
            );
        }
    }
    for ssid in CANARY_SSIDS {
        for form in encodings(&[ssid.to_string()], ssid.as_bytes()) {
            assert!(
                !contains(&output, &form),
                "an SSID leaked as {:?}",
                String::from_utf8_lossy(&form)
            );
        }
    }
    // Pseudonyms are 64-bit keyed hashes: any long hex run would be one.
    let longest_hex = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap();
    assert!(
        longest_hex < 12,
        "a long hexadecimal string appeared in the output"
    );

    let after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "replay must not write files");
}

#[test]
fn the_leak_search_finds_what_it_looks_for() {
    // The oracle itself: a line that does contain a canary is caught in each form.
    let mac = CANARY_MACS[1];
    for form in encodings(&mac_texts(&mac), &mac) {
        let line = [b"log: device ".as_slice(), &form, b" seen"].concat();
        assert!(contains(&line, &form));
    }
    let sha = hex(&Sha256::digest(b"3c:22:fb:12:34:56"));
    let forms = encodings(&mac_texts(&mac), &mac);
    assert!(forms.iter().any(|f| f == sha.as_bytes()));
    assert!(forms.iter().any(|f| f == &sha.as_bytes()[..12]));
}
