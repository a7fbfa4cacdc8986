//! Raw camera frames on disk (`storage.frames`): the pixels of a visual
//! canary, in any of the rows its scanner searches (8-bit or interleaved,
//! at full, 1/2, 1/3, 1/4 and 1/6 size), anywhere in a file; and clips in
//! YUV4MPEG2, the raw video format (`YUV4MPEG2 ` magic), whatever they
//! show. Encoded images and video (JPEG, PNG, MP4...) are `storage.media`'s.
//!
//! Raw frames without a canary in them and without a header (a spool of
//! bare luma planes) are not told from other binary data: no size or
//! statistic of the bytes says "picture" without false finds, so only the
//! canary's rows and the known magic are looked for.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::time::SystemTime;

use vitrine_canary::{Registry, VisualScanner};

use super::super::{Context, Outcome};
use crate::report::Evidence;

/// What one file holds of raw frames.
#[derive(Debug, Default)]
pub struct RawFrames {
    /// The YUV4MPEG2 header's description (`640x360, Cmono`).
    y4m: Option<String>,
    /// (canary, form) -> (runs, first offsets, longest run in pixels).
    runs: BTreeMap<(usize, String), (u64, Vec<u64>, usize)>,
    /// Age of the file, when the policy lets raw frames stay a while.
    age_s: Option<u64>,
}

/// First offsets listed for a grouped finding.
const OFFSETS_LISTED: usize = 5;

/// The magic a YUV4MPEG2 clip starts with.
const Y4M_MAGIC: &[u8] = b"YUV4MPEG2 ";

/// `640x360, Cmono` from a YUV4MPEG2 header line.
fn y4m_header(head: &[u8]) -> String {
    let line = &head[Y4M_MAGIC.len()..];
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let text = String::from_utf8_lossy(line);
    let tag = |t: char| {
        text.split(' ')
            .find_map(|w| w.strip_prefix(t))
            .filter(|v| v.len() <= 16 && v.bytes().all(|b| b.is_ascii_graphic()))
    };
    let mut out = match (tag('W'), tag('H')) {
        (Some(w), Some(h)) => format!("YUV4MPEG2 clip, {w}x{h}"),
        _ => "YUV4MPEG2 clip".to_string(),
    };
    if let Some(c) = tag('C') {
        out += &format!(", C{c}");
    }
    out
}

impl RawFrames {
    pub fn is_empty(&self) -> bool {
        self.y4m.is_none() && self.runs.is_empty()
    }

    /// Findings in `out` (or the file set aside, when it is younger than
    /// the policy's `raw_frames_s`).
    pub fn report(self, ctx: &Context<'_>, shown: &str, out: &mut Outcome) {
        if let Some(age) = self.age_s
            && age <= ctx.policy.raw_frames_s
        {
            out.set_aside(
                shown,
                format!(
                    "raw frames written {age} s ago, within the policy's {} s",
                    ctx.policy.raw_frames_s
                ),
            );
            return;
        }
        if let Some(detail) = self.y4m {
            out.find(
                "A raw video clip (YUV4MPEG2) is kept on the device.",
                Evidence {
                    path: Some(shown.to_string()),
                    detail: Some(detail),
                    ..Evidence::default()
                },
            );
        }
        for ((canary, form), (count, offsets, pixels)) in self.runs {
            let id = &ctx.registry.canaries[canary].id;
            out.find_n(
                format!(
                    "Pixels of visual canary {id} are stored ({form}): a frame, or a copy of one, was written."
                ),
                Evidence {
                    path: Some(shown.to_string()),
                    canary: Some(id.clone()),
                    encoding: Some(form),
                    offset: offsets.first().copied(),
                    offsets: if count > 1 { offsets } else { Vec::new() },
                    detail: Some(format!("rows of up to {pixels} pixels")),
                    ..Evidence::default()
                },
                count,
            );
        }
    }
}

/// Looks at one file: its first bytes for the YUV4MPEG2 magic, all of it
/// for the visual canaries' rows (`whole` when it was read whole, else it
/// is read again, in chunks).
pub fn examine(
    ctx: &Context<'_>,
    visual: &VisualScanner,
    path: &Path,
    head: &[u8],
    whole: Option<&[u8]>,
) -> std::io::Result<RawFrames> {
    let mut found = RawFrames::default();
    if head.starts_with(Y4M_MAGIC) {
        found.y4m = Some(y4m_header(head));
    }
    let mut add = |m: vitrine_canary::VisualMatch| {
        let g = found
            .runs
            .entry((m.canary, m.form()))
            .or_insert((0, Vec::new(), 0));
        g.0 += 1;
        if g.1.len() < OFFSETS_LISTED {
            g.1.push(m.offset);
        }
        g.2 = g.2.max(m.pixels);
    };
    if !visual.is_empty() {
        match whole {
            Some(data) => visual.scan(data, 0, &mut add),
            None => {
                visual.scan_reader(File::open(path)?, &mut add)?;
            }
        }
    }
    if !found.is_empty() && ctx.policy.raw_frames_s > 0 {
        let now: SystemTime = ctx.now.into();
        found.age_s = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .map(|d| d.as_secs());
    }
    Ok(found)
}

/// The check's examined line.
pub fn examined(registry: &Registry, files: u64, roots: &str) -> String {
    let visuals = registry.visuals().count();
    let what = if visuals == 0 {
        "for YUV4MPEG2 clips (no visual canary in the registry: frames without a header are not recognised)".to_string()
    } else {
        format!(
            "for YUV4MPEG2 clips and the pixels of {visuals} visual canar{} (8-bit and interleaved rows at full, 1/2, 1/3, 1/4 and 1/6 size; not inside compressed files, not encoded as JPEG or video)",
            if visuals == 1 { "y" } else { "ies" }
        )
    };
    format!(
        "{} files under {roots}, {what}",
        super::super::thousands(files)
    )
}

#[cfg(test)]
mod tests {
    use super::y4m_header;

    #[test]
    fn a_clips_header_is_described_by_its_size_and_colour_space() {
        assert_eq!(
            y4m_header(b"YUV4MPEG2 W640 H360 F10:1 Ip A1:1 Cmono\nFRAME\n"),
            "YUV4MPEG2 clip, 640x360, Cmono"
        );
        assert_eq!(y4m_header(b"YUV4MPEG2 \n"), "YUV4MPEG2 clip");
    }
}
