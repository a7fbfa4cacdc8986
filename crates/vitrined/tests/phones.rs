//! Device counts on four real phones whose identity is known
//! (`../shared/captures/phones`, one phone per file), alone and mixed into
//! one room by `../shared/tools/mix_phones.py`, which restores the
//! randomized bit the dataset's anonymizer scrambled. Needs python3.

use std::path::{Path, PathBuf};

use vitrine_wifi_aggregate::Config;
use vitrined::eval::{MixedPhones, WindowDevices, mix_phones, window_devices};

fn tool() -> PathBuf {
    vitrine_testkit::captures_dir().join("../tools/mix_phones.py")
}

fn phones() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(vitrine_testkit::captures_dir().join("phones"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 4, "four phone captures");
    v
}

/// Mixes the captures of `src` (seed 7) and replays the mix with windows of
/// `window_s`, with every other setting at its default.
fn mixed(src: &Path, work: &Path, window_s: u32) -> (MixedPhones, Vec<WindowDevices>) {
    let out = work.join(format!("mix-{window_s}.pcap"));
    let truth = mix_phones(&tool(), src, &out, 7, window_s).unwrap();
    let cfg = Config {
        window_s,
        ..Config::default()
    };
    let windows = window_devices(&out, cfg).unwrap();
    (truth, windows)
}

#[test]
fn each_phone_alone_is_one_device() {
    let mut twos = 0;
    for phone in phones() {
        let name = phone.file_name().unwrap().to_string_lossy().into_owned();
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::os::unix::fs::symlink(&phone, src.join(&name)).unwrap();

        let (truth, windows) = mixed(&src, work.path(), 300);
        assert_eq!(truth.phones, 1);
        let probing: Vec<&WindowDevices> = windows.iter().filter(|w| w.probes > 0).collect();
        assert_eq!(
            probing.iter().map(|w| w.start_s).collect::<Vec<_>>(),
            truth.per_window.keys().copied().collect::<Vec<_>>(),
            "{name}: the windows with probes are the truth's"
        );
        let estimates: Vec<u64> = probing.iter().map(|w| w.estimated).collect();
        eprintln!(
            "{name}: per 5 min {estimates:?}, naive {:?}",
            probing.iter().map(|w| w.distinct).collect::<Vec<_>>()
        );
        assert!(
            estimates.iter().all(|&e| e == 1 || e == 2),
            "{name}: {estimates:?}"
        );
        let per_phone = estimates.iter().filter(|&&e| e == 2).count();
        assert!(per_phone <= 1, "{name}: {estimates:?}");
        twos += per_phone;
        // The naive count is far off: the test discriminates.
        assert!(probing.iter().map(|w| w.distinct).sum::<u64>() >= 2 * probing.len() as u64);

        let (_, whole) = mixed(&src, work.path(), 86_400);
        let whole: Vec<u64> = whole.iter().map(|w| w.estimated).collect();
        eprintln!("{name}: whole capture {whole:?}");
        assert_eq!(whole.len(), 1);
        assert!(whole[0] >= 1 && whole[0] <= 2, "{name}: {whole:?}");
    }
    assert!(twos <= 4);
}

#[test]
fn four_phones_mixed_are_counted_within_one_per_window_and_over_the_whole_mix() {
    let work = tempfile::tempdir().unwrap();
    let src = vitrine_testkit::captures_dir().join("phones");
    let (truth, windows) = mixed(&src, work.path(), 300);
    assert_eq!(truth.phones, 4);
    let probing: Vec<&WindowDevices> = windows.iter().filter(|w| w.probes > 0).collect();
    assert_eq!(probing.len(), truth.per_window.len());
    for w in &probing {
        let phones = truth.per_window[&w.start_s] as u64;
        eprintln!(
            "window {}: {} phones, estimated {}, naive {}",
            w.start_s, phones, w.estimated, w.distinct
        );
        assert!(
            w.estimated.abs_diff(phones) <= 1,
            "window {}: estimated {} for {phones} phones",
            w.start_s,
            w.estimated
        );
        assert!(w.distinct > phones + 1, "the naive count must be off");
    }
    let (_, whole) = mixed(&src, work.path(), 86_400);
    assert_eq!(whole.len(), 1);
    eprintln!(
        "whole mix: estimated {}, naive {}",
        whole[0].estimated, whole[0].distinct
    );
    assert!(
        whole[0].estimated.abs_diff(4) <= 1,
        "{}",
        whole[0].estimated
    );
}
