//! Live capture from a monitor interface, with channel hopping and recovery
//! when the adapter goes away.

use std::time::{Duration, Instant};

use vitrine_wifi_capture::{LinkType, Packet};

use crate::RadioError;
use crate::netlink::{MonitorInterface, Netlink};
use vitrine_dot11::ChannelPlan;

/// What to capture from.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The adapter's interface (e.g. `wlan1`): the monitor interface is
    /// created on its radio. It is left as it is.
    pub interface: String,
    /// Name of the monitor interface this process creates and removes.
    pub monitor: String,
    pub plan: ChannelPlan,
    /// Kernel (BPF) filter; by default management frames only.
    pub filter: String,
    /// How long a read waits before the loop gets control back (window
    /// closing, hopping, the watchdog).
    pub poll: Duration,
    /// How often to look for a vanished adapter.
    pub retry: Duration,
}

/// Default kernel filter: management frames (probe requests and responses,
/// beacons). Data frames never reach user space.
pub const DEFAULT_FILTER: &str = "type mgt";

impl LiveConfig {
    pub fn new(interface: &str, plan: ChannelPlan) -> Self {
        LiveConfig {
            interface: interface.to_string(),
            monitor: format!(
                "vmon{}",
                interface.trim_start_matches(|c: char| !c.is_ascii_digit())
            ),
            plan,
            filter: DEFAULT_FILTER.to_string(),
            poll: Duration::from_millis(100),
            retry: Duration::from_secs(1),
        }
    }
}

/// Where a live loop gets its events: a [`LiveCapture`], or a scripted
/// source in tests.
pub trait EventSource {
    /// The next event; returns within about the poll time.
    fn next_event(&mut self) -> Event<'_>;

    /// Stops capture (the kill switch): the device is released until
    /// capture is resumed; the next event after that is a start.
    fn set_stopped(&mut self, stopped: bool);
}

impl EventSource for LiveCapture {
    fn next_event(&mut self) -> Event<'_> {
        LiveCapture::next_event(self)
    }

    fn set_stopped(&mut self, stopped: bool) {
        LiveCapture::set_stopped(self, stopped);
    }
}

/// One step of the capture loop.
#[derive(Debug)]
pub enum Event<'a> {
    Packet(Packet<'a>),
    /// Nothing arrived within the poll time (or the adapter is still away).
    Idle,
    /// The adapter went away: capture stopped, and will resume by itself.
    Lost(RadioError),
    /// Capture (re)started on the monitor interface.
    Started {
        monitor: String,
        wiphy: u32,
    },
}

struct Running {
    // Field order: the capture closes before its interface is removed.
    cap: pcap::Capture<pcap::Active>,
    mon: MonitorInterface,
    hop: usize,
    next_hop: Instant,
    next_check: Instant,
}

/// Reads one packet into `buf`; returns its capture time, Unix microseconds.
///
/// Through `pcap_dispatch`, which hands over the frame where it lies in the
/// kernel's ring: `pcap_next_ex` would first copy it into a buffer of
/// libpcap's own, which keeps the last raw frame (and its transmitter's
/// address) in the heap for as long as the air stays quiet. The audit's
/// `memory.canary` check found exactly that.
/// Copies the next frame into `buf`; returns its time (Unix µs) and its
/// length on the air (more than `buf.len()` when the snapshot length cut it).
fn read_into(
    cap: &mut pcap::Capture<pcap::Active>,
    buf: &mut Vec<u8>,
) -> Result<(i64, usize), pcap::Error> {
    let mut read = None;
    let n = cap.dispatch(Some(1), |p| {
        buf.clear();
        buf.extend_from_slice(p.data);
        let ts = p.header.ts;
        // time_t and suseconds_t are i64 on the targets (x86_64, aarch64).
        read = Some((ts.tv_sec * 1_000_000 + ts.tv_usec, p.header.len as usize));
    })?;
    match read {
        Some(read) if n > 0 => Ok(read),
        _ => Err(pcap::Error::TimeoutExpired),
    }
}

