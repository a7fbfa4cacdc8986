//! Each invariant broken on a made-up workspace, and the real one tidy.

use serde_json::json;

use super::*;

/// A crate of the made-up workspace, as `cargo metadata` describes it.
fn package(name: &str, dir: &str, deps: &[&str], bin: bool, marker: Value) -> Value {
    let mut targets = vec![json!({"kind": ["lib"], "src_path": format!("/ws/{dir}/src/lib.rs")})];
    if bin {
        targets.push(json!({"kind": ["bin"], "src_path": format!("/ws/{dir}/src/main.rs")}));
    }
    // A dev-dependency, which the rules never look at.
    let mut dependencies = vec![json!({"name": "serde", "kind": "dev"})];
    dependencies.extend(deps.iter().map(|d| json!({"name": d, "kind": null})));
    json!({
        "id": format!("path+file:///ws/{dir}#{name}@0.1.0"),
        "name": name,
        "manifest_path": format!("/ws/{dir}/Cargo.toml"),
        "dependencies": dependencies,
        "targets": targets,
        "metadata": marker,
    })
}

fn metadata(packages: &[Value]) -> String {
    let ids: Vec<&Value> = packages.iter().map(|p| &p["id"]).collect();
    json!({"workspace_root": "/ws", "workspace_members": ids, "packages": packages}).to_string()
}

/// The made-up workspace's crates: two before the summary (one of which
/// builds the summary through the schema crate), the schema, a verifier
/// and a daemon with both a library and a binary, a crate with an unsafe
/// kernel, and an xtask.
fn crates() -> Vec<Value> {
    let before = json!({"vitrine": {"stage": "before-summary"}});
    vec![
        package("vitrine-dot11", "crates/dot11", &[], false, before.clone()),
        package(
            "vitrine-aggregate",
            "crates/aggregate",
            &["vitrine-schema", "vitrine-dot11"],
            false,
            before,
        ),
        package(
            "vitrine-schema",
            "crates/schema",
            &["serde"],
            false,
            json!(null),
        ),
        package(
            "vitrine-audit",
            "crates/audit",
            &["anyhow", "clap", "vitrine-schema"],
            true,
            json!({"vitrine": {"never-depends-on": ["vitrined", "rumqttd"]}}),
        ),
        package(
            "vitrined",
            "crates/vitrined",
            &["anyhow", "clap"],
            true,
            json!({"vitrine": {"never-depends-on": ["rumqttd"], "library-may-use": ["anyhow"]}}),
        ),
        package(
            "vitrine-reverse",
            "crates/reverse",
            &["thiserror"],
            false,
            json!({"vitrine": {"unsafe-in": ["src/kernel.rs"]}}),
        ),
        json!({
            "id": "path+file:///ws/crates/xtask#xtask@0.1.0",
            "name": "xtask",
            "manifest_path": "/ws/crates/xtask/Cargo.toml",
            "dependencies": [{"name": "anyhow", "kind": null}, {"name": "serde", "kind": null}],
            "targets": [{"kind": ["bin"], "src_path": "/ws/crates/xtask/src/main.rs"}],
            "metadata": null,
        }),
    ]
}

