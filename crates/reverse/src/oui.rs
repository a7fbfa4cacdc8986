//! The IEEE registry of OUIs (MA-L assignments), most common vendors first.
//!
//! A vendor with many assignments ships many devices, so its OUIs are the
//! likeliest first half of a MAC found hashed on a device: searching them
//! first finds most addresses after a small part of the space.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where Debian's `ieee-data` package puts the registry.
pub const DEFAULT_PATH: &str = "/usr/share/ieee-data/oui.csv";

/// OUIs with the vendor each is assigned to, most common vendors first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OuiTable {
    /// Vendors ranked by how many MA-L blocks they hold (descending, ties by
    /// name); one vendor's OUIs in the order of the file.
    pub entries: Vec<([u8; 3], String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum OuiError {
    #[error(
        "the OUI registry {path} is missing: install it with `apt-get install ieee-data`, or name another copy"
    )]
    Missing { path: PathBuf },
    #[error("cannot read the OUI registry {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path} holds no MA-L assignment")]
    Empty { path: PathBuf },
}

impl OuiTable {
    /// [`DEFAULT_PATH`].
    pub fn default_path() -> PathBuf {
        PathBuf::from(DEFAULT_PATH)
    }

    /// Reads an `oui.csv` (columns Registry, Assignment, Organization Name,
    /// Organization Address) and ranks it.
    pub fn load(path: &Path) -> Result<OuiTable, OuiError> {
        let bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                OuiError::Missing {
                    path: path.to_owned(),
                }
            } else {
                OuiError::Read {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        // Organization names and addresses are not all valid UTF-8.
        let text = String::from_utf8_lossy(&bytes);
        let malformed = |line, reason: String| OuiError::Malformed {
            path: path.to_owned(),
            line,
            reason,
        };
        let mut assignments = Vec::new();
        for record in parse_csv(&text) {
            let (line, fields) = record.map_err(|(line, reason)| malformed(line, reason))?;
            if line == 1 && fields.first().is_some_and(|f| f == "Registry") {
                continue;
            }
            if fields.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            if fields.len() < 3 {
                return Err(malformed(
                    line,
                    format!("{} fields, expected at least 3", fields.len()),
                ));
            }
            if fields[0].trim() != "MA-L" {
                continue;
            }
            let oui = parse_oui(fields[1].trim())
                .ok_or_else(|| malformed(line, format!("bad assignment {:?}", fields[1])))?;
            assignments.push((oui, fields[2].trim().to_string()));
        }
        if assignments.is_empty() {
            return Err(OuiError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(OuiTable::ranked(assignments))
    }

    /// Ranks `(oui, organization)` pairs given in file order.
    pub fn ranked(assignments: Vec<([u8; 3], String)>) -> OuiTable {
        // One vendor may be spelled with other case or spacing across rows;
        // the first spelling seen names it.
        struct Vendor {
            key: String,
            name: String,
            ouis: Vec<[u8; 3]>,
        }
        let mut vendors: Vec<Vendor> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (oui, name) in assignments {
            let key = normalize(&name);
            let i = *index.entry(key.clone()).or_insert_with(|| {
                vendors.push(Vendor {
                    key,
                    name,
                    ouis: Vec::new(),
                });
                vendors.len() - 1
            });
            vendors[i].ouis.push(oui);
        }
        vendors.sort_by(|a, b| b.ouis.len().cmp(&a.ouis.len()).then(a.key.cmp(&b.key)));
        let entries = vendors
            .into_iter()
            .flat_map(|v| v.ouis.into_iter().map(move |o| (o, v.name.clone())))
            .collect();
        OuiTable { entries }
    }

    /// The first `n` OUIs (all when there are fewer).
    pub fn top(&self, n: usize) -> OuiTable {
        OuiTable {
            entries: self.entries.iter().take(n).cloned().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The vendor `oui` is assigned to, if it is in the table.
    pub fn vendor(&self, oui: [u8; 3]) -> Option<&str> {
        self.entries
            .iter()
            .find(|(o, _)| *o == oui)
            .map(|(_, v)| v.as_str())
    }
}

fn normalize(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `002272`, `00-22-72` or `00:22:72`.
fn parse_oui(text: &str) -> Option<[u8; 3]> {
    let hex: Vec<u8> = text.bytes().filter(|b| !matches!(b, b'-' | b':')).collect();
    if hex.len() != 6 {
        return None;
    }
    let mut oui = [0u8; 3];
    for (o, pair) in oui.iter_mut().zip(hex.chunks(2)) {
        *o = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(oui)
}

type Record = Result<(usize, Vec<String>), (usize, String)>;

/// RFC 4180 records: fields in double quotes may hold commas, line breaks
/// (the registry's addresses do) and doubled quotes. Each record comes with
/// the line it starts on.
fn parse_csv(text: &str) -> impl Iterator<Item = Record> + '_ {
    let mut chars = text.chars().peekable();
    let mut line = 1;
    std::iter::from_fn(move || {
        chars.peek()?;
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Some(Err((start, "unterminated quoted field".to_string())));
                }
                fields.push(field);
                return Some(Ok((start, fields)));
            };
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (false, '"') if field.trim().is_empty() => {
                    field.clear();
                    quoted = true;
                }
                (false, ',') => fields.push(std::mem::take(&mut field)),
                (false, '\r') if chars.peek() == Some(&'\n') => {}
                (false, '\n') => {
                    line += 1;
                    fields.push(field);
                    return Some(Ok((start, fields)));
                }
                (_, c) => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Registry,Assignment,Organization Name,Organization Address\r\n\
        MA-L,002272,Small Vendor,1 Road\r\n\
        MA-L,F4BD9E,\"Cisco Systems, Inc\",\"80 West Tasman Drive\nSan Jose CA US\"\r\n\
        MA-L,00000C,\"CISCO SYSTEMS, INC \",170 West Tasman\r\n\
        MA-S,70B3D5,Not An OUI,nowhere\r\n\
        MA-L,ACDE48,\"Quoted \"\"Name\"\"\",x\r\n\
        MA-L,000001,Aaa,x\r\n";

    fn load_sample(text: &str) -> Result<OuiTable, OuiError> {
        let dir = std::env::temp_dir().join(format!("vitrine-reverse-oui-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{:x}.csv", text.len()));
        std::fs::write(&path, text).unwrap();
        let t = OuiTable::load(&path);
        std::fs::remove_file(&path).unwrap();
        t
    }

    #[test]
    fn vendors_with_most_assignments_come_first_then_by_name() {
        let t = load_sample(SAMPLE).unwrap();
        let ouis: Vec<[u8; 3]> = t.entries.iter().map(|(o, _)| *o).collect();
        assert_eq!(
            ouis,
            [
                [0xf4, 0xbd, 0x9e],
                [0x00, 0x00, 0x0c],
                [0x00, 0x00, 0x01],
                [0xac, 0xde, 0x48],
                [0x00, 0x22, 0x72],
            ]
        );
        // Case and spacing variants are one vendor, named as first spelled.
        assert_eq!(t.vendor([0x00, 0x00, 0x0c]), Some("Cisco Systems, Inc"));
        assert_eq!(t.vendor([0xac, 0xde, 0x48]), Some("Quoted \"Name\""));
        assert_eq!(t.vendor([0x70, 0xb3, 0xd5]), None);
        assert_eq!(t.top(2).len(), 2);
        assert_eq!(t.top(99).len(), 5);
    }

    #[test]
    fn a_missing_registry_names_its_path_and_the_package() {
        let err = OuiTable::load(Path::new("/nonexistent/oui.csv")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/oui.csv"), "{msg}");
        assert!(msg.contains("apt-get install ieee-data"), "{msg}");
    }

    #[test]
    fn a_bad_assignment_is_reported_with_its_line() {
        let err = load_sample("Registry,Assignment,Organization Name\nMA-L,00227,X\n").unwrap_err();
        assert!(
            err.to_string().ends_with(":2: bad assignment \"00227\""),
            "{err}"
        );
        let err = load_sample("MA-L,002272,\"open").unwrap_err();
        assert!(err.to_string().contains(":1: unterminated"), "{err}");
    }

    #[test]
    fn the_installed_registry_loads() {
        // `cargo xtask test` installs ieee-data.
        let path = OuiTable::default_path();
        let t = OuiTable::load(&path).unwrap();
        assert!(t.len() > 30_000, "{}", t.len());
        let first = &t.entries[0].1;
        assert!(t.entries.iter().take_while(|(_, v)| v == first).count() > 500);
    }
}
