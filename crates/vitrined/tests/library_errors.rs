//! The library's typed errors say what failed and where, with their causes
//! chained; the demo writes its rows to the writer it is given.

use std::error::Error;
use std::io::Write;

use vitrine_privacy::{IgnoreList, RotationPolicy};
use vitrine_wifi_aggregate::Config;
use vitrine_wifi_capture::CaptureStage;
use vitrined::demo::{DemoError, LocalBroker, sim_config, simulate_live};
use vitrined::eval::{EvalError, occupancy_mape};
use vitrined::publishing::{PublishingError, new_broker};
use vitrined::table::Format;

#[test]
fn a_bad_broker_url_is_named_with_its_cause() {
    let e = new_broker("http://broker.example", "s", "r").unwrap_err();
    assert!(matches!(e, PublishingError::BrokerUrl { .. }), "{e:?}");
    assert!(e.to_string().contains("http://broker.example"), "{e}");
    assert!(e.source().is_some(), "the parser's reason is chained");
}

#[test]
fn a_bad_rig_id_names_the_broker() {
    let e = new_broker("mqtt://127.0.0.1:1883", "s", "r/1").unwrap_err();
    assert!(matches!(e, PublishingError::Ids { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("mqtt://127.0.0.1:1883") && text.contains("rig id"),
        "{text}"
    );
}

#[test]
fn a_missing_occupancy_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = occupancy_mape(dir.path(), Config::default()).unwrap_err();
    assert!(matches!(e, EvalError::NoDays { .. }), "{e:?}");
    assert!(
        e.to_string().contains(&dir.path().display().to_string()),
        "{e}"
    );
    // A capture without its labels.
    std::fs::write(dir.path().join("day-1_anonymized.pcap"), b"").unwrap();
    let e = occupancy_mape(dir.path(), Config::default()).unwrap_err();
    let EvalError::Read { path, source } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(path.starts_with(dir.path()));
    assert!(e.to_string().contains("_ver-99.csv"), "{e}");
}

fn stage() -> CaptureStage {
    CaptureStage::new(RotationPolicy::default(), IgnoreList::default())
}

#[test]
fn demo_rows_go_to_the_writer_given() {
    let dir = tempfile::tempdir().unwrap();
    let broker = LocalBroker::start(&dir.path().join("broker")).unwrap();
    let mut out = Vec::new();
    let (summaries, _, (count, bytes)) = simulate_live(
        sim_config(10, 7, 240.0),
        Config {
            window_s: 300,
            ..Config::default()
        },
        stage(),
        &broker.url(),
        &dir.path().join("spool"),
        Format::Jsonl,
        0.5,
        &mut out,
    )
    .unwrap();
    assert_eq!(count, 2, "two 5-minute windows in 10 minutes");
    assert!(bytes > 0);
    // What came back from the broker, in order, one JSON line each.
    let expected: String = summaries.iter().map(|s| s.to_json_line() + "\n").collect();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

/// A writer that refuses everything, like a closed pipe.
struct Closed;

impl Write for Closed {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_writer_that_fails_is_reported_with_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let broker = LocalBroker::start(&dir.path().join("broker")).unwrap();
    let e = simulate_live(
        sim_config(5, 7, 240.0),
        Config::default(),
        stage(),
        &broker.url(),
        &dir.path().join("spool"),
        Format::Table,
        0.5,
        &mut Closed,
    )
    .unwrap_err();
    let DemoError::Show { url, source } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*url, broker.url());
    assert_eq!(source.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(e.to_string().contains(&broker.url()), "{e}");
}
