//! What a device keeps on disk: every regular file under the given roots,
//! read whole, for canaries in any encoding (inside compressed files and
//! archives too, within bounds: [`containers`]; SQLite keeps short values
//! contiguous in its pages, so databases and their `-wal` journals are read
//! as they are), for camera images and video ([`media`]), for raw frames
//! (the pixels of visual canaries, YUV4MPEG2 clips: [`frames`]), for files older
//! than their retention, and for key material. Every place that could not
//! be read is named in the report ([`walk`]), and makes the checks
//! incomplete rather than passed.

pub mod containers;
pub mod frames;
pub mod media;
pub mod walk;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use vitrine_canary::{Match, VisualScanner};

use super::{
    Context, KEYS_ON_DISK, Outcome, STORAGE_CANARY, STORAGE_FRAMES, STORAGE_MEDIA,
    STORAGE_RETENTION, keys, megabytes, thousands,
};
use crate::report::{CheckResult, Evidence};
use containers::Inside;
pub use media::media_kind;

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

#[derive(Debug, Default)]
struct Totals {
    files: u64,
    bytes: u64,
    unreadable: u64,
    decompressed: u64,
}

/// The four checks fed by the walk.
struct Outcomes {
    canary: Outcome,
    media: Outcome,
    frames: Outcome,
    key: Outcome,
    on_disk: keys::OnDisk,
}

impl Outcomes {
    /// A place none of the four could read.
    fn not_read(&mut self, path: &Path, reason: &str) {
        let shown = path.display().to_string();
        self.canary.not_read(shown.clone(), reason);
        self.media.not_read(shown.clone(), reason);
        self.frames.not_read(shown.clone(), reason);
        self.key.not_read(shown, reason);
    }
}

