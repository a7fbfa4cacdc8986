//! keys.on_disk by content, through the real binary: settings named like a
//! key or salt in INI, TOML, YAML, JSON and env files, and lone tokens
//! beside a file of hashed identifiers, each named by file and line and
//! never by value; near misses and this machine's /etc are not findings.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use vitrine_canary::Registry;

fn registry(dir: &Path) -> PathBuf {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut reg = Registry::generate(2, 1, &[[0x3c, 0x22, 0xfb]], &mut rng);
    reg.mark_emitted(OffsetDateTime::now_utc() - time::Duration::seconds(10));
    let path = dir.join("canaries.json");
    reg.save(&path).unwrap();
    path
}

/// `vitrine-audit scan ROOTS... --json`: the report and its raw text.
fn scan(dir: &Path, roots: &[&Path]) -> (Value, String) {
    let registry = registry(dir);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitrine-audit"));
    cmd.arg("scan");
    for r in roots {
        cmd.arg(r);
    }
    cmd.arg("--registry")
        .arg(registry)
        .arg("--key")
        .arg(dir.join("report-key"))
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--json");
    let out = cmd.output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (v["report"].clone(), text)
}

/// keys.on_disk findings as (path, detail).
fn key_findings(report: &Value) -> Vec<(String, String)> {
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "keys.on_disk")
        .unwrap_or_else(|| panic!("no keys.on_disk in {report:#}"));
    check["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["evidence"]["path"].as_str().unwrap_or("").to_string(),
                        f["evidence"]["detail"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Asserts one finding names `file:line`, and none other names that file.
fn found_at(findings: &[(String, String)], file: &str, line: usize) {
    let of_file: Vec<_> = findings
        .iter()
        .filter(|(p, _)| Path::new(p).file_name().is_some_and(|n| n == file))
        .collect();
    assert_eq!(of_file.len(), 1, "{file}: {findings:#?}");
    assert!(
        of_file[0].1.starts_with(&format!("{file}:{line}:")),
        "{file}:{line}: {findings:#?}"
    );
}

const SALT: &str = "5f0e9c2ab7d14e83a6c0f19b2d7e4a38";

#[test]
fn a_salt_in_a_vendor_config_beside_salted_hashes_is_found_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let vendor = root.join("opt/vendor");
    write(
        &vendor.join("config.ini"),
        &format!(
            "; tracker settings\n[tracker]\ninterface = wlan0\nchannel = 6\n\n[privacy]\nsalt = {SALT}\nretention_days = 30\n"
        ),
    );
    let mut csv = String::from("ts,device,rssi\n");
    for i in 0..40u8 {
        let mac = format!("3c:22:fb:00:00:{i:02x}");
        let h = Sha256::digest(format!("{SALT}{mac}").as_bytes());
        csv += &format!(
            "2026-11-25T10:{i:02}:00Z,{},-{}\n",
            hex(&h),
            40 + u32::from(i)
        );
    }
    write(&vendor.join("visits.csv"), &csv);
    let (report, text) = scan(dir.path(), &[&root]);
    let findings = key_findings(&report);
    found_at(&findings, "config.ini", 7);
    assert!(!text.contains(SALT), "the value is in the report");
    assert_eq!(report["verdict"], "fail");
}

#[test]
fn keys_under_key_like_names_are_found_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let pepper = "Q2hpY2tlbk5vb2RsZVNvdXAxMjM0NTY3ODkw";
    let yaml_salt = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4";
    let secret = "kL9xQ2mZ7vPc4tYw1KsN8gRb3HdJ6fEa";
    let env_salt = "7c0d5e1f9a3b8c2d6e4f0a1b5c9d3e7f2a6b0c4d8e1f5a9b3c7d0e4f8a2b6c1d";
    write(
        &root.join("etc/vendor/tracker.toml"),
        &format!(
            "title = \"tracker\"\n\n[capture]\nchannel = 6\n\n[hashing]\npepper = \"{pepper}\"\nalgorithm = \"sha256\"\n"
        ),
    );
    write(
        &root.join("etc/vendor/anon.yaml"),
        &format!("anonymizer:\n  enabled: true\n  hash_salt: {yaml_salt}\n"),
    );
    write(
        &root.join("etc/vendor/settings.json"),
        &format!(
            "{{\n  \"site\": \"store 12\",\n  \"anonymizer\": {{\n    \"secret\": \"{secret}\"\n  }}\n}}\n"
        ),
    );
    write(
        &root.join("srv/app/.env"),
        &format!("LOG_LEVEL=info\nexport MAC_SALT={env_salt}\n"),
    );
    let (report, text) = scan(dir.path(), &[&root]);
    let findings = key_findings(&report);
    found_at(&findings, "tracker.toml", 7);
    found_at(&findings, "anon.yaml", 3);
    found_at(&findings, "settings.json", 4);
    found_at(&findings, ".env", 2);
    assert_eq!(findings.len(), 4, "{findings:#?}");
    for v in [pepper, yaml_salt, secret, env_salt] {
        assert!(!text.contains(v), "a value is in the report");
    }
    assert!(findings.iter().any(|(_, d)| d.contains("[hashing] pepper")));
    assert!(
        findings
            .iter()
            .any(|(_, d)| d.contains("anonymizer.secret"))
    );
}

