//! Publishing spooled payloads to an MQTT broker (QoS 1, persistent
//! session), deleting each from the spool only on the broker's PUBACK.
//!
//! Two threads: a *sender* that publishes every spooled payload not yet in
//! flight, oldest first, and a *connection* thread that drives the MQTT
//! connection, maps packet ids to spool entries and acknowledges them.
//! rumqttc retransmits in-flight messages when the broker resumes the
//! session; when the broker has lost the session, everything still spooled is
//! sent again. Consumers drop the duplicates per stream (topic, rig, boot,
//! seq; [`crate::consume::Dedup`]).
//!
//! Topics (see docs/publishing.md): `<prefix>/<site>/<rig>/wifi` (payloads;
//! the prefix is `vitrine` unless configured),
//! `…/availability` (retained, plain text: `online` once connected,
//! `offline` at a clean stop and as the last will, so that a rig that
//! vanishes reads `offline` without any template), `…/status` (retained
//! JSON: `online`/`offline` with version, boot id and the spool's counters;
//! `offline` at a clean stop), `…/dict` (retained: the zstd dictionary).
//! With metric topics on, each window's main figures also go on topics of
//! their own as plain numbers, and with Home Assistant on, its discovery
//! messages describe them ([`crate::figures`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{Client, ConnectionError, Event, LastWill, Outgoing, Packet, QoS};
use vitrine_config::PayloadFormat;
use vitrine_schema::{RigState, SensorsStatus, SpoolCounts, Status};

use crate::broker::Broker;
use crate::figures;
use crate::spool::Spool;

/// The availability topic's payload while the rig is connected.
pub const ONLINE: &str = "online";
/// The availability topic's payload after a clean stop, and the last will.
pub const OFFLINE: &str = "offline";

/// Where and as whom to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    pub broker: Broker,
    pub site: String,
    pub rig: String,
    /// Random per daemon run; stamped into payloads and the status.
    pub boot: String,
    /// The topics' first levels (`vitrine` unless configured).
    pub prefix: String,
    /// How summaries are encoded.
    pub payload: PayloadFormat,
    /// Each window's main figures on topics of their own
    /// ([`crate::figures`]); on with Home Assistant.
    pub metric_topics: bool,
    /// Home Assistant's discovery prefix, when discovery is on.
    pub home_assistant: Option<String>,
    /// Which sensors the rig has, for the discovery messages.
    pub wifi: bool,
    pub camera: bool,
}

impl BrokerConfig {
    /// The rig's ids name its topics and client id: non-empty, without
    /// `/ + #`.
    pub fn new(broker: Broker, site: &str, rig: &str, boot: &str) -> Result<Self, String> {
        for (what, v) in [("site", site), ("rig", rig)] {
            if v.is_empty() || v.contains(['/', '+', '#']) {
                return Err(format!("{what} id {v:?} must be non-empty without / + #"));
            }
        }
        Ok(BrokerConfig {
            broker,
            site: site.to_owned(),
            rig: rig.to_owned(),
            boot: boot.to_owned(),
            prefix: vitrine_config::defaults::TOPIC_PREFIX.to_owned(),
            payload: PayloadFormat::Zstd,
            metric_topics: false,
            home_assistant: None,
            wifi: true,
            camera: false,
        })
    }

