//! The Raspberry Pi SD-card image (Pi 3, 4, Zero 2 W; arm64): Debian
//! bookworm built with mmdebstrap from `images/rpi/`, the project's arm64
//! packages installed into it, laid out on an MBR disk (FAT32 boot,
//! read-only ext4 root, ext4 data) without loop devices or mounts, and
//! cached by its inputs; and its boot check under `qemu-system-aarch64 -M
//! raspi3b`. See docs/rpi-image.md.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recipe {
    suite: String,
    sources: Vec<String>,
    packages: Vec<String>,
    services: Vec<String>,
    boot_mb: u64,
    root_mb: u64,
    data_mb: u64,
    data_dirs: Vec<String>,
}

/// The image, relative to the workspace.
pub const IMAGE: &str = "target/rpi/vitrine-rpi-arm64.img";

/// File system labels: fstab and cmdline.txt name the partitions by them.
/// A FAT label is at most 11 characters, upper case.
const BOOT_LABEL: &str = "VITRINEBOOT";
const ROOT_LABEL: &str = "vitrine-root";
const DATA_LABEL: &str = "vitrine-data";
/// Where the data partition is mounted.
const DATA_MOUNT: &str = "/var/lib/vitrine-data";
/// The first partition starts at 4 MiB, as on Raspberry Pi OS images: an SD
/// card's erase blocks are aligned.
const FIRST_MB: u64 = 4;
const MIB: u64 = 1 << 20;

/// One partition, in MiB from the start of the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    start_mb: u64,
    size_mb: u64,
}

/// Boot, root and data, one after the other from [`FIRST_MB`].
fn layout(boot_mb: u64, root_mb: u64, data_mb: u64) -> [Part; 3] {
    let boot = Part {
        start_mb: FIRST_MB,
        size_mb: boot_mb,
    };
    let root = Part {
        start_mb: boot.start_mb + boot_mb,
        size_mb: root_mb,
    };
    let data = Part {
        start_mb: root.start_mb + root_mb,
        size_mb: data_mb,
    };
    [boot, root, data]
}

/// sfdisk's input: an MBR (the Pi's boot ROM reads no GPT on a Pi 3), FAT32
/// LBA boot partition marked active, two Linux partitions.
fn sfdisk_script(parts: &[Part; 3], disk_id: u32) -> String {
    let sectors = |mb: u64| mb * MIB / 512;
    let mut s = format!("label: dos\nlabel-id: 0x{disk_id:08x}\nunit: sectors\n\n");
    for (i, p) in parts.iter().enumerate() {
        let kind = if i == 0 { "c, bootable" } else { "83" };
        s.push_str(&format!(
            "start={}, size={}, type={kind}\n",
            sectors(p.start_mb),
            sectors(p.size_mb)
        ));
    }
    s
}

/// The data partition's folder for a writable path: `/etc/vitrine` is
/// `etc-vitrine`.
fn data_name(path: &str) -> String {
    path.trim_matches('/').replace('/', "-")
}

/// The image's fstab: the root read-only, temporary folders in memory, the
/// data partition, and each writable folder bind-mounted from it.
fn fstab(data_dirs: &[String]) -> String {
    let mut s = String::from(
        "# The Vitrine Raspberry Pi image (docs/rpi-image.md): the root is read-only;\n\
         # what the rig writes lives on the data partition, bound over the root.\n\
         # <file system>  <mount point>  <type>  <options>  <dump>  <pass>\n",
    );
    s.push_str(&format!(
        "LABEL={ROOT_LABEL}  /  ext4  ro,noatime,errors=remount-ro  0  1\n"
    ));
    // Writable: the first-boot unit deletes vitrine.toml once applied.
    // Readable by root only (the file may hold secrets until then); `flush`
    // writes at once, as a power cut must not find a FAT half written.
    s.push_str(&format!(
        "LABEL={BOOT_LABEL}  /boot/firmware  vfat  rw,noatime,umask=0077,flush  0  0\n"
    ));
    s.push_str(&format!(
        "LABEL={DATA_LABEL}  {DATA_MOUNT}  ext4  rw,noatime,nosuid,nodev  0  2\n"
    ));
    s.push_str("tmpfs  /tmp  tmpfs  rw,nosuid,nodev,mode=1777  0  0\n");
    s.push_str("tmpfs  /var/tmp  tmpfs  rw,nosuid,nodev,mode=1777  0  0\n");
    for d in data_dirs {
        s.push_str(&format!(
            "{DATA_MOUNT}/{}  {d}  none  bind,x-systemd.requires-mounts-for={DATA_MOUNT}  0  0\n",
            data_name(d)
        ));
    }
    s
}

