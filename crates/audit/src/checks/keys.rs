//! Key material: a pseudonym key (or a vendor's salt) written to disk turns
//! every published pseudonym back into a MAC for whoever reads it; swap that
//! is neither off nor encrypted may receive the key from memory.

pub mod content;

use std::path::Path;

use super::{KEYS_SWAP, Outcome};
use crate::report::{CheckResult, Evidence};

/// keys.on_disk over the storage walk: files named like a key, settings
/// named like one ([`content`]), and lone high-entropy lines beside hashed
/// identifiers, reported when the walk is done. Evidence names the file
/// and line, never the value.
#[derive(Debug, Default)]
pub struct OnDisk {
    beside: content::Beside,
}

impl OnDisk {
    /// Looks at one file (`whole` when it was read whole). Pure, so that
    /// it runs outside the walk's lock; hand the result to [`OnDisk::add`].
    pub fn examine(
        path: &Path,
        head: &[u8],
        whole: Option<&[u8]>,
    ) -> (Option<String>, content::Seen) {
        let named_file = looks_like_key(path, head, head.len());
        let seen = if named_file.is_some() {
            content::Seen::default()
        } else {
            content::examine(path, head, whole)
        };
        (named_file, seen)
    }

    /// Reports what [`OnDisk::examine`] found that needs no neighbour.
    pub fn add(&mut self, out: &mut Outcome, path: &Path, found: (Option<String>, content::Seen)) {
        let (named_file, seen) = found;
        let shown = path.display().to_string();
        if let Some(why) = named_file {
            out.find(
                "A file holds what looks like a pseudonym key or salt.",
                Evidence {
                    path: Some(shown.clone()),
                    detail: Some(why),
                    ..Evidence::default()
                },
            );
        }
        if seen.is_empty() {
            return;
        }
        for hit in self.beside.add(path, seen) {
            let name = hit.name.as_deref().unwrap_or("?");
            if hit.credential {
                out.set_aside(
                    shown.clone(),
                    format!(
                        "{}: `{name}` holds {}, a service credential, not a pseudonym key",
                        at(path, hit.line),
                        hit.form
                    ),
                );
                continue;
            }
            out.find(
                format!(
                    "A setting named like a key or salt holds key material ({}).",
                    at(path, hit.line)
                ),
                Evidence {
                    path: Some(shown.clone()),
                    detail: Some(format!(
                        "{}: `{name}` holds {}",
                        at(path, hit.line),
                        hit.form
                    )),
                    ..Evidence::default()
                },
            );
        }
    }

    /// Reports lone high-entropy lines in folders holding hashed identifiers.
    pub fn finish(self, out: &mut Outcome) {
        for (path, hit, digests) in self.beside.finish() {
            let what = match &hit.name {
                Some(n) => format!("`{n}` holds {}", hit.form),
                None => format!("a line of {}", hit.form),
            };
            out.find(
                format!(
                    "A file beside hashed identifiers holds what looks like their key or salt ({}).",
                    at(&path, hit.line)
                ),
                Evidence {
                    path: Some(path.display().to_string()),
                    detail: Some(format!(
                        "{}: {what}, in the folder of {digests} (hashed identifiers)",
                        at(&path, hit.line)
                    )),
                    ..Evidence::default()
                },
            );
        }
    }
}

/// `config.ini:7`: the file's name and the line.
fn at(path: &Path, line: usize) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{name}:{line}")
}

/// Why a file looks like a key or salt, or `None`. A name that says so
/// (key, salt, secret, seed, pepper) and a body the size of one: 16 to 64
/// raw bytes of high entropy, or one hex or base64 token of that size.
/// Larger files (PEM keys, certificates, random seeds of 512 bytes) are
/// other things.
pub fn looks_like_key(path: &Path, head: &[u8], len: usize) -> Option<String> {
    // The operating system's own: systemd's entropy carried over a reboot.
    const SYSTEM: [&str; 1] = ["var/lib/systemd/random-seed"];
    if SYSTEM.iter().any(|s| path.ends_with(s)) {
        return None;
    }
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let hint = ["key", "salt", "secret", "seed", "pepper"]
        .into_iter()
        .find(|h| name.contains(h))?;
    if !(16..=130).contains(&len) || head.len() < len {
        return None;
    }
    let body = head[..len].trim_ascii();
    let is_hex = body.iter().all(u8::is_ascii_hexdigit) && body.len().is_multiple_of(2);
    let is_b64 = body
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    let bytes = if is_hex {
        body.len() / 2
    } else if is_b64 {
        body.len() * 3 / 4
    } else {
        len
    };
    if !(16..=64).contains(&bytes) {
        return None;
    }
    let binary = body
        .iter()
        .filter(|b| !(b.is_ascii_graphic() || b.is_ascii_whitespace()))
        .count();
    if !is_hex && !is_b64 && (distinct_bytes(body) < bytes / 2 || binary * 4 < body.len()) {
        // Text or padding, not random bytes.
        return None;
    }
    let form = if is_hex {
        "hex"
    } else if is_b64 {
        "base64"
    } else {
        "raw bytes"
    };
    Some(format!(
        "named like a {hint}; {bytes} bytes of key material as {form}"
    ))
}