    /// Topics under `prefix` (checked by [`vitrine_config::rules::topic_prefix`]).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.prefix);
        self
    }

    pub fn with_payload(mut self, payload: PayloadFormat) -> Self {
        self.payload = payload;
        self
    }

    /// The figures on topics of their own.
    pub fn with_metric_topics(mut self, on: bool) -> Self {
        self.metric_topics = on;
        self
    }

    /// Home Assistant discovery under `prefix` (checked by
    /// [`vitrine_config::rules::topic_prefix`]); it implies the metric
    /// topics, which its sensors read.
    pub fn with_home_assistant(mut self, prefix: Option<&str>) -> Self {
        self.home_assistant = prefix.map(str::to_owned);
        self.metric_topics |= prefix.is_some();
        self
    }

    /// The sensors the rig has: Home Assistant is told of their figures.
    pub fn with_sensors(mut self, wifi: bool, camera: bool) -> Self {
        self.wifi = wifi;
        self.camera = camera;
        self
    }

    pub fn topic(&self, leaf: &str) -> String {
        format!("{}/{}/{}/{leaf}", self.prefix, self.site, self.rig)
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
    /// The sensors' state, published with every status.
    sensors: Option<SensorsStatus>,
    /// The last window's figures by topic (metric topics on), published
    /// again at every connection.
    figures: std::collections::BTreeMap<String, String>,
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
        if cfg.broker.tls.as_ref().is_some_and(|t| t.ca.is_empty()) {
            return Err("mqtts:// needs a CA certificate".into());
        }
        let mut opts = cfg.broker.options(&cfg.client_id());
        opts.set_clean_session(false);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_max_packet_size(1 << 20, 1 << 20);
        // The will is plain `offline` on the availability topic: one will per
        // connection, readable by any tool without a template. The JSON
        // status keeps its own topic.
        opts.set_last_will(LastWill::new(
            cfg.topic("availability"),
            OFFLINE,
            QoS::AtLeastOnce,
            true,
        ));
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
                                    sensors: f.sensors.take(),
                                    figures: std::mem::take(&mut f.figures),
                                    ..Flight::default()
                                };
                            }
                            f.connected = true;
                            // Retained: Home Assistant's discovery messages, the
                            // status (with the spool's counters), the dictionary,
                            // availability, and the last window's figures.
                            let (online, held) = {
                                let spool = spool.lock().expect("spool lock");
                                (
                                    status(&cfg, RigState::Online, &spool, f.sensors.clone()),
                                    spool.len() as u64,
                                )
                            };
                            let mut retained = figures::discovery(&cfg);
                            retained.push((status_topic.clone(), online));
                            retained.push((dict_topic.clone(), dictionary.clone()));
                            retained.push((cfg.topic("availability"), ONLINE.into()));
                            if cfg.metric_topics {
                                let (topic, held) = figures::spool_held(&cfg, held);
                                f.figures.insert(topic, held);
                                let last = f.figures.clone();
                                retained.extend(last.into_iter().map(|(t, v)| (t, v.into_bytes())));
                            }
                            for (topic, body) in retained {
                                f.unnumbered.push_back(None);
                                if client
                                    .try_publish(topic, QoS::AtLeastOnce, true, body)
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

    /// A handle that updates the sensors' state in the retained status
    /// ([`StatusHandle::set_sensors`]), for the loop that knows it.
    pub fn status_handle(&self) -> StatusHandle {
        StatusHandle {
            shared: self.shared.clone(),
            spool: self.spool.clone(),
            client: self.client.clone(),
            status_topic: self.status_topic.clone(),
            cfg: self.cfg.clone(),
        }
    }

    /// Wakes the sender: a new entry is in the spool.
    pub fn notify(&self) {
        self.shared.1.notify_all();
    }

    /// With metric topics on, publishes the window's main figures (and the
    /// spool's backlog) retained, one number per topic, now if connected
    /// and again at every connection; a figure the summary withholds is
    /// not published. They are not spooled: the summaries are the record,
    /// and these the latest reading.
    pub fn publish_figures(&self, summary: &vitrine_schema::Summary) {
        if !self.cfg.metric_topics {
            return;
        }
        let mut now = figures::of_summary(&self.cfg, summary);
        now.push(figures::spool_held(
            &self.cfg,
            self.spool.lock().expect("spool lock").len() as u64,
        ));
        let mut f = self.shared.0.lock().expect("flight lock");
        for (topic, value) in now {
            if f.connected && !f.stop {
                f.unnumbered.push_back(None);
                if self
                    .client
                    .try_publish(&topic, QoS::AtLeastOnce, true, value.clone().into_bytes())
                    .is_err()
                {
                    // The client's queue is full: the next connection or
                    // window carries it.
                    f.unnumbered.pop_back();
                }
            }
            f.figures.insert(topic, value);
        }
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
        let sensors = self.shared.0.lock().expect("flight lock").sensors.clone();
        let offline = status(
            &self.cfg,
            RigState::Offline,
            &self.spool.lock().expect("spool lock"),
            sensors,
        );
        let _ = self
            .client
            .try_publish(&self.status_topic, QoS::AtLeastOnce, true, offline);
        if self.cfg.metric_topics {
            let (topic, held) = figures::spool_held(
                &self.cfg,
                self.spool.lock().expect("spool lock").len() as u64,
            );
            let _ = self.client.try_publish(topic, QoS::AtLeastOnce, true, held);
        }
        // A clean stop sends no will: say it here.
        let _ = self.client.try_publish(
            self.cfg.topic("availability"),
            QoS::AtLeastOnce,
            true,
            OFFLINE,
        );
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

/// Updates the sensors' part of a publisher's retained status.
#[derive(Clone)]
pub struct StatusHandle {
    shared: Arc<(Mutex<Flight>, Condvar)>,
    spool: Arc<Mutex<Spool>>,
    client: Client,
    status_topic: String,
    cfg: BrokerConfig,
}

impl std::fmt::Debug for StatusHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusHandle")
            .field("status_topic", &self.status_topic)
            .finish()
    }
}

impl StatusHandle {
    /// The sensors' state changed: publishes the retained status with it
    /// now if connected, and with every status from now on.
    pub fn set_sensors(&self, sensors: SensorsStatus) {
        let mut f = self.shared.0.lock().expect("flight lock");
        if f.sensors.as_ref() == Some(&sensors) {
            return;
        }
        f.sensors = Some(sensors);
        if f.connected && !f.stop {
            let body = status(
                &self.cfg,
                RigState::Online,
                &self.spool.lock().expect("spool lock"),
                f.sensors.clone(),
            );
            f.unnumbered.push_back(None);
            if self
                .client
                .try_publish(&self.status_topic, QoS::AtLeastOnce, true, body)
                .is_err()
            {
                // The client's queue is full; the next status carries it.
                f.unnumbered.pop_back();
            }
        }
    }
}

/// The retained status: state, version, boot id, and what the spool holds
/// and has dropped (so that a lost summary is never silent).
fn status(
    cfg: &BrokerConfig,
    state: RigState,
    spool: &Spool,
    sensors: Option<SensorsStatus>,
) -> Vec<u8> {
    let s = spool.stats();
    Status {
        state,
        version: env!("CARGO_PKG_VERSION").to_string(),
        boot: cfg.boot.clone(),
        spool: SpoolCounts {
            held: spool.len() as u64,
            acknowledged: s.acknowledged,
            expired: s.expired,
            dropped_full: s.dropped_full,
            quarantined: s.quarantined,
        },
        reason: None,
        sensors,
    }
    .to_json()
}
