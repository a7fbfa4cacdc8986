//! Raw identifiers as captured over the air.

use std::fmt;

/// A MAC address exactly as received. Capture-stage only.
///
/// Not `Clone`, `Copy`, `Display` or `Serialize`; `Debug` is redacted. It is
/// consumed by [`crate::Pseudonymizer::pseudonym`]. The few facts that later
/// stages may know (randomized or not) are read off before that.
pub struct RawMac([u8; 6]);

impl RawMac {
    #[inline]
    pub fn from_bytes(bytes: [u8; 6]) -> Self {
        RawMac(bytes)
    }

    /// `None` when the slice is not exactly six bytes long.
    #[inline]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 6]>::try_from(bytes).ok().map(RawMac)
    }

    /// Locally administered (the U/L bit set): a randomized address, as
    /// phones use for probing.
    #[inline]
    pub fn is_randomized(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// Group (multicast/broadcast) address: never a transmitter.
    #[inline]
    pub fn is_group(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether the address starts with `prefix` (an OUI or a full address).
    /// Crate-private: a public prefix test would read the address out byte by byte.
    #[inline]
    pub(crate) fn starts_with(&self, prefix: &[u8]) -> bool {
        self.0.starts_with(prefix)
    }

    /// The bytes, for the keyed hash only.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8; 6] {
        &self.0
    }
}

impl fmt::Debug for RawMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawMac(<redacted>)")
    }
}

impl Drop for RawMac {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// An SSID element's contents as received (a borrowed view of the frame).
/// Capture-stage only; the pipeline keeps only whether one was present.
pub struct RawSsid<'a>(&'a [u8]);

impl<'a> RawSsid<'a> {
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Self {
        RawSsid(bytes)
    }

    /// A wildcard probe carries an empty SSID; a directed probe names a
    /// network the device has joined before, which leaks its history.
    #[inline]
    pub fn is_directed(&self) -> bool {
        !self.0.is_empty()
    }
}

impl fmt::Debug for RawSsid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawSsid(<redacted {} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::assert_not_impl_any!(RawMac: Clone, Copy, fmt::Display);
    static_assertions::assert_not_impl_any!(RawSsid<'static>: Clone, Copy, fmt::Display);

    #[test]
    fn debug_output_of_raw_identifiers_is_redacted() {
        let mac = RawMac::from_bytes([0x02, 0xca, 0xfe, 0x00, 0x00, 0x01]);
        let text = format!("{mac:?} {:?}", RawSsid::new(b"HomeNet"));
        assert!(!text.contains("ca"), "{text}");
        assert!(!text.contains("HomeNet"), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn randomized_bit_is_the_locally_administered_bit() {
        assert!(RawMac::from_bytes([0x02, 0, 0, 0, 0, 1]).is_randomized());
        assert!(RawMac::from_bytes([0xda, 0, 0, 0, 0, 1]).is_randomized());
        assert!(!RawMac::from_bytes([0xdc, 0xfb, 0x48, 0, 0, 1]).is_randomized());
        assert!(RawMac::from_slice(&[1, 2, 3]).is_none());
    }
}