const FILES: &[(&str, &str)] = &[
    (
        "crates/dot11/src/lib.rs",
        "//! Parsing; nothing here is `Serialize`, nor printed with println!.\n\
         pub mod radiotap;\n\
         #[cfg(test)]\n\
         mod tests;\n\
         #[cfg(test)]\n\
         mod inline {\n    fn t() { println!(\"{}\", 1); }\n}\n\
         #[cfg(test)]\n\
         use std::{fmt, io};\n\
         pub fn parse(b: &[u8]) -> Result<u8, &'static str> { b.first().copied().ok_or(\"empty\") }\n",
    ),
    (
        "crates/dot11/src/radiotap.rs",
        "/* a block comment /* nested: derive(Serialize) */ still a comment */\n\
         pub fn flags(b: u8) -> char { let _s = r#\"anyhow\"#; let _q = '\"'; if b > 0 { 'x' } else { '\\'' } }\n\
         pub fn label<'a>(s: &'a str) -> &'a str { s }\n",
    ),
    (
        "crates/dot11/src/tests.rs",
        "#[derive(serde::Serialize)]\nstruct Seen;\n#[test]\nfn t() { dbg!(1); }\n",
    ),
    (
        "crates/dot11/tests/frames.rs",
        "#[test]\nfn frames() { println!(\"integration tests print\"); let _ = anyhow::anyhow!(\"x\"); }\n",
    ),
    (
        "crates/dot11/examples/show.rs",
        "fn main() { println!(\"examples print\"); }\n",
    ),
    (
        "crates/aggregate/src/lib.rs",
        "mod window;\npub use window::close;\n",
    ),
    (
        "crates/aggregate/src/window.rs",
        "pub fn close() -> vitrine_schema::Summary { vitrine_schema::Summary }\n",
    ),
    (
        "crates/schema/src/lib.rs",
        "#[derive(Debug, serde::Serialize)]\npub struct Summary;\n",
    ),
    ("crates/audit/src/lib.rs", "pub mod emit;\n"),
    (
        "crates/audit/src/emit/mod.rs",
        "pub fn send() -> Result<u64, std::io::Error> { Ok(0) }\n",
    ),
    (
        "crates/audit/src/main.rs",
        "mod reverse_cli;\nfn main() -> anyhow::Result<()> { println!(\"{}\", vitrine_audit::emit::send()?); Ok(()) }\n",
    ),
    (
        "crates/audit/src/reverse_cli.rs",
        "#[derive(clap::Args)]\npub struct Args;\n",
    ),
    (
        "crates/vitrined/src/lib.rs",
        "pub fn run() -> anyhow::Result<()> { Ok(()) }\n",
    ),
    (
        "crates/vitrined/src/main.rs",
        "fn main() { eprintln!(\"{:?}\", vitrined::run()); }\n",
    ),
    (
        "crates/reverse/src/lib.rs",
        "#![doc = \"allow(unsafe_code) in a string\"]\nmod kernel;\n",
    ),
    (
        "crates/reverse/src/kernel.rs",
        "#![allow(unsafe_code)]\npub fn go() { unsafe { core::hint::unreachable_unchecked() } }\n",
    ),
    (
        "crates/xtask/src/main.rs",
        "fn main() -> anyhow::Result<()> { println!(\"xtask\"); Ok(()) }\n",
    ),
];

const CODE_MAP: &str = "# Architecture\n\n## Code map\n\n\
    ### `crates/dot11` (`vitrine-dot11`)\nParsing.\n\n\
    ### `crates/aggregate` (`vitrine-aggregate`)\n\n\
    ### `crates/schema` (`vitrine-schema`)\n\n\
    ### `crates/audit` (`vitrine-audit`)\n\n\
    ### `crates/vitrined`\n\n\
    ### `crates/reverse` (`vitrine-reverse`, the proof)\n\n\
    ### `crates/xtask`\n\n\
    ### `vendor/`\n\n\
    ## Cross-cutting concerns\n\n### `crates/elsewhere`\n";

const TIDY_MANIFEST: &str = "[package]\nname = \"x\"\n\n[lints]\nworkspace = true\n";

/// The made-up workspace, tidy.
fn workspace() -> Inputs {
    inputs_of(&crates())
}

fn inputs_of(crates: &[Value]) -> Inputs {
    let (packages, marker_errors) = packages(&metadata(crates)).unwrap();
    let manifests = packages
        .iter()
        .map(|p| (p.dir.clone(), TIDY_MANIFEST.to_string()))
        .collect();
    let tree = |lines: &[&str]| lines.join("\n") + "\n";
    Inputs {
        packages,
        marker_errors,
        files: FILES
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect(),
        root_manifest: "[workspace.lints.rust]\nunsafe_code = \"deny\"\n".into(),
        manifests,
        trees: BTreeMap::from([
            (
                "vitrine-audit".to_string(),
                tree(&[
                    "vitrine-audit v0.1.0 (/ws/crates/audit)",
                    "anyhow v1.0.100",
                    "vitrine-schema v0.1.0 (/ws/crates/schema)",
                    "serde v1.0.228",
                    "serde_derive v1.0.228 (proc-macro)",
                    "serde v1.0.228 (*)",
                ]),
            ),
            (
                "vitrined".to_string(),
                tree(&["vitrined v0.1.0 (/ws/crates/vitrined)", "anyhow v1.0.100"]),
            ),
        ]),
        locked: ["anyhow", "clap", "serde", "rumqttd", "thiserror"]
            .map(String::from)
            .into(),
        architecture: CODE_MAP.into(),
    }
}

