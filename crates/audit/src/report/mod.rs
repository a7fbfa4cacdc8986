//! Audit reports: the model, signing, and the HTML page.
//!
//! A report is written as two files: the signed JSON envelope (the record)
//! and an HTML page for people that embeds it. See docs/report.md.

pub mod html;
pub mod model;
pub mod plain;
pub mod sign;

use std::io::Write;
use std::path::Path;

pub use html::render_html;
pub use model::*;
pub use sign::{
    DeviceKey, KeyError, Signature, SignedReport, VerifyError, canonical_bytes, open, sign, verify,
};

/// Writes the signed JSON envelope to `json_path` and its HTML page to
/// `html_path`, each atomically (temporary file in the same folder, fsync,
/// rename, fsync of the folder): a reader sees the old file or the new one,
/// never half of one.
pub fn write_report(
    signed: &SignedReport,
    json_path: &Path,
    html_path: &Path,
) -> std::io::Result<()> {
    write_atomic(json_path, signed.to_json_pretty().as_bytes())?;
    write_atomic(html_path, render_html(signed).as_bytes())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} names no file", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    std::fs::File::open(dir)?.sync_all()
}