/// Waits until the capture socket has something (or an error) to read.
fn wait_readable(cap: &pcap::Capture<pcap::Active>, timeout: Duration) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// Counters for the status topic and the closing log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct LiveStats {
    pub packets: u64,
    pub losses: u64,
    pub restarts: u64,
    pub hops: u64,
    pub hop_errors: u64,
    /// Dropped by the kernel (buffer full), as libpcap reports it.
    pub kernel_drops: u64,
}

/// A live capture: creates the monitor interface, hops, reads packets, and
/// comes back after the adapter disappears.
pub struct LiveCapture {
    nl: Netlink,
    cfg: LiveConfig,
    running: Option<Running>,
    next_attempt: Instant,
    stats: LiveStats,
    drops_base: u64,
    buf: Vec<u8>,
    absence_reported: bool,
    /// Stopped by the kill switch: no monitor interface, nothing read.
    stopped: bool,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("interface", &self.cfg.interface)
            .field("monitor", &self.cfg.monitor)
            .field("running", &self.running.is_some())
            .finish()
    }
}

impl LiveCapture {
    /// Opens netlink. The adapter itself may be absent: capture starts when
    /// it appears (the first [`Event::Started`]).
    pub fn new(cfg: LiveConfig) -> Result<Self, RadioError> {
        Ok(LiveCapture {
            nl: Netlink::open()?,
            cfg,
            running: None,
            next_attempt: Instant::now(),
            stats: LiveStats::default(),
            drops_base: 0,
            buf: Vec::with_capacity(2048),
            absence_reported: false,
            stopped: false,
        })
    }

    /// Stops capture and removes the monitor interface (`true`), or lets
    /// it start again (`false`). While stopped, [`LiveCapture::next_event`]
    /// waits the poll time and says `Idle`.
    pub fn set_stopped(&mut self, stopped: bool) {
        self.stopped = stopped;
        if stopped {
            if let Some(mut r) = self.running.take()
                && let Ok(s) = r.cap.stats()
            {
                self.drops_base += u64::from(s.dropped);
            }
        } else {
            self.next_attempt = Instant::now();
        }
    }

    pub fn stats(&mut self) -> LiveStats {
        if let Some(r) = &mut self.running
            && let Ok(s) = r.cap.stats()
        {
            self.stats.kernel_drops = self.drops_base + u64::from(s.dropped);
        }
        self.stats
    }

    fn open(&mut self) -> Result<Running, RadioError> {
        let mon = MonitorInterface::create(&self.nl, &self.cfg.interface, &self.cfg.monitor)?;
        let first = self.cfg.plan.hops()[0];
        self.nl
            .set_frequency(mon.iface.ifindex, first.frequency_mhz())?;
        let name = mon.iface.name.clone();
        let pcap_err = |step| RadioError::pcap(&name, step);
        let poll_ms = i32::try_from(self.cfg.poll.as_millis())
            .unwrap_or(1000)
            .max(1);
        let mut cap = pcap::Capture::from_device(name.as_str())
            .map_err(pcap_err("open"))?
            .immediate_mode(true)
            .timeout(poll_ms)
            .snaplen(2048)
            .buffer_size(4 << 20)
            .open()
            .map_err(pcap_err("activate"))?;
        let linktype = cap.get_datalink().0;
        if linktype != pcap::Linktype::IEEE802_11_RADIOTAP.0 {
            return Err(RadioError::NotRadiotap {
                interface: name,
                linktype,
            });
        }
        cap.filter(&self.cfg.filter, true)
            .map_err(pcap_err("kernel filter"))?;
        // Non-blocking, and we wait on the socket ourselves: with the
        // packet ring, libpcap may block with no timeout while the air is
        // silent, and the loop must keep closing windows.
        let cap = cap.setnonblock().map_err(pcap_err("non-blocking mode"))?;
        let now = Instant::now();
        Ok(Running {
            cap,
            mon,
            hop: 0,
            next_hop: now + first.dwell,
            next_check: now + self.cfg.retry,
        })
    }

