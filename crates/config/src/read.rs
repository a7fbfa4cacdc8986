//! Reading the small files a rig is configured with: bounded, so that a
//! device or a wrong path (`/dev/zero`, a capture file) is refused after
//! 1 MiB instead of filling the memory; and secrets checked for who else
//! may read them.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The most read from a configuration file, an ignore list, a password
/// file or a certificate: they are a few KiB at most.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {path} is longer than 1 MiB, the most read from such a file")]
    TooLong { what: &'static str, path: PathBuf },
    #[error("{what} {path} is not UTF-8 text")]
    NotText { what: &'static str, path: PathBuf },
}

/// Reads at most [`MAX_FILE_BYTES`] of `path` (`what` names it in errors:
/// "configuration", "ignore list"...).
pub fn read_bounded(path: &Path, what: &'static str) -> Result<Vec<u8>, ReadError> {
    let io = |source| ReadError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLong {
            what,
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// [`read_bounded`], as text.
pub fn read_text(path: &Path, what: &'static str) -> Result<String, ReadError> {
    String::from_utf8(read_bounded(path, what)?).map_err(|_| ReadError::NotText {
        what,
        path: path.to_owned(),
    })
}

/// Whether a password file or private key is kept private, as ssh and
/// PostgreSQL require of a private key: no permission at all for others,
/// and none for the group, except reading when root owns the file (the
/// `root:vitrine 0640` a service's secret usually has).
pub(crate) fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mode = meta.mode() & 0o777;
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if mode & !allowed & 0o077 != 0 {
        return Err(format!(
            "{} is open to others (mode {mode:04o}): a secret must be readable by its owner only \
             (chmod 600, or 640 with root as owner and the daemon's group)",
            path.display()
        ));
    }
    Ok(())
}
