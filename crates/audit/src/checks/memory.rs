//! A process's memory, read through `/proc/PID/mem`: canaries emitted longer
//! ago than the in-memory retention must be gone (`memory.canary`), and so
//! must the pixels of visual canaries shown to the camera longer ago than
//! a frame may live (`memory.frames`). Private mappings only
//! (heap, stack, anonymous and writable data): shared mappings such as the
//! packet ring a capture socket shares with the kernel hold frames only
//! until newer ones overwrite them and are not the process's own state.
//! Needs root or CAP_SYS_PTRACE over the process.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use time::Duration;
use vitrine_canary::VisualScanner;

use super::{Context, MEMORY_CANARY, MEMORY_FRAMES, Outcome, megabytes};
use crate::report::{CheckResult, Evidence};

/// A frame may stay in memory while it is processed: a visual canary is
/// looked for once it was last shown this long ago (plus the policy's
/// `raw_frames_s`). Frames are processed within a frame time or two.
pub const FRAME_GRACE_S: i64 = 5;

/// First addresses listed for a grouped finding.
const OFFSETS_LISTED: usize = 5;

/// Finds of visual canaries by (pid, mapping start, canary, form): how
/// many runs, their first addresses, the longest run in pixels.
type FrameGroups = BTreeMap<(u32, u64, usize, String), (u64, Vec<u64>, usize)>;

/// One readable private mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub name: String,
}

/// Readable private regions of `/proc/PID/maps` text.
pub fn regions(maps: &str) -> Vec<Region> {
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        let name = f.nth(3).unwrap_or("").to_string();
        let perms = perms.as_bytes();
        if perms.len() < 4 || perms[0] != b'r' || perms[3] != b'p' {
            continue;
        }
        if matches!(
            name.as_str(),
            "[vvar]" | "[vsyscall]" | "[vdso]" | "[vvar_vclock]"
        ) {
            continue;
        }
        // File-backed read-only mappings are the program's own code and data
        // as on disk; canaries could only be in written (private) pages.
        if perms[1] != b'w' && name.starts_with('/') {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        out.push(Region { start, end, name });
    }
    out
}

