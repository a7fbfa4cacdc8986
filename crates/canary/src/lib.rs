//! Canaries for audits: identifiers nobody else uses, sent over the air,
//! then looked for on the device in every form a vendor might keep them in.
//!
//! - [`registry`]: the canaries of one audit and when they were emitted.
//! - [`encoding`]: every form searched for, each with a stable name.
//! - [`scan`]: one pass over the data finds every form of every canary.

pub mod encoding;
pub mod registry;
pub mod scan;

pub use encoding::{Algorithm, Case, Encoding, Input, Spelling};
pub use registry::{Canary, CanaryValue, Registry, RegistryError};
pub use scan::{Match, Scanner};

/// Parses a MAC in any of the usual spellings (colons, dashes, Cisco dots,
/// bare hex; any case).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let hex: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b':' | b'-' | b'.'))
        .collect();
    if hex.len() != 12 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        mac[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(mac)
}
