//! `vitrine-audit` as a library: the checks, the audit that runs them, the
//! emission of canaries over the air, and reports.

pub mod audit;
pub mod checks;
pub mod emit;
pub mod report;
