//! `cargo xtask tidy`: the workspace's architecture invariants, checked by
//! reading manifests, sources and the dependency graph (docs/dependencies.md,
//! "Checked by `cargo xtask tidy`").
//!
//! Crates are told apart by what their manifests say under
//! `[package.metadata.vitrine]`, never by their names, so that a rename keeps
//! the rules:
//!
//! - `stage = "before-summary"`: the crate handles raw identifiers or
//!   observations from before the summary (rule a).
//! - `library-may-use = ["anyhow", "clap", "print"]`: what rule b would
//!   refuse in the crate's library target and is still tolerated there.
//! - `never-depends-on = ["..."]`: packages that the crate's normal
//!   dependency graph, with its default features, never contains (rule c).
//! - `unsafe-in = ["src/..."]`: the only files that may allow `unsafe_code`
//!   (rule e).
//!
//! The checks are functions of plain inputs ([`Inputs`]: the metadata,
//! file texts, `cargo tree` outputs), so that the tests below can break
//! each invariant on a workspace made up for them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// The invariants, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// `[package.metadata.vitrine]` itself: known keys and values only.
    Marker,
    /// a. No serde in the crates before the summary.
    NoSerdeBeforeSummary,
    /// b. No anyhow, clap or printing in library code.
    Library,
    /// c. Forbidden packages stay out of a crate's normal dependency graph.
    DependencyGraph,
    /// d. docs/ARCHITECTURE.md's code map names every crate under `crates/`.
    CodeMap,
    /// e. `unsafe_code` denied everywhere but in the files listed.
    Unsafe,
}

impl Rule {
    fn title(self) -> &'static str {
        match self {
            Rule::Marker => "marker",
            Rule::NoSerdeBeforeSummary => "a. no serde before the summary",
            Rule::Library => "b. no anyhow, clap or printing in libraries",
            Rule::DependencyGraph => "c. dependency graph",
            Rule::CodeMap => "d. code map",
            Rule::Unsafe => "e. unsafe only where listed",
        }
    }
}

/// One broken invariant: which, where (a path relative to the workspace
/// root, with a line where there is one), and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub rule: Rule,
    pub place: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}: {}",
            self.rule.title(),
            self.place,
            self.message
        )
    }
}

fn violation(rule: Rule, place: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation {
        rule,
        place: place.into(),
        message: message.into(),
    }
}

/// What `[package.metadata.vitrine]` says of a crate.
#[derive(Debug, Default, Clone)]
pub struct Marker {
    pub before_summary: bool,
    pub library_may_use: BTreeSet<String>,
    pub never_depends_on: Vec<String>,
    pub unsafe_in: Vec<String>,
}

/// A workspace crate, its paths relative to the workspace root.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// The folder of its Cargo.toml, e.g. `crates/dot11`.
    pub dir: PathBuf,
    /// Direct normal dependencies, by package name.
    pub normal_deps: Vec<String>,
    /// The library target's root file.
    pub lib: Option<PathBuf>,
    /// The binary targets' root files.
    pub bins: Vec<PathBuf>,
    pub marker: Marker,
}

impl Package {
    fn manifest(&self) -> String {
        self.dir.join("Cargo.toml").display().to_string()
    }
}

/// Everything the checks read.
#[derive(Debug, Default)]
pub struct Inputs {
    pub packages: Vec<Package>,
    /// Problems with the markers themselves, found while reading them.
    pub marker_errors: Vec<Violation>,
    /// Every `.rs` file of every crate, by path.
    pub files: BTreeMap<PathBuf, String>,
    /// The workspace's Cargo.toml.
    pub root_manifest: String,
    /// Each crate's Cargo.toml, by the crate's folder.
    pub manifests: BTreeMap<PathBuf, String>,
    /// `cargo tree -e normal --prefix none -p NAME` of each crate that has
    /// `never-depends-on`, by name.
    pub trees: BTreeMap<String, String>,
    /// The package names of Cargo.lock.
    pub locked: BTreeSet<String>,
    /// docs/ARCHITECTURE.md.
    pub architecture: String,
}

