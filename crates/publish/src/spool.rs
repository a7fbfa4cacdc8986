//! A durable, bounded spool of payloads waiting for the broker's
//! acknowledgement.
//!
//! One file per payload, written atomically: a temporary file in the same
//! folder, fsync, rename, fsync of the folder. A file that is torn or fails
//! its checksum is moved to `quarantine/` and counted, never returned. Files
//! are named `<created s>-<opened ns>-<seq>`: a directory listing is the
//! publishing order, and a name is never used twice, even after a restart
//! that follows the acknowledgement of the newest entry.
//!
//! File layout (little-endian): magic `VSP1`, created (u64 Unix seconds),
//! topic length (u16), topic, payload length (u32), payload, CRC-32 of
//! everything before it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"VSP1";
const SUFFIX: &str = ".vsp";
const QUARANTINE: &str = "quarantine";

/// What the spool may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolPolicy {
    /// Entries older than this are deleted, sent or not (the policy's
    /// retention for summaries; default 7 days).
    pub retention_s: u64,
    /// Oldest entries are dropped past this many bytes.
    pub max_bytes: u64,
}

impl Default for SpoolPolicy {
    fn default() -> Self {
        SpoolPolicy {
            retention_s: 7 * 86_400,
            max_bytes: 64 << 20,
        }
    }
}

/// Counters reported in the rig's status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpoolStats {
    pub written: u64,
    pub acknowledged: u64,
    /// Deleted unsent because they passed the retention period.
    pub expired: u64,
    /// Deleted unsent because the spool was full.
    pub dropped_full: u64,
    /// Torn or corrupt files moved to `quarantine/`.
    pub quarantined: u64,
}

/// One spooled payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub created_s: u64,
    pub topic: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("topic longer than 65535 bytes")]
    TopicTooLong,
}

