//! The real character-device lines against the kernel's `gpio-sim`
//! module, where the host has it (configfs mounted, `modprobe gpio-sim`,
//! root). Elsewhere the test says why it did not run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vitrine_gpio::cdev::{CdevIndicator, CdevSwitch};
use vitrine_gpio::{ChipId, GpioError, Indicator, KillSwitch, LineSpec, SwitchEdge};

const CONFIGFS: &str = "/sys/kernel/config/gpio-sim";

/// A live gpio-sim chip of four lines, removed on drop.
struct SimDevice {
    dir: PathBuf,
    chip: PathBuf,
    /// /sys/devices/platform/gpio-sim.N/gpiochipM
    sysfs: PathBuf,
}

impl SimDevice {
    fn create() -> std::io::Result<Self> {
        let dir = Path::new(CONFIGFS).join(format!("vitrine-{}", std::process::id()));
        std::fs::create_dir(&dir)?;
        let bank = dir.join("bank0");
        let mut dev = SimDevice {
            dir: dir.clone(),
            chip: PathBuf::new(),
            sysfs: PathBuf::new(),
        };
        std::fs::create_dir(&bank)?;
        std::fs::write(bank.join("num_lines"), "4")?;
        std::fs::write(bank.join("label"), "vitrine-test")?;
        std::fs::write(dir.join("live"), "1")?;
        let dev_name = std::fs::read_to_string(dir.join("dev_name"))?;
        let chip_name = std::fs::read_to_string(bank.join("chip_name"))?;
        dev.chip = Path::new("/dev").join(chip_name.trim());
        dev.sysfs = Path::new("/sys/devices/platform")
            .join(dev_name.trim())
            .join(chip_name.trim());
        Ok(dev)
    }

    /// The level the chip's output has (what the lamp would show).
    fn value(&self, line: u32) -> bool {
        let v = std::fs::read_to_string(self.sysfs.join(format!("sim_gpio{line}/value"))).unwrap();
        v.trim() == "1"
    }

    /// Drives an input line from outside.
    fn pull(&self, line: u32, high: bool) {
        let pull = if high { "pull-up" } else { "pull-down" };
        std::fs::write(self.sysfs.join(format!("sim_gpio{line}/pull")), pull).unwrap();
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("live"), "0");
        let _ = std::fs::remove_dir(self.dir.join("bank0"));
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[test]
fn real_lines_on_a_gpio_sim_chip() {
    if !Path::new(CONFIGFS).is_dir() {
        eprintln!(
            "SKIPPED: {CONFIGFS} is missing (no gpio-sim module, or configfs not mounted): \
             the character-device lines were not exercised"
        );
        return;
    }
    let dev = SimDevice::create().expect("create a gpio-sim chip (as root)");
    let spec = |line, active_low| LineSpec {
        chip: ChipId::Path(dev.chip.clone()),
        line,
        active_low,
    };

    let mut lamp = CdevIndicator::open(&spec(0, false)).unwrap();
    assert!(!dev.value(0));
    lamp.set(true).unwrap();
    assert!(dev.value(0));
    // Held: a second request is refused as busy, naming the line.
    let e = CdevIndicator::open(&spec(0, false)).unwrap_err();
    assert!(matches!(e, GpioError::Busy { line: 0, .. }), "{e:?}");
    drop(lamp);
    assert!(!dev.value(0), "released off");

    // By label too; a switch closing to ground, pulled up.
    dev.pull(1, true);
    let by_label = LineSpec {
        chip: ChipId::parse("vitrine-test"),
        line: 1,
        active_low: true,
    };
    let mut sw = CdevSwitch::open(&by_label, Duration::from_millis(5)).unwrap();
    assert!(!sw.is_engaged().unwrap());
    dev.pull(1, false);
    assert_eq!(
        sw.wait(Duration::from_secs(2)).unwrap(),
        Some(SwitchEdge::Engaged)
    );
    assert!(sw.is_engaged().unwrap());
    dev.pull(1, true);
    assert_eq!(
        sw.wait(Duration::from_secs(2)).unwrap(),
        Some(SwitchEdge::Released)
    );

    let e = CdevIndicator::open(&spec(4, false)).unwrap_err();
    assert!(
        matches!(
            e,
            GpioError::NoLine {
                line: 4,
                lines: 4,
                ..
            }
        ),
        "{e:?}"
    );
}
