//! The emulated board: a Debian arm64 image built with mmdebstrap (cached by
//! its inputs), booted under `qemu-system-aarch64 -M virt` with simulated
//! radios and camera, reached over SSH and MQTT through QEMU's port
//! forwarding. See docs/board.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recipe {
    suite: String,
    mirror: String,
    packages: Vec<String>,
    services: Vec<String>,
    disk_mb: u32,
}

/// A built image: kernel, initrd, root disk and the SSH key that logs in.
#[derive(Debug, Clone)]
pub struct Image {
    pub dir: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub disk: PathBuf,
    pub key: PathBuf,
}

/// Registers qemu-user for arm64 binaries (mmdebstrap runs the image's
/// maintainer scripts with it).
pub(crate) fn ensure_binfmt() -> anyhow::Result<()> {
    let dir = Path::new("/proc/sys/fs/binfmt_misc");
    if !dir.join("register").exists() {
        crate::run(
            Command::new("mount")
                .args(["-t", "binfmt_misc", "binfmt_misc"])
                .arg(dir),
        )
        .context("mounting binfmt_misc (needs root)")?;
    }
    if !dir.join("qemu-aarch64").exists() {
        let line = std::fs::read_to_string("/usr/lib/binfmt.d/qemu-aarch64.conf")
            .context("qemu-user-static's binfmt entry")?;
        std::fs::write(dir.join("register"), line.trim()).context("registering qemu-aarch64")?;
    }
    Ok(())
}

/// Hash of everything the image is made from.
fn inputs_hash(root: &Path) -> anyhow::Result<String> {
    let mut h = blake3::Hasher::new();
    hash_tree(&mut h, &root.join("images/qemu"))?;
    Ok(h.finalize().to_hex()[..16].to_string())
}

