//! Blocking wrappers over nl80211 (`wl-nl80211`) and rtnetlink: list
//! wireless interfaces, add and delete a monitor interface, bring a link up
//! and tune its channel. Each call runs on a private single-threaded tokio
//! runtime, so callers stay synchronous.

use futures_util::TryStreamExt;
use wl_nl80211::{
    Nl80211Attr, Nl80211Channel, Nl80211Interface, Nl80211InterfaceType, Nl80211NewInterface,
};

use crate::RadioError;

/// A wireless network interface as nl80211 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WirelessInterface {
    pub name: String,
    pub ifindex: u32,
    /// The radio (wiphy) the interface belongs to.
    pub wiphy: u32,
    pub monitor: bool,
}

/// Netlink sockets for nl80211 and rtnetlink.
pub struct Netlink {
    rt: tokio::runtime::Runtime,
    wifi: wl_nl80211::Nl80211Handle,
    route: rtnetlink::Handle,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Netlink")
    }
}

/// How long to wait for an error reply to a command. netlink-proto 0.13
/// (under wl-nl80211 0.8) swallows the kernel's success ACK without ending
/// the reply stream, so silence means success. The kernel handles a genetlink
/// command inside `sendmsg`, so an error reply is already queued when the
/// send returns: this wait is generous.
const ERROR_REPLY_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// Drains a command's replies until they end, an error arrives, or no error
/// came within [`ERROR_REPLY_WAIT`].
async fn accepted<S>(stream: S) -> Result<(), wl_nl80211::Nl80211Error>
where
    S: futures_util::TryStream<Error = wl_nl80211::Nl80211Error>,
{
    let mut stream = std::pin::pin!(stream.into_stream());
    loop {
        match tokio::time::timeout(ERROR_REPLY_WAIT, futures_util::StreamExt::next(&mut stream))
            .await
        {
            Err(_) | Ok(None) => return Ok(()),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(e),
        }
    }
}

fn nl_err(step: &str, e: impl std::fmt::Display) -> RadioError {
    RadioError::Netlink(format!("{step}: {e}"))
}

impl Netlink {
    pub fn open() -> Result<Self, RadioError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| nl_err("runtime", e))?;
        let _guard = rt.enter();
        let (conn, wifi, _) =
            wl_nl80211::new_connection().map_err(|e| nl_err("nl80211 socket", e))?;
        rt.spawn(conn);
        let (conn, route, _) =
            rtnetlink::new_connection().map_err(|e| nl_err("rtnetlink socket", e))?;
        rt.spawn(conn);
        Ok(Netlink { rt, wifi, route })
    }

    /// Every wireless interface, in ifindex order.
    pub fn interfaces(&self) -> Result<Vec<WirelessInterface>, RadioError> {
        let mut out = self
            .rt
            .block_on(async {
                let mut stream =
                    std::pin::pin!(self.wifi.interface().get(Vec::new()).execute().await);
                let mut out = Vec::new();
                while let Some(msg) = stream.try_next().await? {
                    let (mut name, mut ifindex, mut wiphy, mut monitor) = (None, None, None, false);
                    for attr in &msg.payload.attributes {
                        match attr {
                            Nl80211Attr::IfName(n) => name = Some(n.clone()),
                            Nl80211Attr::IfIndex(i) => ifindex = Some(*i),
                            Nl80211Attr::Wiphy(w) => wiphy = Some(*w),
                            Nl80211Attr::IfType(t) => monitor = *t == Nl80211InterfaceType::Monitor,
                            _ => {}
                        }
                    }
                    if let (Some(name), Some(ifindex), Some(wiphy)) = (name, ifindex, wiphy) {
                        out.push(WirelessInterface {
                            name,
                            ifindex,
                            wiphy,
                            monitor,
                        });
                    }
                }
                Ok::<_, wl_nl80211::Nl80211Error>(out)
            })
            .map_err(|e| nl_err("list interfaces", e))?;
        out.sort_by_key(|i| i.ifindex);
        Ok(out)
    }

    pub fn interface(&self, name: &str) -> Result<Option<WirelessInterface>, RadioError> {
        Ok(self.interfaces()?.into_iter().find(|i| i.name == name))
    }

    /// Adds a monitor interface named `name` on radio `wiphy`; returns it.
    pub fn add_monitor(&self, wiphy: u32, name: &str) -> Result<WirelessInterface, RadioError> {
        let attrs =
            Nl80211NewInterface::new(wiphy, Nl80211InterfaceType::Monitor, name.to_string())
                .build();
        self.rt
            .block_on(async { accepted(self.wifi.interface().add(attrs).execute().await).await })
            .map_err(|e| nl_err(&format!("add monitor interface {name} on phy{wiphy}"), e))?;
        self.interface(name)?
            .ok_or_else(|| nl_err("add monitor interface", format!("{name} did not appear")))
    }

    pub fn delete(&self, ifindex: u32) -> Result<(), RadioError> {
        let attrs = Nl80211Interface::new(ifindex).build();
        self.rt
            .block_on(async { accepted(self.wifi.interface().delete(attrs).execute().await).await })
            .map_err(|e| nl_err(&format!("delete interface {ifindex}"), e))
    }

    /// Sets the link administratively up.
    pub fn set_up(&self, ifindex: u32) -> Result<(), RadioError> {
        let msg = rtnetlink::LinkUnspec::new_with_index(ifindex).up().build();
        self.rt
            .block_on(self.route.link().set(msg).execute())
            .map_err(|e| nl_err(&format!("bring interface {ifindex} up"), e))
    }

    /// Tunes the interface's radio to `mhz` (20 MHz, no HT).
    pub fn set_frequency(&self, ifindex: u32, mhz: u32) -> Result<(), RadioError> {
        let attrs = Nl80211Channel::new(ifindex).frequency(mhz).build();
        self.rt
            .block_on(async {
                accepted(self.wifi.wireless_physic().set(attrs).execute().await).await
            })
            .map_err(|e| nl_err(&format!("tune interface {ifindex} to {mhz} MHz"), e))
    }
}

/// A monitor interface this process created; deleted when dropped.
#[derive(Debug)]
pub struct MonitorInterface {
    pub iface: WirelessInterface,
}

impl MonitorInterface {
    /// Creates `name` in monitor mode on the radio of `parent` and brings it
    /// up. A stale interface of the same name (left by a crash) is replaced.
    pub fn create(nl: &Netlink, parent: &str, name: &str) -> Result<Self, RadioError> {
        let ifaces = nl.interfaces()?;
        let phy = ifaces
            .iter()
            .find(|i| i.name == parent)
            .ok_or_else(|| RadioError::NoInterface(parent.to_string()))?
            .wiphy;
        if let Some(stale) = ifaces.iter().find(|i| i.name == name) {
            tracing::info!(
                interface = name,
                "removing a monitor interface left by an earlier run"
            );
            nl.delete(stale.ifindex)?;
        }
        let iface = nl.add_monitor(phy, name)?;
        let mon = MonitorInterface { iface };
        nl.set_up(mon.iface.ifindex)?;
        Ok(mon)
    }
}

impl Drop for MonitorInterface {
    fn drop(&mut self) {
        // Without a handle here, open a short-lived one: drop runs on exit
        // paths and after errors, where the interface must still go.
        match Netlink::open().and_then(|nl| nl.delete(self.iface.ifindex)) {
            Ok(()) => tracing::debug!(interface = %self.iface.name, "monitor interface removed"),
            Err(e) => {
                tracing::debug!(interface = %self.iface.name, error = %e, "monitor interface already gone")
            }
        }
    }
}
