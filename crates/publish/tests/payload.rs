//! Payloads: round trips, dictionaries, and the standard zstd tool.

use std::process::Command;

use vitrine_publish::payload::{SHIPPED_DICT, frame_dictionary_id};
use vitrine_publish::{Codec, Envelope, PayloadError};
use vitrine_schema::Summary;

fn envelope(seq: u64) -> Envelope {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/schema/summary-v1.example.json"
    );
    let summary: Summary = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Envelope {
        site: "store-0042".into(),
        rig: "rig-01".into(),
        boot: "0b5e7c1d9a2f4e63".into(),
        seq,
        summary,
    }
}

#[test]
fn a_payload_round_trips_and_names_its_dictionary() {
    let codec = Codec::shipped();
    assert_ne!(codec.dict_id(), 0, "the shipped dictionary has an id");
    let e = envelope(7);
    let payload = codec.encode(&e);
    assert_eq!(frame_dictionary_id(&payload), Some(codec.dict_id()));
    assert_eq!(codec.decode(&payload).unwrap(), e);
    let json = serde_json::to_vec(&e).unwrap();
    assert!(
        payload.len() * 4 < json.len(),
        "{} compressed vs {} plain",
        payload.len(),
        json.len()
    );
}

#[test]
fn a_decoder_without_the_dictionary_says_which_one_is_needed() {
    let payload = Codec::shipped().encode(&envelope(1));
    match Codec::plain().decode(&payload) {
        Err(PayloadError::WrongDictionary { needed, have: 0 }) => {
            assert_eq!(needed, Codec::shipped().dict_id())
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Codec::shipped().decode(b"not zstd at all"),
        Err(PayloadError::Decompress(_))
    ));
    let plain = Codec::plain().encode(&envelope(2));
    assert_eq!(frame_dictionary_id(&plain), None);
    assert_eq!(Codec::plain().decode(&plain).unwrap().seq, 2);
}

#[test]
fn the_zstd_command_line_tool_decodes_payloads_with_the_dictionary() {
    let dir = tempfile::tempdir().unwrap();
    let dict = dir.path().join("summary-v1.zdict");
    std::fs::write(&dict, SHIPPED_DICT).unwrap();
    let e = envelope(42);
    let payload = dir.path().join("payload.zst");
    std::fs::write(&payload, Codec::shipped().encode(&e)).unwrap();
    let out = Command::new("zstd")
        .args(["-d", "-c", "-D"])
        .arg(&dict)
        .arg(&payload)
        .output()
        .expect("zstd is installed by the test command");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded: Envelope = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decoded, e);
    assert_eq!(
        out.stdout,
        serde_json::to_vec(&e).unwrap(),
        "byte for byte the JSON that was compressed"
    );
}