/// The spool folder.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    policy: SpoolPolicy,
    stats: SpoolStats,
    /// (id, size) of every valid entry, oldest first.
    entries: Vec<(String, u64)>,
    bytes: u64,
    /// When this spool was opened (ns since the Unix epoch): names of this
    /// run cannot collide with names of an earlier one.
    opened_ns: u128,
    next_seq: u64,
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`: removes temporary files
    /// of interrupted writes, quarantines damaged entries, and indexes the rest.
    pub fn open(dir: &Path, policy: SpoolPolicy) -> Result<Self, SpoolError> {
        let io = |source| SpoolError::Io {
            path: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir.join(QUARANTINE)).map_err(io)?;
        let opened_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut spool = Spool {
            dir: dir.to_owned(),
            policy,
            stats: SpoolStats::default(),
            entries: Vec::new(),
            bytes: 0,
            opened_ns,
            next_seq: 0,
        };
        let mut names: Vec<String> = fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            if name.starts_with('.') && name.ends_with(".tmp") {
                // An interrupted write: never renamed, so never acknowledged either.
                fs::remove_file(&path).map_err(io)?;
            } else if let Some(id) = name.strip_suffix(SUFFIX) {
                match fs::read(&path).ok().and_then(|b| decode(id, &b)) {
                    Some(entry) => {
                        let size = entry.payload.len() as u64;
                        spool.bytes += size;
                        spool.entries.push((entry.id, size));
                    }
                    None => spool.quarantine(&name)?,
                }
            }
        }
        sync_dir(dir).map_err(io)?;
        Ok(spool)
    }

    pub fn stats(&self) -> SpoolStats {
        self.stats
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of payload held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Writes a payload durably; when this returns, it survives a power cut.
    pub fn push(&mut self, now_s: u64, topic: &str, payload: &[u8]) -> Result<String, SpoolError> {
        let topic_len = u16::try_from(topic.len()).map_err(|_| SpoolError::TopicTooLong)?;
        // Creation time first, so that names sort in publishing order across boots.
        let id = format!("{now_s:012}-{:020}-{:010}", self.opened_ns, self.next_seq);
        self.next_seq += 1;
        let mut body = Vec::with_capacity(payload.len() + topic.len() + 32);
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&now_s.to_le_bytes());
        body.extend_from_slice(&topic_len.to_le_bytes());
        body.extend_from_slice(topic.as_bytes());
        body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        body.extend_from_slice(payload);
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());

        let tmp = self.dir.join(format!(".{id}.tmp"));
        let path = self.dir.join(format!("{id}{SUFFIX}"));
        let written = write_synced(&tmp, &body).and_then(|()| fs::rename(&tmp, &path));
        if let Err(source) = written {
            // Nothing half-written stays behind: on a full disk every
            // summary would otherwise leave an empty temporary file.
            let _ = fs::remove_file(&tmp);
            return Err(SpoolError::Io { path, source });
        }
        // The entry is in the folder now: index it (it will be published)
        // even if the folder's sync fails, which is still reported.
        self.entries.push((id.clone(), payload.len() as u64));
        self.bytes += payload.len() as u64;
        self.stats.written += 1;
        let synced = sync_dir(&self.dir);
        self.enforce_size()?;
        synced.map_err(|source| SpoolError::Io { path, source })?;
        Ok(id)
    }

    /// The oldest entries, in publishing order, at most `n`. Damaged files
    /// found now are quarantined and skipped.
    pub fn oldest(&mut self, n: usize) -> Result<Vec<Entry>, SpoolError> {
        let mut out = Vec::new();
        let mut i = 0;
        while out.len() < n && i < self.entries.len() {
            let id = self.entries[i].0.clone();
            let name = format!("{id}{SUFFIX}");
            match fs::read(self.dir.join(&name))
                .ok()
                .and_then(|b| decode(&id, &b))
            {
                Some(entry) => {
                    out.push(entry);
                    i += 1;
                }
                None => {
                    self.quarantine(&name)?;
                    self.forget(i);
                }
            }
        }
        Ok(out)
    }

    /// The broker acknowledged `id`: delete it.
    pub fn acknowledge(&mut self, id: &str) -> Result<(), SpoolError> {
        if let Some(i) = self.entries.iter().position(|(e, _)| e == id) {
            self.delete(i)?;
            self.stats.acknowledged += 1;
        }
        Ok(())
    }

    /// Deletes entries past the retention period, sent or not.
    pub fn enforce_retention(&mut self, now_s: u64) -> Result<(), SpoolError> {
        let cutoff = now_s.saturating_sub(self.policy.retention_s);
        while let Some((id, _)) = self.entries.first() {
            let created: u64 = id
                .split('-')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            if created >= cutoff {
                break;
            }
            self.delete(0)?;
            self.stats.expired += 1;
        }
        Ok(())
    }

    fn enforce_size(&mut self) -> Result<(), SpoolError> {
        while self.bytes > self.policy.max_bytes && self.entries.len() > 1 {
            self.delete(0)?;
            self.stats.dropped_full += 1;
        }
        Ok(())
    }

    fn delete(&mut self, i: usize) -> Result<(), SpoolError> {
        let path = self.dir.join(format!("{}{SUFFIX}", self.entries[i].0));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(SpoolError::Io { path, source }),
        }
        sync_dir(&self.dir).map_err(|source| SpoolError::Io {
            path: self.dir.clone(),
            source,
        })?;
        self.forget(i);
        Ok(())
    }

    fn forget(&mut self, i: usize) {
        let (_, size) = self.entries.remove(i);
        self.bytes -= size;
    }

    fn quarantine(&mut self, name: &str) -> Result<(), SpoolError> {
        let from = self.dir.join(name);
        let to = self.dir.join(QUARANTINE).join(name);
        fs::rename(&from, &to).map_err(|source| SpoolError::Io { path: from, source })?;
        self.stats.quarantined += 1;
        tracing::warn!(file = name, "damaged spool file quarantined");
        Ok(())
    }
}

fn decode(id: &str, b: &[u8]) -> Option<Entry> {
    let (body, crc) = b.split_at_checked(b.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_le_bytes() != crc || !body.starts_with(MAGIC) {
        return None;
    }
    let created_s = u64::from_le_bytes(body.get(4..12)?.try_into().ok()?);
    let topic_len = u16::from_le_bytes(body.get(12..14)?.try_into().ok()?) as usize;
    let topic = std::str::from_utf8(body.get(14..14 + topic_len)?)
        .ok()?
        .to_owned();
    let rest = &body[14 + topic_len..];
    let payload_len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let payload = rest.get(4..)?;
    (payload.len() == payload_len).then(|| Entry {
        id: id.to_owned(),
        created_s,
        topic,
        payload: payload.to_vec(),
    })
}

fn write_synced(path: &Path, body: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(body)?;
    f.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
