//! Hashing a MAC address is not anonymization: this crate recovers MACs from
//! their digests by trying every address a vendor can have.
//!
//! A MAC is a 24-bit OUI naming the vendor and a 24-bit device part, so one
//! OUI holds 2^24 addresses, and a few hundred OUIs cover most devices in a
//! store. Hashing them all takes seconds per OUI on one core.
//!
//! - [`oui`]: the IEEE registry, most common vendors first.
//! - [`target`]: digests found on a device, whole or truncated.
//! - [`search`]: the exhaustive search, on every core.
//!
//! The command line, `vitrine-audit reverse`, lives in the verifier's binary.

mod kernel;
pub mod oui;
pub mod search;
pub mod target;

pub use kernel::kernels;
pub use oui::{OuiError, OuiTable};
pub use search::{Match, Options, Progress, Report, SearchError, TargetReport, search};
pub use target::{Target, TargetError, read_targets};