/// The mount points an fstab names.
fn mount_points(fstab: &str) -> Vec<&str> {
    fstab
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect()
}

/// Hash of everything the image is made from: the recipe folder, this
/// builder, and what the packages installed into it hold.
fn inputs_hash(recipe_dir: &Path, debs: &[PathBuf], scratch: &Path) -> anyhow::Result<String> {
    let mut h = blake3::Hasher::new();
    crate::board::hash_tree(&mut h, recipe_dir)?;
    h.update(include_bytes!("rpi.rs"));
    for d in debs {
        hash_deb(&mut h, d, scratch)?;
    }
    Ok(h.finalize().to_hex()[..16].to_string())
}

/// A package by its control files and the files it installs, names and
/// contents: its bytes change with every build (file times in the archive).
fn hash_deb(h: &mut blake3::Hasher, deb: &Path, scratch: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch)?;
    crate::run(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb)
            .arg(scratch.join("data")),
    )?;
    crate::run(
        Command::new("dpkg-deb")
            .arg("-e")
            .arg(deb)
            .arg(scratch.join("control")),
    )?;
    h.update(deb.file_name().unwrap_or_default().as_encoded_bytes());
    crate::board::hash_tree(h, scratch)?;
    std::fs::remove_dir_all(scratch)?;
    Ok(())
}

fn mkdir_like(path: &Path, like: &std::fs::Metadata) -> anyhow::Result<()> {
    std::fs::create_dir(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(like.mode() & 0o7777))?;
    std::os::unix::fs::chown(path, Some(like.uid()), Some(like.gid()))?;
    Ok(())
}

/// Copies `src` into `dst` at `offset`, leaving runs of zeros as holes (the
/// image stays sparse on disk).
fn copy_at(src: &Path, dst: &mut File, offset: u64) -> anyhow::Result<()> {
    let mut f = File::open(src)?;
    let mut buf = vec![0u8; MIB as usize];
    let mut at = offset;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            dst.seek(SeekFrom::Start(at))?;
            dst.write_all(&buf[..n])?;
        }
        at += n as u64;
    }
    Ok(())
}

/// Bytes the file takes on disk (sparse files take less than their length).
fn allocated(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(path)?.blocks() * 512)
}

fn describe_size(path: &Path) -> anyhow::Result<String> {
    let len = std::fs::metadata(path)?.len();
    Ok(format!(
        "{} MiB ({} MiB on disk)",
        len / MIB,
        allocated(path)? / MIB
    ))
}

/// Builds the image (with `xz`, also `.img.xz`), or returns the cached one.
pub fn image(root: &Path, xz: bool) -> anyhow::Result<PathBuf> {
    let recipe_dir = root.join("images/rpi");
    let recipe: Recipe = toml::from_str(&std::fs::read_to_string(recipe_dir.join("recipe.toml"))?)
        .context("images/rpi/recipe.toml")?;
    for d in &recipe.data_dirs {
        if !d.starts_with('/') || d.contains("..") || d.contains(char::is_whitespace) {
            bail!("images/rpi/recipe.toml: data_dirs: {d:?} is not an absolute path");
        }
    }
    let debs = crate::package::packages(root, "arm64")?;
    let out = root.join("target/rpi");
    let hash = inputs_hash(&recipe_dir, &debs, &out.join("inputs.tmp"))?;
    std::fs::create_dir_all(&out)?;
    let img = root.join(IMAGE);
    let stamp = out.join("inputs");
    let cached = img.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == hash);
    if cached {
        eprintln!(
            "xtask: Pi image cached: {}, {}",
            img.display(),
            describe_size(&img)?
        );
    } else {
        build(root, &recipe, &recipe_dir, &debs, &hash, &img)?;
        std::fs::write(&stamp, format!("{hash}\n"))?;
    }
    let packed = img.with_extension("img.xz");
    if xz && !(cached && packed.exists()) {
        let started = Instant::now();
        let _ = std::fs::remove_file(&packed);
        crate::run(
            Command::new("xz")
                .args(["-T0", "-6", "--keep", "--force"])
                .arg(&img),
        )?;
        eprintln!(
            "xtask: {} in {:.0} s, {} MiB",
            packed.display(),
            started.elapsed().as_secs_f64(),
            std::fs::metadata(&packed)?.len() / MIB
        );
    } else if !xz {
        // A stale compressed image would not match the image beside it.
        let _ = std::fs::remove_file(&packed);
    }
    Ok(img)
}

