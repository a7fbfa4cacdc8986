//! Known advisories against Cargo.lock, without the advisory database.
//!
//! The RustSec database cannot be fetched from the machines that build
//! Vitrine, so `cargo audit` cannot run. Instead, the advisories that
//! concern crates of our dependency tree are copied into [`KNOWN`] by hand
//! (docs/dependencies.md says when), and `cargo xtask test` (and `cargo
//! test`, through this module's test) fails when Cargo.lock or
//! fuzz/Cargo.lock holds a version one of them names.

use std::path::Path;

use anyhow::{Context, bail};

/// An advisory against the versions of a crate below `patched`.
#[derive(Debug)]
pub struct Advisory {
    pub package: &'static str,
    /// The first version of the crate's line that is not affected; every
    /// version below it is (pre-releases included).
    pub patched: (u64, u64, u64),
    pub ids: &'static [&'static str],
}

/// Advisories for crates of our tree, from RustSec.
pub const KNOWN: &[Advisory] = &[Advisory {
    package: "rustls-webpki",
    patched: (0, 103, 13),
    ids: &[
        "RUSTSEC-2026-0049 (CRL distribution points)",
        "RUSTSEC-2026-0098 (URI name constraints)",
        "RUSTSEC-2026-0099 (wildcard name constraints)",
        "RUSTSEC-2026-0104 (panic in CRL parsing)",
    ],
}];

/// `major.minor.patch` of a version; a pre-release or build suffix counts
/// as below the plain version.
fn parse(version: &str) -> Option<((u64, u64, u64), bool)> {
    let (plain, suffix) = match version.find(['-', '+']) {
        Some(i) => (&version[..i], true),
        None => (version, false),
    };
    let mut parts = plain.split('.').map(|p| p.parse::<u64>().ok());
    let v = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some((v, suffix))
}

/// The lock file's packages that an advisory of `known` names, as
/// `name version: ids`.
pub fn findings(lock: &str, known: &[Advisory]) -> anyhow::Result<Vec<String>> {
    let lock: toml::Table = toml::from_str(lock).context("Cargo.lock is not TOML")?;
    let packages = lock
        .get("package")
        .and_then(|p| p.as_array())
        .context("Cargo.lock has no [[package]]")?;
    let mut found = Vec::new();
    for package in packages {
        let field = |key: &str| package.get(key).and_then(|v| v.as_str());
        let (Some(name), Some(version)) = (field("name"), field("version")) else {
            bail!("a [[package]] of Cargo.lock without a name or version");
        };
        for advisory in known.iter().filter(|a| a.package == name) {
            let (v, pre) = parse(version)
                .with_context(|| format!("Cargo.lock: {name} has version {version:?}"))?;
            if v < advisory.patched || (v == advisory.patched && pre) {
                found.push(format!("{name} {version}: {}", advisory.ids.join(", ")));
            }
        }
    }
    Ok(found)
}

/// The lock files checked: the workspace's and the fuzz targets'.
pub const LOCK_FILES: [&str; 2] = ["Cargo.lock", "fuzz/Cargo.lock"];

/// Fails when a lock file holds a version with a known advisory.
pub fn check(root: &Path) -> anyhow::Result<()> {
    for name in LOCK_FILES {
        let path = root.join(name);
        let lock = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        let found = findings(&lock, KNOWN)?;
        if !found.is_empty() {
            bail!(
                "{name} holds versions with known advisories (see docs/dependencies.md):\n  {}",
                found.join("\n  ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "rustls-webpki"
version = "0.102.8"

[[package]]
name = "rustls-webpki"
version = "0.103.17"

[[package]]
name = "ring"
version = "0.17.14"
"#;

    #[test]
    fn an_advised_version_is_found_and_a_patched_one_is_not() {
        let found = findings(LOCK, KNOWN).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("rustls-webpki 0.102.8: RUSTSEC-2026-0049"));
    }

    #[test]
    fn versions_compare_by_number_and_pre_releases_come_first() {
        let advisory = |v: &str| {
            let lock = format!("[[package]]\nname = \"rustls-webpki\"\nversion = \"{v}\"\n");
            !findings(&lock, KNOWN).unwrap().is_empty()
        };
        assert!(advisory("0.103.9"));
        assert!(advisory("0.103.13-rc.1"));
        assert!(advisory("0.101.7"));
        assert!(!advisory("0.103.13"));
        assert!(!advisory("0.103.100"));
        assert!(!advisory("0.104.0"));
    }

    #[test]
    fn the_lock_files_hold_no_advised_version() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        check(&root).unwrap();
    }
}
