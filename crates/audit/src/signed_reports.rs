//! `vitrine-audit verify-report` and `report`: a signed report checked, and
//! rendered as its HTML page.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use vitrine_audit::report::{self, Report};

use crate::inputs::{MAX_INPUT_BYTES, read_input};

/// Checks the signature of `file` (and its signer, given `public_key`);
/// prints the verdict. A bad signature is exit status 1.
pub fn verify(file: &Path, public_key: Option<&str>) -> anyhow::Result<ExitCode> {
    let text = read_input(file, "report", MAX_INPUT_BYTES)?;
    match report::open(&text, public_key) {
        Ok(signed) => {
            let r: Report = serde_json::from_value(signed.record().clone())?;
            println!(
                "{}: signature valid, signed by {}; verdict {:?}, {} findings",
                file.display(),
                signed.fingerprint(),
                r.verdict,
                r.findings().len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{}: {e}", file.display());
            Ok(ExitCode::from(1))
        }
    }
}

/// Writes the HTML page of `file`, once its signature holds.
pub fn render(file: &Path, html: &Path) -> anyhow::Result<ExitCode> {
    let text = read_input(file, "report", MAX_INPUT_BYTES)?;
    let signed = report::open(&text, None).with_context(|| format!("{}", file.display()))?;
    std::fs::write(html, report::render_html(&signed))
        .with_context(|| format!("cannot write {}", html.display()))?;
    println!("{}", html.display());
    Ok(ExitCode::SUCCESS)
}
