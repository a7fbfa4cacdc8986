//! `vitrine-audit` as a library: canary emission, the checks, reports.

pub mod report;