fn build(
    root: &Path,
    recipe: &Recipe,
    recipe_dir: &Path,
    debs: &[PathBuf],
    hash: &str,
    img: &Path,
) -> anyhow::Result<()> {
    crate::deps::ensure(&[crate::deps::Routine::Rpi])?;
    crate::board::ensure_binfmt()?;
    let started = Instant::now();
    let work = root.join("target/rpi/build");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let rootfs = work.join("root");
    let overlay = recipe_dir.join("overlay");
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--arch=arm64", "--variant=apt", "--quiet"])
        .arg(format!("--include={}", recipe.packages.join(",")))
        // Before the packages: the initramfs settings must be there when
        // the kernel's initrd is first built.
        .arg(format!("--essential-hook=sync-in {} /", overlay.display()));
    cmd.arg("--customize-hook=mkdir -p \"$1/tmp/vitrine-debs\"");
    for d in debs {
        cmd.arg(format!(
            "--customize-hook=copy-in {} /tmp/vitrine-debs",
            d.display()
        ));
    }
    cmd.arg(
        "--customize-hook=chroot \"$1\" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/vitrine-debs/*.deb'",
    )
    .arg("--customize-hook=rm -rf \"$1/tmp/vitrine-debs\"")
    .arg(format!(
        "--customize-hook=chroot \"$1\" systemctl enable {}",
        recipe.services.join(" ")
    ))
    .arg(format!(
        "--customize-hook=sh {} \"$1\"",
        recipe_dir.join("customize.sh").display()
    ))
    .arg(&recipe.suite)
    .arg(&rootfs)
    .args(&recipe.sources);
    crate::step("Pi image (mmdebstrap, arm64)", cmd)?;

    let firmware = rootfs.join("boot/firmware");
    for f in ["config.txt", "cmdline.txt", "bcm2837-rpi-3-b.dtb"] {
        if !firmware.join(f).is_file() {
            bail!("raspi-firmware left no {f} in /boot/firmware");
        }
    }
    // mmdebstrap's clean-up removes D-Bus's machine id: D-Bus reads
    // systemd's through the link systemd-tmpfiles would make at each boot,
    // and cannot on a read-only root.
    let dbus_id = rootfs.join("var/lib/dbus/machine-id");
    let _ = std::fs::remove_file(&dbus_id);
    std::os::unix::fs::symlink("/etc/machine-id", &dbus_id)?;
    let table = fstab(&recipe.data_dirs);
    std::fs::write(rootfs.join("etc/fstab"), &table)?;
    // systemd cannot make a missing mount point on a read-only root.
    std::fs::create_dir_all(rootfs.join(DATA_MOUNT.trim_start_matches('/')))?;

    // The writable folders go to the data partition; empty mount points of
    // the same owner and mode stay on the root.
    let data = work.join("data");
    std::fs::create_dir(&data)?;
    for d in &recipe.data_dirs {
        let on_root = rootfs.join(d.trim_start_matches('/'));
        let on_data = data.join(data_name(d));
        if on_root.is_dir() {
            let meta = std::fs::metadata(&on_root)?;
            std::fs::rename(&on_root, &on_data)?;
            mkdir_like(&on_root, &meta)?;
        } else {
            // Made by systemd at first start (StateDirectory=): root's, 0755
            // until then.
            std::fs::create_dir_all(&on_root)?;
            std::fs::create_dir(&on_data)?;
        }
    }

    let [boot, rootp, datap] = layout(recipe.boot_mb, recipe.root_mb, recipe.data_mb);
    let boot_img = work.join("boot.vfat");
    File::create(&boot_img)?.set_len(boot.size_mb * MIB)?;
    let vol_id = &hash[..8];
    crate::run(
        Command::new("mkfs.vfat")
            .args(["-F", "32", "-n", BOOT_LABEL, "-i", vol_id])
            .arg(&boot_img)
            .stdout(Stdio::null()),
    )?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&firmware)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    crate::run(
        Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-s", "-p", "-m", "-i"])
            .arg(&boot_img)
            .args(&entries)
            .arg("::/"),
    )?;
    for e in &entries {
        if e.is_dir() {
            std::fs::remove_dir_all(e)?;
        } else {
            std::fs::remove_file(e)?;
        }
    }
    let root_img = work.join("root.ext4");
    let data_img = work.join("data.ext4");
    for (dir, file, label, part) in [
        (&rootfs, &root_img, ROOT_LABEL, rootp),
        (&data, &data_img, DATA_LABEL, datap),
    ] {
        crate::run(
            Command::new("mke2fs")
                .args(["-q", "-t", "ext4", "-L", label, "-d"])
                .arg(dir)
                .arg(file)
                .arg(format!("{}M", part.size_mb)),
        )
        .with_context(|| format!("{label}: {} MiB too small?", part.size_mb))?;
    }
    for point in mount_points(&table) {
        if !rootfs.join(point.trim_start_matches('/')).is_dir() {
            bail!("the image's root has no mount point {point}");
        }
    }
    // The roots are in the file systems now.
    std::fs::remove_dir_all(&rootfs)?;
    std::fs::remove_dir_all(&data)?;

    let tmp = img.with_extension("img.part");
    let mut disk = File::create(&tmp)?;
    disk.set_len((datap.start_mb + datap.size_mb) * MIB)?;
    let disk_id = u32::from_str_radix(vol_id, 16)?;
    let mut sfdisk = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(&tmp)
        .stdin(Stdio::piped())
        .spawn()
        .context("starting sfdisk")?;
    sfdisk
        .stdin
        .take()
        .unwrap()
        .write_all(sfdisk_script(&[boot, rootp, datap], disk_id).as_bytes())?;
    if !sfdisk.wait()?.success() {
        bail!("sfdisk failed on {}", tmp.display());
    }
    for (file, part) in [(&boot_img, boot), (&root_img, rootp), (&data_img, datap)] {
        copy_at(file, &mut disk, part.start_mb * MIB)?;
    }
    disk.sync_all()?;
    drop(disk);
    std::fs::rename(&tmp, img)?;
    std::fs::remove_dir_all(&work)?;
    eprintln!(
        "xtask: Pi image built in {:.0} s: {}, {}",
        started.elapsed().as_secs_f64(),
        img.display(),
        describe_size(img)?
    );
    Ok(())
}

