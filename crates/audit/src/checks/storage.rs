//! What a device keeps on disk: every regular file under the given roots,
//! read whole, for canaries in any encoding (inside gzip, zstd and xz files
//! too; SQLite keeps short values contiguous in its pages, so databases and
//! their `-wal` journals are read as they are), for camera images and video,
//! for files older than their retention, and for key material.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use vitrine_canary::Match;

use super::{
    Context, KEYS_ON_DISK, Outcome, STORAGE_CANARY, STORAGE_MEDIA, STORAGE_RETENTION, keys,
    megabytes, thousands,
};
use crate::report::{CheckResult, Evidence};

/// What to look at.
#[derive(Debug, Clone, Default)]
pub struct StorageScope {
    /// Trees searched for canaries, images and key material.
    pub roots: Vec<PathBuf>,
    /// Trees where the device keeps its data: every file there is subject to
    /// the longest retention of the policy (summaries).
    pub data_roots: Vec<PathBuf>,
    /// Files never reported: the audit's own state (its signing key).
    pub exclude: Vec<PathBuf>,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
}

/// Compressions looked inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Gzip,
    Zstd,
    Xz,
}

impl Container {
    fn sniff(head: &[u8]) -> Option<Container> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Container::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Container::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Container::Xz)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Container::Gzip => "gzip",
            Container::Zstd => "zstd",
            Container::Xz => "xz",
        }
    }
}

/// Image and video formats, by their magic bytes (never by file name).
pub fn media_kind(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, m: &[u8]| head.len() >= i + m.len() && &head[i..i + m.len()] == m;
    if at(0, &[0xff, 0xd8, 0xff]) {
        Some("JPEG image")
    } else if at(0, b"\x89PNG\r\n\x1a\n") {
        Some("PNG image")
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some("GIF image")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("WebP image")
    } else if at(0, b"RIFF") && at(8, b"AVI ") {
        Some("AVI video")
    } else if at(4, b"ftyp") {
        Some("MP4/QuickTime video")
    } else if at(0, &[0x1a, 0x45, 0xdf, 0xa3]) {
        Some("Matroska/WebM video")
    } else if at(0, b"BM") && head.len() >= 26 && at(14, &[40, 0, 0, 0]) {
        Some("BMP image")
    } else if at(0, b"P5\n") || at(0, b"P6\n") {
        Some("PNM image")
    } else {
        None
    }
}

#[derive(Debug, Default)]
struct Totals {
    files: u64,
    bytes: u64,
    unreadable: Vec<(PathBuf, String)>,
    decompressed: u64,
}

