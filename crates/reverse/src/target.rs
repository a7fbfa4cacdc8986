//! Digests found on a device, as the search takes them.

use std::fmt;
use std::path::Path;

use vitrine_canary::Algorithm;
use vitrine_canary::encoding::MIN_HEX_DIGITS;

/// One digest to reverse: a hex digest found on a device, whole or
/// truncated, of an algorithm known or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The digest as given, without the `algo:` prefix, in lowercase.
    pub hex: String,
    /// The digest bytes (a prefix of the whole digest when truncated).
    pub bytes: Vec<u8>,
    /// The algorithms it may come from: one when its length or an `algo:`
    /// prefix says which, else every algorithm whose digests are longer.
    pub algorithms: Vec<Algorithm>,
    /// Whether `algo:` named the algorithm.
    pub pinned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?} is not hex")]
    NotHex(String),
    #[error("{0:?} has an odd number of hex digits")]
    OddLength(String),
    #[error("{text:?} has {digits} hex digits; at least {MIN_HEX_DIGITS} are needed")]
    TooShort { text: String, digits: usize },
    #[error("{text:?} has {digits} hex digits, more than a {algorithm} digest has ({max})")]
    TooLong {
        text: String,
        digits: usize,
        algorithm: &'static str,
        max: usize,
    },
    #[error("unknown algorithm {0:?}: md5, sha1, sha256 or sha512")]
    UnknownAlgorithm(String),
}

#[derive(Debug, thiserror::Error)]
pub enum TargetFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {source}")]
    Line {
        path: std::path::PathBuf,
        line: usize,
        source: TargetError,
    },
}

impl Target {
    /// Parses `hex` or `algo:hex`. A length of 32, 40, 64 or 128 digits is
    /// taken as the whole digest of MD5, SHA-1, SHA-256 or SHA-512; any
    /// other even length of at least 8 digits as a truncated digest of any
    /// algorithm with longer digests. `algo:hex` says which algorithm, and
    /// then any even length up to the digest's is a prefix.
    pub fn parse(text: &str) -> Result<Target, TargetError> {
        let text = text.trim();
        let (pinned, hex) = match text.split_once(':') {
            Some((name, hex)) => {
                let name = name.trim().to_ascii_lowercase();
                let algorithm = Algorithm::ALL
                    .into_iter()
                    .find(|a| a.name() == name)
                    .ok_or(TargetError::UnknownAlgorithm(name))?;
                (Some(algorithm), hex.trim())
            }
            None => (None, text),
        };
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TargetError::NotHex(text.to_string()));
        }
        let digits = hex.len();
        if !digits.is_multiple_of(2) {
            return Err(TargetError::OddLength(text.to_string()));
        }
        if digits < MIN_HEX_DIGITS {
            return Err(TargetError::TooShort {
                text: text.to_string(),
                digits,
            });
        }
        let algorithms = match pinned {
            Some(a) if digits > a.len() * 2 => {
                return Err(TargetError::TooLong {
                    text: text.to_string(),
                    digits,
                    algorithm: a.name(),
                    max: a.len() * 2,
                });
            }
            Some(a) => vec![a],
            None => match Algorithm::from_hex_len(digits) {
                Some(a) => vec![a],
                None => {
                    let longer: Vec<Algorithm> = Algorithm::ALL
                        .into_iter()
                        .filter(|a| a.len() * 2 > digits)
                        .collect();
                    if longer.is_empty() {
                        return Err(TargetError::TooLong {
                            text: text.to_string(),
                            digits,
                            algorithm: Algorithm::Sha512.name(),
                            max: Algorithm::Sha512.len() * 2,
                        });
                    }
                    longer
                }
            },
        };
        let bytes = (0..digits)
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex"))
            .collect();
        Ok(Target {
            hex: hex.to_ascii_lowercase(),
            bytes,
            algorithms,
            pinned: pinned.is_some(),
        })
    }

    /// Whether this is a prefix of the digest rather than all of it (for
    /// `algorithm`).
    pub fn truncated_for(&self, algorithm: Algorithm) -> bool {
        self.bytes.len() < algorithm.len()
    }

    /// Whether it is shorter than every digest it may be.
    pub fn truncated(&self) -> bool {
        self.algorithms.iter().all(|a| self.truncated_for(*a))
    }

    /// Bits of the digest known.
    pub fn bits(&self) -> u32 {
        (self.bytes.len() * 8) as u32
    }

    /// First four bytes, big-endian: what the search compares first.
    pub(crate) fn key(&self) -> u32 {
        u32::from_be_bytes(self.bytes[..4].try_into().expect("at least 4 bytes"))
    }

    /// `full` or `truncated to N hex digits`.
    pub fn truncation(&self) -> String {
        if self.truncated() {
            format!("truncated to {} hex digits", self.hex.len())
        } else {
            "full".to_string()
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pinned {
            write!(f, "{}:", self.algorithms[0].name())?;
        }
        f.write_str(&self.hex)
    }
}

