//! `cargo xtask doctor`: every requirement of [`deps::REQUIREMENTS`],
//! grouped by routine, with where it comes from and whether it is here.
//! It reads no workspace file, so the built binary also runs in a bare
//! Debian root (`cargo xtask fresh-machine`).

use std::fmt::Write;
use std::path::Path;

use crate::deps::{self, Presence, Routine, Scope};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok,
    Missing,
    /// Not installed by apt: out of a Debian-only check.
    Outside,
    Unknown(&'static str),
}

impl Status {
    fn label(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "MISSING",
            Status::Outside => "outside",
            Status::Unknown(_) => "unknown",
        }
    }
}

pub struct Report {
    pub text: String,
    /// Requirements of `required` routines, in scope, that are missing.
    pub missing: Vec<&'static deps::Requirement>,
}

/// Checks every requirement once and writes the table. Items of the
/// `required` routines that are missing (within `scope`) make it fail.
pub fn report(scope: Scope, required: &[Routine], workspace: Option<&Path>) -> Report {
    let status = |r: &deps::Requirement| {
        if !scope.covers(r.source) {
            return Status::Outside;
        }
        match deps::presence(r.check, workspace) {
            Presence::Present => Status::Ok,
            Presence::Missing => Status::Missing,
            Presence::Unknown(why) => Status::Unknown(why),
        }
    };
    let statuses: Vec<Status> = deps::REQUIREMENTS.iter().map(status).collect();
    let what_w = deps::REQUIREMENTS
        .iter()
        .map(|r| deps::describe_check(r.check).len())
        .max()
        .unwrap_or(0);
    let from_w = deps::REQUIREMENTS
        .iter()
        .map(|r| r.source.describe().len())
        .max()
        .unwrap_or(0);

    let mut text = String::new();
    let _ = writeln!(
        text,
        "What each routine needs, where it comes from, and whether it is here{}.",
        match scope {
            Scope::All => "",
            Scope::Debian =>
                " (Debian packages only: \"outside\" comes from rustup, cargo, the kernel or ../shared)",
        }
    );
    let _ = writeln!(
        text,
        "Routines marked * must be complete: {}.",
        required
            .iter()
            .map(|r| r.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for routine in Routine::ALL {
        let _ = writeln!(
            text,
            "\n{}{}",
            routine.name(),
            if required.contains(routine) {
                " *"
            } else {
                " (optional)"
            }
        );
        for (r, s) in deps::REQUIREMENTS.iter().zip(&statuses) {
            if !r.routines.contains(routine) {
                continue;
            }
            let _ = writeln!(
                text,
                "  {:<8} {:<what_w$}  {:<from_w$}  {}",
                s.label(),
                deps::describe_check(r.check),
                r.source.describe(),
                match s {
                    Status::Unknown(why) => why,
                    _ => r.why,
                }
            );
        }
    }

    let mut missing = Vec::new();
    let mut outside = Vec::new();
    let mut present = 0;
    for (r, s) in deps::REQUIREMENTS.iter().zip(&statuses) {
        if !r.routines.iter().any(|x| required.contains(x)) {
            continue;
        }
        match s {
            Status::Ok => present += 1,
            Status::Missing | Status::Unknown(_) => missing.push(r),
            Status::Outside => outside.push(r),
        }
    }
    let _ = writeln!(
        text,
        "\n{present} of {} required items present{}.",
        present + missing.len(),
        if outside.is_empty() {
            String::new()
        } else {
            format!(
                "; {} outside this check: {}",
                outside.len(),
                named(&outside)
            )
        }
    );
    if !missing.is_empty() {
        let _ = writeln!(
            text,
            "Missing: {}.\n`cargo xtask deps` installs them (Debian packages as root).",
            named(&missing)
        );
    }
    Report { text, missing }
}

/// "what (where it comes from), ..." for a list of requirements.
fn named(rows: &[&deps::Requirement]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{} ({})",
                deps::describe_check(r.check),
                r.source.describe()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_requirement_under_each_of_its_routines() {
        let r = report(Scope::Debian, deps::TEST_COMMAND, None);
        for req in deps::REQUIREMENTS {
            let what = deps::describe_check(req.check);
            let lines = r
                .text
                .lines()
                .filter(|l| l.starts_with("  ") && l.contains(&format!(" {what} ")))
                .count();
            assert!(lines >= req.routines.len(), "{what}: {lines} lines");
        }
        // Nothing outside the Debian scope is reported as missing.
        assert!(r.missing.iter().all(|m| m.source.is_debian()));
        assert!(r.text.contains("outside this check"));
        assert!(r.text.contains("test-host *"));
        assert!(r.text.contains("fuzz (optional)"));
    }

    #[test]
    fn optional_routines_never_fail_the_report() {
        let r = report(Scope::All, &[], None);
        assert!(r.missing.is_empty());
    }
}