/// Runs the storage checks and the key-material check over `scope`.
pub fn run(ctx: &Context<'_>, scope: &StorageScope) -> Vec<CheckResult> {
    let files = walk(&scope.roots, &scope.exclude);
    let total_bytes: u64 = files.iter().map(|(_, len)| len).sum();
    let bar = if scope.progress {
        let bar = ProgressBar::new(total_bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "scanning {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let canary = Mutex::new(Outcome::new(STORAGE_CANARY));
    let media = Mutex::new(Outcome::new(STORAGE_MEDIA));
    let key = Mutex::new(Outcome::new(KEYS_ON_DISK));
    let totals = Mutex::new(Totals::default());
    // One file per task: a few large files among thousands of small ones
    // would otherwise leave one thread with most of the bytes.
    files.par_iter().with_max_len(1).for_each(|(path, len)| {
        let result = scan_file(ctx, path, &canary, &media, &key);
        let mut t = totals.lock().unwrap();
        t.files += 1;
        t.bytes += len;
        match result {
            Ok(inflated) => t.decompressed += inflated,
            Err(e) => t.unreadable.push((path.clone(), e.to_string())),
        }
        bar.inc(*len);
    });
    bar.finish_and_clear();
    let t = totals.into_inner().unwrap();
    let roots = scope
        .roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut examined = format!(
        "{} files, {} under {roots}; {} decompressed",
        thousands(t.files),
        megabytes(t.bytes),
        megabytes(t.decompressed)
    );
    if !t.unreadable.is_empty() {
        examined += &format!(
            "; {} unreadable, e.g. {}: {}",
            t.unreadable.len(),
            t.unreadable[0].0.display(),
            t.unreadable[0].1
        );
    }
    let mut canary = canary.into_inner().unwrap();
    canary.examined(examined.clone());
    let mut media = media.into_inner().unwrap();
    media.examined(format!(
        "{} files under {roots}, by content",
        thousands(t.files)
    ));
    let mut key = key.into_inner().unwrap();
    key.examined(format!("{} files under {roots}", thousands(t.files)));
    vec![
        canary.finish(),
        media.finish(),
        retention(ctx, scope),
        key.finish(),
    ]
}

/// Regular files under `roots` with their sizes, pseudo-filesystems left out.
fn walk(roots: &[PathBuf], exclude: &[PathBuf]) -> Vec<(PathBuf, u64)> {
    let mut files = Vec::new();
    for root in roots {
        for entry in walkdir::WalkDir::new(root)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| {
                let p = e.path();
                !(p.starts_with("/proc")
                    || p.starts_with("/sys")
                    || p.starts_with("/dev")
                    || p.starts_with("/run/user"))
            })
        {
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_file() || exclude.iter().any(|x| x == entry.path()) {
                continue;
            }
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push((entry.into_path(), len));
        }
    }
    files.sort();
    files.dedup();
    files
}

/// Files up to this size are read into memory in one go.
const READ_WHOLE: u64 = 8 << 20;

/// Scans one file; returns how many decompressed bytes were read.
fn scan_file(
    ctx: &Context<'_>,
    path: &Path,
    canary: &Mutex<Outcome>,
    media: &Mutex<Outcome>,
    key: &Mutex<Outcome>,
) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    // Most files are read whole, once, for every check below; larger ones
    // are streamed.
    let whole = if file.metadata()?.len() <= READ_WHOLE {
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        Some(data)
    } else {
        None
    };
    let mut head_buf = [0u8; 512];
    let head = match &whole {
        Some(data) => &data[..data.len().min(head_buf.len())],
        None => {
            let n = read_up_to(&mut file, &mut head_buf)?;
            &head_buf[..n]
        }
    };
    let n = head.len();
    let shown = path.display().to_string();
    if !ctx.policy.images_persisted
        && let Some(kind) = media_kind(head)
    {
        media.lock().unwrap().find(
            format!("A {kind} is kept on the device."),
            Evidence {
                path: Some(shown.clone()),
                detail: Some(kind.to_string()),
                ..Evidence::default()
            },
        );
    }
    if let Some(why) = keys::looks_like_key(path, head, n) {
        key.lock().unwrap().find(
            "A file holds what looks like a pseudonym key or salt.",
            Evidence {
                path: Some(shown.clone()),
                detail: Some(why),
                ..Evidence::default()
            },
        );
    }
    let mut found: Vec<(Match, Option<Container>)> = Vec::new();
    match &whole {
        Some(data) => ctx.scanner.scan(data, &mut |m| found.push((m, None))),
        None => {
            ctx.scanner
                .scan_reader(head.chain(&mut file), &mut |m| found.push((m, None)))?;
        }
    }
    let mut inflated = 0;
    if let Some(container) = Container::sniff(head) {
        let file: Box<dyn BufRead + '_> = match &whole {
            Some(data) => Box::new(data.as_slice()),
            None => Box::new(BufReader::new(File::open(path)?)),
        };
        let reader: Box<dyn Read + '_> = match container {
            Container::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
            Container::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(file)?),
            Container::Xz => {
                // lzma-rs decompresses into a writer; xz files on a device are
                // rotated logs, small enough to hold.
                let mut out = Vec::new();
                let mut file = file;
                lzma_rs::xz_decompress(&mut file, &mut out).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                })?;
                Box::new(std::io::Cursor::new(out))
            }
        };
        // A corrupt or truncated archive still yields what came before the
        // damage; what was read is scanned.
        inflated = ctx
            .scanner
            .scan_reader(reader, &mut |m| found.push((m, Some(container))))
            .unwrap_or(0);
    }
    if !found.is_empty() {
        let mut out = canary.lock().unwrap();
        for (m, container) in found {
            let mut evidence = ctx.canary_evidence(&m);
            evidence.path = Some(shown.clone());
            evidence.container = container.map(|c| c.name().to_string());
            let inside = container.map_or(String::new(), |c| {
                format!(" (inside its {} stream)", c.name())
            });
            out.find(
                format!(
                    "Canary {} is stored as {}{inside}.",
                    evidence.canary.as_deref().unwrap_or("?"),
                    evidence.encoding.as_deref().unwrap_or("?")
                ),
                evidence,
            );
        }
    }
    Ok(inflated)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Files under the data roots older than the longest retention the policy
/// allows for anything kept (summaries).
fn retention(ctx: &Context<'_>, scope: &StorageScope) -> CheckResult {
    let mut out = Outcome::new(STORAGE_RETENTION);
    let limit = std::time::Duration::from_secs(ctx.policy.summaries_s);
    let now: SystemTime = ctx.now.into();
    let files = walk(&scope.data_roots, &scope.exclude);
    for (path, _) in &files {
        let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) else {
            continue;
        };
        let Ok(age) = now.duration_since(modified) else {
            continue;
        };
        if age > limit {
            let days = age.as_secs_f64() / 86_400.0;
            out.find(
                format!(
                    "A file was last written {days:.1} days ago; the policy keeps data at most {} days.",
                    ctx.policy.summaries_s / 86_400
                ),
                Evidence {
                    path: Some(path.display().to_string()),
                    timestamp: Some(super::rfc3339(modified.into())),
                    ..Evidence::default()
                },
            );
        }
    }
    let roots = scope
        .data_roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    out.examined(format!(
        "{} files under {roots}, by modification time",
        thousands(files.len() as u64)
    ));
    if scope.data_roots.is_empty() {
        return Outcome::skipped(STORAGE_RETENTION, "no data directory given");
    }
    out.finish()
}