fn file<'a>(inputs: &'a mut Inputs, path: &str) -> &'a mut String {
    inputs.files.get_mut(Path::new(path)).unwrap()
}

fn package_mut<'a>(inputs: &'a mut Inputs, name: &str) -> &'a mut Package {
    inputs.packages.iter_mut().find(|p| p.name == name).unwrap()
}

fn places(found: &[Violation], rule: Rule) -> Vec<&str> {
    found
        .iter()
        .filter(|v| v.rule == rule)
        .map(|v| v.place.as_str())
        .collect()
}

#[test]
fn the_made_up_workspace_is_tidy() {
    // Test code, integration tests and examples print and use serde and
    // anyhow; binaries use anyhow and clap; the aggregator reaches serde
    // only through the schema crate; words in comments and strings are not
    // code. None of it is a violation.
    let found = check(&workspace());
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_crate_before_the_summary_that_depends_on_serde_is_refused() {
    let mut ws = workspace();
    package_mut(&mut ws, "vitrine-dot11")
        .normal_deps
        .push("serde".into());
    package_mut(&mut ws, "vitrine-aggregate")
        .normal_deps
        .push("serde_json".into());
    // The schema crate is not before the summary: its serde is its job.
    package_mut(&mut ws, "vitrine-schema")
        .normal_deps
        .push("serde_json".into());
    let found = check(&ws);
    assert_eq!(
        places(&found, Rule::NoSerdeBeforeSummary),
        ["crates/aggregate/Cargo.toml", "crates/dot11/Cargo.toml"],
        "{found:#?}"
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[1].message.contains("vitrine-dot11"));
    assert!(
        found[1]
            .to_string()
            .starts_with("[a. no serde before the summary]")
    );
}

#[test]
fn a_serialize_derive_before_the_summary_is_refused_at_its_line() {
    let mut ws = workspace();
    file(&mut ws, "crates/aggregate/src/window.rs")
        .push_str("#[derive(\n    Debug,\n    Serialize,\n)]\npub struct Window;\n");
    let found = check(&ws);
    assert_eq!(
        places(&found, Rule::NoSerdeBeforeSummary),
        ["crates/aggregate/src/window.rs:4"],
        "{found:#?}"
    );
    assert_eq!(found.len(), 1);
}

#[test]
fn a_test_module_made_ordinary_counts_again() {
    // What exempts the inline test module is its #[cfg(test)]: without it
    // the println! inside counts.
    let mut ws = workspace();
    let lib = file(&mut ws, "crates/dot11/src/lib.rs");
    *lib = lib.replacen("#[cfg(test)]\nmod inline", "mod inline", 1);
    let found = check(&ws);
    assert_eq!(
        places(&found, Rule::Library),
        ["crates/dot11/src/lib.rs:6"],
        "{found:#?}"
    );
}

#[test]
fn a_library_with_anyhow_clap_or_printing_is_refused() {
    let mut ws = workspace();
    file(&mut ws, "crates/dot11/src/radiotap.rs").push_str(
        "pub fn read() -> anyhow::Result<()> {\n    eprintln!(\"read\");\n    \
         std::println! (\"again\");\n    let print = 1; let _ = print != 2;\n    Ok(())\n}\n",
    );
    // The library of a crate with a binary is checked as well, its
    // main.rs not.
    file(&mut ws, "crates/audit/src/emit/mod.rs").push_str("use clap::Args;\n");
    // A library alone must not even depend on them.
    package_mut(&mut ws, "vitrine-reverse")
        .normal_deps
        .push("clap".into());
    let found = check(&ws);
    assert_eq!(
        places(&found, Rule::Library),
        [
            "crates/audit/src/emit/mod.rs:2",
            "crates/dot11/src/radiotap.rs:4",
            "crates/dot11/src/radiotap.rs:5",
            "crates/dot11/src/radiotap.rs:6",
            "crates/reverse/Cargo.toml",
        ],
        "{found:#?}"
    );
    assert_eq!(found.len(), 5, "{found:#?}");
}

#[test]
fn library_may_use_tolerates_what_it_lists_and_must_shrink() {
    // vitrined's library uses anyhow, which its marker lists; listing
    // "print" too, which it does not use, is refused.
    let mut crates = crates();
    crates[4]["metadata"]["vitrine"]["library-may-use"] = json!(["anyhow", "print"]);
    let found = check(&inputs_of(&crates));
    assert_eq!(
        places(&found, Rule::Library),
        ["crates/vitrined/Cargo.toml"]
    );
    assert!(found[0].message.contains("\"print\""), "{found:#?}");
    // Without the marker, its anyhow is refused.
    crates[4]["metadata"] = json!({"vitrine": {"never-depends-on": ["rumqttd"]}});
    let found = check(&inputs_of(&crates));
    assert_eq!(
        places(&found, Rule::Library),
        ["crates/vitrined/src/lib.rs:1"]
    );
}

#[test]
fn a_forbidden_package_in_the_dependency_graph_is_refused() {
    let mut ws = workspace();
    ws.trees
        .get_mut("vitrine-audit")
        .unwrap()
        .push_str("vitrined v0.1.0 (/ws/crates/vitrined)\n");
    ws.trees
        .get_mut("vitrined")
        .unwrap()
        .push_str("rumqttd v0.20.0\n");
    let found = check(&ws);
    assert_eq!(
        places(&found, Rule::DependencyGraph),
        ["crates/audit/Cargo.toml", "crates/vitrined/Cargo.toml"],
        "{found:#?}"
    );
    assert!(
        found[0]
            .message
            .starts_with("vitrined is in the normal dependency graph of vitrine-audit")
    );
    assert!(found[1].message.starts_with("rumqttd is in"));
}

#[test]
fn a_forbidden_name_that_names_nothing_is_refused() {
    // After a rename, the rule would hold for a name that no longer exists.
    let mut ws = workspace();
    package_mut(&mut ws, "vitrine-audit")
        .marker
        .never_depends_on
        .push("vitrine-daemon".into());
    let found = check(&ws);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("\"vitrine-daemon\""));
    assert!(found[0].message.contains("renamed?"));
}

