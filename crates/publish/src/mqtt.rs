//! Publishing spooled payloads to an MQTT broker (QoS 1, persistent
//! session), deleting each from the spool only on the broker's PUBACK.
//!
//! Two threads: a *sender* that publishes every spooled payload not yet in
//! flight, oldest first, and a *connection* thread that drives the MQTT
//! connection, maps packet ids to spool entries and acknowledges them.
//! rumqttc retransmits in-flight messages when the broker resumes the
//! session; when the broker has lost the session, everything still spooled is
//! sent again. Consumers drop the duplicates by `(rig, boot, seq)`.
//!
//! Topics (see docs/publishing.md): `vitrine/<site>/<rig>/wifi` (payloads),
//! `…/status` (retained; `online`/`offline` with version, boot id and the
//! spool's counters, `offline` also as last
//! will), `…/dict` (retained: the zstd dictionary).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{
    Client, ConnectionError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration,
    Transport,
};

use crate::spool::Spool;

/// TLS to the broker: the server is verified against `ca`; a client
/// certificate and key are sent when the broker asks for them. PEM
/// contents, read (with a bound, before anything starts) by the caller.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TlsPem {
    pub ca: Vec<u8>,
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPem")
            .field("ca_bytes", &self.ca.len())
            .field("client", &self.client.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where and as whom to publish.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    pub host: String,
    pub port: u16,
    pub site: String,
    pub rig: String,
    /// Random per daemon run; stamped into payloads and the status.
    pub boot: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Set for `mqtts://` URLs.
    pub tls: Option<TlsPem>,
}

impl std::fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("site", &self.site)
            .field("rig", &self.rig)
            .field("boot", &self.boot)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .finish()
    }
}

impl BrokerConfig {
    /// Parses `mqtt://host[:port]` or `mqtts://host[:port]` (TLS; then set
    /// the CA in [`BrokerConfig::tls`], or [`Publisher::start`] fails).
    pub fn from_url(url: &str, site: &str, rig: &str, boot: &str) -> Result<Self, String> {
        let (rest, default_port, tls) = if let Some(rest) = url.strip_prefix("mqtt://") {
            (rest, 1883, false)
        } else if let Some(rest) = url.strip_prefix("mqtts://") {
            (rest, 8883, true)
        } else {
            return Err(format!(
                "{url}: expected mqtt://host[:port] or mqtts://host[:port]"
            ));
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("{url}: bad port {p:?}"))?,
            ),
            None => (rest, default_port),
        };
        let tls = tls.then(TlsPem::default);
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        for (what, v) in [("site", site), ("rig", rig)] {
            if v.is_empty() || v.contains(['/', '+', '#']) {
                return Err(format!("{what} id {v:?} must be non-empty without / + #"));
            }
        }
        Ok(BrokerConfig {
            host: host.to_owned(),
            port,
            site: site.to_owned(),
            rig: rig.to_owned(),
            boot: boot.to_owned(),
            username: None,
            password: None,
            tls,
        })
    }

    pub fn topic(&self, leaf: &str) -> String {
        format!("vitrine/{}/{}/{leaf}", self.site, self.rig)
    }

    /// Stable across restarts, so the broker resumes the session.
    pub fn client_id(&self) -> String {
        format!("vitrine-{}-{}", self.site, self.rig)
    }
}

#[derive(Debug, Default)]
struct Flight {
    /// Queued to the client, packet id not yet known, in queueing order
    /// (`None`: the status or the dictionary, which have no spool entry).
    /// Queueing happens under the lock, so this order is the client's order.
    unnumbered: VecDeque<Option<String>>,
    /// Packet id to spool entry (`None`: untracked).
    by_pkid: HashMap<u16, Option<String>>,
    in_flight: HashSet<String>,
    connected: bool,
    stop: bool,
}

/// A running publisher. Drop or [`Publisher::finish`] to stop it.
pub struct Publisher {
    shared: Arc<(Mutex<Flight>, Condvar)>,
    spool: Arc<Mutex<Spool>>,
    client: Client,
    threads: Vec<JoinHandle<()>>,
    status_topic: String,
    cfg: BrokerConfig,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("status_topic", &self.status_topic)
            .finish()
    }
}

