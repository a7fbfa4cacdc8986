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
/// Where the data partition is mounted: outside the folders the self-audit
/// searches (see [`SELF_AUDIT_ROOTS`]). Each of its folders is bound to its
/// own place and searched there; through the partition's own mount point
/// the self-audit would also read its own state (its canaries in clear,
/// which it leaves out by their path under /var/lib/vitrine-audit) and
/// files its rules know by their real path (systemd's random seed).
const DATA_MOUNT: &str = "/mnt/vitrine-data";
/// The folders `vitrine-audit self` searches by default
/// (crates/audit/src/cli.rs, `--root`).
#[cfg(test)]
const SELF_AUDIT_ROOTS: [&str; 11] = [
    "/var/lib",
    "/var/log",
    "/var/cache",
    "/var/spool",
    "/var/tmp",
    "/tmp",
    "/etc",
    "/home",
    "/root",
    "/srv",
    "/opt",
];
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
pub(crate) fn data_name(path: &str) -> String {
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

/// The FAT boot partition of an image file, read and written with mtools
/// in place (no loop device, no mount).
pub(crate) struct BootPartition {
    /// mtools' name for it: `<image>@@<offset>`.
    fat: String,
}

impl BootPartition {
    /// The partition at `(offset, length)` of `image`.
    pub(crate) fn of(image: &Path, part: (u64, u64)) -> Self {
        BootPartition {
            fat: format!("{}@@{}", image.display(), part.0),
        }
    }

    /// Copies `name` out into `dir`; its path there.
    pub(crate) fn copy_out(&self, name: &str, dir: &Path) -> anyhow::Result<PathBuf> {
        let dst = dir.join(name);
        crate::run(
            Command::new("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .args(["-n", "-i", &self.fat])
                .arg(format!("::/{name}"))
                .arg(&dst),
        )
        .with_context(|| format!("{name} from the boot partition"))?;
        Ok(dst)
    }

    /// Copies `file` in as `name`.
    pub(crate) fn copy_in(&self, file: &Path, name: &str) -> anyhow::Result<()> {
        crate::run(
            Command::new("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .args(["-i", &self.fat])
                .arg(file)
                .arg(format!("::/{name}")),
        )
        .with_context(|| format!("{name} onto the boot partition"))
    }
}

/// `kernel=` and `initramfs` of config.txt.
pub(crate) fn boot_files(config_txt: &str) -> anyhow::Result<(String, String)> {
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
/// Each partition's start and length in bytes.
pub(crate) fn partitions(disk: &Path) -> anyhow::Result<Vec<(u64, u64)>> {
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
            let start = p["start"].as_u64().context("a partition without a start")?;
            let size = p["size"].as_u64().context("a partition without a size")?;
            Ok((start * sector, size * sector))
        })
        .collect()
}

/// What the console says about the daemon, or about a boot that will not
/// reach it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Reached,
    Failed(String),
    Waiting,
}

/// The console without its colours (ESC [ ... letter).
pub(crate) fn strip_ansi(text: &str) -> String {
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

/// A boot that will not get anywhere.
const BROKEN_BOOT: [&str; 3] = [
    "Kernel panic",
    "Gave up waiting for root",
    "You are in emergency mode",
];

pub(crate) fn broken(console: &str) -> Option<Verdict> {
    BROKEN_BOOT.iter().find_map(|bad| {
        console.find(bad).map(|at| {
            let line = console[at..].lines().next().unwrap_or(bad);
            Verdict::Failed(line.to_string())
        })
    })
}

/// With a good first-boot file: reached once systemd started the daemon.
fn verdict(console: &str) -> Verdict {
    let console = &strip_ansi(console);
    if console.contains("Started vitrined.service") {
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
    broken(console).unwrap_or(Verdict::Waiting)
}

/// With a refused first-boot file: reached once systemd gave up on the
/// daemon because of it, and the console says which key was wrong.
fn refused_verdict(console: &str) -> Verdict {
    let console = &strip_ansi(console);
    if console.contains("Started vitrined.service") {
        return Verdict::Failed("vitrined started although its first-boot file was refused".into());
    }
    if console.contains("Dependency failed for vitrined.service") {
        return if console.contains(REFUSED_ON_CONSOLE) {
            Verdict::Reached
        } else {
            Verdict::Failed(format!(
                "vitrined did not start, but the console does not say why (no `{REFUSED_ON_CONSOLE}`)"
            ))
        };
    }
    broken(console).unwrap_or(Verdict::Waiting)
}

/// The first-boot file the boot check puts on its copy's boot partition, as
/// an auditor would: the rig named (the packaged configuration is not, and
/// the daemon refuses to publish unnamed), publishing to a broker that is
/// not there (the daemon spools), capturing from an adapter the emulated Pi
/// has not (the daemon waits for it), with a password among its secrets.
fn check_config(password: &str) -> String {
    format!(
        "# Written by `cargo xtask rpi-image --boot-check`.\n\
         site = \"qemu\"\nrig = \"boot-check\"\n\n\
         [broker]\nurl = \"mqtt://localhost:1883\"\nusername = \"boot-check\"\n\n\
         [capture]\ninterface = \"wlan1\"\n\n\
         [secrets]\nmqtt_password = \"{password}\"\n"
    )
}

/// The same file with a value out of range: the first boot must refuse it.
const REFUSED_CONFIG: &str = "# Written by `cargo xtask rpi-image --boot-check`.\n\
site = \"qemu\"\nrig = \"boot-check\"\n\n[windows]\nlength_s = -3\n\n\
[capture]\ninterface = \"wlan1\"\n";

/// What the console must show for [`REFUSED_CONFIG`]: the file, line,
/// column and key, as the daemon words a configuration error.
const REFUSED_ON_CONSOLE: &str = "/boot/firmware/vitrine.toml:6:12: windows.length_s:";

/// Boots the Pi image under `qemu-system-aarch64 -M raspi3b` twice, on
/// copies with the kernel, initrd, device tree and command line of its boot
/// partition: first with a first-boot file holding a bad value (the console
/// must name it and systemd must not start the daemon), then with a good
/// one (systemd must start the daemon). After the second boot, no file on
/// any partition may hold the configuration's password but the one the
/// first boot made for it. Then boots it a third time under `-M virt`
/// until its self-audit passed ([`crate::rpi_virt::self_audit_boot`]).
/// Returns the second boot's time from QEMU's start to the daemon started.
/// The consoles are in target/rpi/boot-check/.
pub fn boot_check(root: &Path, image: &Path, timeout: Duration) -> anyhow::Result<Duration> {
    crate::deps::ensure(&[crate::deps::Routine::Rpi])?;
    let work = root.join("target/rpi/boot-check");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    let t = boot(
        &work,
        image,
        "refused",
        REFUSED_CONFIG,
        timeout,
        refused_verdict,
    )?;
    eprintln!(
        "xtask: Pi image, refused first boot: the console names the bad key and vitrined did not start ({:.0} s after QEMU)",
        t.as_secs_f64()
    );

    // A password nobody could have written before this run.
    let password = format!(
        "bootcheck-{}",
        &blake3::hash(format!("{:?} {}", Instant::now(), std::process::id()).as_bytes()).to_hex()
            [..24]
    );
    let result = boot(
        &work,
        image,
        "applied",
        &check_config(&password),
        timeout,
        verdict,
    )
    .and_then(|t| {
        secrets_check(&work.join("applied"), password.as_bytes())?;
        Ok(t)
    });
    // The copies are as big as the image.
    let _ = std::fs::remove_file(work.join("refused/sd.img"));
    let _ = std::fs::remove_file(work.join("applied/sd.img"));
    let t = result?;
    eprintln!(
        "xtask: Pi image boot check passed: vitrined started {:.0} s after QEMU; the password is only in /etc/vitrine/mqtt-password (consoles in {})",
        t.as_secs_f64(),
        work.display()
    );
    // Third: the root booted as the emulated board boots, where the
    // self-audit must pass.
    crate::rpi_virt::self_audit_boot(root, image, timeout)?;
    Ok(t)
}

/// One boot of a copy of `image` (in `work/name/sd.img`, kept for the
/// caller) with `config` as its first-boot file, until `judge` says the
/// console reached what it waits for or failed.
fn boot(
    work: &Path,
    image: &Path,
    name: &str,
    config: &str,
    timeout: Duration,
    judge: fn(&str) -> Verdict,
) -> anyhow::Result<Duration> {
    let work = work.join(name);
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
    let parts = partitions(&sd)?;
    if parts.len() != 3 {
        bail!("{} has {} partitions, not 3", image.display(), parts.len());
    }
    let boot = BootPartition::of(sd.as_path(), parts[0]);
    let config_txt = std::fs::read_to_string(boot.copy_out("config.txt", &work)?)?;
    let cmdline = std::fs::read_to_string(boot.copy_out("cmdline.txt", &work)?)?;
    let (kernel, initrd) = boot_files(&config_txt)?;
    let kernel = boot.copy_out(&kernel, &work)?;
    let initrd = boot.copy_out(&initrd, &work)?;
    let dtb = boot.copy_out("bcm2837-rpi-3-b.dtb", &work)?;

    // The rig's configuration, where an auditor writes it: vitrine.toml on
    // the boot partition, applied by vitrine-firstboot.service.
    let config_file = work.join("vitrine.toml");
    std::fs::write(&config_file, config)?;
    boot.copy_in(&config_file, "vitrine.toml")?;
    std::fs::remove_file(&config_file)?;

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
    eprintln!("xtask: booting the Pi image under -M raspi3b ({name} first boot): {append}");
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
        match judge(&text) {
            Verdict::Reached => break Ok(started.elapsed()),
            Verdict::Failed(line) => break Err(anyhow::anyhow!("{line}")),
            Verdict::Waiting => {}
        }
        if let Some(status) = qemu.try_wait()? {
            break Err(anyhow::anyhow!("QEMU exited ({status})"));
        }
        if started.elapsed() > timeout {
            break Err(anyhow::anyhow!("nothing decisive within {timeout:?}"));
        }
    };
    // What the first boot wrote is fsynced before the daemon starts; a few
    // seconds more let the rest reach the card before the power goes.
    if result.is_ok() {
        std::thread::sleep(Duration::from_secs(5));
    }
    let _ = qemu.kill();
    let _ = qemu.wait();
    result.or_else(|e| {
        let text =
            String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "Pi image boot check ({name} first boot) failed after {:.0} s: {e}\n--- {} (last lines)\n{}",
            started.elapsed().as_secs_f64(),
            console.display(),
            tail.join("\n")
        )
    })
}

/// Where the configuration's password may be after the first boot: the
/// secret file it made, on the data partition (/etc/vitrine is bound from
/// there).
const PASSWORD_FILE_ON_DATA: &str = "etc-vitrine/mqtt-password";

/// After a first boot on `work/sd.img`: the first-boot file is gone from
/// the boot partition, no file there or on the data partition holds
/// `secret` but [`PASSWORD_FILE_ON_DATA`] (which does), and the read-only
/// root does not hold it anywhere, not even in free blocks.
fn secrets_check(work: &Path, secret: &[u8]) -> anyhow::Result<()> {
    let sd = work.join("sd.img");
    let parts = partitions(&sd)?;
    let fat = format!("{}@@{}", sd.display(), parts[0].0);
    let files = work.join("files");
    let _ = std::fs::remove_dir_all(&files);
    std::fs::create_dir_all(files.join("boot"))?;
    crate::run(
        Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-s", "-n", "-i", &fat, "::/"])
            .arg(files.join("boot")),
    )
    .context("the boot partition's files")?;
    if files.join("boot/vitrine.toml").exists() {
        bail!("the first-boot file is still on the boot partition after it was applied");
    }
    data_partition_files(&sd, parts[2], work, &files.join("data"))?;

    let mut holders = Vec::new();
    let mut stack = vec![files.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() && contains(&std::fs::read(entry.path())?, secret) {
                holders.push(entry.path().strip_prefix(&files)?.display().to_string());
            }
        }
    }
    let allowed = format!("data/{PASSWORD_FILE_ON_DATA}");
    let _ = std::fs::remove_dir_all(&files);
    if !holders.contains(&allowed) {
        bail!(
            "the password is not in {allowed}: the first boot did not move it there (files holding it: {holders:?})"
        );
    }
    holders.retain(|h| *h != allowed);
    if !holders.is_empty() {
        bail!(
            "files holding the configuration's password in clear after the first boot: {holders:?}"
        );
    }
    // The root is read-only: not a byte of it may hold the password.
    let mut root = File::open(&sd)?;
    root.seek(SeekFrom::Start(parts[1].0))?;
    let mut root = root.take(parts[1].1);
    let mut buf = vec![0u8; 8 << 20];
    let mut carry = Vec::new();
    loop {
        let n = root.read(&mut buf)?;
        if n == 0 {
            break;
        }
        carry.extend_from_slice(&buf[..n]);
        if contains(&carry, secret) {
            bail!("the read-only root holds the configuration's password");
        }
        let keep = carry.len().saturating_sub(secret.len());
        carry.drain(..keep);
    }
    Ok(())
}

