//! The tree the benchmark searches: text logs, JSON lines, binary blobs,
//! SQLite databases, gzip and zstd files, written once from a fixed seed and
//! reused while its recipe holds, with the benchmark's canaries planted in
//! known files and forms.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, ensure};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use vitrine_canary::encoding::Form;
use vitrine_canary::{Encoding, Registry};

/// Bumped whenever the tree's recipe changes, so a cached tree is rebuilt.
const RECIPE: u32 = 2;
const SEED: u64 = 0x5ca9_2026;
/// Vendors' OUIs for the canaries, and for half of the unrelated MACs in
/// the logs (a store's logs are full of the same few phone makers).
const OUIS: [[u8; 3]; 6] = [
    [0xf0, 0x18, 0x98],
    [0x8c, 0xf5, 0xa3],
    [0x3c, 0x28, 0x6d],
    [0x00, 0x1b, 0x63],
    [0xa4, 0x83, 0xe7],
    [0xdc, 0xa6, 0x32],
];
pub(super) const MAC_CANARIES: usize = 95;
pub(super) const SSID_CANARIES: usize = 5;

/// Where a canary is planted, in which form.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plant {
    /// File under the tree.
    pub(super) file: &'static str,
    /// Canary id in the registry.
    pub(super) canary: &'static str,
    /// Encoding name, as reports write it.
    encoding: &'static str,
    /// Hex digits kept of a truncated digest.
    truncate: Option<usize>,
}

impl Plant {
    pub(super) fn container(&self) -> Option<&'static str> {
        if self.file.ends_with(".gz") {
            Some("gzip")
        } else if self.file.ends_with(".zst") {
            Some("zstd")
        } else {
            None
        }
    }

    /// Whether `rg -F -f PATTERNS` (clear and whole hex forms, no
    /// decompression) can see it.
    pub(super) fn visible_to_rg(&self) -> bool {
        self.container().is_none() && self.truncate.is_none() && rg_form(self.encoding)
    }

    /// The encoding name the report gives the find.
    pub(super) fn reported(&self) -> String {
        match self.truncate {
            Some(n) => {
                // As `vitrine-audit` counts a truncation: in hex digits,
                // base64 characters or bytes.
                let unit = if self.encoding.contains("/hex-") {
                    "hex digits"
                } else if self.encoding.ends_with("/base64") {
                    "characters"
                } else {
                    "bytes"
                };
                format!("{} truncated to {n} {unit}", self.encoding)
            }
            None => self.encoding.to_string(),
        }
    }
}

/// Whether a form's name is one of the clear-text or hex forms given to rg.
fn rg_form(encoding: &str) -> bool {
    encoding.starts_with("clear(")
        || encoding == "ssid-clear"
        || encoding.starts_with("ssid-hex-")
        || (encoding.contains(")/hex-") && !encoding.starts_with("oui+"))
}

pub(super) const PLANTS: &[Plant] = &[
    // Seen by both tools.
    plant("text/app-0007.log", "mac-01", "clear(colon-lower)"),
    plant("text/app-0012.log", "mac-02", "clear(dash-upper)"),
    plant("json/events-0003.jsonl", "mac-03", "clear(dot-lower)"),
    plant("text/small/conf-0042.txt", "mac-04", "clear(bare-upper)"),
    plant(
        "text/app-0019.log",
        "mac-05",
        "sha256(colon-lower)/hex-lower",
    ),
    plant(
        "db/store-0002.sqlite",
        "mac-06",
        "md5(bare-upper)/hex-upper",
    ),
    plant("json/events-0005.jsonl", "mac-07", "sha1(raw)/hex-lower"),
    plant("text/app-0023.log", "ssid-01", "ssid-clear"),
    plant("db/store-0004.sqlite", "ssid-02", "sha256(ssid)/hex-upper"),
    // Seen by vitrine-audit only.
    Plant {
        truncate: Some(16),
        ..plant(
            "text/app-0031.log",
            "mac-08",
            "sha512(dash-lower)/hex-lower",
        )
    },
    plant("bin/blob-0006.bin", "mac-09", "raw-bytes"),
    plant("json/events-0007.jsonl", "mac-10", "base64(colon-lower)"),
    plant("db/store-0003.sqlite", "mac-11", "sha1(raw)/binary"),
    plant("text/app-0037.log", "mac-12", "sha256(colon-upper)/base64"),
    plant(
        "text/app-0041.log",
        "mac-13",
        "oui+sha256(colon-lower)[..3]/colon-lower",
    ),
    plant("archive/app-0002.log.gz", "mac-14", "clear(colon-lower)"),
    plant(
        "archive/events-0003.jsonl.zst",
        "mac-15",
        "sha256(colon-lower)/hex-lower",
    ),
    plant("archive/app-0004.log.gz", "mac-16", "sha1(raw)/hex-upper"),
];

