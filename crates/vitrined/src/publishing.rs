//! Publishing summaries from the daemon: envelope, spool, publisher.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vitrine_publish::{BrokerConfig, Codec, Envelope, Publisher, Spool, SpoolPolicy, SpoolStats};
use vitrine_schema::Summary;

/// Summaries on their way to the broker.
#[derive(Debug)]
pub struct Publishing {
    broker: BrokerConfig,
    spool: Arc<Mutex<Spool>>,
    codec: Codec,
    publisher: Publisher,
    seq: u64,
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
    ) -> anyhow::Result<Self> {
        let spool = Spool::open(spool_dir, policy)?;
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
            .map_err(anyhow::Error::msg)?;
        Ok(Publishing {
            broker,
            spool,
            codec,
            publisher,
            seq: 0,
            bytes: 0,
        })
    }

    pub fn broker(&self) -> &BrokerConfig {
        &self.broker
    }

    /// Spools a summary durably and wakes the publisher.
    pub fn push(&mut self, summary: Summary) -> anyhow::Result<()> {
        let envelope = Envelope {
            site: self.broker.site.clone(),
            rig: self.broker.rig.clone(),
            boot: self.broker.boot.clone(),
            seq: self.seq,
            summary,
        };
        self.seq += 1;
        let payload = self.codec.encode(&envelope);
        self.bytes += payload.len() as u64;
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut spool = self.spool.lock().expect("spool lock");
        spool.enforce_retention(now_s)?;
        spool.push(now_s, &self.broker.topic("wifi"), &payload)?;
        drop(spool);
        self.publisher.notify();
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
pub fn new_broker(url: &str, site: &str, rig: &str) -> anyhow::Result<BrokerConfig> {
    let broker = vitrine_publish::Broker::from_url(url)?;
    BrokerConfig::new(broker, site, rig, &vitrine_privacy::random_id()).map_err(anyhow::Error::msg)
}
