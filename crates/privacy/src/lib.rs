//! The privacy boundary of Vitrine.
//!
//! Raw identifiers ([`RawMac`], [`RawSsid`]) and raw images ([`RawImage`])
//! exist only in the capture stage.
//! They implement neither `Clone`, `Copy`, `Display` nor `serde::Serialize`,
//! and their `Debug` output is redacted, so they cannot be logged, written or
//! duplicated by accident. The only way to turn one into something that may
//! travel further is [`Pseudonymizer::pseudonym`], which *consumes* it and
//! returns a [`Pseudonym`]: a keyed BLAKE3 hash under an [`EpochKey`] that is
//! random, lives only in (locked) memory, is zeroized when it rotates or is
//! dropped, and never touches disk. Pseudonyms are unlinkable across epochs
//! and across restarts, and are never published either: they are in-process
//! handles for counting.

mod ignore;
mod image;
mod key;
mod raw;

pub use ignore::{IgnoreList, IgnoreListError};
pub use image::RawImage;
pub use key::{EpochKey, Pseudonymizer, RotationPolicy, harden_process, random_id};
pub use raw::{RawMac, RawSsid};

/// A keyed, per-epoch handle for one MAC address. Only meaningful inside the
/// process and within one epoch; deliberately not `Serialize` or `Display`,
/// and its value cannot be read out: it can only be compared and hashed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym(u64);

impl std::fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonym(<redacted>)")
    }
}

/// A keyed, per-epoch digest of a probe request's information elements
/// (what a device model announces about itself). Used to link randomized MACs
/// of the same device; never published.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u64);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint(<redacted>)")
    }
}
