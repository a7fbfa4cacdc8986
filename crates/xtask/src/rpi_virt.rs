//! The Pi image's self-audit boot: a copy of the image booted under
//! `qemu-system-aarch64 -M virt` the way the emulated board boots (virtio
//! disk and network, simulated radios from mac80211_hwsim), with a broker
//! the check runs on the host, until `vitrine-audit self` has run once; its
//! signed report is then read from the copy's data partition and its
//! verdict must be Pass. What the test boot adds is on the kernel command
//! line, in the initrd QEMU loads and in the first-boot file: the image
//! itself is not changed. See docs/rpi-image.md, "The self-audit boot".

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::rpi::{self, Verdict};

/// Site and rig of the test boot's first-boot file: its topics are
/// `vitrine/qemu/self-audit/...`.
const SITE: &str = "qemu";
const RIG: &str = "self-audit";
/// The rig's adapter and the one the self-audit sends canaries from: the
/// first two of mac80211_hwsim's radios, as on the emulated board.
const RIG_RADIO: &str = "wlan0";
const INJECT_RADIO: &str = "wlan1";
const CHANNEL: u32 = 6;
/// Short windows keep the audit's watch (2.5 windows) short.
const WINDOW_S: u32 = 30;
/// Canaries a self-audit sends: 4 MACs and 1 SSID (docs/audit.md).
const CANARIES_EMITTED_MIN: usize = 5;
/// The MAC canaries, which a rig capturing on the channel hears: one
/// window of the stream counts them all.
const MAC_CANARIES: u64 = 4;
/// The checks a self-audit on a rig runs beside the storage walk; each must
/// be in the report (a check left out is no pass).
const CHECKS_EXPECTED: [&str; 8] = [
    "storage.canary",
    "journal.canary",
    "memory.canary",
    "stream.canary",
    "stream.k_anonymity",
    "hardening.core_dumps",
    "hardening.sandbox",
    "keys.swap",
];

/// The drivers of `-M virt`'s root disk, which the image's initrd (made
/// for the Pi's SD card) does not hold; their dependencies come with them.
const VIRT_MODULES: [&str; 2] = ["virtio_pci", "virtio_blk"];

/// The module index files of the image's kernel, copied whole into the test
/// initrd: modprobe and udev find the added drivers through them.
const MODULE_INDEXES: [&str; 13] = [
    "modules.alias",
    "modules.alias.bin",
    "modules.builtin",
    "modules.builtin.alias.bin",
    "modules.builtin.bin",
    "modules.builtin.modinfo",
    "modules.dep",
    "modules.dep.bin",
    "modules.devname",
    "modules.order",
    "modules.softdep",
    "modules.symbols",
    "modules.symbols.bin",
];

/// The kernel command line of the test boot: the image's `cmdline.txt`
/// (root by label, read-only) with the console on `-M virt`'s serial port,
/// plus what the emulated board has and the Pi does not (two simulated
/// radios, loaded before the first-boot unit checks the adapter), the
/// self-audit started once after the daemon rather than 15 minutes later by
/// its timer, and its second adapter and channel (on a rig, from
/// `/etc/default/vitrine-audit` on the read-only root).
fn test_cmdline(cmdline_txt: &str) -> String {
    let mut args: Vec<String> = cmdline_txt
        .split_whitespace()
        .filter(|a| !a.starts_with("console="))
        .map(str::to_string)
        .collect();
    if !args.iter().any(|a| a == "net.ifnames=0") {
        args.push("net.ifnames=0".into());
    }
    args.extend(
        [
            "console=ttyAMA0",
            "modules-load=mac80211_hwsim",
            "mac80211_hwsim.radios=2",
            "systemd.wants=vitrine-audit.service",
        ]
        .map(str::to_string),
    );
    args.push(format!(
        "systemd.setenv=VITRINE_AUDIT_INJECT={INJECT_RADIO}"
    ));
    args.push(format!("systemd.setenv=VITRINE_AUDIT_CHANNEL={CHANNEL}"));
    // systemd's messages whole in the kernel log, and the journal (the
    // audit's own lines) on the console.
    args.extend(
        [
            "systemd.show_status=true",
            "systemd.log_target=kmsg",
            "printk.devkmsg=on",
            "systemd.journald.forward_to_console=1",
        ]
        .map(str::to_string),
    );
    args.join(" ")
}

