//! The exhaustive search: every device part under every OUI, in every
//! input encoding, through every algorithm a target may come from.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use vitrine_canary::{Algorithm, Case, Input, Spelling, encoding::spelled};

use crate::kernel::{KeyFilter, Layout, Template};
use crate::oui::OuiTable;
use crate::target::Target;

/// Device parts per OUI: the 24 bits after the OUI.
pub const DEVICE_PARTS: u32 = 1 << 24;

/// Device parts per unit of parallel work: the top device byte is fixed
/// within one, so the inner loop rewrites at most two bytes per candidate.
const SPAN: u32 = 1 << 16;

/// Matches kept per target; a short truncated digest may match many MACs.
pub const MAX_MATCHES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Inputs hashed for each MAC (default: all nine).
    pub inputs: Vec<Input>,
    /// The 24-bit device parts searched under each OUI (default: all).
    pub device_range: Range<u32>,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Stop once every target has a match.
    pub stop_when_all_found: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            inputs: Input::all().collect(),
            device_range: 0..DEVICE_PARTS,
            threads: 0,
            stop_when_all_found: true,
        }
    }
}

/// Told how far the search is, in candidates (one digest each).
pub trait Progress: Sync {
    fn start(&self, total: u64);
    fn advance(&self, done: u64);
    fn finish(&self) {}
}

/// No progress shown.
impl Progress for () {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

impl Progress for indicatif::ProgressBar {
    fn start(&self, total: u64) {
        self.set_length(total);
    }
    fn advance(&self, done: u64) {
        self.inc(done);
    }
    fn finish(&self) {
        self.finish_and_clear();
    }
}

/// A MAC whose digest is a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub mac: [u8; 6],
    pub vendor: String,
    pub algorithm: Algorithm,
    pub input: Input,
    /// Time from the start of the search.
    pub elapsed: Duration,
    /// Position of the MAC's OUI in the search order.
    pub oui_rank: usize,
}