/// The files of the data partition (`part`: start and length in bytes) of
/// the disk `sd`, read without mounting it into `dst`, after a boot that
/// ended as a power cut would; `scratch` holds the partition's copy
/// meanwhile.
pub(crate) fn data_partition_files(
    sd: &Path,
    part: (u64, u64),
    scratch: &Path,
    dst: &Path,
) -> anyhow::Result<()> {
    let data = scratch.join("data.ext4");
    {
        let mut src = File::open(sd)?;
        let mut out = File::create(&data)?;
        src.seek(SeekFrom::Start(part.0))?;
        std::io::copy(&mut src.take(part.1), &mut out)?;
    }
    // QEMU was stopped as a power cut would: replay the journal and settle
    // the bitmaps as the next boot's fsck would (exit 1 and 2: corrected).
    let fsck = Command::new("e2fsck")
        .args(["-f", "-y"])
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .context("running e2fsck on the data partition")?;
    if !matches!(fsck.code(), Some(0..=2)) {
        bail!("e2fsck on the data partition after the boot: {fsck}");
    }
    std::fs::create_dir_all(dst)?;
    crate::run(
        Command::new("debugfs")
            .arg("-R")
            .arg(format!("rdump / {}", dst.display()))
            .arg(&data),
    )
    .context("the data partition's files (debugfs rdump)")?;
    let _ = std::fs::remove_file(&data);
    // debugfs says it could not open the file system and exits 0.
    if std::fs::read_dir(dst)?.next().is_none() {
        bail!("debugfs read no file from the data partition");
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
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
        assert!(t.contains("LABEL=vitrine-data  /mnt/vitrine-data  ext4  rw,"));
        assert!(t.contains(
            "/mnt/vitrine-data/etc-vitrine  /etc/vitrine  none  bind,x-systemd.requires-mounts-for=/mnt/vitrine-data  0  0\n"
        ));
        assert!(t.contains("/mnt/vitrine-data/var-lib-vitrine  /var/lib/vitrine  none  bind"));
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
                "/mnt/vitrine-data",
                "/tmp",
                "/var/tmp",
                "/etc/vitrine",
                "/var/lib/vitrine"
            ]
        );
    }

    /// The self-audit reads the data partition through the folders bound
    /// from it, each where its rules expect it, and never through the
    /// partition's own mount point (its state, left out by path, would be
    /// read there).
    #[test]
    fn the_self_audit_searches_the_data_folders_where_they_are_bound() {
        let recipe: Recipe =
            toml::from_str(include_str!("../../../images/rpi/recipe.toml")).unwrap();
        let under = |path: &str, root: &str| path == root || path.starts_with(&format!("{root}/"));
        assert!(!SELF_AUDIT_ROOTS.iter().any(|r| under(DATA_MOUNT, r)));
        for d in &recipe.data_dirs {
            assert!(
                SELF_AUDIT_ROOTS.iter().any(|r| under(d, r)),
                "{d} is not searched"
            );
        }
        assert!(under("/var/lib/vitrine", "/var/lib"));
        assert!(!under("/var/library", "/var/lib"));
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
            Verdict::Reached
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
            Verdict::Reached
        );
        assert!(matches!(
            verdict("Gave up waiting for root file system device."),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn a_refused_first_boot_is_reached_only_with_its_reason_on_the_console() {
        let dep = "[DEPEND] Dependency failed for vitrined.service - Vitrine.\n";
        let why = format!("vitrined: configuration error: {REFUSED_ON_CONSOLE} invalid value\n");
        assert_eq!(refused_verdict("booting\n"), Verdict::Waiting);
        assert_eq!(refused_verdict(&format!("{why}{dep}")), Verdict::Reached);
        assert!(
            matches!(refused_verdict(dep), Verdict::Failed(_)),
            "no reason"
        );
        assert!(matches!(
            refused_verdict(&format!(
                "{why}[  OK  ] Started vitrined.service - Vitrine\n"
            )),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            refused_verdict("Kernel panic - not syncing"),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn the_refused_file_is_refused_where_the_console_check_expects() {
        // The line and column of REFUSED_ON_CONSOLE are those of the bad
        // value in REFUSED_CONFIG.
        let (line, text) = REFUSED_CONFIG
            .lines()
            .enumerate()
            .find(|(_, l)| l.starts_with("length_s"))
            .unwrap();
        let col = text.find("-3").unwrap() + 1;
        assert!(REFUSED_ON_CONSOLE.ends_with(&format!(":{}:{col}: windows.length_s:", line + 1)));
    }

    #[test]
    fn contains_finds_a_needle_anywhere() {
        assert!(contains(b"abcsecretdef", b"secret"));
        assert!(!contains(b"abcsecredef", b"secret"));
        assert!(!contains(b"sec", b"secret"));
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
