//! The ignore list: an auditor's own fixed equipment, dropped in the capture
//! stage before anything is hashed or counted.

use std::path::{Path, PathBuf};

use crate::RawMac;

/// MAC addresses and OUI prefixes (3 to 6 bytes) to drop.
#[derive(Debug, Default, Clone)]
pub struct IgnoreList {
    // Kept as prefixes; short lists, checked with a linear scan.
    prefixes: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum IgnoreListError {
    #[error("cannot read ignore list {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl IgnoreList {
    /// Reads one MAC (`aa:bb:cc:dd:ee:ff`) or OUI prefix (`aa:bb:cc`) per
    /// line; `-` and no separator work too; `#` starts a comment.
    pub fn from_file(path: &Path) -> Result<Self, IgnoreListError> {
        let text = std::fs::read_to_string(path).map_err(|source| IgnoreListError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|(line, message)| IgnoreListError::Syntax {
            path: path.to_owned(),
            line,
            message,
        })
    }

    /// Parses the file format; the error carries the 1-based line number.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut prefixes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            prefixes.push(parse_prefix(entry).map_err(|m| (i + 1, m))?);
        }
        Ok(IgnoreList { prefixes })
    }

    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    #[inline]
    pub fn contains(&self, mac: &RawMac) -> bool {
        self.prefixes.iter().any(|p| mac.starts_with(p))
    }
}

fn parse_prefix(entry: &str) -> Result<Vec<u8>, String> {
    let hex: String = entry
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if !hex.len().is_multiple_of(2) || !(6..=12).contains(&hex.len()) {
        return Err(format!(
            "expected a MAC address or an OUI prefix of 3 to 6 bytes, found {} hex digits",
            hex.len()
        ));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16)
                .map_err(|_| format!("not a hexadecimal byte: {:?}", &hex[i..i + 2]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_full_addresses_and_oui_prefixes() {
        let list =
            IgnoreList::parse("# lab PCs\ndc:fb:48:68:be:e4\n40-ec-99 # a vendor\n\n").unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.contains(&RawMac::from_bytes([0xdc, 0xfb, 0x48, 0x68, 0xbe, 0xe4])));
        assert!(!list.contains(&RawMac::from_bytes([0xdc, 0xfb, 0x48, 0x68, 0xbe, 0xe5])));
        assert!(list.contains(&RawMac::from_bytes([0x40, 0xec, 0x99, 1, 2, 3])));
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number() {
        let err = IgnoreList::parse("dc:fb:48\nnot-a-mac\n").unwrap_err();
        assert_eq!(err.0, 2);
        let err = IgnoreList::parse("dc:fb\n").unwrap_err();
        assert_eq!(err.0, 1);
        assert!(err.1.contains("3 to 6 bytes"));
    }
}
