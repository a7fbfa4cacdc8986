//! The simulator's frames; their bytes are built by
//! [`vitrine_dot11::build`].

/// One captured frame: capture time and radiotap + 802.11 bytes (no FCS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFrame {
    /// Capture time, microseconds since the Unix epoch.
    pub ts_us: i64,
    pub bytes: Vec<u8>,
}
