//! Where a collector writes: summaries (one row per rig, boot, sequence
//! number and sensor, the main figures in columns beside the whole
//! envelope) and the last status of each rig. SQLite is the embedded
//! default; the schema is docs/fleet.md's.

use std::path::Path;

use rusqlite::{Connection, params};
use vitrine_schema::{Envelope, RigState, Status};

/// A summary as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub site: String,
    pub rig: String,
    pub boot: String,
    pub seq: u64,
    pub sensor: String,
    pub window_unix: i64,
    pub window_s: u32,
    pub received_unix: i64,
    pub devices_estimated: Option<u64>,
    pub distinct_macs: Option<u64>,
    pub probe_requests: Option<u64>,
    pub crossings_in: Option<u64>,
    pub crossings_out: Option<u64>,
    /// The envelope's JSON as it was decoded.
    pub envelope: String,
}

impl SummaryRow {
    pub fn new(sensor: &str, e: &Envelope, json: &[u8], received_unix: i64) -> Self {
        let s = &e.summary;
        let wifi = s.wifi.as_ref();
        let camera = s.camera.as_ref();
        SummaryRow {
            site: e.site.clone(),
            rig: e.rig.clone(),
            boot: e.boot.clone(),
            seq: e.seq,
            sensor: sensor.to_owned(),
            window_unix: window_unix(&s.window_start),
            window_s: s.window_s,
            received_unix,
            devices_estimated: wifi.map(|w| w.devices.estimated),
            distinct_macs: wifi.map(|w| w.devices.distinct_macs),
            probe_requests: wifi.map(|w| w.frames.probe_req),
            crossings_in: camera.map(|c| c.crossings.inward),
            crossings_out: camera.map(|c| c.crossings.outward),
            envelope: String::from_utf8_lossy(json).into_owned(),
        }
    }
}

/// `2024-01-06T15:52:00Z` as Unix seconds (0 if it is not RFC 3339: the
/// envelope's schema says it is, and the row keeps the text anyway).
fn window_unix(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map_or(0, |t| t.unix_timestamp())
}

/// A collector's database.
pub trait Store {
    /// Stores a summary; false when it was there already (a duplicate).
    fn summary(&mut self, row: &SummaryRow) -> anyhow::Result<bool>;
    /// Replaces the rig's last status.
    fn status(
        &mut self,
        site: &str,
        rig: &str,
        status: &Status,
        json: &[u8],
        received_unix: i64,
    ) -> anyhow::Result<()>;
    /// Deletes summaries whose window started before `before_unix`.
    fn expire(&mut self, before_unix: i64) -> anyhow::Result<usize>;
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS summaries (
    site TEXT NOT NULL,
    rig TEXT NOT NULL,
    boot TEXT NOT NULL,
    seq BIGINT NOT NULL,
    sensor TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_s INTEGER NOT NULL,
    received BIGINT NOT NULL,
    devices_estimated BIGINT,
    distinct_macs BIGINT,
    probe_requests BIGINT,
    crossings_in BIGINT,
    crossings_out BIGINT,
    envelope TEXT NOT NULL,
    PRIMARY KEY (site, rig, boot, seq, sensor)
);
CREATE INDEX IF NOT EXISTS summaries_by_window ON summaries (window_start);
CREATE TABLE IF NOT EXISTS rigs (
    site TEXT NOT NULL,
    rig TEXT NOT NULL,
    state TEXT NOT NULL,
    version TEXT NOT NULL,
    boot TEXT NOT NULL,
    spool_held BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (site, rig)
);
";

/// SQLite, in one file (WAL, so dashboards read while the collector writes).
#[derive(Debug)]
pub struct Sqlite {
    db: Connection,
}

impl Sqlite {
    pub fn open(path: &Path) -> anyhow::Result<Sqlite> {
        let db = Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.execute_batch(SCHEMA)?;
        Ok(Sqlite { db })
    }
}

pub fn state_name(s: RigState) -> &'static str {
    match s {
        RigState::Online => "online",
        RigState::Offline => "offline",
        RigState::Refused => "refused",
    }
}

impl Store for Sqlite {
    fn summary(&mut self, r: &SummaryRow) -> anyhow::Result<bool> {
        let n = self.db.execute(
            "INSERT INTO summaries (site, rig, boot, seq, sensor, window_start, window_s, received,
                 devices_estimated, distinct_macs, probe_requests, crossings_in, crossings_out, envelope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT DO NOTHING",
            params![
                r.site,
                r.rig,
                r.boot,
                r.seq as i64,
                r.sensor,
                r.window_unix,
                r.window_s,
                r.received_unix,
                r.devices_estimated.map(|v| v as i64),
                r.distinct_macs.map(|v| v as i64),
                r.probe_requests.map(|v| v as i64),
                r.crossings_in.map(|v| v as i64),
                r.crossings_out.map(|v| v as i64),
                r.envelope,
            ],
        )?;
        Ok(n == 1)
    }

    fn status(
        &mut self,
        site: &str,
        rig: &str,
        s: &Status,
        json: &[u8],
        received_unix: i64,
    ) -> anyhow::Result<()> {
        self.db.execute(
            "INSERT INTO rigs (site, rig, state, version, boot, spool_held, updated, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (site, rig) DO UPDATE SET state = excluded.state,
                 version = excluded.version, boot = excluded.boot,
                 spool_held = excluded.spool_held, updated = excluded.updated,
                 status = excluded.status",
            params![
                site,
                rig,
                state_name(s.state),
                s.version,
                s.boot,
                s.spool.held as i64,
                received_unix,
                String::from_utf8_lossy(json),
            ],
        )?;
        Ok(())
    }

    fn expire(&mut self, before_unix: i64) -> anyhow::Result<usize> {
        Ok(self.db.execute(
            "DELETE FROM summaries WHERE window_start < ?1",
            [before_unix],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(seq: u64) -> Envelope {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schema/summary-v1.example.json"
        );
        Envelope {
            site: "store-7".into(),
            rig: "rig-a".into(),
            boot: "b007".into(),
            seq,
            summary: serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap(),
        }
    }

    #[test]
    fn a_summary_is_stored_once_with_its_figures_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Sqlite::open(&dir.path().join("c.db")).unwrap();
        let e = envelope(3);
        let row = SummaryRow::new("wifi", &e, b"{}", 1_800_000_000);
        assert!(db.summary(&row).unwrap());
        assert!(!db.summary(&row).unwrap(), "a duplicate");
        // The same sequence number on the camera's topic is another row.
        assert!(
            db.summary(&SummaryRow::new("camera", &e, b"{}", 1))
                .unwrap()
        );
        let (window, estimated): (i64, Option<i64>) = db
            .db
            .query_row(
                "SELECT window_start, devices_estimated FROM summaries WHERE sensor = 'wifi'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(window, 1_704_556_320, "2024-01-06T15:52:00Z");
        assert_eq!(
            estimated,
            e.summary.wifi.as_ref().map(|w| w.devices.estimated as i64)
        );
        assert_eq!(db.expire(window).unwrap(), 0, "not before its own start");
        assert_eq!(db.expire(window + 1).unwrap(), 2);
    }
}