/// The marker table, under `[package.metadata]`.
const MARKER: &str = "vitrine";
const BEFORE_SUMMARY: &str = "before-summary";
/// What `library-may-use` may list: the two crates, and the print macros.
const LIBRARY_USES: [&str; 3] = ["anyhow", "clap", "print"];
/// The macros that write to stdout or stderr.
const PRINT_MACROS: [&str; 5] = ["print", "println", "eprint", "eprintln", "dbg"];
/// Names that only serde code uses.
const SERDE_WORDS: [&str; 7] = [
    "serde",
    "serde_json",
    "serde_derive",
    "Serialize",
    "Deserialize",
    "Serializer",
    "Deserializer",
];

/// The workspace crates of `cargo metadata --format-version 1 --no-deps`,
/// and what is wrong with their markers.
pub fn packages(metadata: &str) -> anyhow::Result<(Vec<Package>, Vec<Violation>)> {
    let meta: Value = serde_json::from_str(metadata).context("cargo metadata is not JSON")?;
    let root = meta["workspace_root"]
        .as_str()
        .context("cargo metadata without workspace_root")?;
    let relative = |p: &str| -> PathBuf {
        Path::new(p)
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| PathBuf::from(p))
    };
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .context("cargo metadata without workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in meta["packages"].as_array().context("no packages")? {
        if !members.contains(p["id"].as_str().unwrap_or_default()) {
            continue;
        }
        let name = p["name"].as_str().context("a package without a name")?;
        let manifest = relative(p["manifest_path"].as_str().context("no manifest_path")?);
        let dir = manifest.parent().unwrap_or(Path::new("")).to_path_buf();
        let normal_deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(String::from))
            .collect();
        let mut lib = None;
        let mut bins = Vec::new();
        for t in p["targets"].as_array().into_iter().flatten() {
            let kinds: Vec<&str> = t["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let src = relative(t["src_path"].as_str().unwrap_or_default());
            if kinds
                .iter()
                .any(|k| matches!(*k, "lib" | "rlib" | "dylib" | "proc-macro"))
            {
                lib = Some(src);
            } else if kinds.contains(&"bin") {
                bins.push(src);
            }
        }
        let marker = marker(name, &manifest, &p["metadata"][MARKER], &mut errors);
        out.push(Package {
            name: name.to_string(),
            dir,
            normal_deps,
            lib,
            bins,
            marker,
        });
    }
    Ok((out, errors))
}

/// Reads `[package.metadata.vitrine]`; an unknown key or value is an error,
/// so that a typo cannot switch a rule off.
fn marker(name: &str, manifest: &Path, table: &Value, errors: &mut Vec<Violation>) -> Marker {
    let mut m = Marker::default();
    let place = manifest.display().to_string();
    let mut error = |msg: String| {
        errors.push(violation(
            Rule::Marker,
            &place,
            format!("{name}: [package.metadata.{MARKER}] {msg}"),
        ))
    };
    let Some(table) = table.as_object() else {
        if !table.is_null() {
            error("is not a table".into());
        }
        return m;
    };
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(String::from))
            .collect()
    };
    for (key, value) in table {
        match key.as_str() {
            "stage" => match value.as_str() {
                Some(BEFORE_SUMMARY) => m.before_summary = true,
                _ => error(format!(
                    "stage = {value}: the only stage is {BEFORE_SUMMARY:?}"
                )),
            },
            "library-may-use" => match strings(value) {
                Some(list) if list.iter().all(|s| LIBRARY_USES.contains(&s.as_str())) => {
                    m.library_may_use = list.into_iter().collect()
                }
                _ => error(format!(
                    "library-may-use = {value}: a list of {}",
                    LIBRARY_USES.join(", ")
                )),
            },
            "never-depends-on" => match strings(value) {
                Some(list) => m.never_depends_on = list,
                None => error(format!(
                    "never-depends-on = {value}: a list of package names"
                )),
            },
            "unsafe-in" => match strings(value) {
                Some(list) => m.unsafe_in = list,
                None => error(format!("unsafe-in = {value}: a list of files")),
            },
            _ => error(format!(
                "has an unknown key {key:?} (stage, library-may-use, never-depends-on, unsafe-in)"
            )),
        }
    }
    m
}

