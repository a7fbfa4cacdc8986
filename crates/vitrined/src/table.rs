//! How summaries are printed: JSON lines, or the table of
//! [`vitrine_schema::table`], with the columns of the sensors each summary
//! has.

use vitrine_schema::Summary;
use vitrine_schema::table::{Layout, header_for, row_for};

/// How summaries are printed (the binary's `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON summary per line (docs/schema.md).
    Jsonl,
    /// A readable table, its header repeated every 40 rows.
    Table,
}

/// The `index`-th summary of a run, as printed, with its line ending.
pub fn render(s: &Summary, index: u64, format: Format) -> String {
    match format {
        Format::Jsonl => s.to_json_line() + "\n",
        Format::Table if index.is_multiple_of(40) => {
            let layout = Layout::of(s);
            format!("{}\n{}\n", header_for(layout), row_for(s, layout))
        }
        Format::Table => row_for(s, Layout::of(s)) + "\n",
    }
}