/// Runs the storage checks and the key-material check over `scope`.
pub fn run(ctx: &Context<'_>, scope: &StorageScope) -> Vec<CheckResult> {
    let walked = walk::walk(&scope.roots, &scope.exclude);
    let packages = media::Packages::load(&scope.roots);
    let visual = VisualScanner::new(ctx.registry);
    let files = &walked.files;
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
    let out = Mutex::new(Outcomes {
        canary: Outcome::new(STORAGE_CANARY),
        media: Outcome::new(STORAGE_MEDIA),
        frames: Outcome::new(STORAGE_FRAMES),
        key: Outcome::new(KEYS_ON_DISK),
        on_disk: keys::OnDisk::default(),
    });
    {
        let mut o = out.lock().unwrap();
        for (path, reason) in &walked.not_read {
            o.not_read(path, reason);
        }
        for (path, reason) in &walked.set_aside {
            o.canary.set_aside(path.display().to_string(), reason);
        }
    }
    let totals = Mutex::new(Totals::default());
    // One file per task: a few large files among thousands of small ones
    // would otherwise leave one thread with most of the bytes.
    files.par_iter().with_max_len(1).for_each(|(path, len)| {
        let result = scan_file(ctx, &packages, &visual, path, &out);
        let mut t = totals.lock().unwrap();
        t.files += 1;
        t.bytes += len;
        match result {
            Ok(inflated) => t.decompressed += inflated,
            Err(e) => {
                let mut o = out.lock().unwrap();
                match walk::unread_reason(&e, false) {
                    Some(reason) => {
                        t.unreadable += 1;
                        o.not_read(path, &reason);
                    }
                    None => o
                        .canary
                        .set_aside(path.display().to_string(), "went away during the scan"),
                }
            }
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
    let unread = walked.not_read.len() as u64 + t.unreadable;
    if unread > 0 {
        examined += &format!("; {} places not read", thousands(unread));
    }
    let Outcomes {
        mut canary,
        mut media,
        mut frames,
        mut key,
        on_disk,
    } = out.into_inner().unwrap();
    on_disk.finish(&mut key);
    canary.examined(examined);
    media.examined(format!(
        "{} files under {roots}, by content",
        thousands(t.files)
    ));
    key.examined(format!("{} files under {roots}", thousands(t.files)));
    frames.examined(frames::examined(ctx.registry, t.files, &roots));
    vec![
        canary.finish(),
        media.finish(),
        frames.finish(),
        retention(ctx, scope),
        key.finish(),
    ]
}

/// Files up to this size are read into memory in one go.
const READ_WHOLE: u64 = 8 << 20;

/// Image headers are read up to this far (a JPEG's EXIF block comes first).
const IMAGE_HEAD: usize = 64 << 10;

/// Matches of one file grouped by where they are, canary and encoding.
type Groups = BTreeMap<(Option<Inside>, usize, String, u64), (u64, Vec<u64>, Match)>;

/// First offsets listed for a grouped finding.
const OFFSETS_LISTED: usize = 5;

/// Scans one file; returns how many decompressed bytes were read.
fn scan_file(
    ctx: &Context<'_>,
    packages: &media::Packages,
    visual: &VisualScanner,
    path: &Path,
    out: &Mutex<Outcomes>,
) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    // Most files are read whole, once, for every check below; larger ones
    // are streamed.
    let whole = if file_len <= READ_WHOLE {
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
    let shown = path.display().to_string();
    if !ctx.policy.images_persisted
        && let Some(kind) = media_kind(head)
    {
        media_finding(packages, path, &shown, kind, whole.as_deref(), out)?;
    }
    let raw = frames::examine(ctx, visual, path, head, whole.as_deref())?;
    if !raw.is_empty() {
        let o = &mut *out.lock().unwrap();
        raw.report(ctx, &shown, &mut o.frames);
    }
    let mut keys_seen = keys::OnDisk::examine(path, head, whole.as_deref());
    // A lone token in a file a package shipped unchanged (lintian's lists
    // of banned files' digests, test vectors) is the package's data, the
    // same on every machine, not a key this device was given. Settings
    // named like a key stay findings wherever they are.
    let shipped = (!keys_seen.1.lone.is_empty())
        .then(|| packages.owned_unchanged(path, whole.as_deref()))
        .flatten();
    {
        let o = &mut *out.lock().unwrap();
        if let Some(why) = shipped {
            keys_seen.1.lone.clear();
            o.key.set_aside(
                shown.clone(),
                format!("a high-entropy line in a file {why}"),
            );
        }
        o.on_disk.add(&mut o.key, path, keys_seen);
    }
    let mut groups = Groups::new();
    let mut add = |m: Match, inside: Option<Inside>| {
        let cut = if m.truncated { m.len as u64 } else { 0 };
        let key = (inside, m.canary, m.encoding.to_string(), cut);
        let g = groups.entry(key).or_insert_with(|| (0, Vec::new(), m));
        g.0 += 1;
        if g.1.len() < OFFSETS_LISTED {
            g.1.push(m.offset);
        }
    };
    match &whole {
        Some(data) => ctx.scanner.scan(data, &mut |m| add(m, None)),
        None => {
            ctx.scanner
                .scan_reader(head.chain(&mut file), &mut |m| add(m, None))?;
        }
    }
    let opened = match &whole {
        Some(data) => containers::open_file(ctx.scanner, head, file_len, || {
            Ok(std::io::Cursor::new(data.as_slice()))
        }),
        None => containers::open_file(ctx.scanner, head, file_len, || File::open(path)),
    };
    for (m, inside) in opened.matches {
        add(m, Some(inside));
    }
    let mut o = out.lock().unwrap();
    for reason in &opened.bounds_hit {
        o.canary.not_read(shown.clone(), reason);
    }
    for reason in &opened.not_opened {
        o.canary
            .set_aside(shown.clone(), format!("not decoded to its end: {reason}"));
    }
    for ((inside, _, _, _), (count, offsets, m)) in groups {
        let mut evidence = ctx.canary_evidence(&m);
        evidence.path = Some(shown.clone());
        evidence.offset = offsets.first().copied();
        if count > 1 {
            evidence.offsets = offsets;
        }
        let where_ = match &inside {
            Some(i) => {
                evidence.container = Some(i.chain.clone());
                evidence.member = i.member.clone();
                match &i.member {
                    Some(member) => format!(" (inside its {} stream, member {member})", i.chain),
                    None => format!(" (inside its {} stream)", i.chain),
                }
            }
            None => String::new(),
        };
        let times = if count > 1 {
            format!(", {count} times")
        } else {
            String::new()
        };
        let summary = format!(
            "Canary {} is stored as {}{where_}{times}.",
            evidence.canary.as_deref().unwrap_or("?"),
            evidence.encoding.as_deref().unwrap_or("?")
        );
        o.canary.find_n(summary, evidence, count);
    }
    Ok(opened.inflated)
}

/// An image or video: a finding, unless it is a distribution's own.
fn media_finding(
    packages: &media::Packages,
    path: &Path,
    shown: &str,
    kind: &str,
    whole: Option<&[u8]>,
    out: &Mutex<Outcomes>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let head = match whole {
        Some(data) => &data[..data.len().min(IMAGE_HEAD)],
        None => {
            File::open(path)?
                .take(IMAGE_HEAD as u64)
                .read_to_end(&mut head)?;
            &head[..]
        }
    };
    let info = media::image_info(head);
    let mut o = out.lock().unwrap();
    if let Some(why) = packages.set_aside(path, whole, info) {
        o.media.set_aside(shown, format!("{kind}, {why}"));
        return Ok(());
    }
    let detail = match info {
        Some(i) if i.exif => format!(
            "{kind}, {}x{}, with EXIF (as cameras write)",
            i.width, i.height
        ),
        Some(i) => format!("{kind}, {}x{}", i.width, i.height),
        None => kind.to_string(),
    };
    o.media.find(
        format!("A {kind} is kept on the device."),
        Evidence {
            path: Some(shown.to_string()),
            detail: Some(detail),
            ..Evidence::default()
        },
    );
    Ok(())
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
    let walked = walk::walk(&scope.data_roots, &scope.exclude);
    for (path, reason) in &walked.not_read {
        out.not_read(path.display().to_string(), reason);
    }
    let files = walked.files;
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