#[test]
fn near_misses_are_not_findings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    write(
        &root.join("etc/vendor/config.ini"),
        "[hashing]\nsalt = true\nkey = /etc/ssl/private/x.pem\nkeyboard = de-latin1-nodeadkeys\nmonkey = 9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a90\nseed = 42\nkey_file = keys/hmac.key\nsecret = changeme\n",
    );
    write(
        &root.join("etc/vendor/models.toml"),
        "[table.visits]\nprimary_key = \"id\"\nsession = \"3b1f0c2e-9a7d-4c55-8e21-6f0a9d3b7c14\"\nhash = \"sha256\"\n",
    );
    write(
        &root.join("etc/vendor/device.json"),
        "{\"device\": {\"uuid\": \"3b1f0c2e-9a7d-4c55-8e21-6f0a9d3b7c14\", \"public_key\": \"MCowBQYDK2VwAyEAq3Jx9LmZ0vPc7tYw2KsN8g4Hb1\", \"api_key_url\": \"https://example.org/k\"}}\n",
    );
    write(
        &root.join("etc/vendor/keys.yaml"),
        "keys:\n  rotation: daily\n  store: /var/lib/vendor\n# salt: 5f0e9c2ab7d14e83a6c0f19b2d7e4a38\n",
    );
    // A web service's credential is a secret, not a pseudonym key: set
    // aside with its line, like Debian's chromium.d/apikeys.
    let api = "AIzaSyB4x9Lq2mZ7vPc4tYw1KsN8gRb3HdJ6fE";
    write(
        &root.join("etc/browser.d/apikeys"),
        &format!("# keys for the browser\nexport GOOGLE_API_KEY=\"{api}\"\n"),
    );
    // C code in documentation.
    write(
        &root.join("usr/share/doc/lib/README.md"),
        "\t.key = cbor_move(cbor_build_uint8(42)),\n",
    );
    let (report, text) = scan(dir.path(), &[&root]);
    assert_eq!(key_findings(&report), vec![], "{report:#}");
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "keys.on_disk")
        .unwrap();
    let aside = check["set_aside"]["listed"].as_array().unwrap();
    assert!(
        aside
            .iter()
            .any(|p| p["path"].as_str().unwrap().ends_with("apikeys")
                && p["reason"].as_str().unwrap().starts_with("apikeys:2:")),
        "{check:#}"
    );
    assert!(!text.contains(api));
}

#[test]
fn a_lone_token_beside_hashed_identifiers_is_found_and_elsewhere_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let token = "Xk3vB9qL2mPz7cRt5wYh8nJd4fGs6aE1";
    let mut digests = String::new();
    for i in 0..20u32 {
        digests += &format!("{}\n", hex(&Sha256::digest(i.to_le_bytes())));
    }
    write(&root.join("var/lib/vendor/seen.txt"), &digests);
    write(&root.join("var/lib/vendor/state"), &format!("{token}\n"));
    // The same token in a folder without hashed identifiers.
    write(&root.join("var/lib/other/state"), &format!("{token}\n"));
    let (report, text) = scan(dir.path(), &[&root]);
    let findings = key_findings(&report);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(findings[0].0.ends_with("var/lib/vendor/state"));
    assert!(findings[0].1.starts_with("state:1:"));
    assert!(findings[0].1.contains("seen.txt"));
    assert!(!text.contains(token));
}

/// This machine's configuration holds no pseudonym key: whatever is found
/// in /etc and in the documentation is a false positive. Read-only.
#[test]
fn this_machines_etc_and_documentation_give_no_key_finding() {
    let dir = tempfile::tempdir().unwrap();
    let roots: Vec<&Path> = ["/etc", "/usr/share/doc"]
        .iter()
        .map(Path::new)
        .filter(|p| p.is_dir())
        .collect();
    let (report, _) = scan(dir.path(), &roots);
    assert_eq!(key_findings(&report), vec![], "{report:#}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