impl Match {
    /// The MAC as `aa:bb:cc:dd:ee:ff`.
    pub fn mac_text(&self) -> String {
        spelled(&self.mac, Spelling::Colon, Case::Lower)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetReport {
    pub target: Target,
    /// In search order (OUI rank, then MAC); at most [`MAX_MATCHES`].
    pub matches: Vec<Match>,
    /// Every match, including those past [`MAX_MATCHES`].
    pub match_count: u64,
    /// Candidates compared against this target.
    pub candidates: u64,
}

impl TargetReport {
    pub fn reversed(&self) -> bool {
        !self.matches.is_empty()
    }

    /// Matches expected by chance alone among this target's candidates: a
    /// truncated digest of b bits is matched by one candidate in 2^b. Near
    /// or above 1, a match is a lead to confirm, not a recovered MAC.
    pub fn expected_chance_matches(&self) -> f64 {
        self.candidates as f64 / 2f64.powi(self.target.bits() as i32)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub targets: Vec<TargetReport>,
    /// Digests computed.
    pub candidates: u64,
    /// OUIs whose search was begun.
    pub ouis_searched: usize,
    pub elapsed: Duration,
    pub threads: usize,
    /// Whether the search ended before the space did, every target found.
    pub stopped_early: bool,
}

impl Report {
    pub fn all_reversed(&self) -> bool {
        self.targets.iter().all(TargetReport::reversed)
    }

    /// Candidates per second.
    pub fn rate(&self) -> f64 {
        self.candidates as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn rate_per_core(&self) -> f64 {
        self.rate() / self.threads.max(1) as f64
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("device range {0:?} is outside 0..2^24")]
    DeviceRange(Range<u32>),
    #[error("no input encoding to search")]
    NoInputs,
    #[error("cannot start {threads} threads: {reason}")]
    Threads { threads: usize, reason: String },
}

/// One input through one algorithm, and the targets that may come from it.
struct Job {
    input: Input,
    algorithm: Algorithm,
    layout: Layout,
    filter: KeyFilter,
    /// Indices into the targets.
    targets: Vec<usize>,
}

struct Found {
    matches: Vec<Match>,
    count: u64,
}

/// Candidates a search of `ouis` OUIs would compute for `targets`.
pub fn total_candidates(ouis: usize, targets: &[Target], options: &Options) -> u64 {
    let algorithms = algorithms(targets).len() as u64;
    ouis as u64 * options.device_range.len() as u64 * options.inputs.len() as u64 * algorithms
}

fn algorithms(targets: &[Target]) -> Vec<Algorithm> {
    Algorithm::ALL
        .into_iter()
        .filter(|a| targets.iter().any(|t| t.algorithms.contains(a)))
        .collect()
}

/// Searches the OUIs of `table` in order for the MACs behind `targets`.
pub fn search(
    table: &OuiTable,
    targets: &[Target],
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report, SearchError> {
    let range = options.device_range.clone();
    if range.end > DEVICE_PARTS || range.start > range.end {
        return Err(SearchError::DeviceRange(range));
    }
    if options.inputs.is_empty() {
        return Err(SearchError::NoInputs);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|e| SearchError::Threads {
            threads: options.threads,
            reason: e.to_string(),
        })?;
    let threads = pool.current_num_threads();

    let mut jobs = Vec::new();
    for algorithm in algorithms(targets) {
        let mine: Vec<usize> = (0..targets.len())
            .filter(|&t| targets[t].algorithms.contains(&algorithm))
            .collect();
        let mut filter = KeyFilter::new(mine.iter().map(|&t| targets[t].key()));
        // Whole digests let a kernel reject on all of their bits (MD5 runs
        // its last steps backwards from them).
        if mine.iter().all(|&t| !targets[t].truncated_for(algorithm)) {
            filter = filter.with_whole(mine.iter().map(|&t| targets[t].bytes.clone()));
        }
        for &input in &options.inputs {
            jobs.push(Job {
                input,
                algorithm,
                layout: Layout::of(input),
                filter: filter.clone(),
                targets: mine.clone(),
            });
        }
    }
    let spans: Vec<Range<u32>> = spans(range.clone()).collect();

    progress.start(total_candidates(table.len(), targets, options));
    let start = Instant::now();
    let found: Mutex<Vec<Found>> = Mutex::new(
        targets
            .iter()
            .map(|_| Found {
                matches: Vec::new(),
                count: 0,
            })
            .collect(),
    );
    let done = AtomicBool::new(targets.is_empty() && options.stop_when_all_found);
    // Per algorithm, for each target's share.
    let candidates: [AtomicU64; 4] = Default::default();
    let mut ouis_searched = 0;

    for (rank, (oui, vendor)) in table.entries.iter().enumerate() {
        if done.load(Ordering::Relaxed) {
            break;
        }
        ouis_searched += 1;
        let templates: Vec<Template> = jobs
            .iter()
            .map(|j| Template::new(j.algorithm, *oui, j.input))
            .collect();
        pool.install(|| {
            spans.par_iter().for_each(|span| {
                let mut hits = Vec::new();
                for (job, template) in jobs.iter().zip(&templates) {
                    if done.load(Ordering::Relaxed) {
                        return;
                    }
                    hits.clear();
                    template.scan(&job.layout, span.clone(), &job.filter, &mut hits);
                    let n = span.len() as u64;
                    candidates[index(job.algorithm)].fetch_add(n, Ordering::Relaxed);
                    progress.advance(n);
                    for &device in &hits {
                        let d = device.to_be_bytes();
                        let mac = [oui[0], oui[1], oui[2], d[1], d[2], d[3]];
                        record(
                            &found,
                            targets,
                            job,
                            &mac,
                            vendor,
                            rank,
                            start,
                            options.stop_when_all_found.then_some(&done),
                        );
                    }
                }
            });
        });
    }
    let elapsed = start.elapsed();
    progress.finish();

    let candidates = candidates
        .into_iter()
        .map(AtomicU64::into_inner)
        .collect::<Vec<_>>();
    let total: u64 = candidates.iter().sum();
    let found = found.into_inner().expect("no search thread panicked");
    let reports = targets
        .iter()
        .zip(found)
        .map(|(target, mut f)| {
            f.matches.sort_by_key(|m| (m.oui_rank, m.mac));
            f.matches.truncate(MAX_MATCHES);
            TargetReport {
                target: target.clone(),
                matches: f.matches,
                match_count: f.count,
                candidates: target
                    .algorithms
                    .iter()
                    .map(|a| candidates[index(*a)])
                    .sum(),
            }
        })
        .collect();
    let stopped_early =
        done.load(Ordering::Relaxed) && total < total_candidates(table.len(), targets, options);
    Ok(Report {
        targets: reports,
        candidates: total,
        ouis_searched,
        elapsed,
        threads,
        stopped_early,
    })
}

fn index(algorithm: Algorithm) -> usize {
    Algorithm::ALL
        .iter()
        .position(|a| *a == algorithm)
        .expect("every algorithm is in ALL")
}

/// `range` cut where the top device byte changes, at most [`SPAN`] long.
fn spans(range: Range<u32>) -> impl Iterator<Item = Range<u32>> {
    let mut at = range.start;
    std::iter::from_fn(move || {
        if at >= range.end {
            return None;
        }
        let end = ((at / SPAN + 1) * SPAN).min(range.end);
        let s = at..end;
        at = end;
        Some(s)
    })
}

/// Checks a candidate that passed the key filter against the whole target
/// bytes, with the generic digest: the fast path is trusted for rejection
/// only.
#[allow(clippy::too_many_arguments)]
fn record(
    found: &Mutex<Vec<Found>>,
    targets: &[Target],
    job: &Job,
    mac: &[u8; 6],
    vendor: &str,
    oui_rank: usize,
    start: Instant,
    done: Option<&AtomicBool>,
) {
    let mut message = Vec::with_capacity(17);
    job.input.write(mac, &mut message);
    let digest = job.algorithm.digest(&message);
    let mut found = found.lock().expect("no search thread panicked");
    for &t in &job.targets {
        if !digest.starts_with(&targets[t].bytes) {
            continue;
        }
        let f = &mut found[t];
        f.count += 1;
        f.matches.push(Match {
            mac: *mac,
            vendor: vendor.to_string(),
            algorithm: job.algorithm,
            input: job.input,
            elapsed: start.elapsed(),
            oui_rank,
        });
        // Threads finish out of order: keep the earliest in search order,
        // and only count the rest.
        if f.matches.len() > 4 * MAX_MATCHES {
            f.matches.sort_by_key(|m| (m.oui_rank, m.mac));
            f.matches.truncate(MAX_MATCHES);
        }
    }
    if let Some(done) = done
        && found.iter().all(|f| f.count > 0)
    {
        done.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUI: [u8; 3] = [0x3c, 0x22, 0xfb];

    fn table() -> OuiTable {
        OuiTable {
            entries: vec![(OUI, "Test Vendor".to_string())],
        }
    }

    /// A small window around the device part, so debug builds stay quick.
    fn options(inputs: Vec<Input>, around: u32) -> Options {
        Options {
            inputs,
            device_range: around.saturating_sub(20_000)..around + 20_000,
            threads: 0,
            stop_when_all_found: false,
        }
    }

    fn digest_hex(algorithm: Algorithm, input: Input, mac: &[u8; 6]) -> String {
        let mut m = Vec::new();
        input.write(mac, &mut m);
        vitrine_canary::encoding::hex(&algorithm.digest(&m), Case::Lower)
    }

    const MAC: [u8; 6] = [0x3c, 0x22, 0xfb, 0x12, 0x34, 0x56];
    const DEVICE: u32 = 0x12_3456;
    const COLON_UPPER: Input = Input::Text {
        spelling: Spelling::Colon,
        case: Case::Upper,
    };

    fn reverse(digest: &str, inputs: Vec<Input>) -> Report {
        let target = Target::parse(digest).unwrap();
        search(&table(), &[target], &options(inputs, DEVICE), &()).unwrap()
    }

    fn only_match(report: &Report) -> &Match {
        let t = &report.targets[0];
        assert_eq!(t.matches.len(), 1, "{:?}", t.matches);
        &t.matches[0]
    }

    #[test]
    fn recovers_a_mac_from_its_sha256_sha1_and_md5_digests() {
        for algorithm in [Algorithm::Sha256, Algorithm::Sha1, Algorithm::Md5] {
            let report = reverse(
                &digest_hex(algorithm, Input::Raw, &MAC),
                vec![Input::Raw, COLON_UPPER],
            );
            let m = only_match(&report);
            assert_eq!(m.mac, MAC);
            assert_eq!(m.mac_text(), "3c:22:fb:12:34:56");
            assert_eq!(m.algorithm, algorithm);
            assert_eq!(m.input, Input::Raw);
            assert_eq!(m.vendor, "Test Vendor");
            assert!(report.all_reversed());
            assert_eq!(report.candidates, 2 * 40_000);
        }
    }

    #[test]
    fn recovers_a_mac_from_a_truncated_sha256_of_every_algorithm_tried() {
        let hex = digest_hex(Algorithm::Sha256, Input::Raw, &MAC);
        let report = reverse(&hex[..12], vec![Input::Raw]);
        let m = only_match(&report);
        assert_eq!((m.mac, m.algorithm), (MAC, Algorithm::Sha256));
        assert!(report.targets[0].target.truncated());
        // Every algorithm was tried for a digest of unknown origin.
        assert_eq!(report.candidates, 4 * 40_000);
        assert!(report.targets[0].expected_chance_matches() < 1e-9);
    }

    #[test]
    fn recovers_a_mac_hashed_as_uppercase_colon_text() {
        let report = reverse(
            &digest_hex(Algorithm::Sha1, COLON_UPPER, &MAC),
            Input::all().collect(),
        );
        let m = only_match(&report);
        assert_eq!((m.mac, m.input), (MAC, COLON_UPPER));
    }

    #[test]
    fn a_mac_outside_the_searched_ouis_is_not_reversed() {
        let elsewhere = [0x02, 0x11, 0x22, 0x12, 0x34, 0x56];
        let report = reverse(
            &digest_hex(Algorithm::Sha256, Input::Raw, &elsewhere),
            vec![Input::Raw],
        );
        assert!(!report.all_reversed());
        assert_eq!(report.targets[0].match_count, 0);
        assert!(!report.stopped_early);
        assert_eq!(report.ouis_searched, 1);
    }

    #[test]
    fn stops_once_every_target_is_found_and_finds_several_at_once() {
        let second = [0x3c, 0x22, 0xfb, 0x12, 0x40, 0x00];
        let targets = [
            Target::parse(&digest_hex(Algorithm::Md5, Input::Raw, &MAC)).unwrap(),
            Target::parse(&digest_hex(Algorithm::Sha256, COLON_UPPER, &second)).unwrap(),
        ];
        let mut table = table();
        table.entries.push(([0x00, 0x00, 0x0c], "Later".into()));
        let opts = Options {
            stop_when_all_found: true,
            threads: 1,
            ..options(vec![Input::Raw, COLON_UPPER], DEVICE)
        };
        let report = search(&table, &targets, &opts, &()).unwrap();
        assert!(report.all_reversed());
        assert_eq!(report.targets[1].matches[0].mac, second);
        assert!(report.stopped_early);
        assert_eq!(report.ouis_searched, 1);
        assert_eq!(report.threads, 1);
    }

    #[test]
    fn a_bad_device_range_is_refused() {
        let opts = Options {
            device_range: 0..DEVICE_PARTS + 1,
            ..Options::default()
        };
        assert!(matches!(
            search(&table(), &[], &opts, &()),
            Err(SearchError::DeviceRange(_))
        ));
    }

    #[test]
    fn spans_never_cross_a_top_byte() {
        let s: Vec<_> = spans(0xfff0..0x2_0010).collect();
        assert_eq!(
            s,
            [0xfff0..0x1_0000, 0x1_0000..0x2_0000, 0x2_0000..0x2_0010]
        );
        assert_eq!(spans(5..5).count(), 0);
    }
}
