//! Publishing summaries from the daemon: envelope, spool, publisher.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vitrine_publish::{
    BrokerConfig, Codec, Envelope, Publisher, Spool, SpoolError, SpoolPolicy, SpoolStats,
};
use vitrine_schema::Summary;

/// Why summaries cannot be published or spooled.
#[derive(Debug, thiserror::Error)]
pub enum PublishingError {
    /// The broker URL is not one the daemon can connect to.
    #[error("broker URL {url:?}")]
    BrokerUrl {
        url: String,
        // Boxed: the error is large, and rare.
        #[source]
        source: Box<vitrine_config::ConfigError>,
    },
    /// The site or rig id cannot name topics.
    #[error("broker {url}: {message}")]
    Ids { url: String, message: String },
    /// The spool folder cannot be opened or created.
    #[error("opening the spool")]
    OpenSpool(#[source] SpoolError),
    /// The publisher refused the broker's settings.
    #[error("publishing to {url}: {message}")]
    Publisher { url: String, message: String },
    /// A summary could not be written to the spool.
    #[error("spooling a summary for {topic}")]
    Push {
        topic: String,
        #[source]
        source: SpoolError,
    },
}

/// Summaries on their way to the broker.
#[derive(Debug)]
pub struct Publishing {
    broker: BrokerConfig,
    spool: Arc<Mutex<Spool>>,
    codec: Codec,
    publisher: Publisher,
    /// Next sequence number per sensor's topic.
    seq: std::collections::BTreeMap<String, u64>,
    /// Payload bytes handed to the spool.
    pub bytes: u64,
}

impl Publishing {
    /// Opens the spool (publishing what an earlier run left first) and
    /// starts the publisher. `broker` carries this run's boot id (see
    /// [`new_broker`]).
    pub fn start(
        broker: BrokerConfig,
        spool_dir: &Path,
        policy: SpoolPolicy,
    ) -> Result<Self, PublishingError> {
        let spool = Spool::open(spool_dir, policy).map_err(PublishingError::OpenSpool)?;
        let spooled = spool.len();
        if spooled > 0 {
            tracing::info!(
                spooled,
                "publishing summaries left from an earlier run first"
            );
        }
        let spool = Arc::new(Mutex::new(spool));
        let codec = Codec::shipped();
        let publisher = Publisher::start(&broker, spool.clone(), codec.dictionary().to_vec())
            .map_err(|message| PublishingError::Publisher {
                url: broker.broker.url.clone(),
                message,
            })?;
        Ok(Publishing {
            broker,
            spool,
            codec,
            publisher,
            seq: Default::default(),
            bytes: 0,
        })
    }

    pub fn broker(&self) -> &BrokerConfig {
        &self.broker
    }

    /// A handle that puts the sensors' state in the retained status.
    pub fn status_sink(&self) -> vitrine_publish::StatusHandle {
        self.publisher.status_handle()
    }

    /// Spools a summary durably, one payload per sensor on the sensor's
    /// topic ([`Summary::per_sensor`]), and wakes the publisher.
    pub fn push(&mut self, summary: Summary) -> Result<(), PublishingError> {
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for (sensor, summary) in summary.per_sensor() {
            // The rig's own topics are never a sensor's.
            if matches!(sensor.as_str(), "status" | "dict" | "availability") {
                tracing::warn!(
                    sensor,
                    "a sensor named like one of the rig's own topics is not published"
                );
                continue;
            }
            let seq = self.seq.entry(sensor.clone()).or_insert(0);
            let envelope = Envelope {
                site: self.broker.site.clone(),
                rig: self.broker.rig.clone(),
                boot: self.broker.boot.clone(),
                seq: *seq,
                summary,
            };
            *seq += 1;
            let payload = self.codec.encode_as(self.broker.payload, &envelope);
            self.bytes += payload.len() as u64;
            let topic = self.broker.topic(&sensor);
            let mut spool = self.spool.lock().expect("spool lock");
            spool
                .enforce_retention(now_s)
                .and_then(|()| spool.push(now_s, &topic, &payload))
                .map_err(|source| PublishingError::Push { topic, source })?;
        }
        self.publisher.notify();
        self.publisher.publish_figures(&summary);
        Ok(())
    }

    /// Waits up to `timeout` for the broker to acknowledge everything, then
    /// stops; what is left stays spooled for the next run.
    pub fn finish(self, timeout: Duration) -> SpoolStats {
        let drained = self.publisher.drain(timeout);
        let (stats, left) = {
            let spool = self.spool.lock().expect("spool lock");
            (spool.stats(), spool.len())
        };
        tracing::info!(
            acknowledged = stats.acknowledged,
            spooled = left,
            expired = stats.expired,
            dropped_full = stats.dropped_full,
            quarantined = stats.quarantined,
            "publishing done"
        );
        if !drained {
            tracing::warn!(
                spooled = left,
                "the broker did not acknowledge everything in time; the rest stays spooled"
            );
        }
        self.publisher.finish();
        stats
    }
}

/// A broker configuration for this run, with a fresh boot id.
pub fn new_broker(url: &str, site: &str, rig: &str) -> Result<BrokerConfig, PublishingError> {
    let broker =
        vitrine_publish::Broker::from_url(url).map_err(|source| PublishingError::BrokerUrl {
            url: url.to_owned(),
            source: Box::new(source),
        })?;
    BrokerConfig::new(broker, site, rig, &vitrine_privacy::random_id()).map_err(|message| {
        PublishingError::Ids {
            url: url.to_owned(),
            message,
        }
    })
}
