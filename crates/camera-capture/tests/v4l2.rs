//! The V4L2 source against what this machine has: a missing device, a
//! device that is no camera, and the kernel's `vivid` test driver where it
//! is loaded (`modprobe vivid`); without it that test says it did not run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vitrine_camera_capture::v4l2::{Event, PixelFormat, V4l2Config, V4l2Error, V4l2Source, probe};

const MISSING: &str = "/dev/video-vitrine-missing";

#[test]
fn probing_a_missing_device_names_it() {
    let e = probe(&V4l2Config::new(MISSING, 640, 480, 10)).unwrap_err();
    assert!(matches!(e, V4l2Error::NotFound { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "camera /dev/video-vitrine-missing: no such device"
    );
}

#[test]
fn a_device_that_is_no_camera_is_named() {
    // A character device that answers no V4L2 request.
    let e = probe(&V4l2Config::new("/dev/null", 640, 480, 10)).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("camera /dev/null: query capabilities: "),
        "{text}"
    );
}

#[test]
fn a_missing_device_is_lost_once_then_retried_quietly() {
    let mut cfg = V4l2Config::new(MISSING, 640, 480, 10);
    cfg.poll = Duration::from_millis(20);
    cfg.retry = Duration::from_millis(10);
    cfg.retry_max = Duration::from_millis(40);
    let mut src = V4l2Source::start(cfg).unwrap();
    let t = Instant::now();
    let first = loop {
        match src.next_event() {
            Event::Idle if t.elapsed() < Duration::from_secs(10) => continue,
            ev => break ev,
        }
    };
    match first {
        Event::Lost(e) => assert!(e.to_string().contains(MISSING), "{e}"),
        other => panic!("expected Lost, got {other:?}"),
    }
    // Retried several times in the next 300 ms, and not said again.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(300) {
        let ev = src.next_event();
        assert!(matches!(ev, Event::Idle), "{ev:?}");
    }
    assert_eq!(src.stats().frames, 0);
    // Dropping the source stops its thread promptly.
    let t = Instant::now();
    drop(src);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

/// A capture node of the vivid driver, found through sysfs.
fn vivid_capture_node() -> Option<PathBuf> {
    let dir = std::fs::read_dir("/sys/class/video4linux").ok()?;
    let mut nodes: Vec<PathBuf> = dir
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("name"))
                .is_ok_and(|n| n.trim().starts_with("vivid") && n.contains("vid-cap"))
        })
        .map(|e| Path::new("/dev").join(e.file_name()))
        .collect();
    nodes.sort();
    nodes.into_iter().next()
}

#[test]
fn frames_from_vivid() {
    let Some(node) = vivid_capture_node() else {
        eprintln!(
            "SKIPPED: no vivid capture device (modprobe vivid): V4L2 streaming was not exercised"
        );
        return;
    };
    let mut tried = 0;
    for format in PixelFormat::PREFERENCE {
        let mut cfg = V4l2Config::new(&node, 320, 240, 10);
        cfg.formats = vec![format];
        let neg = match probe(&cfg) {
            Ok(n) => n,
            // vivid's default input may not offer every format.
            Err(V4l2Error::NoFormat { .. }) => continue,
            Err(e) => panic!("{e}"),
        };
        tried += 1;
        assert_eq!(neg.format, format);
        let mut src = V4l2Source::start(cfg).unwrap();
        let t = Instant::now();
        let mut started = None;
        let mut frames = 0;
        while frames < 5 {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "{format:?}: no frames"
            );
            match src.next_event() {
                Event::Started(n) => started = Some(n),
                Event::Frame(f) => {
                    let n = started.as_ref().expect("Started before frames");
                    assert_eq!((f.image.width(), f.image.height()), (n.width, n.height));
                    // vivid's test pattern is not black.
                    assert!(f.image.luma().iter().any(|&p| p > 16), "{format:?}");
                    assert!(f.ts_us > 1_600_000_000_000_000);
                    frames += 1;
                }
                Event::Lost(e) => panic!("{format:?}: {e}"),
                Event::Dropped(_) | Event::Idle => {}
            }
        }
        assert!(src.stats().frames >= 5);
    }
    assert!(tried > 0, "vivid offered none of GREY, YUYV, MJPG");
}