const fn plant(file: &'static str, canary: &'static str, encoding: &'static str) -> Plant {
    Plant {
        file,
        canary,
        encoding,
        truncate: None,
    }
}

/// What the cached tree holds.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Manifest {
    recipe: u32,
    pub(super) bytes: u64,
    pub(super) files: u64,
    /// Kind to (files, bytes on disk).
    pub(super) kinds: BTreeMap<String, (u64, u64)>,
    /// Bytes inside the compressed files once decompressed.
    pub(super) decompressed: u64,
}

/// The benchmark's canaries: always the same.
pub(super) fn canaries() -> Registry {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    Registry::generate(MAC_CANARIES, SSID_CANARIES, &OUIS, &mut rng)
}

fn form(registry: &Registry, plant: &Plant) -> anyhow::Result<Vec<u8>> {
    let canary = registry
        .get(plant.canary)
        .with_context(|| format!("no canary {}", plant.canary))?;
    let Form { mut bytes, .. } = canary
        .forms()
        .into_iter()
        .find(|f| f.encoding.to_string() == plant.encoding)
        .with_context(|| format!("{} has no form {}", plant.canary, plant.encoding))?;
    if let Some(n) = plant.truncate {
        bytes.truncate(n);
    }
    Ok(bytes)
}

/// The tree at `dir`, written unless a complete one of this recipe is there.
pub(super) fn ensure_tree(dir: &Path, bytes: u64, registry: &Registry) -> anyhow::Result<Manifest> {
    let manifest_path = dir.with_extension("json");
    if dir.is_dir()
        && let Ok(text) = std::fs::read_to_string(&manifest_path)
        && let Ok(m) = serde_json::from_str::<Manifest>(&text)
        && m.recipe == RECIPE
    {
        return Ok(m);
    }
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let started = Instant::now();
    eprintln!(
        "xtask: writing a {:.1} GB tree to {} (once)",
        bytes as f64 / 1e9,
        dir.display()
    );
    let mut planted: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
    for p in PLANTS {
        planted.entry(p.file).or_default().push(form(registry, p)?);
    }
    // Unrelated MACs share the canaries' OUIs but are never a canary, nor
    // one of their OUI-keeping forms (only 24 bits of those are hashed, so
    // a million random addresses under the same OUIs would hit a few).
    let avoid = registry
        .canaries
        .iter()
        .flat_map(|c| c.forms())
        .filter(|f| {
            matches!(
                f.encoding,
                Encoding::Clear { .. } | Encoding::OuiKeeping { .. }
            )
        })
        .filter_map(|f| vitrine_canary::parse_mac(std::str::from_utf8(&f.bytes).ok()?))
        .collect();
    let mut w = TreeWriter {
        avoid,
        root: tmp.clone(),
        rng: ChaCha8Rng::seed_from_u64(SEED ^ 0x7e57),
        planted,
        kinds: BTreeMap::new(),
        decompressed: 0,
        clock_ms: 0,
    };
    // About a tenth of the content, by uncompressed size, sits in gzip and
    // zstd files; the rest is split between the kinds below on disk.
    let compressed_content = bytes / 10;
    w.compressed(compressed_content)?;
    let on_disk_compressed: u64 = w.kinds.values().map(|k| k.1).sum();
    let rest = bytes.saturating_sub(on_disk_compressed);
    w.sqlite(rest * 15 / 100)?;
    w.text_files(
        rest * 2 / 100,
        (1000, 64_000, 48),
        "text/small/conf-{i}.txt",
        false,
        "small text files",
    )?;
    w.text_files(
        rest * 12 / 100,
        (MB, 32 * MB, 8),
        "json/events-{i}.jsonl",
        true,
        "JSON lines",
    )?;
    w.binary(rest * 28 / 100)?;
    let so_far: u64 = w.kinds.values().map(|k| k.1).sum();
    w.text_files(
        bytes.saturating_sub(so_far),
        (MB, 48 * MB, 48),
        "text/app-{i}.log",
        false,
        "text logs",
    )?;
    ensure!(
        w.planted.is_empty(),
        "plants left over, their files were not written: {:?}",
        w.planted.keys().collect::<Vec<_>>()
    );
    let m = Manifest {
        recipe: RECIPE,
        bytes: w.kinds.values().map(|k| k.1).sum(),
        files: w.kinds.values().map(|k| k.0).sum(),
        kinds: w.kinds,
        decompressed: w.decompressed,
    };
    std::fs::rename(&tmp, dir)?;
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&m)? + "\n")?;
    eprintln!(
        "xtask: tree written in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(m)
}