/// The smallest power of two at least `n` (QEMU's SD card must be one).
fn next_pow2(n: u64) -> u64 {
    n.max(1).next_power_of_two()
}

/// `kernel=` and `initramfs` of config.txt.
fn boot_files(config_txt: &str) -> anyhow::Result<(String, String)> {
    let mut kernel = None;
    let mut initrd = None;
    for line in config_txt.lines().map(str::trim) {
        if let Some(k) = line.strip_prefix("kernel=") {
            kernel = Some(k.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("initramfs ") {
            initrd = rest.split_whitespace().next().map(str::to_string);
        }
    }
    match (kernel, initrd) {
        (Some(k), Some(i)) => Ok((k, i)),
        _ => bail!("config.txt names no kernel= and initramfs:\n{config_txt}"),
    }
}

/// Partition starts, in bytes, from the disk's table.
fn partition_starts(disk: &Path) -> anyhow::Result<Vec<u64>> {
    let out = Command::new("sfdisk")
        .arg("--json")
        .arg(disk)
        .output()
        .context("running sfdisk --json")?;
    if !out.status.success() {
        bail!(
            "sfdisk --json {}: {}",
            disk.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let table = &v["partitiontable"];
    let sector = table["sectorsize"].as_u64().unwrap_or(512);
    table["partitions"]
        .as_array()
        .context("no partitions")?
        .iter()
        .map(|p| {
            p["start"]
                .as_u64()
                .map(|s| s * sector)
                .context("a partition without a start")
        })
        .collect()
}

/// What the console says about the daemon, or about a boot that will not
/// reach it.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Started,
    Failed(String),
    Waiting,
}

/// The console without its colours (ESC [ ... letter).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn verdict(console: &str) -> Verdict {
    let console = &strip_ansi(console);
    if console.contains("Started vitrined.service") {
        return Verdict::Started;
    }
    for bad in [
        "Failed to start vitrined.service",
        "Failed to start vitrine-firstboot.service",
        "Dependency failed for vitrined.service",
        "Kernel panic",
        "Gave up waiting for root",
        "You are in emergency mode",
    ] {
        if let Some(at) = console.find(bad) {
            let line = console[at..].lines().next().unwrap_or(bad);
            return Verdict::Failed(line.to_string());
        }
    }
    Verdict::Waiting
}

/// The first-boot file the boot check puts on its copy's boot partition, as
/// an auditor would: the rig named (the packaged configuration is not, and
/// the daemon refuses to publish unnamed), publishing to a broker that is
/// not there (the daemon spools), capturing from an adapter the emulated Pi
/// has not (the daemon waits for it).
const CHECK_CONFIG: &str = "# Written by `cargo xtask rpi-image --boot-check`.\n\
site = \"qemu\"\nrig = \"boot-check\"\n\n[broker]\nurl = \"mqtt://localhost:1883\"\n\n\
[capture]\ninterface = \"wlan1\"\n";

/// Boots a copy of `image` under `qemu-system-aarch64 -M raspi3b` with the
/// kernel, initrd, device tree and command line of its boot partition, and
/// waits until systemd has started vitrined. Returns the time from QEMU's
/// start. The console is in target/rpi/boot-check/console.log.
pub fn boot_check(root: &Path, image: &Path, timeout: Duration) -> anyhow::Result<Duration> {
    crate::deps::ensure(&[crate::deps::Routine::Rpi])?;
    let work = root.join("target/rpi/boot-check");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let sd = work.join("sd.img");
    crate::run(
        Command::new("cp")
            .arg("--sparse=always")
            .arg(image)
            .arg(&sd),
    )?;
    let len = std::fs::metadata(&sd)?.len();
    File::options()
        .write(true)
        .open(&sd)?
        .set_len(next_pow2(len))?;
    let starts = partition_starts(&sd)?;
    if starts.len() != 3 {
        bail!("{} has {} partitions, not 3", image.display(), starts.len());
    }
    let fat = format!("{}@@{}", sd.display(), starts[0]);
    let mcopy_out = |name: &str| -> anyhow::Result<PathBuf> {
        let dst = work.join(name);
        crate::run(
            Command::new("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .args(["-n", "-i", &fat])
                .arg(format!("::/{name}"))
                .arg(&dst),
        )
        .with_context(|| format!("{name} from the boot partition"))?;
        Ok(dst)
    };
    let config_txt = std::fs::read_to_string(mcopy_out("config.txt")?)?;
    let cmdline = std::fs::read_to_string(mcopy_out("cmdline.txt")?)?;
    let (kernel, initrd) = boot_files(&config_txt)?;
    let kernel = mcopy_out(&kernel)?;
    let initrd = mcopy_out(&initrd)?;
    let dtb = mcopy_out("bcm2837-rpi-3-b.dtb")?;

    // The rig's configuration, where an auditor writes it: vitrine.toml on
    // the boot partition, applied by vitrine-firstboot.service.
    let config = work.join("vitrine.toml");
    std::fs::write(&config, CHECK_CONFIG)?;
    crate::run(
        Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i", &fat])
            .arg(&config)
            .arg("::/vitrine.toml"),
    )
    .context("vitrine.toml onto the boot partition")?;

    // The console: the boot partition's cmdline.txt names the mini UART
    // (ttyS1), which is QEMU's second serial port on raspi3b; the first,
    // the PL011, is logged too.
    let console = work.join("console.log");
    let pl011 = work.join("pl011.log");
    // systemd's own messages to the kernel log as well, whole (the status
    // lines are cut to the console's width) and not rate-limited.
    let append = format!(
        "{} systemd.show_status=true systemd.log_target=kmsg printk.devkmsg=on",
        cmdline.trim()
    );
    eprintln!("xtask: booting the Pi image under -M raspi3b: {append}");
    let mut qemu = Command::new("qemu-system-aarch64")
        .args(["-M", "raspi3b", "-m", "1G", "-no-user-config"])
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .arg("-dtb")
        .arg(&dtb)
        .args(["-append", &append])
        .arg("-drive")
        .arg(format!("if=sd,format=raw,file={}", sd.display()))
        .args(["-display", "none", "-monitor", "none", "-serial"])
        .arg(format!("file:{}", pl011.display()))
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .stdin(Stdio::null())
        .spawn()
        .context("starting qemu-system-aarch64")?;
    let started = Instant::now();
    let result = loop {
        std::thread::sleep(Duration::from_secs(2));
        let text = String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default())
            .into_owned()
            + &String::from_utf8_lossy(&std::fs::read(&pl011).unwrap_or_default());
        match verdict(&text) {
            Verdict::Started => break Ok(started.elapsed()),
            Verdict::Failed(line) => break Err(anyhow::anyhow!("{line}")),
            Verdict::Waiting => {}
        }
        if let Some(status) = qemu.try_wait()? {
            break Err(anyhow::anyhow!("QEMU exited ({status})"));
        }
        if started.elapsed() > timeout {
            break Err(anyhow::anyhow!("vitrined not started within {timeout:?}"));
        }
    };
    let _ = qemu.kill();
    let _ = qemu.wait();
    // The copy is as big as the image.
    let _ = std::fs::remove_file(&sd);
    match result {
        Ok(t) => {
            eprintln!(
                "xtask: Pi image boot check passed: vitrined started {:.0} s after QEMU (console: {})",
                t.as_secs_f64(),
                console.display()
            );
            Ok(t)
        }
        Err(e) => {
            let text =
                String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "Pi image boot check failed after {:.0} s: {e}\n--- {} (last lines)\n{}",
                started.elapsed().as_secs_f64(),
                console.display(),
                tail.join("\n")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_each_other_from_4_mib() {
        let [b, r, d] = layout(256, 1024, 256);
        assert_eq!(
            b,
            Part {
                start_mb: 4,
                size_mb: 256
            }
        );
        assert_eq!(r.start_mb, 260);
        assert_eq!(d.start_mb, 1284);
        let script = sfdisk_script(&[b, r, d], 0xdeadbeef);
        assert!(script.starts_with("label: dos\nlabel-id: 0xdeadbeef\n"));
        // 4 MiB in 512-byte sectors; the boot partition FAT32 LBA, active.
        assert!(script.contains("start=8192, size=524288, type=c, bootable\n"));
        assert!(script.contains("start=532480, size=2097152, type=83\n"));
        assert_eq!(script.matches("type=83").count(), 2);
    }

    #[test]
    fn fstab_mounts_the_root_read_only_and_binds_state_from_data() {
        let dirs = vec!["/etc/vitrine".to_string(), "/var/lib/vitrine".to_string()];
        let t = fstab(&dirs);
        let root = t
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("/"))
            .unwrap();
        assert!(
            root.split_whitespace()
                .nth(3)
                .unwrap()
                .split(',')
                .any(|o| o == "ro")
        );
        assert!(t.contains("LABEL=vitrine-data  /var/lib/vitrine-data  ext4  rw,"));
        assert!(t.contains(
            "/var/lib/vitrine-data/etc-vitrine  /etc/vitrine  none  bind,x-systemd.requires-mounts-for=/var/lib/vitrine-data  0  0\n"
        ));
        assert!(t.contains("/var/lib/vitrine-data/var-lib-vitrine  /var/lib/vitrine  none  bind"));
        assert!(t.contains("tmpfs  /tmp  tmpfs"));
        // Every line but comments has six fields.
        for l in t.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(l.split_whitespace().count(), 6, "{l}");
        }
        assert_eq!(data_name("/var/lib/vitrine-audit"), "var-lib-vitrine-audit");
        let points = mount_points(&t);
        assert_eq!(
            points,
            [
                "/",
                "/boot/firmware",
                "/var/lib/vitrine-data",
                "/tmp",
                "/var/tmp",
                "/etc/vitrine",
                "/var/lib/vitrine"
            ]
        );
    }

    #[test]
    fn boot_files_come_from_config_txt() {
        let cfg = "arm_64bit=1\nenable_uart=1\nupstream_kernel=1\nkernel=vmlinuz-6.1.0-57-arm64\n\
                   initramfs initrd.img-6.1.0-57-arm64\n";
        assert_eq!(
            boot_files(cfg).unwrap(),
            (
                "vmlinuz-6.1.0-57-arm64".to_string(),
                "initrd.img-6.1.0-57-arm64".to_string()
            )
        );
        assert!(boot_files("arm_64bit=1\n").is_err());
    }

    #[test]
    fn sd_card_sizes_are_powers_of_two() {
        assert_eq!(next_pow2(1540 * MIB), 2048 * MIB);
        assert_eq!(next_pow2(2048 * MIB), 2048 * MIB);
        assert_eq!(next_pow2(0), 1);
    }

    #[test]
    fn the_console_tells_started_from_failed() {
        assert_eq!(
            verdict("[  OK  ] Started systemd-udevd.service\n"),
            Verdict::Waiting
        );
        assert_eq!(
            verdict(
                "[  OK  ] Started vitrined.service - Vitrine anonymous Wi-Fi footfall sensing.\n"
            ),
            Verdict::Started
        );
        assert_eq!(
            verdict("x\n[FAILED] Failed to start vitrined.service - Vitrine.\nmore\n"),
            Verdict::Failed("Failed to start vitrined.service - Vitrine.".into())
        );
        // As systemd colours it on the console.
        assert_eq!(
            verdict(
                "[\u{1b}[0;32m  OK  \u{1b}[0m] Started \u{1b}[0;1;39mvitrined.service\u{1b}[0m - Vitrine\n"
            ),
            Verdict::Started
        );
        assert!(matches!(
            verdict("Gave up waiting for root file system device."),
            Verdict::Failed(_)
        ));
    }

    /// The cache survives a package rebuilt from the same files (other file
    /// times, other bytes) and not a change of content.
    #[test]
    fn packages_hash_by_content_not_file_times() {
        let dir = std::env::temp_dir().join(format!("xtask-rpi-deb-{}", std::process::id()));
        let build = |content: &str, mtime: &str, name: &str| -> PathBuf {
            let stage = dir.join("stage");
            let _ = std::fs::remove_dir_all(&stage);
            std::fs::create_dir_all(stage.join("DEBIAN")).unwrap();
            std::fs::create_dir_all(stage.join("usr/share/x")).unwrap();
            std::fs::write(
                stage.join("DEBIAN/control"),
                "Package: x\nVersion: 1\nArchitecture: all\nMaintainer: x <x@example.org>\nDescription: x\n",
            )
            .unwrap();
            std::fs::write(stage.join("usr/share/x/file"), content).unwrap();
            crate::run(
                Command::new("touch")
                    .args(["-d", mtime])
                    .arg(stage.join("usr/share/x/file")),
            )
            .unwrap();
            let deb = dir.join(name);
            crate::run(
                Command::new("dpkg-deb")
                    .args(["--root-owner-group", "--build"])
                    .arg(&stage)
                    .arg(&deb)
                    .stdout(Stdio::null()),
            )
            .unwrap();
            deb
        };
        let hash = |deb: &Path| {
            let mut h = blake3::Hasher::new();
            hash_deb(&mut h, deb, &dir.join("scratch")).unwrap();
            h.finalize()
        };
        let a = build("one", "2020-01-01", "a.deb");
        let b = build("one", "2024-06-01", "a2.deb");
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        // The same file name for both, as a rebuilt package has.
        std::fs::create_dir_all(dir.join("b")).unwrap();
        let b2 = dir.join("b/a.deb");
        std::fs::rename(&b, &b2).unwrap();
        assert_eq!(hash(&a), hash(&b2));
        // a.deb again, with another content.
        build("two", "2020-01-01", "a.deb");
        assert_ne!(hash(&a), hash(&b2));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn copy_at_keeps_holes_and_data() {
        let dir = std::env::temp_dir().join(format!("xtask-rpi-copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("src");
        let mut data = vec![0u8; 3 * MIB as usize];
        data[2 * MIB as usize + 5] = 7;
        std::fs::write(&src, &data).unwrap();
        let dst_path = dir.join("dst");
        let mut dst = File::create(&dst_path).unwrap();
        dst.set_len(8 * MIB).unwrap();
        copy_at(&src, &mut dst, 4 * MIB).unwrap();
        drop(dst);
        let out = std::fs::read(&dst_path).unwrap();
        assert_eq!(out.len(), 8 * MIB as usize);
        assert_eq!(out[6 * MIB as usize + 5], 7);
        assert_eq!(out.iter().filter(|&&b| b != 0).count(), 1);
        // Only the megabyte with data was written.
        assert!(allocated(&dst_path).unwrap() <= 2 * MIB);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
