//! Live 802.11 on Linux: a monitor interface created over nl80211, channel
//! hopping, libpcap capture in immediate mode with a kernel filter, and
//! frame injection for tests and canaries.
//!
//! Nothing here shells out: interfaces are created, brought up, tuned and
//! removed over netlink ([`netlink`]). Frames leave this crate only as
//! [`vitrine_wifi_capture::Packet`]s, straight into the capture stage.

pub mod inject;
pub mod live;
pub mod netlink;

pub use inject::Injector;
pub use live::{Event, EventSource, LiveCapture, LiveConfig, LiveStats};
pub use netlink::{Netlink, WirelessInterface};
pub use vitrine_dot11::plan::{ChannelPlan, Hop};

/// Why a radio operation failed. Texts name the interface and the step.
#[derive(Debug, thiserror::Error)]
pub enum RadioError {
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("no wireless interface named {0:?} (is the adapter plugged in?)")]
    NoInterface(String),
    #[error("{interface}: {step}: {source}")]
    Pcap {
        interface: String,
        step: &'static str,
        #[source]
        source: pcap::Error,
    },
    #[error("{interface}: link type {linktype} is not radiotap (is it really in monitor mode?)")]
    NotRadiotap { interface: String, linktype: i32 },
}

impl RadioError {
    /// A mapper for `map_err` naming the interface and the step that failed.
    pub(crate) fn pcap(interface: &str, step: &'static str) -> impl FnOnce(pcap::Error) -> Self {
        let interface = interface.to_string();
        move |source| RadioError::Pcap {
            interface,
            step,
            source,
        }
    }
}
