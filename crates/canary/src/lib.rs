//! Canaries for audits: identifiers nobody else uses, sent over the air,
//! then looked for on the device in every form a vendor might keep them in.
//!
//! - [`registry`]: the canaries of one audit and when they were emitted.
//! - [`encoding`]: every form searched for, each with a stable name.
//! - [`scan`]: one pass over the data finds every form of every canary.
//! - [`visual`]: patches of pixels shown to a camera, and their search.

pub mod encoding;
pub mod registry;
pub mod scan;
pub mod visual;

pub use encoding::{Algorithm, Case, Encoding, Input, Spelling};
pub use registry::{Canary, CanaryValue, Registry, RegistryError};
pub use scan::{Match, Scanner};
pub use visual::{VisualCanary, VisualMatch, VisualScanner};

/// Parses a MAC in any of the spellings searched for ([`Spelling::ALL`]):
/// colons, dashes, dots or spaces between octets, groups of two or three
/// octets, bare hex, octets without their leading zero; any case.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let groups: Vec<&str> = text.split([':', '-', '.', ' ']).collect();
    let octets: Vec<&str> = match groups.len() {
        // Whole groups of two or three octets, or all twelve digits.
        1..=3 => {
            let width = 12 / groups.len();
            if groups.iter().any(|g| g.len() != width || !g.is_ascii()) {
                return None;
            }
            groups
                .iter()
                .flat_map(|g| (0..g.len()).step_by(2).map(move |i| &g[i..i + 2]))
                .collect()
        }
        6 => groups,
        _ => return None,
    };
    let mut mac = [0u8; 6];
    for (m, o) in mac.iter_mut().zip(&octets) {
        if o.is_empty() || o.len() > 2 || !o.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *m = u8::from_str_radix(o, 16).ok()?;
    }
    Some(mac)
}