struct TreeWriter {
    /// MACs never written at random.
    avoid: HashSet<[u8; 6]>,
    root: PathBuf,
    rng: ChaCha8Rng,
    /// File to the canary forms still to be planted in it.
    planted: BTreeMap<&'static str, Vec<Vec<u8>>>,
    kinds: BTreeMap<String, (u64, u64)>,
    decompressed: u64,
    clock_ms: u64,
}

const MB: u64 = 1_000_000;

impl TreeWriter {
    fn create(&self, rel: &str) -> anyhow::Result<(PathBuf, File)> {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().expect("files are in folders"))?;
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok((path, file))
    }

    fn count(&mut self, kind: &str, path: &Path) -> anyhow::Result<u64> {
        let len = std::fs::metadata(path)?.len();
        let k = self.kinds.entry(kind.to_string()).or_default();
        k.0 += 1;
        k.1 += len;
        Ok(len)
    }

    /// Sizes for files of one kind that add up to `total`, each between
    /// `min` and `max` (log-uniform), at least `files` of them (the plants
    /// need their files, whatever the size of the tree).
    fn sizes(&mut self, total: u64, min: u64, max: u64, files: u64) -> Vec<u64> {
        let max = max.min(total / files).max(min);
        let mut out = Vec::new();
        let mut left = total;
        while left > 0 {
            let ln = self.rng.random_range((min as f64).ln()..=(max as f64).ln());
            let size = (ln.exp() as u64).min(left);
            let size = if left - size < min { left } else { size };
            out.push(size);
            left -= size;
        }
        out
    }

    /// Text of about `len` bytes, log lines or JSON lines, with the plants
    /// of `rel` among them.
    fn text(
        &mut self,
        rel: &str,
        len: u64,
        json: bool,
        out: &mut impl Write,
    ) -> anyhow::Result<u64> {
        let plants = self.planted.remove(rel).unwrap_or_default();
        let mut at: Vec<u64> = plants
            .iter()
            .map(|_| self.rng.random_range(0..len.max(1)))
            .collect();
        at.sort_unstable();
        let mut plants = plants.into_iter().zip(at).peekable();
        let mut buf = Vec::with_capacity(1 << 20);
        let mut written = 0u64;
        while written < len {
            buf.clear();
            while buf.len() < (1 << 20) && written + (buf.len() as u64) < len {
                if let Some((_, at)) = plants.peek()
                    && written + buf.len() as u64 >= *at
                {
                    let (form, _) = plants.next().expect("peeked");
                    self.plant_line(&form, json, &mut buf);
                }
                if json {
                    self.json_line(&mut buf);
                } else {
                    self.log_line(&mut buf);
                }
            }
            out.write_all(&buf)?;
            written += buf.len() as u64;
        }
        for (form, _) in plants {
            buf.clear();
            self.plant_line(&form, json, &mut buf);
            out.write_all(&buf)?;
            written += buf.len() as u64;
        }
        Ok(written)
    }

    fn plant_line(&mut self, form: &[u8], json: bool, out: &mut Vec<u8>) {
        self.clock_ms += 17;
        if json {
            out.extend_from_slice(b"{\"ts\":\"");
            timestamp(out, self.clock_ms);
            out.extend_from_slice(b"\",\"event\":\"seen\",\"device\":\"");
            out.extend_from_slice(form);
            out.extend_from_slice(b"\",\"rssi\":-61}\n");
        } else {
            timestamp(out, self.clock_ms);
            out.extend_from_slice(b" trackd[2231]: INFO visitor device=");
            out.extend_from_slice(form);
            out.extend_from_slice(b" dwell=312s\n");
        }
    }

    fn mac(&mut self, out: &mut Vec<u8>, r: u64) {
        let mut mac = [0u8; 6];
        loop {
            mac.copy_from_slice(&self.rng.next_u64().to_le_bytes()[..6]);
            if r & 1 == 0 {
                mac[..3].copy_from_slice(&OUIS[(r >> 1) as usize % OUIS.len()]);
            }
            if !self.avoid.contains(&mac) {
                break;
            }
        }
        let upper = r & 0x30 == 0x30;
        let (sep, dots) = match (r >> 8) % 4 {
            0 | 1 => (Some(b':'), false),
            2 => (Some(b'-'), false),
            _ => (None, (r >> 10) & 1 == 0),
        };
        for (i, b) in mac.iter().enumerate() {
            if i > 0 {
                if let Some(s) = sep {
                    out.push(s);
                } else if dots && i % 2 == 0 {
                    out.push(b'.');
                }
            }
            hex_byte(out, *b, upper);
        }
    }

    /// `digits` random hex digits (an even number). Never 8 or 12 digits
    /// alone: the shortest truncated digests looked for are that long, and
    /// a random id would now and then be one.
    fn hex_id(&mut self, out: &mut Vec<u8>, digits: usize, upper: bool) {
        debug_assert!(digits >= 16 && digits.is_multiple_of(2));
        let mut left = digits / 2;
        while left > 0 {
            let n = left.min(8);
            for b in &self.rng.next_u64().to_le_bytes()[..n] {
                hex_byte(out, *b, upper);
            }
            left -= n;
        }
    }

    fn log_line(&mut self, out: &mut Vec<u8>) {
        let r = self.rng.next_u64();
        self.clock_ms += r & 0x1ff;
        timestamp(out, self.clock_ms);
        let pid = 1000 + (r >> 12) % 9000;
        match (r >> 24) % 10 {
            0..=2 => {
                out.extend_from_slice(b" sensord[");
                decimal(out, pid);
                out.extend_from_slice(b"]: INFO probe sta=");
                self.mac(out, r >> 28);
                out.extend_from_slice(b" rssi=-");
                decimal(out, 30 + (r >> 40) % 60);
                out.extend_from_slice(b" ch=");
                decimal(out, 1 + (r >> 46) % 13);
                out.extend_from_slice(b" seq=");
                decimal(out, (r >> 50) % 4096);
                out.extend_from_slice(b" id=");
                self.hex_id(out, 16, false);
            }
            3 => {
                out.extend_from_slice(b" uploader[");
                decimal(out, pid);
                out.extend_from_slice(b"]: DEBUG chunk sha256=");
                self.hex_id(out, 64, false);
                out.extend_from_slice(b" session=");
                self.hex_id(out, 32, (r >> 40) & 1 == 1);
                out.extend_from_slice(b" bytes=");
                decimal(out, (r >> 41) % 10_000_000);
            }
            4 => {
                out.extend_from_slice(b" sensord[");
                decimal(out, pid);
                out.extend_from_slice(b"]: event {\"sta\":\"");
                self.mac(out, r >> 28);
                out.extend_from_slice(b"\",\"seen\":");
                decimal(out, (r >> 40) % 100);
                out.extend_from_slice(b",\"fp\":\"");
                self.hex_id(out, 40, false);
                out.extend_from_slice(b"\"}");
            }
            5 => {
                out.extend_from_slice(b" kernel: [");
                decimal(out, self.clock_ms / 1000);
                out.extend_from_slice(b".");
                decimal(out, 100_000 + (r >> 32) % 900_000);
                out.extend_from_slice(b"] wlan0: ");
                for i in 0..6 {
                    let w = WORDS[((r >> (i * 5)) % WORDS.len() as u64) as usize];
                    out.extend_from_slice(w.as_bytes());
                    out.push(b' ');
                }
                out.pop();
            }
            6 => {
                out.extend_from_slice(b" sensord[");
                decimal(out, pid);
                out.extend_from_slice(b"]: WARN unknown station ");
                self.mac(out, (r >> 28) | 0x30);
                out.extend_from_slice(b" dropped");
            }
            7 => {
                out.extend_from_slice(b" capture[");
                decimal(out, pid);
                out.extend_from_slice(b"]: frame");
                let bytes = self.rng.next_u64().to_le_bytes();
                let more = self.rng.next_u64().to_le_bytes();
                for b in bytes.iter().chain(&more) {
                    out.push(b' ');
                    hex_byte(out, *b, false);
                }
            }
            _ => {
                out.extend_from_slice(b" api[");
                decimal(out, pid);
                out.extend_from_slice(b"]: GET /v1/stores/");
                decimal(out, (r >> 32) % 500);
                out.extend_from_slice(b"/counts?window=");
                decimal(out, 60 * (1 + (r >> 40) % 15));
                out.extend_from_slice(b" 200 ");
                decimal(out, (r >> 48) % 2000);
                out.extend_from_slice(b"ms req=");
                self.hex_id(out, 32, false);
            }
        }
        out.push(b'\n');
    }

    fn json_line(&mut self, out: &mut Vec<u8>) {
        let r = self.rng.next_u64();
        self.clock_ms += r & 0x3ff;
        out.extend_from_slice(b"{\"ts\":\"");
        timestamp(out, self.clock_ms);
        out.extend_from_slice(b"\",\"event\":\"");
        out.extend_from_slice(
            ["seen", "left", "probe", "assoc"][(r >> 10) as usize % 4].as_bytes(),
        );
        out.extend_from_slice(b"\",\"sta\":\"");
        self.mac(out, r >> 12);
        out.extend_from_slice(b"\",\"rssi\":-");
        decimal(out, 30 + (r >> 24) % 60);
        out.extend_from_slice(b",\"ch\":");
        decimal(out, 1 + (r >> 32) % 13);
        out.extend_from_slice(b",\"hash\":\"");
        self.hex_id(out, 40, false);
        out.extend_from_slice(b"\",\"session\":\"");
        self.hex_id(out, 32, true);
        out.extend_from_slice(b"\",\"ssid\":\"Guest-");
        decimal(out, (r >> 36) % 10_000);
        out.extend_from_slice(b"\",\"bytes\":");
        decimal(out, (r >> 44) % 1_000_000);
        out.extend_from_slice(b"}\n");
    }

    /// Text files of `total` bytes, `min..max` each in `parts`: log lines,
    /// or JSON lines with `json`. `name` has `{i}` for the file's number.
    fn text_files(
        &mut self,
        total: u64,
        (min, max, parts): (u64, u64, u64),
        name: &str,
        json: bool,
        kind: &'static str,
    ) -> anyhow::Result<()> {
        for (i, size) in self.sizes(total, min, max, parts).into_iter().enumerate() {
            let rel = name.replace("{i}", &format!("{i:04}"));
            let (path, file) = self.create(&rel)?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            self.text(&rel, size, json, &mut out)?;
            out.flush()?;
            self.count(kind, &path)?;
        }
        Ok(())
    }

    /// Random bytes, and records with small integers and zero padding.
    fn binary(&mut self, total: u64) -> anyhow::Result<()> {
        let mut buf = vec![0u8; 1 << 20];
        for (i, size) in self.sizes(total, MB, 64 * MB, 8).into_iter().enumerate() {
            let rel = format!("bin/blob-{i:04}.bin");
            let mut plants = self.planted.remove(rel.as_str()).unwrap_or_default();
            let (path, mut file) = self.create(&rel)?;
            let records = i % 3 == 2;
            let mut written = 0u64;
            while written < size {
                let n = (size - written).min(buf.len() as u64) as usize;
                let chunk = &mut buf[..n];
                if records {
                    chunk.fill(0);
                    for (k, rec) in chunk.chunks_exact_mut(32).enumerate() {
                        let id = (written / 32 + k as u64) as u32;
                        rec[..4].copy_from_slice(&id.to_le_bytes());
                        rec[4..12].copy_from_slice(&self.rng.next_u64().to_le_bytes());
                    }
                } else {
                    self.rng.fill_bytes(chunk);
                }
                if let Some(form) = plants.pop() {
                    let at = self.rng.random_range(0..n - form.len());
                    chunk[at..at + form.len()].copy_from_slice(&form);
                }
                file.write_all(chunk)?;
                written += n as u64;
            }
            ensure!(plants.is_empty(), "{rel} is too small for its plants");
            drop(file);
            self.count("binary blobs", &path)?;
        }
        Ok(())
    }

    /// Databases of sightings: hex hashes (indexed), sessions, blobs.
    fn sqlite(&mut self, total: u64) -> anyhow::Result<()> {
        for (i, size) in self
            .sizes(total, 4 * MB, 48 * MB, 6)
            .into_iter()
            .enumerate()
        {
            let rel = format!("db/store-{i:04}.sqlite");
            let plants = self.planted.remove(rel.as_str()).unwrap_or_default();
            let path = self.root.join(&rel);
            std::fs::create_dir_all(path.parent().expect("in a folder"))?;
            let db = rusqlite::Connection::open(&path)?;
            db.execute_batch(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
                 CREATE TABLE sightings(id INTEGER PRIMARY KEY, ts INTEGER, device_hash TEXT,
                   session TEXT, rssi INTEGER, payload BLOB, note TEXT);
                 CREATE INDEX sightings_device ON sightings(device_hash);",
            )?;
            let page_size: i64 = db.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let mut hash = Vec::with_capacity(64);
            let mut session = Vec::with_capacity(32);
            let mut payload = [0u8; 128];
            loop {
                let tx = db.unchecked_transaction()?;
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO sightings(ts, device_hash, session, rssi, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?;
                    for _ in 0..5000 {
                        let r = self.rng.next_u64();
                        self.clock_ms += r & 0x3ff;
                        hash.clear();
                        self.hex_id(&mut hash, 64, false);
                        session.clear();
                        self.hex_id(&mut session, 32, true);
                        let n = 16 + (r >> 16) as usize % 112;
                        self.rng.fill_bytes(&mut payload[..n]);
                        insert.execute(rusqlite::params![
                            (1_795_000_000_000 + self.clock_ms) as i64,
                            std::str::from_utf8(&hash)?,
                            std::str::from_utf8(&session)?,
                            -30 - ((r >> 32) % 60) as i64,
                            &payload[..n],
                        ])?;
                    }
                }
                tx.commit()?;
                let pages: i64 = db.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                if (pages * page_size) as u64 >= size {
                    break;
                }
            }
            // Planted rows come last, so that no later page split leaves a
            // stale copy of them behind.
            for form in plants {
                let text = form.iter().all(u8::is_ascii_graphic);
                match std::str::from_utf8(&form) {
                    Ok(text_form) if text => db.execute(
                        "INSERT INTO sightings(ts, note) VALUES (?1, ?2)",
                        rusqlite::params![1_795_000_000_000i64, text_form],
                    )?,
                    _ => db.execute(
                        "INSERT INTO sightings(ts, payload) VALUES (?1, ?2)",
                        rusqlite::params![1_795_000_000_000i64, form],
                    )?,
                };
            }
            db.close().map_err(|(_, e)| e)?;
            self.count("SQLite databases", &path)?;
        }
        Ok(())
    }

    /// Rotated logs: gzip and zstd files of log and JSON lines, `content`
    /// bytes once decompressed.
    fn compressed(&mut self, content: u64) -> anyhow::Result<()> {
        for (i, size) in self.sizes(content, MB, 24 * MB, 8).into_iter().enumerate() {
            let gzip = i % 2 == 0;
            let rel = if gzip {
                format!("archive/app-{i:04}.log.gz")
            } else {
                format!("archive/events-{i:04}.jsonl.zst")
            };
            let (path, file) = self.create(&rel)?;
            let out = BufWriter::with_capacity(1 << 20, file);
            let n = if gzip {
                let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                let n = self.text(&rel, size, false, &mut enc)?;
                enc.finish()?.flush()?;
                n
            } else {
                let mut enc = zstd::stream::write::Encoder::new(out, 3)?;
                let n = self.text(&rel, size, true, &mut enc)?;
                enc.finish()?.flush()?;
                n
            };
            self.decompressed += n;
            self.count(if gzip { "gzip" } else { "zstd" }, &path)?;
        }
        Ok(())
    }
}