#[test]
fn the_code_map_names_every_crate_under_crates() {
    let mut ws = workspace();
    ws.architecture = CODE_MAP
        .replace("### `crates/xtask`\n", "")
        .replace("(`vitrine-aggregate`)", "(`vitrine-window`)")
        .replace("### `vendor/`", "### `crates/gone` (`vitrine-gone`)");
    let found = check(&ws);
    let messages: Vec<(&str, &str)> = found
        .iter()
        .map(|v| (v.place.as_str(), v.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                "docs/ARCHITECTURE.md",
                "the code map has no heading for xtask: \"### `crates/xtask` (`xtask`)\""
            ),
            (
                "docs/ARCHITECTURE.md:19",
                "the code map names `crates/gone`, which is no workspace crate"
            ),
            (
                "docs/ARCHITECTURE.md:8",
                "the heading of `crates/aggregate` names `vitrine-window`; the crate is vitrine-aggregate"
            ),
        ]
    );
    // Without a code map at all.
    ws.architecture = "# Architecture\n".into();
    assert_eq!(places(&check(&ws), Rule::CodeMap), ["docs/ARCHITECTURE.md"]);
}

#[test]
fn unsafe_code_is_allowed_only_in_the_files_listed() {
    let mut ws = workspace();
    file(&mut ws, "crates/dot11/src/radiotap.rs")
        .push_str("#[allow(dead_code, unsafe_code)]\nfn raw() {}\n");
    ws.manifests.insert(
        PathBuf::from("crates/schema"),
        "[package]\nname = \"vitrine-schema\"\n".into(),
    );
    let found = check(&ws);
    assert_eq!(
        places(&found, Rule::Unsafe),
        ["crates/dot11/src/radiotap.rs:4", "crates/schema/Cargo.toml"],
        "{found:#?}"
    );
    // The kernel unlisted, and a listing of a file without unsafe.
    let mut ws = workspace();
    package_mut(&mut ws, "vitrine-reverse").marker.unsafe_in = vec!["src/lib.rs".into()];
    ws.root_manifest = "[workspace.lints.rust]\nunsafe_code = \"warn\"\n".into();
    let found = check(&ws);
    let messages: Vec<String> = found.iter().map(|v| v.to_string()).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(messages[0].contains("Cargo.toml: [workspace.lints.rust] does not deny"));
    assert!(messages[1].contains(
        "crates/reverse/Cargo.toml: vitrine-reverse: unsafe-in lists crates/reverse/src/lib.rs"
    ));
    assert!(messages[2].contains("crates/reverse/src/kernel.rs:1: allows unsafe_code"));
}

