//! `vitrine-audit canaries` and `emit`: a registry of canaries made from
//! real vendors' blocks, and its canaries sent over the air.

use std::path::Path;
use std::process::ExitCode;

use vitrine_canary::Registry;

use crate::cli::RadioArgs;
use crate::inputs::{MAX_REGISTRY_BYTES, input_file};

/// Writes a registry of `macs` MAC and `ssids` SSID canaries to `out`, the
/// MACs under the blocks of the `top` vendors of `oui_file`.
pub fn make(
    macs: usize,
    ssids: usize,
    top: usize,
    oui_file: &Path,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        macs + ssids > 0,
        "a registry needs at least one canary: --macs or --ssids"
    );
    input_file(oui_file, "OUI registry", MAX_REGISTRY_BYTES)?;
    let table = vitrine_reverse::OuiTable::load(oui_file)?;
    let ouis = vitrine_canary::registry::vendor_pool(&table.entries, top);
    anyhow::ensure!(
        !ouis.is_empty() || macs == 0,
        "{} holds no vendor block to draw MAC canaries from",
        oui_file.display()
    );
    let registry = Registry::generate(macs, ssids, &ouis, &mut rand::rng());
    registry.save(out)?;
    println!(
        "{} canaries written to {}",
        registry.canaries.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Sends the canaries of `registry` and notes when in it.
pub fn emit(registry: &Path, radio: &RadioArgs) -> anyhow::Result<ExitCode> {
    input_file(registry, "canary registry", MAX_REGISTRY_BYTES)?;
    let mut reg = Registry::load(registry)?;
    let sent = vitrine_audit::emit::over_the_air(
        &mut reg,
        &radio.interface,
        &radio.monitor,
        radio.channel,
        radio.rounds,
    )?;
    reg.save(registry)?;
    println!(
        "{sent} probe requests sent from {} canaries",
        reg.macs().count()
    );
    Ok(ExitCode::SUCCESS)
}