/// Reads digests one per line; `#` starts a comment, blank lines are
/// skipped.
pub fn read_targets(path: &Path) -> Result<Vec<Target>, TargetFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| TargetFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_targets(&text).map_err(|(line, source)| TargetFileError::Line {
        path: path.to_owned(),
        line,
        source,
    })
}

/// [`read_targets`] on text already read; errors carry their line number.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, (usize, TargetError)> {
    let mut targets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        targets.push(Target::parse(line).map_err(|e| (i + 1, e))?);
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_length_hex_names_its_algorithm_in_any_case() {
        let t = Target::parse("  D41D8CD98F00B204E9800998ECF8427E ").unwrap();
        assert_eq!(t.algorithms, [Algorithm::Md5]);
        assert_eq!(t.hex, "d41d8cd98f00b204e9800998ecf8427e");
        assert!(!t.truncated());
        assert_eq!(t.truncation(), "full");
        for (digits, a) in [
            (40, Algorithm::Sha1),
            (64, Algorithm::Sha256),
            (128, Algorithm::Sha512),
        ] {
            let t = Target::parse(&"ab".repeat(digits / 2)).unwrap();
            assert_eq!(t.algorithms, [a]);
            assert_eq!(t.bytes.len(), digits / 2);
        }
    }

    #[test]
    fn truncated_hex_may_come_from_any_longer_digest() {
        let t = Target::parse("0123456789ab").unwrap();
        assert_eq!(t.algorithms, Algorithm::ALL);
        assert!(t.truncated());
        assert_eq!(t.bits(), 48);
        assert_eq!(t.truncation(), "truncated to 12 hex digits");
        let t = Target::parse(&"00".repeat(24)).unwrap();
        assert_eq!(t.algorithms, [Algorithm::Sha256, Algorithm::Sha512]);
    }

    #[test]
    fn an_algorithm_prefix_pins_the_algorithm() {
        let t = Target::parse("SHA256:0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(t.algorithms, [Algorithm::Sha256]);
        assert!(t.truncated());
        assert_eq!(t.to_string(), "sha256:0123456789abcdef0123456789abcdef");
        assert!(matches!(
            Target::parse("md5:0123456789abcdef0123456789abcdef00"),
            Err(TargetError::TooLong { max: 32, .. })
        ));
        assert!(matches!(
            Target::parse("crc32:01234567"),
            Err(TargetError::UnknownAlgorithm(_))
        ));
    }

    #[test]
    fn malformed_digests_are_refused() {
        assert!(matches!(
            Target::parse("0123456"),
            Err(TargetError::OddLength(_))
        ));
        assert!(matches!(
            Target::parse("012345"),
            Err(TargetError::TooShort { digits: 6, .. })
        ));
        assert!(matches!(
            Target::parse("0123456g"),
            Err(TargetError::NotHex(_))
        ));
        assert!(matches!(
            Target::parse(&"00".repeat(65)),
            Err(TargetError::TooLong { .. })
        ));
    }

    #[test]
    fn a_file_skips_comments_and_blank_lines_and_names_the_bad_line() {
        let text = "# from the vendor's database\n\n0123456789ab  # a row\nsha1:deadbeef\n";
        let t = parse_targets(text).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].algorithms, [Algorithm::Sha1]);
        let err = parse_targets("01234567\n\nxyz\n").unwrap_err();
        assert_eq!(err.0, 3);
    }
}
