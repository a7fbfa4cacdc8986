//! Frame injection: transmits 802.11 frames from a monitor interface of a
//! second radio, for over-the-air tests and canaries.

use crate::RadioError;
use crate::netlink::{MonitorInterface, Netlink};
use vitrine_dot11::plan::frequency_mhz;

/// The smallest radiotap header: version 0, length 8, no fields. The driver
/// picks rate and power.
pub const RADIOTAP_MINIMAL: [u8; 8] = [0, 0, 8, 0, 0, 0, 0, 0];

/// A monitor interface opened for transmitting.
pub struct Injector {
    cap: pcap::Capture<pcap::Active>,
    mon: MonitorInterface,
    _nl: Netlink,
    buf: Vec<u8>,
    sent: u64,
}

impl std::fmt::Debug for Injector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injector")
            .field("sent", &self.sent)
            .finish()
    }
}

impl Injector {
    /// Creates monitor interface `monitor` on the radio of `interface`,
    /// tunes it to `channel` and opens it for sending.
    pub fn open(interface: &str, monitor: &str, channel: u8) -> Result<Self, RadioError> {
        let nl = Netlink::open()?;
        let mon = MonitorInterface::create(&nl, interface, monitor)?;
        nl.set_frequency(mon.iface.ifindex, frequency_mhz(channel))?;
        let err = |step| RadioError::pcap(monitor, step);
        let cap = pcap::Capture::from_device(monitor)
            .map_err(err("open"))?
            .immediate_mode(true)
            .open()
            .map_err(err("activate"))?;
        Ok(Injector {
            cap,
            mon,
            _nl: nl,
            buf: Vec::with_capacity(2048),
            sent: 0,
        })
    }

    /// Sends one 802.11 frame (without radiotap: the minimal header is
    /// added, and the driver appends the FCS).
    pub fn send(&mut self, frame: &[u8]) -> Result<(), RadioError> {
        self.buf.clear();
        self.buf.extend_from_slice(&RADIOTAP_MINIMAL);
        self.buf.extend_from_slice(frame);
        self.cap
            .sendpacket(self.buf.as_slice())
            .map_err(RadioError::pcap(&self.mon.iface.name, "send"))?;
        self.sent += 1;
        Ok(())
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }
}