/// Feeds every file under `base` (but documentation) to `h`, by relative
/// name and content, in a stable order.
pub(crate) fn hash_tree(h: &mut blake3::Hasher, base: &Path) -> anyhow::Result<()> {
    let base = base.to_path_buf();
    let mut files = Vec::new();
    let mut stack = vec![base.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else if p.extension().is_none_or(|x| x != "md") {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        h.update(f.strip_prefix(&base)?.to_string_lossy().as_bytes());
        // A symlink (a unit enabled in an overlay) is its target, which
        // names a path of the image, not of this machine.
        if f.is_symlink() {
            h.update(b"symlink:");
            h.update(std::fs::read_link(&f)?.to_string_lossy().as_bytes());
        } else {
            h.update(&std::fs::read(&f).with_context(|| format!("hashing {}", f.display()))?);
        }
    }
    Ok(())
}

/// Builds the base image, or returns the cached one.
pub fn image(root: &Path) -> anyhow::Result<Image> {
    let recipe: Recipe = toml::from_str(&std::fs::read_to_string(
        root.join("images/qemu/recipe.toml"),
    )?)
    .context("images/qemu/recipe.toml")?;
    let dir = root
        .join("target/board")
        .join(format!("image-{}", inputs_hash(root)?));
    let image = Image {
        kernel: dir.join("vmlinuz"),
        initrd: dir.join("initrd.img"),
        disk: dir.join("root.qcow2"),
        key: dir.join("id_ed25519"),
        dir: dir.clone(),
    };
    if dir.join("done").exists() {
        eprintln!("xtask: board image cached in {}", dir.display());
        return Ok(image);
    }
    crate::deps::ensure(&[crate::deps::Routine::Board])?;
    ensure_binfmt()?;
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    crate::run(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "vitrine-board", "-f"])
            .arg(&image.key),
    )?;
    let rootfs = dir.join("rootfs");
    let overlay = root.join("images/qemu/overlay");
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--arch=arm64", "--variant=apt", "--quiet"])
        .arg(format!("--include={}", recipe.packages.join(",")))
        .arg(format!("--essential-hook=sync-in {} /", overlay.display()))
        .arg("--customize-hook=mkdir -p -m 700 \"$1/root/.ssh\"")
        .arg(format!(
            "--customize-hook=copy-in {} /root/.ssh",
            dir.join("id_ed25519.pub").display()
        ))
        .arg("--customize-hook=mv \"$1/root/.ssh/id_ed25519.pub\" \"$1/root/.ssh/authorized_keys\"")
        // A test board: root logs in on the console without a password.
        .arg("--customize-hook=chroot \"$1\" passwd -d root")
        .arg(format!(
            "--customize-hook=chroot \"$1\" systemctl enable {}",
            recipe.services.join(" ")
        ))
        .arg(&recipe.suite)
        .arg(&rootfs)
        .arg(&recipe.mirror);
    crate::step("board image (mmdebstrap, arm64)", cmd)?;
    let boot = rootfs.join("boot");
    let find = |prefix: &str| -> anyhow::Result<PathBuf> {
        std::fs::read_dir(&boot)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .with_context(|| format!("no {prefix}* in the image's /boot"))
    };
    std::fs::copy(find("vmlinuz-")?, &image.kernel)?;
    std::fs::copy(find("initrd.img-")?, &image.initrd)?;
    let raw = dir.join("root.raw");
    crate::run(
        Command::new("mke2fs")
            .args(["-q", "-t", "ext4", "-L", "root", "-d"])
            .arg(&rootfs)
            .arg(&raw)
            .arg(format!("{}M", recipe.disk_mb)),
    )?;
    crate::run(
        Command::new("qemu-img")
            .args(["convert", "-q", "-O", "qcow2"])
            .arg(&raw)
            .arg(&image.disk),
    )?;
    std::fs::remove_file(&raw)?;
    std::fs::remove_dir_all(&rootfs)?;
    std::fs::write(dir.join("done"), "")?;
    // Older images (other inputs) are not reused: free their space.
    for e in std::fs::read_dir(dir.parent().unwrap())?.flatten() {
        let p = e.path();
        if p != dir
            && p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("image-"))
        {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
    eprintln!(
        "xtask: board image built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(image)
}

/// A running board.
#[derive(Debug)]
pub struct Board {
    qemu: Child,
    pub ssh_port: u16,
    pub mqtt_port: u16,
    pub console: PathBuf,
    pub key: PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Board {
    /// Boots `image` on a fresh copy-on-write disk in `work`. The console
    /// goes to `work/console.log`, or to the terminal when `interactive`.
    pub fn boot(image: &Image, work: &Path, interactive: bool) -> anyhow::Result<Board> {
        std::fs::create_dir_all(work)?;
        let disk = work.join("disk.qcow2");
        let _ = std::fs::remove_file(&disk);
        crate::run(
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
                .arg(&image.disk)
                .arg(&disk),
        )?;
        let (ssh_port, mqtt_port) = (free_port()?, free_port()?);
        let console = work.join("console.log");
        let mut cmd = Command::new("qemu-system-aarch64");
        cmd.args(["-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "1024", "-no-user-config"])
            .arg("-kernel")
            .arg(&image.kernel)
            .arg("-initrd")
            .arg(&image.initrd)
            .args(["-append", "root=/dev/vda rw console=ttyAMA0 net.ifnames=0 quiet"])
            .arg("-drive")
            .arg(format!("file={},if=virtio,format=qcow2", disk.display()))
            .args(["-device", "virtio-rng-pci"])
            .args(["-netdev"])
            .arg(format!(
                "user,id=n0,hostfwd=tcp:127.0.0.1:{ssh_port}-:22,hostfwd=tcp:127.0.0.1:{mqtt_port}-:1883"
            ))
            .args(["-device", "virtio-net-pci,netdev=n0"]);
        if interactive {
            cmd.args(["-nographic"]);
        } else {
            cmd.args(["-display", "none", "-monitor", "none", "-serial"])
                .arg(format!("file:{}", console.display()))
                .stdin(Stdio::null());
        }
        let qemu = cmd.spawn().context("starting qemu-system-aarch64")?;
        Ok(Board {
            qemu,
            ssh_port,
            mqtt_port,
            console,
            key: image.key.clone(),
        })
    }

    pub fn ssh_command(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(ssh_options(&self.key, self.ssh_port))
            .arg("root@127.0.0.1");
        cmd
    }

    /// Waits until SSH answers.
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Some(status) = self.qemu.try_wait()? {
                bail!(
                    "QEMU exited ({status}) before the board came up; see {}",
                    self.console.display()
                );
            }
            let ok = self
                .ssh_command()
                .arg("systemctl is-system-running --wait >/dev/null; true")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?
                .success();
            if ok {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        bail!(
            "the board did not answer SSH within {timeout:?}; see {}",
            self.console.display()
        )
    }

    /// The rig file hil-tests read (hil-tests/README.md).
    pub fn rig_file(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(
            path,
            format!(
                "# The emulated board, written by `cargo xtask hil`.\n\
                 name = \"qemu\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"root\"\nidentity = \"{}\"\n\
                 broker = \"mqtt://127.0.0.1:{}\"\nrig_interface = \"wlan0\"\ninjector_interface = \"wlan1\"\n\
                 channel = 6\ncamera = \"/dev/video0\"\ncamera_loop = \"/dev/video1\"\n\
                 gpio_chip = \"/dev/gpiochip0\"\nindicator_line = 0\n\
                 unplug = \"modprobe -r mac80211_hwsim\"\nreplug = \"modprobe mac80211_hwsim radios=3\"\n\
                 console = \"{}\"\n",
                self.ssh_port,
                self.key.display(),
                self.mqtt_port,
                self.console.display()
            ),
        )?;
        Ok(())
    }

    /// Waits for QEMU to end (an interactive boot).
    pub fn wait_exit(mut self) -> anyhow::Result<()> {
        self.qemu.wait()?;
        Ok(())
    }

    /// Powers the board off, or kills QEMU after a grace period.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self
            .ssh_command()
            .arg("systemctl poweroff")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.qemu.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
        Ok(())
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        if let Ok(None) = self.qemu.try_wait() {
            let _ = self.qemu.kill();
            let _ = self.qemu.wait();
        }
    }
}

pub fn ssh_options(key: &Path, port: u16) -> Vec<String> {
    [
        "-i",
        &key.display().to_string(),
        "-p",
        &port.to_string(),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "BatchMode=yes",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