#[test]
fn markers_with_unknown_keys_or_values_are_refused() {
    // A typo must not switch a rule off quietly.
    let mut crates = crates();
    crates[0]["metadata"] = json!({"vitrine": {"stage": "before-sumary"}});
    crates[2]["metadata"] = json!({"vitrine": {"stages": "before-summary"}});
    crates[4]["metadata"]["vitrine"]["library-may-use"] = json!(["tracing"]);
    let found = check(&inputs_of(&crates));
    let markers: Vec<&Violation> = found.iter().filter(|v| v.rule == Rule::Marker).collect();
    assert_eq!(markers.len(), 3, "{found:#?}");
    assert!(markers[0].message.contains("stage = \"before-sumary\""));
    assert!(markers[1].message.contains("unknown key \"stages\""));
    assert!(
        markers[2]
            .message
            .contains("library-may-use = [\"tracing\"]")
    );
}

#[test]
fn a_module_whose_file_is_missing_is_reported() {
    let mut ws = workspace();
    file(&mut ws, "crates/aggregate/src/lib.rs").push_str("mod linker;\n");
    let found = check(&ws);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].place, "crates/aggregate/src/lib.rs:3");
    assert!(found[0].message.contains("`mod linker;`"));
}

#[test]
fn comments_and_literals_are_blanked_and_lines_kept() {
    let src = "let a = \"anyhow\"; // println!\nlet b = br##\"x\"# \"##; let c = b'\\'';\n\
               /* one /* two */ still */ fn f<'a>(x: &'a u8) -> char { '\"' }\nclap";
    let code = strip(src);
    assert_eq!(code.lines().count(), src.lines().count());
    let kept: Vec<&str> = words(&code).map(|(_, w)| w).collect();
    assert_eq!(
        kept,
        [
            "let", "a", "let", "b", "let", "c", "fn", "f", "a", "x", "a", "u8", "char", "clap"
        ]
    );
    let (offset, _) = words(&code).last().unwrap();
    assert_eq!(at(Path::new("f.rs"), &code, offset), "f.rs:4");
}

#[test]
fn a_test_only_item_ends_where_it_ends() {
    let code = "#[cfg(test)]\nuse a::{b, c};\nfn kept() {}\n#[cfg(test)]\n#[allow(x)]\nmod t { fn in_t() {} }\nfn also_kept() {}\n\
                struct S {\n    #[cfg(test)]\n    f: u8,\n    g: u8,\n}\n";
    let live = without_test_items(code);
    let kept: Vec<&str> = words(&live).map(|(_, w)| w).collect();
    assert_eq!(
        kept,
        ["fn", "kept", "fn", "also_kept", "struct", "S", "g", "u8"]
    );
    assert_eq!(live.len(), code.len());
    // A file under #![cfg(test)] is test code throughout.
    assert!(
        without_test_items("#![cfg(test)]\nfn t() {}\n")
            .trim()
            .is_empty()
    );
}

#[test]
fn the_workspace_is_tidy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let inputs = inputs(&root.canonicalize().unwrap()).unwrap();
    // The checks saw the workspace: its crates, their sources, and the
    // graphs of the crates with forbidden dependencies.
    assert!(inputs.packages.len() > 10);
    assert!(inputs.files.len() > 50);
    assert!(!inputs.trees.is_empty());
    let found = check(&inputs);
    assert!(
        found.is_empty(),
        "{}",
        found
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