/// The first-boot file of the test boot: the rig named, publishing to the
/// broker this check runs on the host (QEMU's user network shows the host's
/// loopback as 10.0.2.2), capturing on the first simulated radio. The
/// rest are the defaults, which the default audit policy is measured
/// against (k = 5 among them).
fn firstboot_config(broker_port: u16) -> String {
    format!(
        "# Written by `cargo xtask rpi-image --boot-check` (self-audit boot).\n\
         site = \"{SITE}\"\nrig = \"{RIG}\"\n\n\
         [broker]\nurl = \"mqtt://10.0.2.2:{broker_port}\"\n\n\
         [windows]\nlength_s = {WINDOW_S}\n\n\
         [capture]\ninterface = \"{RIG_RADIO}\"\nchannels = \"{CHANNEL}\"\n"
    )
}

/// The console, until the self-audit's unit ended one way or the other, or
/// the boot failed before it could run.
fn audit_verdict(console: &str) -> Verdict {
    let console = &rpi::strip_ansi(console);
    // systemd's own line (log_target=kmsg), whole, once the oneshot ended.
    if console.contains("Finished vitrine-audit.service")
        || console.contains("Failed to start vitrine-audit.service")
    {
        return Verdict::Reached;
    }
    for bad in [
        "Failed to start vitrined.service",
        "Failed to start vitrine-firstboot.service",
        "Dependency failed for vitrined.service",
    ] {
        if let Some(at) = console.find(bad) {
            let line = console[at..].lines().next().unwrap_or(bad);
            return Verdict::Failed(line.to_string());
        }
    }
    rpi::broken(console).unwrap_or(Verdict::Waiting)
}

/// What a passing self-audit report says, for the log.
#[derive(Debug, PartialEq)]
struct Passed {
    checks: usize,
    canaries_emitted: usize,
    windows: usize,
    distinct_macs_max: u64,
}