const WORDS: &[&str] = &[
    "associated",
    "authenticated",
    "deauth",
    "reason",
    "scan",
    "started",
    "completed",
    "channel",
    "switch",
    "beacon",
    "lost",
    "regdom",
    "country",
    "power",
    "save",
    "enabled",
    "disabled",
    "retry",
    "queue",
    "full",
    "firmware",
    "loaded",
    "monitor",
    "mode",
    "rx",
    "tx",
    "ampdu",
    "ba",
    "session",
    "timeout",
    "ok",
    "link",
];

fn hex_byte(out: &mut Vec<u8>, b: u8, upper: bool) {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.push(digits[usize::from(b >> 4)]);
    out.push(digits[usize::from(b & 0xf)]);
}

fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn two(out: &mut Vec<u8>, n: u64) {
    out.push(b'0' + (n / 10 % 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

/// `2026-11-24T10:15:32.123Z`, `ms` after the start of that day (wrapping
/// into the following days of the month).
fn timestamp(out: &mut Vec<u8>, ms: u64) {
    let s = ms / 1000;
    out.extend_from_slice(b"2026-11-");
    two(out, 24 + s / 86_400 % 6);
    out.push(b'T');
    two(out, s / 3600 % 24);
    out.push(b':');
    two(out, s / 60 % 60);
    out.push(b':');
    two(out, s % 60);
    out.push(b'.');
    out.push(b'0' + (ms / 100 % 10) as u8);
    two(out, ms % 100);
    out.push(b'Z');
}
