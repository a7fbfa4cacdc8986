//! The indicator, the kill switch and the daemon's bundle on the simulated
//! chip and the test file.

use std::time::{Duration, Instant};

use vitrine_gpio::sim::SimChip;
use vitrine_gpio::test_file::FileSwitch;
use vitrine_gpio::{Gpio, GpioError, Indicator, KillSwitch, SwitchEdge};

const LAMP: u32 = 4;
const SWITCH: u32 = 17;

#[test]
fn the_indicator_follows_its_active_level() {
    let chip = SimChip::new("sim", 32);
    let mut high = chip.indicator(LAMP, false).unwrap();
    assert!(!chip.level(LAMP), "requested off");
    high.set(true).unwrap();
    assert!(chip.level(LAMP));
    high.set(false).unwrap();
    assert!(!chip.level(LAMP));

    // Active low: lit is the low level, and off (high) from the request on.
    let mut low = chip.indicator(LAMP + 1, true).unwrap();
    assert!(chip.level(LAMP + 1));
    low.set(true).unwrap();
    assert!(!chip.level(LAMP + 1));
}

#[test]
fn dropping_the_indicator_puts_it_out_and_frees_the_line() {
    let chip = SimChip::new("sim", 32);
    let mut lamp = chip.indicator(LAMP, false).unwrap();
    lamp.set(true).unwrap();
    assert!(chip.is_held(LAMP));
    drop(lamp);
    assert!(!chip.level(LAMP));
    assert!(!chip.is_held(LAMP));
    // Free again: a new request succeeds.
    chip.indicator(LAMP, false).unwrap();
}

#[test]
fn a_line_held_twice_is_busy_and_one_off_the_chip_is_named() {
    let chip = SimChip::new("sim0", 8);
    let _lamp = chip.indicator(3, false).unwrap();
    let e = chip.switch(3, false).unwrap_err();
    assert!(matches!(e, GpioError::Busy { line: 3, .. }), "{e:?}");
    assert!(e.to_string().contains("line 3 of sim0"), "{e}");
    let e = chip.indicator(8, false).unwrap_err();
    assert_eq!(e.to_string(), "GPIO chip sim0 has no line 8 (it has 8)");
}

#[test]
fn the_bundle_lights_the_indicator_exactly_while_a_sensor_captures() {
    let chip = SimChip::new("sim", 32);
    let lamp = chip.indicator(LAMP, true).unwrap();
    let mut gpio = Gpio::from_parts(Some(Box::new(lamp)), None);
    let lit = |chip: &SimChip| !chip.level(LAMP); // active low
    assert!(!lit(&chip));
    gpio.set_capturing("wifi", true).unwrap();
    assert!(lit(&chip));
    gpio.set_capturing("camera", true).unwrap();
    // Wi-Fi stops, the camera still captures: still lit.
    gpio.set_capturing("wifi", false).unwrap();
    assert!(lit(&chip));
    assert!(gpio.any_capturing());
    gpio.set_capturing("camera", false).unwrap();
    assert!(!lit(&chip));
    assert!(!gpio.any_capturing());
    // Saying twice that a sensor stopped changes nothing.
    gpio.set_capturing("camera", false).unwrap();
    assert!(!lit(&chip));
    gpio.set_capturing("camera", true).unwrap();
    assert!(lit(&chip));
    // The daemon ends while capturing: the lamp goes out, the line is freed.
    drop(gpio);
    assert!(!lit(&chip));
    assert!(!chip.is_held(LAMP));
}

#[test]
fn a_bundle_without_lines_does_nothing() {
    let mut gpio = Gpio::open(None, None).unwrap();
    gpio.set_capturing("wifi", true).unwrap();
    assert!(gpio.any_capturing());
    assert!(!gpio.is_killed().unwrap());
    assert!(gpio.kill_switch().is_none());
}