    /// The next packet, or why there is none right now. Never blocks much
    /// longer than the poll time.
    pub fn next_event(&mut self) -> Event<'_> {
        // The previous frame has been through the capture stage: its copy
        // goes now, not when a later frame happens to overwrite it.
        zeroize::Zeroize::zeroize(&mut self.buf);
        let now = Instant::now();
        if self.stopped {
            std::thread::sleep(self.cfg.poll);
            return Event::Idle;
        }
        if self.running.is_none() {
            if now < self.next_attempt {
                std::thread::sleep(self.cfg.poll.min(self.next_attempt - now));
                return Event::Idle;
            }
            self.next_attempt = now + self.cfg.retry;
            return match self.open() {
                Ok(r) => {
                    let (monitor, wiphy) = (r.mon.iface.name.clone(), r.mon.iface.wiphy);
                    if self.stats.losses > 0 {
                        self.stats.restarts += 1;
                    }
                    self.running = Some(r);
                    self.absence_reported = false;
                    Event::Started { monitor, wiphy }
                }
                Err(e) => {
                    // Said once per absence, then quietly retried.
                    if !self.absence_reported {
                        tracing::warn!(error = %e, "capture cannot start yet; retrying every {:?}", self.cfg.retry);
                        self.absence_reported = true;
                    }
                    Event::Idle
                }
            };
        }

        if let Some(e) = self.hop_and_check(now) {
            return self.lose(e);
        }
        let poll = self.cfg.poll;
        let r = self.running.as_mut().unwrap();
        // Copied out of libpcap's ring (a frame is under 2 KB) so that the
        // returned packet borrows only `self.buf`.
        let mut read = read_into(&mut r.cap, &mut self.buf);
        if matches!(read, Err(pcap::Error::TimeoutExpired)) && wait_readable(&r.cap, poll) {
            read = read_into(&mut r.cap, &mut self.buf);
        }
        match read {
            Ok((ts_us, orig_len)) => {
                self.stats.packets += 1;
                Event::Packet(Packet {
                    ts_us,
                    link: LinkType::Radiotap,
                    data: &self.buf,
                    orig_len,
                })
            }
            Err(pcap::Error::TimeoutExpired) => Event::Idle,
            Err(source) => {
                let interface = self.cfg.monitor.clone();
                self.lose(RadioError::Pcap {
                    interface,
                    step: "read",
                    source,
                })
            }
        }
    }

    /// Hops when the dwell is over, and checks now and then that the
    /// interface still exists (a removed adapter does not always make the
    /// read fail).
    fn hop_and_check(&mut self, now: Instant) -> Option<RadioError> {
        let plan = &self.cfg.plan;
        let r = self.running.as_mut()?;
        if !plan.is_fixed() && now >= r.next_hop {
            r.hop = (r.hop + 1) % plan.hops().len();
            let hop = plan.hops()[r.hop];
            r.next_hop = now + hop.dwell;
            self.stats.hops += 1;
            if let Err(e) = self
                .nl
                .set_frequency(r.mon.iface.ifindex, hop.frequency_mhz())
            {
                self.stats.hop_errors += 1;
                tracing::debug!(error = %e, channel = hop.channel, "hop failed");
            }
        }
        if now >= r.next_check {
            r.next_check = now + self.cfg.retry;
            match self.nl.interfaces() {
                Ok(list) if !list.iter().any(|i| i.ifindex == r.mon.iface.ifindex) => {
                    return Some(RadioError::NoInterface(r.mon.iface.name.clone()));
                }
                Ok(_) => {}
                Err(e) => return Some(e),
            }
        }
        None
    }

    fn lose(&mut self, e: RadioError) -> Event<'_> {
        if let Some(mut r) = self.running.take()
            && let Ok(s) = r.cap.stats()
        {
            self.drops_base += u64::from(s.dropped);
        }
        self.stats.losses += 1;
        self.next_attempt = Instant::now() + self.cfg.retry;
        Event::Lost(e)
    }
}
