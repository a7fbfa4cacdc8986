//! The files an audit is given: read only when they are regular files of
//! bounded size, and the policy it measures against.

use std::path::Path;

use anyhow::Context;
use vitrine_config::policy::Policy;

/// Largest input files given to the audit, read whole: an OUI registry or
/// a canary registry is a few MiB; a report or a list of digests more.
pub const MAX_REGISTRY_BYTES: u64 = 64 << 20;
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Checks that `path` is a regular file of at most `max` bytes before it is
/// read whole, so that a device (`/dev/zero`) or a huge file is refused
/// instead of filling the memory.
pub fn input_file(path: &Path, what: &str, max: u64) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    anyhow::ensure!(
        meta.is_file(),
        "{what} {} is not a regular file",
        path.display()
    );
    anyhow::ensure!(
        meta.len() <= max,
        "{what} {} is larger than {} MiB, the most read",
        path.display(),
        max >> 20
    );
    Ok(())
}

/// Reads a text file that [`input_file`] accepts.
pub fn read_input(path: &Path, what: &str, max: u64) -> anyhow::Result<String> {
    input_file(path, what, max)?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(path)
                .with_context(|| format!("cannot read {what} {}", path.display()))?,
            max,
        ),
        &mut text,
    )
    .with_context(|| format!("cannot read {what} {}", path.display()))?;
    Ok(text)
}

pub fn load_policy(path: Option<&Path>) -> anyhow::Result<(Policy, String)> {
    match path {
        Some(p) => Ok((Policy::from_file(p)?, p.display().to_string())),
        None => Ok((Policy::default(), "defaults (an honest rig's)".into())),
    }
}