/// Reads a signed self-audit report (the file in
/// `/var/lib/vitrine-audit/reports/`): its verdict must be `pass`, with the
/// expected checks among those that ran, this run's canaries sent and the
/// rig's stream watched. Otherwise the error says what the report holds
/// instead: each finding, or each check that did not run and why.
fn read_report(signed: &str) -> anyhow::Result<Passed> {
    let signed: serde_json::Value =
        serde_json::from_str(signed).context("the self-audit's report is not JSON")?;
    let report = &signed["report"];
    let checks = report["checks"]
        .as_array()
        .context("the report has no checks")?;
    let verdict = report["verdict"].as_str().unwrap_or("(none)");
    if verdict != "pass" {
        let mut why = Vec::new();
        for c in checks {
            let id = c["id"].as_str().unwrap_or("?");
            for f in c["findings"].as_array().into_iter().flatten() {
                let at = ["path", "topic", "process"]
                    .iter()
                    .find_map(|k| f["evidence"][k].as_str())
                    .unwrap_or("");
                why.push(format!(
                    "{id}: {} {at}",
                    f["summary"].as_str().unwrap_or("a finding")
                ));
            }
            let status = c["status"].as_str().unwrap_or("?");
            if status == "skipped" || status == "incomplete" {
                why.push(format!(
                    "{id} {status}: {}",
                    c["reason"].as_str().unwrap_or("no reason given")
                ));
            }
        }
        bail!(
            "the self-audit's verdict is {verdict}, not pass:\n  {}",
            why.join("\n  ")
        );
    }
    let ran: BTreeSet<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    let missing: Vec<&str> = CHECKS_EXPECTED
        .iter()
        .copied()
        .filter(|id| !ran.contains(id))
        .collect();
    if !missing.is_empty() {
        bail!("the self-audit passed without running {missing:?}");
    }
    let canaries_emitted = report["canaries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["emitted"].as_array().is_some_and(|e| !e.is_empty()))
        .count();
    if canaries_emitted < CANARIES_EMITTED_MIN {
        bail!(
            "the self-audit passed having sent {canaries_emitted} canaries, not {CANARIES_EMITTED_MIN} (VITRINE_AUDIT_INJECT={INJECT_RADIO} not used?)"
        );
    }
    let windows = report["windows"].as_array().map_or(0, Vec::len);
    if windows == 0 {
        bail!("the self-audit passed without a window of the rig's stream");
    }
    let distinct_macs_max = report["windows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["distinct_macs"].as_u64())
        .max()
        .unwrap_or(0);
    if distinct_macs_max < MAC_CANARIES {
        bail!(
            "the self-audit passed, but no window of the rig's stream counted its {MAC_CANARIES} MAC canaries (at most {distinct_macs_max}): the rig did not hear them"
        );
    }
    Ok(Passed {
        checks: checks.len(),
        canaries_emitted,
        windows,
        distinct_macs_max,
    })
}

/// What the host's broker saw from the rig, from `mosquitto_sub -F '%t %x'`
/// lines (topic, payload in hex): the retained status saying the Wi-Fi
/// sensor captures, and how many Wi-Fi summaries were published.
fn broker_seen(log: &str) -> anyhow::Result<usize> {
    let base = format!("vitrine/{SITE}/{RIG}");
    let mut capturing = false;
    let mut summaries = 0;
    for line in log.lines() {
        let Some((topic, hex)) = line.split_once(' ') else {
            continue;
        };
        if topic == format!("{base}/wifi") {
            summaries += 1;
        } else if topic == format!("{base}/status") {
            let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            let status: serde_json::Value = bytes
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            capturing |= status["sensors"]["wifi"] == "capturing";
        }
    }
    if !capturing {
        bail!("the broker never saw {base}/status with the Wi-Fi sensor capturing");
    }
    if summaries == 0 {
        bail!("the broker saw no summary on {base}/wifi");
    }
    Ok(summaries)
}

/// A `newc` cpio archive (what the kernel unpacks as an initramfs) of
/// folders (`None`) and files, all root's.
fn newc(entries: &[(String, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |ino: usize, name: &str, mode: u32, data: &[u8]| {
        let fields = [
            ino as u32,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    };
    for (i, (name, data)) in entries.iter().enumerate() {
        match data {
            None => put(i + 1, name, 0o040755, &[]),
            Some(d) => put(i + 1, name, 0o100644, d),
        }
    }
    put(0, "TRAILER!!!", 0, &[]);
    out
}

/// The module files `wanted` need, from `modules.dep` (paths relative to
/// the kernel's module folder), dependencies first.
fn with_dependencies(modules_dep: &str, wanted: &[&str]) -> anyhow::Result<Vec<String>> {
    let name_of = |path: &str| {
        Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ko"))
            .map(|n| n.replace('-', "_"))
    };
    let mut out: Vec<String> = Vec::new();
    for w in wanted {
        let line = modules_dep
            .lines()
            .find(|l| {
                l.split(':')
                    .next()
                    .and_then(name_of)
                    .is_some_and(|n| n == w.replace('-', "_"))
            })
            .with_context(|| format!("no module {w} in modules.dep"))?;
        let (module, deps) = line.split_once(':').unwrap_or((line, ""));
        // modules.dep lists the dependencies each with its own, nearest
        // last: loading them in reverse order loads each after its own.
        for p in deps.split_whitespace().rev().chain([module.trim()]) {
            if !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
    }
    Ok(out)
}

/// Files of the image's read-only root, read without mounting it: each
/// absolute path in `paths` into `dst` under the same name.
fn root_files(sd: &Path, root: (u64, u64), paths: &[String], dst: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dst)?;
    let mut script = String::new();
    for p in paths {
        let out = dst.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(out.parent().unwrap())?;
        script.push_str(&format!("dump {p} {}\n", out.display()));
    }
    let cmds = dst.join("debugfs.cmds");
    std::fs::write(&cmds, script)?;
    crate::run(
        Command::new("debugfs")
            .arg("-f")
            .arg(&cmds)
            .arg(format!("{}?offset={}", sd.display(), root.0))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .context("reading the root partition (debugfs)")?;
    std::fs::remove_file(&cmds)?;
    // debugfs says a file is missing and exits 0.
    for p in paths {
        if !dst.join(p.trim_start_matches('/')).is_file() {
            bail!("debugfs read no {p} from the image's root");
        }
    }
    Ok(())
}

/// The test boot's initrd: the image's own, then a second archive (the
/// kernel unpacks both, the later files replacing the earlier) with the
/// virtio drivers from the image's root, the kernel's full module index,
/// and `conf/modules` listing them after the Pi's own.
fn test_initrd(
    root_dir: &Path,
    sd: &Path,
    root_part: (u64, u64),
    version: &str,
    pi_initrd: &Path,
    scratch: &Path,
) -> anyhow::Result<PathBuf> {
    let modules = format!("/usr/lib/modules/{version}");
    let indexes: Vec<String> = MODULE_INDEXES
        .iter()
        .map(|f| format!("{modules}/{f}"))
        .collect();
    let files = scratch.join("initrd-files");
    let _ = std::fs::remove_dir_all(&files);
    root_files(sd, root_part, &indexes, &files)?;
    let on_host = |p: &str| files.join(p.trim_start_matches('/'));
    let dep = std::fs::read_to_string(on_host(&format!("{modules}/modules.dep")))?;
    let kos: Vec<String> = with_dependencies(&dep, &VIRT_MODULES)?
        .into_iter()
        .map(|k| format!("{modules}/{k}"))
        .collect();
    root_files(sd, root_part, &kos, &files)?;

    let mut entries: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let mut dirs = BTreeSet::new();
    for p in indexes.iter().chain(&kos) {
        let rel = p.trim_start_matches('/');
        let mut at = Path::new(rel).parent();
        let mut parents = Vec::new();
        while let Some(d) = at.filter(|d| !d.as_os_str().is_empty()) {
            parents.push(d.to_string_lossy().into_owned());
            at = d.parent();
        }
        for d in parents.into_iter().rev() {
            if dirs.insert(d.clone()) {
                entries.push((d, None));
            }
        }
        entries.push((rel.to_string(), Some(std::fs::read(on_host(p))?)));
    }
    // The Pi's list (images/rpi/overlay, as initramfs-tools read it), then
    // the virtio drivers.
    let listed = std::fs::read_to_string(
        root_dir.join("images/rpi/overlay/usr/share/initramfs-tools/modules.d/vitrine-rpi"),
    )?;
    let mut conf: String = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    for m in VIRT_MODULES {
        conf.push_str(&format!("{m}\n"));
    }
    entries.push(("conf".into(), None));
    entries.push(("conf/modules".into(), Some(conf.into_bytes())));
    std::fs::remove_dir_all(&files)?;

    let out = scratch.join("initrd.virt");
    let mut initrd = std::fs::read(pi_initrd)?;
    // The second archive starts on a 4-byte boundary; the zeros before it
    // are skipped.
    initrd.resize(initrd.len().next_multiple_of(4), 0);
    initrd.extend_from_slice(&newc(&entries));
    std::fs::write(&out, initrd)?;
    Ok(out)
}

/// A process this check started, killed when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// mosquitto on the host's loopback (anonymous: it listens there only),
/// and a subscriber to the rig's topics writing `topic hex-payload` lines.
fn broker(work: &Path) -> anyhow::Result<(u16, Started, Started)> {
    for (tool, package) in [
        ("/usr/sbin/mosquitto", "mosquitto"),
        ("/usr/bin/mosquitto_sub", "mosquitto-clients"),
    ] {
        if !Path::new(tool).exists() {
            bail!(
                "the Pi image's self-audit boot needs {tool} (Debian package {package}; `cargo xtask deps test-host`)"
            );
        }
    }
    let port = free_port()?;
    let conf = work.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "# The self-audit boot's broker, reached by the guest as 10.0.2.2.\n\
             listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        ),
    )?;
    let log = std::fs::File::create(work.join("mosquitto.log"))?;
    let broker = Started(
        Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting mosquitto")?,
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            bail!(
                "mosquitto did not listen on 127.0.0.1:{port}; see {}",
                work.join("mosquitto.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let seen = std::fs::File::create(work.join("broker.log"))?;
    let sub = Started(
        Command::new("/usr/bin/mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-t", &format!("vitrine/{SITE}/{RIG}/#"), "-F", "%t %x"])
            .stdin(Stdio::null())
            .stdout(seen)
            .stderr(Stdio::null())
            .spawn()
            .context("starting mosquitto_sub")?,
    );
    Ok((port, broker, sub))
}

/// Boots a copy of `image` under `-M virt` as the emulated board boots,
/// with a first-boot file pointing the rig at a broker on the host, until
/// the self-audit the kernel command line starts has ended; then reads its
/// report from the copy's data partition and the rig's messages from the
/// broker. Fails unless the verdict is Pass, the daemon's status said it
/// captured and summaries arrived. Returns the time from QEMU's start to
/// the audit's end. Console, broker log and report stay in
/// `target/rpi/boot-check/self-audit/`.
pub fn self_audit_boot(root: &Path, image: &Path, timeout: Duration) -> anyhow::Result<Duration> {
    let work = root.join("target/rpi/boot-check/self-audit");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let sd = work.join("sd.img");
    let result = boot_and_read(root, image, &work, &sd, timeout);
    // The copy is as big as the image.
    let _ = std::fs::remove_file(&sd);
    result
}

fn boot_and_read(
    root: &Path,
    image: &Path,
    work: &Path,
    sd: &Path,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    crate::run(Command::new("cp").arg("--sparse=always").arg(image).arg(sd))?;
    let parts = rpi::partitions(sd)?;
    if parts.len() != 3 {
        bail!("{} has {} partitions, not 3", image.display(), parts.len());
    }
    let boot = rpi::BootPartition::of(sd, parts[0]);
    let config_txt = std::fs::read_to_string(boot.copy_out("config.txt", work)?)?;
    let cmdline = std::fs::read_to_string(boot.copy_out("cmdline.txt", work)?)?;
    let (kernel_name, initrd_name) = rpi::boot_files(&config_txt)?;
    let version = kernel_name
        .strip_prefix("vmlinuz-")
        .with_context(|| format!("config.txt's kernel {kernel_name} is no vmlinuz-<version>"))?
        .to_string();
    let kernel = boot.copy_out(&kernel_name, work)?;
    let pi_initrd = boot.copy_out(&initrd_name, work)?;
    let initrd = test_initrd(root, sd, parts[1], &version, &pi_initrd, work)?;
    std::fs::remove_file(&pi_initrd)?;

    let (port, broker, sub) = broker(work)?;
    let config_file = work.join("vitrine.toml");
    std::fs::write(&config_file, firstboot_config(port))?;
    boot.copy_in(&config_file, "vitrine.toml")?;

    let console = work.join("console.log");
    let append = test_cmdline(&cmdline);
    eprintln!("xtask: booting the Pi image under -M virt (self-audit boot): {append}");
    let mut qemu = Started(
        Command::new("qemu-system-aarch64")
            .args([
                "-M",
                "virt",
                "-cpu",
                "cortex-a72",
                "-smp",
                "2",
                "-m",
                "1024",
            ])
            .arg("-no-user-config")
            .arg("-kernel")
            .arg(&kernel)
            .arg("-initrd")
            .arg(&initrd)
            .args(["-append", &append])
            .arg("-drive")
            .arg(format!("file={},if=virtio,format=raw", sd.display()))
            .args(["-device", "virtio-rng-pci"])
            .args(["-netdev", "user,id=n0"])
            // No boot ROM: the kernel is loaded directly.
            .args(["-device", "virtio-net-pci,netdev=n0,romfile="])
            .args(["-display", "none", "-monitor", "none", "-serial"])
            .arg(format!("file:{}", console.display()))
            .stdin(Stdio::null())
            .spawn()
            .context("starting qemu-system-aarch64")?,
    );
    let started = Instant::now();
    let result = loop {
        std::thread::sleep(Duration::from_secs(2));
        let text =
            String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
        match audit_verdict(&text) {
            Verdict::Reached => break Ok(started.elapsed()),
            Verdict::Failed(line) => break Err(anyhow::anyhow!("{line}")),
            Verdict::Waiting => {}
        }
        if let Some(status) = qemu.0.try_wait()? {
            break Err(anyhow::anyhow!("QEMU exited ({status})"));
        }
        if started.elapsed() > timeout {
            break Err(anyhow::anyhow!(
                "the self-audit did not end within {timeout:?}"
            ));
        }
    };
    // The report is flushed when the audit ends; a few seconds more let the
    // rest reach the disk before the power goes.
    if result.is_ok() {
        std::thread::sleep(Duration::from_secs(5));
    }
    drop(qemu);
    drop(sub);
    drop(broker);
    let elapsed = result.map_err(|e| {
        let text =
            String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        anyhow::anyhow!(
            "Pi image self-audit boot failed after {:.0} s: {e}\n--- {} (last lines)\n{}",
            started.elapsed().as_secs_f64(),
            console.display(),
            tail.join("\n")
        )
    })?;

    let files = work.join("data");
    rpi::data_partition_files(sd, parts[2], work, &files)?;
    let reports = files
        .join(rpi::data_name("/var/lib/vitrine-audit"))
        .join("reports");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&reports)
        .with_context(|| {
            format!(
                "no self-audit report on the data partition ({})",
                reports.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    found.sort();
    let newest = found
        .last()
        .context("the self-audit left no report on the data partition")?;
    let kept = work.join("report.json");
    std::fs::copy(newest, &kept)?;
    std::fs::remove_dir_all(&files)?;
    let passed = read_report(&std::fs::read_to_string(&kept)?)
        .with_context(|| format!("the self-audit on the Pi image ({})", kept.display()))?;
    let summaries = broker_seen(&std::fs::read_to_string(work.join("broker.log"))?)?;
    eprintln!(
        "xtask: Pi image self-audit boot passed in {:.0} s: verdict pass, {} checks, {} canaries sent from {INJECT_RADIO}, {} windows watched (at most {} distinct MACs); the broker on the host got {summaries} summaries and the status capturing (report in {})",
        elapsed.as_secs_f64(),
        passed.checks,
        passed.canaries_emitted,
        passed.windows,
        passed.distinct_macs_max,
        kept.display()
    );
    let _ = std::io::stderr().flush();
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_boot_keeps_the_root_and_moves_the_console() {
        let pi = " console=tty0 console=ttyS1,115200 root=LABEL=vitrine-root rw fsck.repair=yes net.ifnames=0 cma=64M rootwait ro\n";
        let line = test_cmdline(pi);
        let args: Vec<&str> = line.split_whitespace().collect();
        assert!(args.contains(&"root=LABEL=vitrine-root"));
        // The last of rw and ro wins: the root stays read-only.
        let ro = args.iter().rposition(|a| *a == "ro").unwrap();
        let rw = args.iter().rposition(|a| *a == "rw").unwrap();
        assert!(ro > rw);
        let consoles: Vec<&&str> = args.iter().filter(|a| a.starts_with("console=")).collect();
        assert_eq!(consoles, [&"console=ttyAMA0"]);
        assert!(args.contains(&"modules-load=mac80211_hwsim"));
        assert!(args.contains(&"systemd.wants=vitrine-audit.service"));
        assert!(args.contains(&"systemd.setenv=VITRINE_AUDIT_INJECT=wlan1"));
        assert_eq!(args.iter().filter(|a| **a == "net.ifnames=0").count(), 1);
    }

    #[test]
    fn the_first_boot_file_names_the_hosts_broker_and_the_first_radio() {
        let c = firstboot_config(41883);
        let v: toml::Value = toml::from_str(&c).unwrap();
        assert_eq!(v["broker"]["url"].as_str(), Some("mqtt://10.0.2.2:41883"));
        assert_eq!(v["capture"]["interface"].as_str(), Some(RIG_RADIO));
        assert_ne!(RIG_RADIO, INJECT_RADIO);
        // k is left to the default the default policy is measured against.
        assert!(v.get("windows").unwrap().get("k").is_none());
    }

    #[test]
    fn the_console_tells_when_the_audit_ended() {
        assert_eq!(
            audit_verdict("[  OK  ] Started vitrined.service - Vitrine\n"),
            Verdict::Waiting
        );
        assert_eq!(
            audit_verdict(
                "[  120.1] systemd[1]: Finished vitrine-audit.service - Vitrine self-audit of retention and anonymization.\n"
            ),
            Verdict::Reached
        );
        // A failed audit ends too: its report says why.
        assert_eq!(
            audit_verdict("[FAILED] Failed to start vitrine-audit.service - Vitrine self-audit\n"),
            Verdict::Reached
        );
        assert!(matches!(
            audit_verdict("[DEPEND] Dependency failed for vitrined.service - Vitrine.\n"),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            audit_verdict("Kernel panic - not syncing"),
            Verdict::Failed(_)
        ));
    }

    fn report(verdict: &str, checks: serde_json::Value, emitted: usize) -> String {
        let canaries: Vec<serde_json::Value> = (0..5)
            .map(|i| {
                serde_json::json!({"id": format!("c{i}"), "kind": "mac",
                    "emitted": if i < emitted { vec!["2026-12-03T16:00:00Z"] } else { vec![] }})
            })
            .collect();
        serde_json::json!({
            "report": {
                "verdict": verdict,
                "checks": checks,
                "canaries": canaries,
                "windows": [{"start": "2026-12-03T16:00:00Z", "topic": "vitrine/qemu/self-audit/wifi",
                    "probe_requests": 20, "distinct_macs": 4, "devices_estimate": 4.0}],
            },
            "signature": {"algorithm": "ed25519"}
        })
        .to_string()
    }

    fn passed_checks() -> serde_json::Value {
        CHECKS_EXPECTED
            .iter()
            .map(|id| serde_json::json!({"id": id, "status": "passed", "findings": []}))
            .collect()
    }

    #[test]
    fn a_passing_report_is_read_as_passed() {
        let p = read_report(&report("pass", passed_checks(), 5)).unwrap();
        assert_eq!(
            p,
            Passed {
                checks: 8,
                canaries_emitted: 5,
                windows: 1,
                distinct_macs_max: 4
            }
        );
    }

    #[test]
    fn a_failed_or_incomplete_report_fails_with_what_it_holds() {
        let mut checks = passed_checks();
        checks[0] = serde_json::json!({"id": "storage.canary", "status": "failed", "findings": [
            {"check": "storage.canary", "severity": "critical", "summary": "a canary in a file",
             "evidence": {"path": "/var/log/vendor/tracker.log"}}]});
        let e = read_report(&report("fail", checks, 5))
            .unwrap_err()
            .to_string();
        assert!(e.contains("verdict is fail"), "{e}");
        assert!(
            e.contains("storage.canary: a canary in a file /var/log/vendor/tracker.log"),
            "{e}"
        );

        let mut checks = passed_checks();
        checks[1] = serde_json::json!({"id": "journal.canary", "status": "skipped",
            "reason": "no journal", "findings": []});
        let e = read_report(&report("incomplete", checks, 5))
            .unwrap_err()
            .to_string();
        assert!(e.contains("verdict is incomplete"), "{e}");
        assert!(e.contains("journal.canary skipped: no journal"), "{e}");

        assert!(read_report("not json").is_err());
    }

    #[test]
    fn a_pass_without_the_checks_canaries_or_stream_is_refused() {
        let mut checks = passed_checks();
        checks.as_array_mut().unwrap().remove(2);
        let e = read_report(&report("pass", checks, 5))
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory.canary"), "{e}");
        let e = read_report(&report("pass", passed_checks(), 0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("0 canaries"), "{e}");
        let mut no_windows: serde_json::Value =
            serde_json::from_str(&report("pass", passed_checks(), 5)).unwrap();
        no_windows["report"]["windows"] = serde_json::json!([]);
        assert!(read_report(&no_windows.to_string()).is_err());
        let mut unheard: serde_json::Value =
            serde_json::from_str(&report("pass", passed_checks(), 5)).unwrap();
        unheard["report"]["windows"][0]["distinct_macs"] = serde_json::json!(0);
        let e = read_report(&unheard.to_string()).unwrap_err().to_string();
        assert!(e.contains("did not hear"), "{e}");
    }

    #[test]
    fn the_broker_log_shows_capture_and_summaries() {
        let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        let status = format!(
            "vitrine/qemu/self-audit/status {}\n",
            hex(r#"{"state":"online","sensors":{"wifi":"capturing"}}"#)
        );
        let waiting = format!(
            "vitrine/qemu/self-audit/status {}\n",
            hex(r#"{"state":"online","sensors":{"wifi":"lost"}}"#)
        );
        let summary = "vitrine/qemu/self-audit/wifi 28b52ffd00\n";
        assert_eq!(
            broker_seen(&format!("{status}{summary}{summary}")).unwrap(),
            2
        );
        assert!(broker_seen(&format!("{waiting}{summary}")).is_err());
        assert!(broker_seen(&status).is_err());
        // Another rig's topics do not count.
        assert!(broker_seen(&format!("{status}vitrine/qemu/other/wifi 00\n")).is_err());
    }

    #[test]
    fn dependencies_come_before_the_modules_that_need_them() {
        let dep = "kernel/drivers/block/virtio_blk.ko:\n\
                   kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_pci_legacy_dev.ko\n\
                   kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n";
        assert_eq!(
            with_dependencies(dep, &VIRT_MODULES).unwrap(),
            [
                "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
                "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
                "kernel/drivers/virtio/virtio_pci.ko",
                "kernel/drivers/block/virtio_blk.ko"
            ]
        );
        assert!(with_dependencies(dep, &["virtio_net"]).is_err());
    }

    #[test]
    fn newc_archives_are_aligned_and_end_with_a_trailer() {
        let a = newc(&[
            ("conf".into(), None),
            ("conf/modules".into(), Some(b"virtio_blk\n".to_vec())),
        ]);
        assert_eq!(a.len() % 4, 0);
        assert!(a.starts_with(b"070701"));
        // The second header starts on a 4-byte boundary after "conf\0".
        let second = (110 + 5usize).next_multiple_of(4);
        assert_eq!(&a[second..second + 6], b"070701");
        // Its size field (the 7th) is the file's 11 bytes.
        assert_eq!(&a[second + 6 + 6 * 8..second + 6 + 7 * 8], b"0000000b");
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("conf/modules\0"));
        assert!(text.contains("virtio_blk\n"));
        assert!(text.contains("TRAILER!!!\0"));
    }
}