impl Publisher {
    /// Connects in the background and publishes whatever is spooled. Fails
    /// only when TLS is asked for without a CA certificate.
    pub fn start(
        cfg: &BrokerConfig,
        spool: Arc<Mutex<Spool>>,
        dictionary: Vec<u8>,
    ) -> Result<Self, String> {
        let status_topic = cfg.topic("status");
        let mut opts = MqttOptions::new(cfg.client_id(), cfg.host.clone(), cfg.port);
        opts.set_clean_session(false);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_max_packet_size(1 << 20, 1 << 20);
        // The last will's counters are those at start: the broker sends it as given.
        let will = status(cfg, "offline", &spool.lock().expect("spool lock"));
        opts.set_last_will(LastWill::new(&status_topic, will, QoS::AtLeastOnce, true));
        if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
            opts.set_credentials(u.clone(), p.clone());
        }
        if let Some(tls) = &cfg.tls {
            opts.set_transport(Transport::tls_with_config(tls_configuration(tls)?));
        }
        let (client, mut connection) = Client::new(opts, 64);
        let shared = Arc::new((Mutex::new(Flight::default()), Condvar::new()));

        let conn_thread = {
            let (shared, spool, client) = (shared.clone(), spool.clone(), client.clone());
            let (cfg, dict_topic, status_topic) =
                (cfg.clone(), cfg.topic("dict"), status_topic.clone());
            std::thread::spawn(move || {
                let mut unreachable_reported = false;
                for event in connection.iter() {
                    let (lock, wake) = &*shared;
                    match event {
                        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                            unreachable_reported = false;
                            tracing::info!(
                                session_present = ack.session_present,
                                "connected to the broker"
                            );
                            let mut f = lock.lock().expect("flight lock");
                            if !ack.session_present {
                                // The broker lost the session: what was in flight
                                // is gone with it; send it all again.
                                *f = Flight {
                                    stop: f.stop,
                                    ..Flight::default()
                                };
                            }
                            f.connected = true;
                            // Retained status (with the spool's counters) and dictionary.
                            let online = status(&cfg, "online", &spool.lock().expect("spool lock"));
                            for (topic, body) in
                                [(&status_topic, &online), (&dict_topic, &dictionary)]
                            {
                                f.unnumbered.push_back(None);
                                if client
                                    .try_publish(topic, QoS::AtLeastOnce, true, body.clone())
                                    .is_err()
                                {
                                    f.unnumbered.pop_back();
                                }
                            }
                            drop(f);
                            wake.notify_all();
                        }
                        Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                            let mut f = lock.lock().expect("flight lock");
                            // A retransmission keeps its packet id; a new publish
                            // is the oldest queued one.
                            if !f.by_pkid.contains_key(&pkid)
                                && let Some(id) = f.unnumbered.pop_front()
                            {
                                f.by_pkid.insert(pkid, id);
                            }
                        }
                        Ok(Event::Incoming(Packet::PubAck(ack))) => {
                            let id = lock.lock().expect("flight lock").by_pkid.remove(&ack.pkid);
                            if let Some(Some(id)) = id {
                                // Delete from the spool before it stops counting as
                                // in flight: otherwise the sender could find it
                                // unsent for a moment and publish it again.
                                if let Err(e) = spool.lock().expect("spool lock").acknowledge(&id) {
                                    tracing::error!(error = %e, "cannot delete an acknowledged spool entry");
                                }
                                lock.lock().expect("flight lock").in_flight.remove(&id);
                                wake.notify_all();
                            }
                        }
                        Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                        Ok(_) => {}
                        Err(e) => {
                            let mut f = lock.lock().expect("flight lock");
                            if f.connected {
                                tracing::warn!(error = %e, "lost the broker; summaries stay spooled");
                            } else if !unreachable_reported {
                                // Once per outage: the retries are quiet.
                                tracing::warn!(error = %e, "cannot reach the broker; summaries stay spooled, retrying");
                            }
                            unreachable_reported = true;
                            f.connected = false;
                            let stop = f.stop;
                            drop(f);
                            if stop || matches!(e, ConnectionError::RequestsDone) {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(500));
                        }
                    }
                }
            })
        };

        let sender_thread = {
            let (shared, spool, client) = (shared.clone(), spool.clone(), client.clone());
            std::thread::spawn(move || {
                let (lock, wake) = &*shared;
                loop {
                    let mut f = lock.lock().expect("flight lock");
                    while !f.stop && !f.connected {
                        f = wake
                            .wait_timeout(f, Duration::from_millis(200))
                            .expect("flight lock")
                            .0;
                    }
                    if f.stop {
                        return;
                    }
                    let exclude = f.in_flight.clone();
                    drop(f);
                    let batch = match spool.lock().expect("spool lock").oldest(exclude.len() + 32) {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read the spool");
                            Vec::new()
                        }
                    };
                    let fresh: Vec<_> = batch
                        .into_iter()
                        .filter(|e| !exclude.contains(&e.id))
                        .collect();
                    if fresh.is_empty() {
                        let f = lock.lock().expect("flight lock");
                        let _ = wake
                            .wait_timeout(f, Duration::from_millis(200))
                            .expect("flight lock");
                        continue;
                    }
                    let mut queue = fresh.into_iter().peekable();
                    while let Some(entry) = queue.peek() {
                        let mut f = lock.lock().expect("flight lock");
                        if f.stop || !f.connected {
                            break;
                        }
                        f.unnumbered.push_back(Some(entry.id.clone()));
                        match client.try_publish(
                            &entry.topic,
                            QoS::AtLeastOnce,
                            false,
                            entry.payload.clone(),
                        ) {
                            Ok(()) => {
                                f.in_flight.insert(entry.id.clone());
                                queue.next();
                            }
                            Err(_) => {
                                // The client's queue is full: back off.
                                f.unnumbered.pop_back();
                                drop(f);
                                std::thread::sleep(Duration::from_millis(5));
                            }
                        }
                    }
                }
            })
        };

        Ok(Publisher {
            shared,
            spool,
            client,
            threads: vec![conn_thread, sender_thread],
            status_topic,
            cfg: cfg.clone(),
        })
    }

    /// Wakes the sender: a new entry is in the spool.
    pub fn notify(&self) {
        self.shared.1.notify_all();
    }

    /// Waits until the spool is empty (everything acknowledged), at most `timeout`.
    pub fn drain(&self, timeout: Duration) -> bool {
        // A timeout past what the clock can say is "until drained".
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if self.spool.lock().expect("spool lock").is_empty() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the threads and disconnects cleanly (the last will is not sent).
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        {
            let mut f = self.shared.0.lock().expect("flight lock");
            f.stop = true;
        }
        self.shared.1.notify_all();
        let offline = status(
            &self.cfg,
            "offline",
            &self.spool.lock().expect("spool lock"),
        );
        let _ = self
            .client
            .try_publish(&self.status_topic, QoS::AtLeastOnce, true, offline);
        let _ = self.client.try_disconnect();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop();
        }
    }
}

/// The retained status: state, version, boot id, and what the spool holds
/// and has dropped (so that a lost summary is never silent).
fn status(cfg: &BrokerConfig, state: &str, spool: &Spool) -> Vec<u8> {
    let s = spool.stats();
    format!(
        "{{\"state\":\"{state}\",\"version\":\"{}\",\"boot\":\"{}\",\"spool\":{{\"held\":{},\"acknowledged\":{},\"expired\":{},\"dropped_full\":{},\"quarantined\":{}}}}}",
        env!("CARGO_PKG_VERSION"),
        cfg.boot,
        spool.len(),
        s.acknowledged,
        s.expired,
        s.dropped_full,
        s.quarantined
    )
    .into_bytes()
}

/// rustls with the ring provider (installed once as the process default),
/// verifying the server against the given CA.
fn tls_configuration(tls: &TlsPem) -> Result<TlsConfiguration, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if tls.ca.is_empty() {
        return Err("mqtts:// needs a CA certificate".into());
    }
    Ok(TlsConfiguration::Simple {
        ca: tls.ca.clone(),
        alpn: None,
        client_auth: tls.client.clone(),
    })
}
