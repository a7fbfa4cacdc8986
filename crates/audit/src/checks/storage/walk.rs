//! The walk over the searched trees: every regular file, and every place
//! that could not be read or was left out, with the reason. Pseudo file
//! systems are recognised by their type (statfs), not by their path, so a
//! bind mount of /proc inside a searched tree is left out like /proc itself.

use std::path::{Path, PathBuf};

use rustix::io::Errno;

/// What the walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// Regular files with their sizes.
    pub files: Vec<(PathBuf, u64)>,
    /// Places that should have been read and could not be.
    pub not_read: Vec<(PathBuf, String)>,
    /// Places left out on purpose: pseudo file systems, special files.
    pub set_aside: Vec<(PathBuf, String)>,
}

/// File systems whose files are the kernel's view of itself, not stored
/// data; reading them can block (`kmsg`, `trace_pipe`) or never end.
const PSEUDO: &[(i64, &str)] = &[
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x1cd1, "devpts"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0xcafe_4a11, "bpf"),
    (0x6165_676c, "pstore"),
    (0x6265_6570, "configfs"),
    (0x6573_5543, "fusectl"),
    (0x1980_0202, "mqueue"),
    (0x4249_4e4d, "binfmt_misc"),
    (0xf97c_ff8c, "selinuxfs"),
    (0xde5e_81e4, "efivarfs"),
    (0x958_458f6, "hugetlbfs"),
    (0x6e73_6673, "nsfs"),
    // Looking into an automount point mounts it (a network share may hang).
    (0x0187, "autofs"),
];

/// The pseudo file system `dir` is on, if any.
pub fn pseudo_fs(dir: &Path) -> Option<&'static str> {
    let st = rustix::fs::statfs(dir).ok()?;
    // f_type's width differs between architectures.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let t = i64::from(st.f_type as i64) & 0xffff_ffff;
    PSEUDO.iter().find(|(m, _)| *m == t).map(|(_, n)| *n)
}

/// Why an IO error leaves a place unread, in words; `None` when the place
/// went away during the scan (a temporary file: nothing is stored there).
pub fn unread_reason(e: &std::io::Error, is_root: bool) -> Option<String> {
    let errno = e.raw_os_error().map(Errno::from_raw_os_error);
    Some(match errno {
        Some(Errno::NOENT) if is_root => "does not exist".to_string(),
        Some(Errno::NOENT) => return None,
        Some(Errno::ACCESS) | Some(Errno::PERM) => "permission denied".to_string(),
        Some(Errno::NAMETOOLONG) => {
            "path longer than PATH_MAX (4096 bytes): too deep to open".to_string()
        }
        Some(Errno::LOOP) => "too many levels of symbolic links".to_string(),
        _ => e.to_string(),
    })
}

/// Regular files under `roots`, and what was not read.
pub fn walk(roots: &[PathBuf], exclude: &[PathBuf]) -> Walked {
    let mut w = Walked::default();
    for root in roots {
        let mut it = walkdir::WalkDir::new(root).follow_links(false).into_iter();
        loop {
            let entry = match it.next() {
                None => break,
                Some(Ok(entry)) => entry,
                Some(Err(e)) => {
                    let path = e.path().map_or_else(|| root.clone(), Path::to_path_buf);
                    let reason = match e.io_error() {
                        Some(io) => unread_reason(io, e.depth() == 0),
                        None => Some(e.to_string()),
                    };
                    if let Some(reason) = reason {
                        w.not_read.push((path, reason));
                    }
                    continue;
                }
            };
            let ft = entry.file_type();
            if ft.is_dir() {
                if let Some(fs) = pseudo_fs(entry.path()) {
                    w.set_aside.push((
                        entry.into_path(),
                        format!("{fs} file system: the kernel's state, not stored data"),
                    ));
                    it.skip_current_dir();
                }
                continue;
            }
            if ft.is_symlink() || exclude.iter().any(|x| x == entry.path()) {
                // A link's target is searched where it lives, if under a root.
                continue;
            }
            if !ft.is_file() {
                w.set_aside
                    .push((entry.into_path(), special_kind(&ft).into()));
                continue;
            }
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            w.files.push((entry.into_path(), len));
        }
    }
    w.files.sort();
    w.files.dedup();
    w
}

/// Special files are never opened: a FIFO would block the scan, and none of
/// them holds stored data.
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "FIFO: never opened (reading one blocks; it stores nothing)"
    } else if ft.is_socket() {
        "socket: never opened (it stores nothing)"
    } else if ft.is_block_device() {
        "block device: never opened (a device, not a file)"
    } else if ft.is_char_device() {
        "character device: never opened (a device, not a file)"
    } else {
        "special file: never opened"
    }
}
