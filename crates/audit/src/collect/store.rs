//! Where a collector writes: summaries (one row per rig, boot, sequence
//! number and sensor, the main figures in columns beside the whole
//! envelope) and the last status of each rig. SQLite is the embedded
//! default, PostgreSQL the fleet's; one schema (docs/fleet.md) for both.
//! Writes are grouped: the collector gathers a [`Batch`] in memory and
//! writes it in one transaction, then acknowledges to the broker what the
//! commit made safe. A batch is written in key order, so that collectors
//! writing overlapping batches (a duplicate handed to each) take their row
//! locks in one order and wait for each other instead of deadlocking.

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
    /// From the window's end to its arrival here, in milliseconds: how late
    /// the rig's summaries come (a spool emptying after an outage shows).
    pub delay_ms: i64,
    pub devices_estimated: Option<u64>,
    pub distinct_macs: Option<u64>,
    pub probe_requests: Option<u64>,
    pub crossings_in: Option<u64>,
    pub crossings_out: Option<u64>,
    /// The envelope's JSON as it was decoded.
    pub envelope: String,
}

impl SummaryRow {
    /// `received_ms`: Unix time in milliseconds.
    pub fn new(sensor: &str, e: &Envelope, json: &[u8], received_ms: i64) -> Self {
        let s = &e.summary;
        let wifi = s.wifi.as_ref();
        let camera = s.camera.as_ref();
        let start_ms = window_unix_ms(&s.window_start);
        SummaryRow {
            site: e.site.clone(),
            rig: e.rig.clone(),
            boot: e.boot.clone(),
            seq: e.seq,
            sensor: sensor.to_owned(),
            window_unix: start_ms.div_euclid(1000),
            window_s: s.window_s,
            received_unix: received_ms.div_euclid(1000),
            delay_ms: received_ms - (start_ms + i64::from(s.window_s) * 1000),
            devices_estimated: wifi.map(|w| w.devices.estimated),
            distinct_macs: wifi.map(|w| w.devices.distinct_macs),
            probe_requests: wifi.map(|w| w.frames.probe_req),
            crossings_in: camera.map(|c| c.crossings.inward),
            crossings_out: camera.map(|c| c.crossings.outward),
            envelope: String::from_utf8_lossy(json).into_owned(),
        }
    }
}

/// `2024-01-06T15:52:00Z` as Unix milliseconds (0 if it is not RFC 3339:
/// the envelope's schema says it is, and the row keeps the text anyway).
fn window_unix_ms(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The database `--db` names: PostgreSQL for a `postgres[ql]://` URL or a
/// libpq `key=value` string, else a SQLite file.
pub fn open(db: &str) -> anyhow::Result<Box<dyn Store>> {
    use anyhow::Context;
    let postgres = db.starts_with("postgresql://")
        || db.starts_with("postgres://")
        || (db.contains('=') && db.split_whitespace().all(|kv| kv.contains('=')));
    if postgres {
        // The URL may hold a password: the error names the database only.
        let store = Postgres::connect(db).context("connecting to the --db PostgreSQL database")?;
        Ok(Box::new(store))
    } else {
        let store = Sqlite::open(Path::new(db)).with_context(|| format!("opening --db {db}"))?;
        Ok(Box::new(store))
    }
}

/// A rig's status as stored (the last one wins).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRow {
    pub site: String,
    pub rig: String,
    pub state: &'static str,
    pub version: String,
    pub boot: String,
    pub spool_held: i64,
    pub received_unix: i64,
    /// The status's JSON as published.
    pub json: String,
}

impl StatusRow {
    pub fn new(site: &str, rig: &str, s: &Status, json: &[u8], received_unix: i64) -> Self {
        StatusRow {
            site: site.to_owned(),
            rig: rig.to_owned(),
            state: state_name(s.state),
            version: s.version.clone(),
            boot: s.boot.clone(),
            spool_held: s.spool.held as i64,
            received_unix,
            json: String::from_utf8_lossy(json).into_owned(),
        }
    }
}

/// What a collector has taken since its last commit.
#[derive(Debug, Default)]
pub struct Batch {
    pub summaries: Vec<SummaryRow>,
    pub statuses: Vec<StatusRow>,
}

impl Batch {
    /// The summaries' indices in key order, then the statuses' (the last of
    /// a rig's in a batch is the one kept).
    fn order(&self) -> (Vec<usize>, Vec<usize>) {
        let mut summaries: Vec<usize> = (0..self.summaries.len()).collect();
        summaries.sort_by(|&a, &b| {
            let (a, b) = (&self.summaries[a], &self.summaries[b]);
            (&a.site, &a.rig, &a.boot, a.seq, &a.sensor)
                .cmp(&(&b.site, &b.rig, &b.boot, b.seq, &b.sensor))
        });
        let mut statuses: Vec<usize> = (0..self.statuses.len()).collect();
        // Stable: a rig's statuses stay in arrival order.
        statuses.sort_by(|&a, &b| {
            let (a, b) = (&self.statuses[a], &self.statuses[b]);
            (&a.site, &a.rig).cmp(&(&b.site, &b.rig))
        });
        (summaries, statuses)
    }
}

/// A collector's database.
pub trait Store {
    /// Writes a batch in one transaction, committed when this returns Ok.
    /// For each summary, in the batch's order: false when it was there
    /// already (a duplicate).
    fn write(&mut self, batch: &Batch) -> anyhow::Result<Vec<bool>>;
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
    delay_ms BIGINT NOT NULL,
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

const INSERT_SUMMARY: &str = "INSERT INTO summaries (site, rig, boot, seq, sensor, window_start,
        window_s, received, delay_ms, devices_estimated, distinct_macs, probe_requests,
        crossings_in, crossings_out, envelope)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     ON CONFLICT DO NOTHING";