fn distinct_bytes(b: &[u8]) -> usize {
    let mut seen = [false; 256];
    b.iter().for_each(|&x| seen[usize::from(x)] = true);
    seen.iter().filter(|&&s| s).count()
}

/// Active swap areas that are not encrypted (dm-crypt) or in RAM (zram).
/// `proc_swaps` is `/proc/swaps`; `sys_block` is `/sys/block`.
pub fn swap(proc_swaps: &Path, sys_block: &Path) -> CheckResult {
    let mut out = Outcome::new(KEYS_SWAP);
    let Ok(text) = std::fs::read_to_string(proc_swaps) else {
        return Outcome::skipped(KEYS_SWAP, format!("cannot read {}", proc_swaps.display()));
    };
    let mut areas = 0;
    for line in text.lines().skip(1) {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(kind)) = (fields.next(), fields.next()) else {
            continue;
        };
        areas += 1;
        let dev = Path::new(name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if dev.starts_with("zram") {
            continue;
        }
        let uuid =
            std::fs::read_to_string(sys_block.join(&dev).join("dm/uuid")).unwrap_or_default();
        if uuid.starts_with("CRYPT-") {
            continue;
        }
        out.find(
            "Swap is on and not encrypted: keys and state in memory may be written to disk.",
            Evidence {
                path: Some(name.to_string()),
                detail: Some(format!("swap {kind}, no dm-crypt")),
                ..Evidence::default()
            },
        );
    }
    out.examined(format!("{areas} swap areas in {}", proc_swaps.display()));
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_salts_are_told_from_other_files() {
        let p = Path::new;
        let random: Vec<u8> = (0..32u8)
            .map(|i| i.wrapping_mul(97).wrapping_add(13))
            .collect();
        assert!(looks_like_key(p("/var/lib/vendor/salt.bin"), &random, 32).is_some());
        let hex = b"3f9a0c1e5b7d2a4c6e8f0a1b2c3d4e5f3f9a0c1e5b7d2a4c6e8f0a1b2c3d4e5f\n";
        assert!(looks_like_key(p("/etc/vendor/hash_key"), hex, hex.len()).is_some());
        // Same content, a name that says nothing: not a finding.
        assert!(looks_like_key(p("/var/lib/vendor/state"), &random, 32).is_none());
        // A PEM file or a 512-byte random seed is something else.
        let pem = [b'A'; 400];
        assert!(looks_like_key(p("/etc/ssh/ssh_host_ed25519_key"), &pem, 400).is_none());
        assert!(looks_like_key(p("/var/lib/systemd/random-seed"), &[7u8; 512], 512).is_none());
        assert!(looks_like_key(p("/mnt/var/lib/systemd/random-seed"), &random, 32).is_none());
        // Text with a key-like name is not key material.
        let text = b"key = none configured here\n";
        assert!(looks_like_key(p("/etc/vendor/key.conf"), text, text.len()).is_none());
    }

    #[test]
    fn unencrypted_swap_is_found_and_encrypted_or_zram_swap_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let swaps = dir.path().join("swaps");
        std::fs::create_dir_all(dir.path().join("block/dm-0/dm")).unwrap();
        std::fs::write(
            dir.path().join("block/dm-0/dm/uuid"),
            "CRYPT-LUKS2-abc-swap\n",
        )
        .unwrap();
        let header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        std::fs::write(
            &swaps,
            format!("{header}/dev/dm-0 partition 1000 0 -2\n/dev/zram0 partition 1000 0 100\n"),
        )
        .unwrap();
        assert!(swap(&swaps, &dir.path().join("block")).findings.is_empty());
        std::fs::write(&swaps, format!("{header}/swapfile file 1000 0 -2\n")).unwrap();
        let r = swap(&swaps, &dir.path().join("block"));
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].check, "keys.swap");
        assert_eq!(r.findings[0].evidence.path.as_deref(), Some("/swapfile"));
    }
}