/// PIDs of processes whose command name (`/proc/PID/comm`) is `name`.
pub fn pids_named(name: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
        {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

/// Searches the memory of `pids` for canaries first emitted more than the
/// policy's in-memory retention ago (`memory.canary`) and, when the
/// registry holds visual canaries, for their pixels once they were last
/// shown more than [`FRAME_GRACE_S`] (plus `raw_frames_s`) ago
/// (`memory.frames`).
pub fn run(ctx: &Context<'_>, process: &str, pids: &[u32]) -> Vec<CheckResult> {
    let visual = VisualScanner::new(ctx.registry);
    let with_frames = !visual.is_empty();
    if pids.is_empty() {
        let reason = format!("no process named {process} is running");
        let mut out = vec![Outcome::skipped(MEMORY_CANARY, reason.clone())];
        if with_frames {
            out.push(Outcome::skipped(MEMORY_FRAMES, reason));
        }
        return out;
    }
    let frame_limit = Duration::seconds(FRAME_GRACE_S + ctx.policy.raw_frames_s as i64);
    let shown_due: Vec<bool> = ctx
        .registry
        .canaries
        .iter()
        .map(|c| {
            c.visual().is_some() && c.last_emitted().is_some_and(|t| ctx.now - t > frame_limit)
        })
        .collect();
    let mut frames = Outcome::new(MEMORY_FRAMES);
    let mut groups = FrameGroups::new();
    let mut region_names: BTreeMap<(u32, u64), String> = BTreeMap::new();
    let retention = Duration::seconds(ctx.policy.device_state_s as i64);
    let due: Vec<bool> = ctx
        .registry
        .canaries
        .iter()
        .map(|c| c.visual().is_none() && c.first_emitted().is_some_and(|t| ctx.now - t > retention))
        .collect();
    let mut out = Outcome::new(MEMORY_CANARY);
    let mut read_bytes = 0u64;
    let mut errors = Vec::new();
    for &pid in pids {
        let maps = match std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            Ok(m) => m,
            Err(e) => {
                errors.push(format!("pid {pid}: maps: {e}"));
                continue;
            }
        };
        let mem = match File::open(format!("/proc/{pid}/mem")) {
            Ok(m) => m,
            Err(e) => {
                errors.push(format!("pid {pid}: mem: {e}"));
                continue;
            }
        };
        for region in regions(&maps) {
            let mut buf = vec![0u8; (region.end - region.start) as usize];
            // Regions can shrink while we read; what was read is scanned.
            let n = read_region(&mem, region.start, &mut buf);
            read_bytes += n as u64;
            if with_frames {
                visual.scan(&buf[..n], region.start, &mut |m| {
                    if !shown_due[m.canary] {
                        return;
                    }
                    let g = groups
                        .entry((pid, region.start, m.canary, m.form()))
                        .or_insert((0, Vec::new(), 0));
                    g.0 += 1;
                    if g.1.len() < OFFSETS_LISTED {
                        g.1.push(m.offset);
                    }
                    g.2 = g.2.max(m.pixels);
                });
                region_names.insert((pid, region.start), region.name.clone());
            }
            ctx.scanner.scan(&buf[..n], &mut |m| {
                if !due[m.canary] {
                    return;
                }
                let mut evidence = ctx.canary_evidence(&m);
                evidence.offset = Some(region.start + m.offset);
                evidence.pid = Some(pid);
                evidence.process = Some(process.to_string());
                evidence.detail = Some(format!("in {}", if region.name.is_empty() { "an anonymous mapping" } else { &region.name }));
                evidence.timestamp = ctx.registry.canaries[m.canary].first_emitted().map(super::rfc3339);
                out.find(
                    format!(
                        "Canary {}, emitted longer ago than the {} s in-memory retention, is still in the memory of {process}.",
                        ctx.registry.canaries[m.canary].id, ctx.policy.device_state_s
                    ),
                    evidence,
                );
            });
        }
    }
    if read_bytes == 0 && !errors.is_empty() {
        let reason = format!("cannot read process memory ({})", errors.join("; "));
        let mut out = vec![Outcome::skipped(MEMORY_CANARY, reason.clone())];
        if with_frames {
            out.push(Outcome::skipped(MEMORY_FRAMES, reason));
        }
        return out;
    }
    let pid_list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    for ((pid, start, canary, form), (count, offsets, pixels)) in groups {
        let name = &region_names[&(pid, start)];
        let id = &ctx.registry.canaries[canary].id;
        let evidence = Evidence {
            pid: Some(pid),
            process: Some(process.to_string()),
            canary: Some(id.clone()),
            encoding: Some(form.clone()),
            offset: offsets.first().copied(),
            offsets: if count > 1 { offsets } else { Vec::new() },
            detail: Some(format!(
                "in {}; rows of up to {pixels} pixels",
                if name.is_empty() {
                    "an anonymous mapping"
                } else {
                    name
                }
            )),
            timestamp: ctx.registry.canaries[canary]
                .last_emitted()
                .map(super::rfc3339),
            ..Evidence::default()
        };
        frames.find_n(
            format!(
                "Pixels of visual canary {id}, last shown to the camera more than {} s ago, are in the memory of {process} ({form}): a frame, or a copy of one, is kept.",
                frame_limit.whole_seconds()
            ),
            evidence,
            count,
        );
    }
    if with_frames {
        let old = shown_due.iter().filter(|&&d| d).count();
        frames.examined(format!(
            "{} of private memory of {process} (pid {pid_list}), for the pixels of the {old} visual canaries last shown more than {} s ago, in 8-bit and interleaved rows at full, 1/2, 1/3, 1/4 and 1/6 size (not compressed, not other scales)",
            megabytes(read_bytes),
            frame_limit.whole_seconds()
        ));
    }
    let old = due.iter().filter(|&&d| d).count();
    out.examined(format!(
        "{} of private memory of {process} (pid {pid_list}), for the {old} canaries older than {} s",
        megabytes(read_bytes),
        ctx.policy.device_state_s
    ));
    let mut results = vec![out.finish()];
    if with_frames {
        results.push(frames.finish());
    }
    results
}

fn read_region(mem: &File, start: u64, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match mem.read_at(&mut buf[n..], start + n as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_readable_private_written_regions_are_read() {
        let maps = "\
55d0a0000000-55d0a0001000 r--p 00000000 08:01 123 /usr/bin/vitrined
55d0a0001000-55d0a0002000 r-xp 00001000 08:01 123 /usr/bin/vitrined
55d0a0003000-55d0a0004000 rw-p 00003000 08:01 123 /usr/bin/vitrined
55d0a1000000-55d0a1100000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000400000 rw-s 00000000 00:08 99 socket:[99]
7f0000500000-7f0000501000 ---p 00000000 00:00 0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
7ffd00030000-7ffd00032000 r--p 00000000 00:00 0 [vvar]
";
        let names: Vec<(u64, String)> = regions(maps)
            .into_iter()
            .map(|r| (r.start, r.name))
            .collect();
        assert_eq!(
            names,
            vec![
                (0x55d0a0003000, "/usr/bin/vitrined".to_string()),
                (0x55d0a1000000, "[heap]".to_string()),
                (0x7ffd00000000, "[stack]".to_string()),
            ]
        );
    }
}