const UPSERT_STATUS: &str = "INSERT INTO rigs (site, rig, state, version, boot, spool_held,
        updated, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (site, rig) DO UPDATE SET state = excluded.state,
         version = excluded.version, boot = excluded.boot,
         spool_held = excluded.spool_held, updated = excluded.updated,
         status = excluded.status";

impl Store for Sqlite {
    fn write(&mut self, batch: &Batch) -> anyhow::Result<Vec<bool>> {
        let (summaries, statuses) = batch.order();
        let mut new = vec![false; batch.summaries.len()];
        // IMMEDIATE: the write lock at once, so that two collectors on one
        // file wait for each other (busy_timeout) instead of failing on a
        // lock upgrade.
        let tx =
            rusqlite::Transaction::new(&mut self.db, rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(INSERT_SUMMARY)?;
            for i in summaries {
                let r = &batch.summaries[i];
                new[i] = insert.execute(params![
                    r.site,
                    r.rig,
                    r.boot,
                    r.seq as i64,
                    r.sensor,
                    r.window_unix,
                    r.window_s,
                    r.received_unix,
                    r.delay_ms,
                    r.devices_estimated.map(|v| v as i64),
                    r.distinct_macs.map(|v| v as i64),
                    r.probe_requests.map(|v| v as i64),
                    r.crossings_in.map(|v| v as i64),
                    r.crossings_out.map(|v| v as i64),
                    r.envelope,
                ])? == 1;
            }
            let mut upsert = tx.prepare_cached(UPSERT_STATUS)?;
            for i in statuses {
                let s = &batch.statuses[i];
                upsert.execute(params![
                    s.site,
                    s.rig,
                    s.state,
                    s.version,
                    s.boot,
                    s.spool_held,
                    s.received_unix,
                    s.json,
                ])?;
            }
        }
        tx.commit()?;
        Ok(new)
    }

    fn expire(&mut self, before_unix: i64) -> anyhow::Result<usize> {
        Ok(self.db.execute(
            "DELETE FROM summaries WHERE window_start < ?1",
            [before_unix],
        )?)
    }
}

/// PostgreSQL, for fleets: several collectors on several machines write one
/// database that dashboards (docs/grafana) read.
pub struct Postgres {
    db: postgres::Client,
    insert: postgres::Statement,
    upsert: postgres::Statement,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

impl Postgres {
    /// `url`: `postgresql://user[:password]@host[:port]/database` (or
    /// libpq's `key=value` form); without TLS, so a loopback or a Unix socket
    /// (`host=/run/postgresql`), or a tunnel.
    pub fn connect(url: &str) -> anyhow::Result<Postgres> {
        let mut db = postgres::Client::connect(url, postgres::NoTls)?;
        // Two collectors starting at once would race on CREATE IF NOT
        // EXISTS: a transaction-wide advisory lock orders them.
        let mut tx = db.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(7253)", &[])?;
        tx.batch_execute(SCHEMA)?;
        tx.commit()?;
        let insert = db.prepare(INSERT_SUMMARY)?;
        let upsert = db.prepare(UPSERT_STATUS)?;
        Ok(Postgres { db, insert, upsert })
    }
}

impl Store for Postgres {
    fn write(&mut self, batch: &Batch) -> anyhow::Result<Vec<bool>> {
        let (summaries, statuses) = batch.order();
        let mut new = vec![false; batch.summaries.len()];
        let mut tx = self.db.transaction()?;
        for i in summaries {
            let r = &batch.summaries[i];
            new[i] = tx.execute(
                &self.insert,
                &[
                    &r.site,
                    &r.rig,
                    &r.boot,
                    &(r.seq as i64),
                    &r.sensor,
                    &r.window_unix,
                    &(r.window_s as i32),
                    &r.received_unix,
                    &r.delay_ms,
                    &r.devices_estimated.map(|v| v as i64),
                    &r.distinct_macs.map(|v| v as i64),
                    &r.probe_requests.map(|v| v as i64),
                    &r.crossings_in.map(|v| v as i64),
                    &r.crossings_out.map(|v| v as i64),
                    &r.envelope,
                ],
            )? == 1;
        }
        for i in statuses {
            let s = &batch.statuses[i];
            tx.execute(
                &self.upsert,
                &[
                    &s.site,
                    &s.rig,
                    &s.state,
                    &s.version,
                    &s.boot,
                    &s.spool_held,
                    &s.received_unix,
                    &s.json,
                ],
            )?;
        }
        tx.commit()?;
        Ok(new)
    }

    fn expire(&mut self, before_unix: i64) -> anyhow::Result<usize> {
        Ok(self.db.execute(
            "DELETE FROM summaries WHERE window_start < $1",
            &[&before_unix],
        )? as usize)
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
        let row = SummaryRow::new("wifi", &e, b"{}", 1_800_000_000_000);
        let batch = |rows: Vec<SummaryRow>| Batch {
            summaries: rows,
            statuses: vec![],
        };
        assert_eq!(db.write(&batch(vec![row.clone()])).unwrap(), [true]);
        // A duplicate, and the same sequence number on the camera's topic,
        // which is another row; in a batch out of key order.
        let camera = SummaryRow::new("camera", &e, b"{}", 1);
        assert_eq!(
            db.write(&batch(vec![row.clone(), camera])).unwrap(),
            [false, true]
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
        assert_eq!(
            row.delay_ms,
            1_800_000_000_000 - (window + i64::from(e.summary.window_s)) * 1000
        );
        assert_eq!(db.expire(window).unwrap(), 0, "not before its own start");
        assert_eq!(db.expire(window + 1).unwrap(), 2);
    }
}