/// Every broken invariant, sorted by rule and place.
pub fn check(inputs: &Inputs) -> Vec<Violation> {
    let mut out = inputs.marker_errors.clone();
    out.extend(no_serde_before_summary(inputs));
    out.extend(library_hygiene(inputs));
    out.extend(dependency_graphs(inputs));
    out.extend(code_map(inputs));
    out.extend(unsafe_code(inputs));
    out.sort();
    // A module file missing from a tree walked by two rules.
    out.dedup();
    out
}

/// a. A crate marked `before-summary` neither depends on serde nor names it
/// in its library and binaries (a derive, an impl, a re-export). The
/// summary it may build comes from another crate's types.
pub fn no_serde_before_summary(inputs: &Inputs) -> Vec<Violation> {
    let mut out = Vec::new();
    for p in inputs.packages.iter().filter(|p| p.marker.before_summary) {
        for dep in &p.normal_deps {
            if SERDE_WORDS[..3].contains(&dep.as_str()) {
                out.push(violation(
                    Rule::NoSerdeBeforeSummary,
                    p.manifest(),
                    format!(
                        "{} is before the summary and depends on {dep}; only the summary's \
                         crate serializes",
                        p.name
                    ),
                ));
            }
        }
        let roots = p.lib.iter().chain(&p.bins);
        for (file, code) in module_trees(roots, &inputs.files, &mut out) {
            for (offset, word) in words(&code) {
                if SERDE_WORDS.contains(&word) {
                    out.push(violation(
                        Rule::NoSerdeBeforeSummary,
                        at(&file, &code, offset),
                        format!(
                            "{} is before the summary and names `{word}` (a derive, an impl or \
                             a use of serde)",
                            p.name
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// b. The library target of every crate (test code aside) uses neither
/// anyhow nor clap, and prints nothing: errors are typed, and output is the
/// binary's business. A crate without a binary does not depend on anyhow or
/// clap either. `library-may-use` tolerates some of it, and must be shrunk
/// as soon as it is no longer needed.
pub fn library_hygiene(inputs: &Inputs) -> Vec<Violation> {
    let mut out = Vec::new();
    for p in &inputs.packages {
        let Some(lib) = &p.lib else { continue };
        let allowed = &p.marker.library_may_use;
        let mut used = BTreeSet::new();
        if p.bins.is_empty() {
            for dep in p
                .normal_deps
                .iter()
                .filter(|d| *d == "anyhow" || *d == "clap")
            {
                used.insert(dep.clone());
                if !allowed.contains(dep) {
                    out.push(violation(
                        Rule::Library,
                        p.manifest(),
                        format!(
                            "{} is a library and depends on {dep}; only binaries do (a \
                             dev-dependency serves tests and examples)",
                            p.name
                        ),
                    ));
                }
            }
        }
        for (file, code) in module_trees([lib], &inputs.files, &mut out) {
            for (offset, word) in words(&code) {
                let what = if word == "anyhow" || word == "clap" {
                    word
                } else if PRINT_MACROS.contains(&word) && is_macro_call(&code, offset + word.len())
                {
                    "print"
                } else {
                    continue;
                };
                used.insert(what.to_string());
                if allowed.contains(what) {
                    continue;
                }
                let message = if what == "print" {
                    format!(
                        "{word}! in the library of {}: return the text or log with tracing; \
                         the binary prints",
                        p.name
                    )
                } else {
                    format!(
                        "{word} in the library of {}: give it a typed error (thiserror) and \
                         leave {word} to the binary",
                        p.name
                    )
                };
                out.push(violation(Rule::Library, at(&file, &code, offset), message));
            }
        }
        for stale in allowed.difference(&used) {
            out.push(violation(
                Rule::Library,
                p.manifest(),
                format!(
                    "{}: library-may-use lists {stale:?}, which the library no longer uses; \
                     remove it",
                    p.name
                ),
            ));
        }
    }
    out
}

/// c. The packages a crate's marker names under `never-depends-on` are not
/// in its normal dependency graph with its default features. A name that is
/// neither a workspace crate nor in Cargo.lock is reported too: it was
/// probably renamed, and the rule would hold for nothing.
pub fn dependency_graphs(inputs: &Inputs) -> Vec<Violation> {
    let mut out = Vec::new();
    let workspace: BTreeSet<&str> = inputs.packages.iter().map(|p| p.name.as_str()).collect();
    for p in &inputs.packages {
        if p.marker.never_depends_on.is_empty() {
            continue;
        }
        let Some(tree) = inputs.trees.get(&p.name) else {
            out.push(violation(
                Rule::DependencyGraph,
                p.manifest(),
                format!("no dependency graph of {}", p.name),
            ));
            continue;
        };
        let graph = tree_packages(tree);
        for forbidden in &p.marker.never_depends_on {
            if !workspace.contains(forbidden.as_str()) && !inputs.locked.contains(forbidden) {
                out.push(violation(
                    Rule::DependencyGraph,
                    p.manifest(),
                    format!(
                        "{}: never-depends-on names {forbidden:?}, which is neither a workspace \
                         crate nor in Cargo.lock (renamed?)",
                        p.name
                    ),
                ));
            }
            if graph.contains(forbidden.as_str()) {
                out.push(violation(
                    Rule::DependencyGraph,
                    p.manifest(),
                    format!(
                        "{forbidden} is in the normal dependency graph of {} (default \
                         features); `cargo tree -e normal -p {} -i {forbidden}` shows how",
                        p.name, p.name
                    ),
                ));
            }
        }
    }
    out
}

/// The package names of `cargo tree --prefix none` output.
fn tree_packages(tree: &str) -> BTreeSet<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

const ARCHITECTURE: &str = "docs/ARCHITECTURE.md";

/// d. Every crate under `crates/` has its heading in the code map of
/// docs/ARCHITECTURE.md, "### `crates/dot11` (`vitrine-dot11`)", with its
/// package name where the heading gives one; and no heading names a crate
/// that is not there.
pub fn code_map(inputs: &Inputs) -> Vec<Violation> {
    let mut out = Vec::new();
    // Folder -> (line, package name in the heading).
    let mut headings: BTreeMap<String, (usize, Option<String>)> = BTreeMap::new();
    let mut in_map = false;
    for (n, line) in inputs.architecture.lines().enumerate() {
        if let Some(title) = line.strip_prefix("## ") {
            in_map = title.trim() == "Code map";
            continue;
        }
        let Some(title) = line.strip_prefix("### ").filter(|_| in_map) else {
            continue;
        };
        let quoted: Vec<&str> = title.split('`').skip(1).step_by(2).collect();
        if let Some(folder) = quoted.first().filter(|q| q.starts_with("crates/")) {
            let name = title
                .contains('(')
                .then(|| quoted.get(1).map(|s| s.to_string()))
                .flatten();
            headings.insert(folder.trim_end_matches('/').to_string(), (n + 1, name));
        }
    }
    if headings.is_empty() {
        out.push(violation(
            Rule::CodeMap,
            ARCHITECTURE,
            "no \"## Code map\" section with \"### `crates/...`\" headings",
        ));
        return out;
    }
    let mut folders = BTreeSet::new();
    for p in &inputs.packages {
        let folder = p.dir.display().to_string();
        if !folder.starts_with("crates/") {
            continue;
        }
        match headings.get(&folder) {
            None => out.push(violation(
                Rule::CodeMap,
                ARCHITECTURE,
                format!(
                    "the code map has no heading for {}: \"### `{folder}` (`{}`)\"",
                    p.name, p.name
                ),
            )),
            Some((line, Some(name))) if *name != p.name => out.push(violation(
                Rule::CodeMap,
                format!("{ARCHITECTURE}:{line}"),
                format!(
                    "the heading of `{folder}` names `{name}`; the crate is {}",
                    p.name
                ),
            )),
            Some(_) => {}
        }
        folders.insert(folder);
    }
    for (folder, (line, _)) in &headings {
        if !folders.contains(folder) {
            out.push(violation(
                Rule::CodeMap,
                format!("{ARCHITECTURE}:{line}"),
                format!("the code map names `{folder}`, which is no workspace crate"),
            ));
        }
    }
    out
}

/// e. The workspace denies `unsafe_code`, every crate inherits the
/// workspace's lints, and `unsafe_code` is allowed only in the files a
/// crate lists under `unsafe-in` (each of which does allow it).
pub fn unsafe_code(inputs: &Inputs) -> Vec<Violation> {
    let mut out = Vec::new();
    match toml::from_str::<toml::Table>(&inputs.root_manifest) {
        Ok(root) => {
            let level = root
                .get("workspace")
                .and_then(|w| w.get("lints"))
                .and_then(|l| l.get("rust"))
                .and_then(|r| r.get("unsafe_code"))
                .and_then(|u| u.as_str().or_else(|| u.get("level")?.as_str()));
            if !matches!(level, Some("deny" | "forbid")) {
                out.push(violation(
                    Rule::Unsafe,
                    "Cargo.toml",
                    "[workspace.lints.rust] does not deny or forbid unsafe_code",
                ));
            }
        }
        Err(e) => out.push(violation(
            Rule::Unsafe,
            "Cargo.toml",
            format!("not TOML: {e}"),
        )),
    }
    for p in &inputs.packages {
        let inherits = inputs
            .manifests
            .get(&p.dir)
            .and_then(|m| toml::from_str::<toml::Table>(m).ok())
            .and_then(|m| m.get("lints")?.get("workspace")?.as_bool())
            == Some(true);
        if !inherits {
            out.push(violation(
                Rule::Unsafe,
                p.manifest(),
                format!(
                    "{} does not inherit the workspace's lints ([lints] workspace = true)",
                    p.name
                ),
            ));
        }
        let listed: BTreeSet<PathBuf> = p.marker.unsafe_in.iter().map(|f| p.dir.join(f)).collect();
        let mut allowing = BTreeSet::new();
        for (file, text) in inputs.files.range(p.dir.clone()..) {
            if !file.starts_with(&p.dir) {
                break;
            }
            // A nested crate's files are its own.
            if inputs
                .packages
                .iter()
                .any(|q| q.dir != p.dir && q.dir.starts_with(&p.dir) && file.starts_with(&q.dir))
            {
                continue;
            }
            let code = strip(text);
            for (offset, content) in attributes(&code) {
                let words: Vec<&str> = words(content).map(|(_, w)| w).collect();
                let allows = words
                    .iter()
                    .any(|w| matches!(*w, "allow" | "expect" | "warn"));
                if !(allows && words.contains(&"unsafe_code")) {
                    continue;
                }
                allowing.insert(file.clone());
                if !listed.contains(file) {
                    out.push(violation(
                        Rule::Unsafe,
                        at(file, &code, offset),
                        format!(
                            "allows unsafe_code, and {} does not list this file under \
                             unsafe-in",
                            p.name
                        ),
                    ));
                }
            }
        }
        for file in listed.difference(&allowing) {
            out.push(violation(
                Rule::Unsafe,
                p.manifest(),
                format!(
                    "{}: unsafe-in lists {}, which does not allow unsafe_code (or is not \
                     there); remove it",
                    p.name,
                    file.display()
                ),
            ));
        }
    }
    out
}

/// `path:line` of a byte offset in a file's stripped code.
fn at(file: &Path, code: &str, offset: usize) -> String {
    let line = code[..offset].matches('\n').count() + 1;
    format!("{}:{line}", file.display())
}

/// The files of the module trees rooted at `roots`, each as its code
/// without comments, literals and test-only items (`#[cfg(test)]`), so
/// that `mod tests;` and what it holds are left out. A declared module
/// whose file is not there is reported, so that nothing goes unchecked
/// silently.
fn module_trees<'a>(
    roots: impl IntoIterator<Item = &'a PathBuf>,
    files: &BTreeMap<PathBuf, String>,
    problems: &mut Vec<Violation>,
) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<(PathBuf, bool)> = roots.into_iter().map(|r| (r.clone(), true)).collect();
    while let Some((file, is_root)) = todo.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        let Some(text) = files.get(&file) else {
            problems.push(violation(
                Rule::Marker,
                file.display().to_string(),
                "a target or module file that could not be read",
            ));
            continue;
        };
        let code = without_test_items(&strip(text));
        let parent = file.parent().unwrap_or(Path::new("")).to_path_buf();
        let children = if is_root || file.file_name().is_some_and(|n| n == "mod.rs") {
            parent
        } else {
            parent.join(file.file_stem().unwrap_or_default())
        };
        for (offset, name) in module_declarations(&code) {
            let flat = children.join(format!("{name}.rs"));
            let nested = children.join(name).join("mod.rs");
            match [flat, nested].into_iter().find(|f| files.contains_key(f)) {
                Some(f) => todo.push((f, false)),
                None => problems.push(violation(
                    Rule::Marker,
                    at(&file, &code, offset),
                    format!("`mod {name};` whose file is not found (a #[path]?)"),
                )),
            }
        }
        out.push((file, code));
    }
    out.sort();
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifiers of code (and numbers, which nothing looks for), with
/// their byte offsets.
fn words(code: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = code.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some(&(_, c)) = rest.peek() {
            if is_ident_char(c) {
                break;
            }
            rest.next();
        }
        let (start, _) = rest.next()?;
        let mut end = code.len();
        while let Some(&(i, c)) = rest.peek() {
            if !is_ident_char(c) {
                end = i;
                break;
            }
            rest.next();
        }
        Some((start, &code[start..end]))
    })
}

/// True when a word ending at `end` is followed by `!` (and not `!=`).
fn is_macro_call(code: &str, end: usize) -> bool {
    let after = code[end..].trim_start();
    after.starts_with('!') && !after.starts_with("!=")
}

/// `mod name;` declarations (not inline `mod name { ... }`).
fn module_declarations(code: &str) -> Vec<(usize, &str)> {
    let all: Vec<(usize, &str)> = words(code).collect();
    all.windows(2)
        .filter(|w| w[0].1 == "mod")
        .filter(|w| code[w[0].0 + 3..w[1].0].trim().is_empty())
        .filter(|w| code[w[1].0 + w[1].1.len()..].trim_start().starts_with(';'))
        .map(|w| (w[0].0, w[1].1))
        .collect()
}

/// The attributes of stripped code: each one's offset (its `#`) and its
/// content between the brackets.
fn attributes(code: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while let Some(found) = code[i..].find('#') {
        let hash = i + found;
        let mut open = hash + 1;
        while open < bytes.len() && (bytes[open] == b'!' || bytes[open].is_ascii_whitespace()) {
            open += 1;
        }
        i = hash + 1;
        if bytes.get(open) != Some(&b'[') {
            continue;
        }
        if let Some(close) = matching(code, open) {
            out.push((hash, &code[open + 1..close]));
            i = close + 1;
        }
    }
    out
}

/// The offset of the bracket that closes the one at `open`, counting
/// every kind of bracket.
fn matching(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in code.bytes().enumerate().skip(open) {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Stripped code with every item under `#[cfg(test)]` blanked (lines
/// kept), and the whole file blanked under `#![cfg(test)]`.
fn without_test_items(code: &str) -> String {
    let mut out = code.to_string();
    let blank = |out: &mut String, from: usize, to: usize| {
        let spaces: String = out[from..to]
            .chars()
            .map(|c| {
                if c == '\n' {
                    "\n".into()
                } else {
                    " ".repeat(c.len_utf8())
                }
            })
            .collect();
        // Byte for byte, so that offsets into `code` stay offsets into `out`.
        out.replace_range(from..to, &spaces);
    };
    let mut skip_until = 0;
    for (hash, content) in attributes(code) {
        if hash < skip_until {
            continue;
        }
        let compact: String = content.chars().filter(|c| !c.is_whitespace()).collect();
        if compact != "cfg(test)" {
            continue;
        }
        let inner = code[hash + 1..].trim_start().starts_with('!');
        if inner {
            blank(&mut out, 0, code.len());
            return out;
        }
        let end = item_end(code, hash);
        blank(&mut out, hash, end);
        skip_until = end;
    }
    out
}

/// The end of the item an outer attribute at `hash` applies to: past its
/// other attributes, up to its `;` or its closing brace (and a `;` after
/// it, as in `use a::{b, c};`), or a field's or variant's comma.
fn item_end(code: &str, hash: usize) -> usize {
    let bytes = code.as_bytes();
    let mut i = hash;
    // The attributes, this one included.
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'#') {
            break;
        }
        let Some(open) = code[i..].find('[') else {
            return code.len();
        };
        match matching(code, i + open) {
            Some(close) => i = close + 1,
            None => return code.len(),
        }
    }
    let mut depth = 0usize;
    // Angle brackets outside any body (generics), so that the comma of
    // `impl<A, B>` does not end the item as a field's comma does.
    let mut angle = 0usize;
    while i < bytes.len() {
        let arrow = i > 0 && matches!(bytes[i - 1], b'-' | b'=');
        match bytes[i] {
            b';' if depth == 0 => return i + 1,
            b',' if depth == 0 && angle == 0 => return i + 1,
            b'<' if depth == 0 => angle += 1,
            b'>' if depth == 0 && !arrow => angle = angle.saturating_sub(1),
            // The end of what encloses the item (a field, an argument).
            b')' | b']' | b'}' if depth == 0 => return i,
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' => depth -= 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    let rest = &code[i + 1..];
                    let trimmed = rest.trim_start();
                    return if trimmed.starts_with(';') {
                        code.len() - trimmed.len() + 1
                    } else {
                        i + 1
                    };
                }
            }
            _ => {}
        }
        i += 1;
    }
    code.len()
}

/// Rust source with comments and the contents of string and character
/// literals replaced by spaces, line breaks kept, so that a word found in
/// what is left is code, and its line is the source's.
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(k).copied();
        let ident_before = i > 0 && is_ident_char(c[i - 1]);
        // A line comment.
        if c[i] == '/' && at(i + 1) == Some('/') {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
            continue;
        }
        // A block comment, nested ones included.
        if c[i] == '/' && at(i + 1) == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            continue;
        }
        // A string: "..", b"..", c"..", r#".."#, br"..", cr"..".
        if c[i] == '"' || (!ident_before && matches!(c[i], 'r' | 'b' | 'c')) {
            let mut j = i;
            if matches!(c[j], 'b' | 'c') {
                j += 1;
            }
            let raw = at(j) == Some('r');
            if raw {
                j += 1;
            }
            let mut hashes = 0;
            while raw && at(j) == Some('#') {
                hashes += 1;
                j += 1;
            }
            if at(j) == Some('"') && (c[i] == '"' || j > i) {
                let mut k = j + 1;
                loop {
                    match at(k) {
                        None => break,
                        Some('\\') if !raw => k += 2,
                        Some('"') if (1..=hashes).all(|h| at(k + h) == Some('#')) => {
                            k += 1 + hashes;
                            break;
                        }
                        _ => k += 1,
                    }
                }
                let k = k.min(c.len());
                for &ch in &c[i..k] {
                    blank(&mut out, ch);
                }
                i = k;
                continue;
            }
        }
        // A character literal ('x', '\n', b'x'), not a lifetime or label.
        let quote = if c[i] == '\'' {
            Some(i)
        } else if c[i] == 'b' && !ident_before && at(i + 1) == Some('\'') {
            Some(i + 1)
        } else {
            None
        };
        if let Some(q) = quote {
            let end = if at(q + 1) == Some('\\') {
                (q + 3..c.len()).find(|&k| c[k] == '\'')
            } else if at(q + 2) == Some('\'') {
                Some(q + 2)
            } else {
                None
            };
            if let Some(end) = end {
                for &ch in &c[i..=end] {
                    blank(&mut out, ch);
                }
                i = end + 1;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// Reads the workspace at `root`: `cargo metadata`, the sources, the
/// manifests, `cargo tree` of the crates that need it, Cargo.lock and
/// docs/ARCHITECTURE.md.
pub fn inputs(root: &Path) -> anyhow::Result<Inputs> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let metadata = output(
        Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(root),
    )?;
    let (packages, marker_errors) = packages(&metadata)?;
    let read = |p: &Path| {
        std::fs::read_to_string(root.join(p)).with_context(|| format!("{}", p.display()))
    };
    let mut files = BTreeMap::new();
    let mut manifests = BTreeMap::new();
    let mut trees = BTreeMap::new();
    for p in &packages {
        manifests.insert(p.dir.clone(), read(&p.dir.join("Cargo.toml"))?);
        for file in rust_files(root, &p.dir)? {
            let text = read(&file)?;
            files.insert(file, text);
        }
        if !p.marker.never_depends_on.is_empty() {
            let tree = output(
                Command::new(&cargo)
                    .args([
                        "tree", "-e", "normal", "--prefix", "none", "--target", "all",
                    ])
                    .args(["-p", &p.name])
                    .current_dir(root),
            )?;
            trees.insert(p.name.clone(), tree);
        }
    }
    let lock: toml::Table =
        toml::from_str(&read(Path::new("Cargo.lock"))?).context("Cargo.lock is not TOML")?;
    let locked = lock
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("name")?.as_str().map(String::from))
        .collect();
    Ok(Inputs {
        packages,
        marker_errors,
        files,
        root_manifest: read(Path::new("Cargo.toml"))?,
        manifests,
        trees,
        locked,
        architecture: read(Path::new(ARCHITECTURE))?,
    })
}

/// The `.rs` files under a crate's folder (relative to `root`), build
/// output and hidden folders aside.
fn rust_files(root: &Path, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(root.join(&d)).with_context(|| format!("{}", d.display()))? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = d.join(&*name);
            let kind = entry.file_type()?;
            if kind.is_dir() && !name.starts_with('.') && name != "target" {
                todo.push(path);
            } else if kind.is_file() && name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    Ok(out)
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} exited with {}:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("{cmd:?} printed no UTF-8"))
}

/// `cargo xtask tidy`: fails, naming each one, when an invariant is broken.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let inputs = inputs(root)?;
    let found = check(&inputs);
    for v in &found {
        eprintln!("{v}");
    }
    if !found.is_empty() {
        bail!(
            "{} architecture invariant(s) broken (crates/xtask/src/tidy.rs)",
            found.len()
        );
    }
    eprintln!(
        "xtask: tidy: {} crates, {} source files: every invariant holds",
        inputs.packages.len(),
        inputs.files.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests;