#[test]
fn the_switch_reports_its_state_and_each_change_once() {
    let chip = SimChip::new("sim", 32);
    // A switch closing to ground: engaged at the low level. Pulled up.
    chip.drive(SWITCH, true);
    let mut sw = chip.switch(SWITCH, true).unwrap();
    assert!(!sw.is_engaged().unwrap());
    assert_eq!(sw.wait(Duration::ZERO).unwrap(), None);

    chip.drive(SWITCH, false);
    assert!(sw.is_engaged().unwrap());
    assert_eq!(
        sw.wait(Duration::from_secs(1)).unwrap(),
        Some(SwitchEdge::Engaged)
    );
    assert_eq!(sw.wait(Duration::ZERO).unwrap(), None);

    // A press and release between two waits: both edges, in order.
    chip.drive(SWITCH, true);
    chip.drive(SWITCH, false);
    chip.drive(SWITCH, true);
    assert_eq!(sw.wait(Duration::ZERO).unwrap(), Some(SwitchEdge::Released));
    assert_eq!(sw.wait(Duration::ZERO).unwrap(), Some(SwitchEdge::Engaged));
    assert_eq!(sw.wait(Duration::ZERO).unwrap(), Some(SwitchEdge::Released));
    assert_eq!(sw.wait(Duration::ZERO).unwrap(), None);
    assert!(!sw.is_engaged().unwrap());
}

#[test]
fn the_switch_wakes_a_waiter_in_another_thread() {
    let chip = SimChip::new("sim", 32);
    let sw = chip.switch(SWITCH, false).unwrap();
    let mut gpio = Gpio::from_parts(None, Some(Box::new(sw)));
    let presser = {
        let chip = chip.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            chip.drive(SWITCH, true);
        })
    };
    let t = Instant::now();
    let edge = gpio
        .kill_switch()
        .unwrap()
        .wait(Duration::from_secs(10))
        .unwrap();
    presser.join().unwrap();
    assert_eq!(edge, Some(SwitchEdge::Engaged));
    // Woken by the change, not by the timeout.
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(gpio.is_killed().unwrap());
}

#[test]
fn waiting_without_a_change_times_out() {
    let chip = SimChip::new("sim", 32);
    let mut sw = chip.switch(SWITCH, false).unwrap();
    let t = Instant::now();
    assert_eq!(sw.wait(Duration::from_millis(60)).unwrap(), None);
    assert!(t.elapsed() >= Duration::from_millis(60));
}

#[test]
fn the_test_file_engages_and_releases_the_switch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kill-switch");
    // No file yet: released.
    let mut sw = FileSwitch::open(&path)
        .unwrap()
        .with_poll(Duration::from_millis(5));
    assert!(!sw.is_engaged().unwrap());
    assert_eq!(sw.wait(Duration::from_millis(20)).unwrap(), None);

    std::fs::write(&path, "1\n").unwrap();
    assert!(sw.is_engaged().unwrap());
    assert_eq!(
        sw.wait(Duration::from_secs(2)).unwrap(),
        Some(SwitchEdge::Engaged)
    );
    std::fs::write(&path, "0").unwrap();
    assert_eq!(
        sw.wait(Duration::from_secs(2)).unwrap(),
        Some(SwitchEdge::Released)
    );
    std::fs::write(&path, "1").unwrap();
    std::fs::remove_file(&path).unwrap();
    // Engaged and released again before a read: no change seen.
    assert_eq!(sw.wait(Duration::from_millis(20)).unwrap(), None);

    // Through the bundle, as the daemon reads it.
    std::fs::write(&path, "1").unwrap();
    let mut gpio = Gpio::from_parts(None, Some(Box::new(sw)));
    assert!(gpio.is_killed().unwrap());
}

#[test]
fn a_malformed_test_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kill-switch");
    std::fs::write(&path, "engaged").unwrap();
    let e = FileSwitch::open(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "test kill switch file {}: holds \"engaged\", not 0 or 1",
            path.display()
        )
    );
}

#[test]
fn opening_a_missing_chip_names_it() {
    let spec = vitrine_gpio::LineSpec {
        chip: vitrine_gpio::ChipId::parse("/dev/gpiochip-vitrine-absent"),
        line: 5,
        active_low: false,
    };
    let e = Gpio::open(Some(&spec), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "GPIO chip /dev/gpiochip-vitrine-absent does not exist"
    );
    let e = Gpio::open(None, Some(&spec)).unwrap_err();
    assert!(matches!(e, GpioError::NoChip { .. }), "{e:?}");
}
