//! k-anonymity: every published figure that counts people or devices has
//! at least k members, or is withheld and named in `suppressed`.

use vitrine_schema::Histogram;

/// Applies k-anonymity to one window's figures, across every sensor's
/// section, and records what it withheld by JSON path.
#[derive(Debug)]
pub struct Suppressor {
    k: u64,
    suppressed: Vec<String>,
}

impl Suppressor {
    pub fn new(k: u32) -> Self {
        Suppressor {
            k: u64::from(k),
            suppressed: Vec::new(),
        }
    }

    /// 1 to k-1 members: too few to publish. Zero is published.
    pub fn is_small(&self, n: u64) -> bool {
        n > 0 && n < self.k
    }

    /// A single figure: withheld when it has 1..k-1 members.
    pub fn gate(&mut self, path: String, n: u64) -> Option<u64> {
        if self.is_small(n) {
            self.suppressed.push(path);
            None
        } else {
            Some(n)
        }
    }

    /// Two parts of a published total: withheld together, since either
    /// part gives the other away.
    pub fn pair(&mut self, a: (&str, u64), b: (&str, u64)) -> (Option<u64>, Option<u64>) {
        if self.is_small(a.1) || self.is_small(b.1) {
            self.suppressed.push(a.0.to_string());
            self.suppressed.push(b.0.to_string());
            (None, None)
        } else {
            (Some(a.1), Some(b.1))
        }
    }

    /// A histogram with small bins withheld. When that withholds a single
    /// bin, a second one goes too (the smallest other non-empty bin, else a
    /// neighbour): otherwise the total minus the published bins would
    /// reveal it.
    pub fn histogram(&mut self, name: &str, edges: &[i64], counts: &[u64]) -> Histogram {
        let label = |i: usize| format!("{name}[{},{})", edges[i], edges[i + 1]);
        let counts = self.bins(counts, label);
        Histogram {
            edges: edges.to_vec(),
            counts,
        }
    }

    /// A grid of `cols` columns, row by row, with small cells withheld as
    /// a histogram's bins are; a cell is named `name[row,col]`.
    pub fn grid(&mut self, name: &str, cols: usize, counts: &[u64]) -> Vec<Option<u64>> {
        let cols = cols.max(1);
        self.bins(counts, |i| format!("{name}[{},{}]", i / cols, i % cols))
    }

    fn bins(&mut self, counts: &[u64], label: impl Fn(usize) -> String) -> Vec<Option<u64>> {
        let mut out: Vec<Option<u64>> = counts
            .iter()
            .enumerate()
            .map(|(i, &n)| self.gate(label(i), n))
            .collect();
        let withheld: Vec<usize> = (0..out.len()).filter(|&i| out[i].is_none()).collect();
        // A single bin has no other to withhold with it.
        if let [only] = withheld[..]
            && counts.len() > 1
        {
            let second = (0..counts.len())
                .filter(|&i| i != only && counts[i] > 0)
                .min_by_key(|&i| counts[i])
                .unwrap_or(if only == 0 { 1 } else { only - 1 });
            out[second] = None;
            self.suppressed.push(label(second));
        }
        out
    }

    /// The paths withheld so far, in the order they were.
    pub fn into_suppressed(self) -> Vec<String> {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_figures_are_withheld_and_named_zero_and_k_are_not() {
        let mut k = Suppressor::new(5);
        assert_eq!(k.gate("a".into(), 0), Some(0));
        assert_eq!(k.gate("b".into(), 4), None);
        assert_eq!(k.gate("c".into(), 5), Some(5));
        assert_eq!(k.pair(("d", 9), ("e", 1)), (None, None));
        assert_eq!(k.pair(("f", 9), ("g", 0)), (Some(9), Some(0)));
        assert_eq!(k.into_suppressed(), ["b", "d", "e"]);
    }

    #[test]
    fn a_lone_small_bin_takes_the_smallest_other_bin_with_it() {
        let mut k = Suppressor::new(5);
        let h = k.histogram("h", &[0, 1, 2, 3, 4], &[9, 2, 7, 30]);
        // Withheld alone, bin 1 would be the total minus the other bins.
        assert_eq!(h.counts, [Some(9), None, None, Some(30)]);
        assert_eq!(k.into_suppressed(), ["h[1,2)", "h[2,3)"]);
    }

    #[test]
    fn grid_cells_are_named_by_row_and_column() {
        let mut k = Suppressor::new(3);
        let g = k.grid("g", 2, &[5, 1, 0, 4]);
        assert_eq!(g, [Some(5), None, Some(0), None]);
        assert_eq!(k.into_suppressed(), ["g[0,1]", "g[1,1]"]);
        // A grid of one cell withholds that cell alone.
        let mut k = Suppressor::new(3);
        assert_eq!(k.grid("one", 1, &[2]), [None]);
        assert_eq!(k.into_suppressed(), ["one[0,0]"]);
    }
}
