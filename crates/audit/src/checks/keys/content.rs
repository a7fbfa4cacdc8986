//! Key material by content: settings named like a key or salt in INI, TOML,
//! YAML, JSON and env files, and lone high-entropy lines in a folder that
//! also holds hashed identifiers. Findings name the file and line, never the
//! value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files larger than this are not configuration.
const CONFIG_MAX: usize = 1 << 20;

/// A file with more non-empty lines than this is not a key file, even
/// beside hashed identifiers (logs, scripts, signatures).
const LONE_LINES_MAX: usize = 16;

/// Lines sampled to tell a file of hashed identifiers.
const DIGEST_SAMPLE: usize = 64 << 10;

/// One piece of key material found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// 1-based line.
    pub line: usize,
    /// The setting's name (dotted for nested JSON, with its section), if any.
    pub name: Option<String>,
    /// What the value looks like, in words (never the value).
    pub form: String,
    /// Under a service credential's name: set aside, not a finding.
    pub credential: bool,
}

/// What one file tells about key material.
#[derive(Debug, Default)]
pub struct Seen {
    /// Values under key-like names: findings wherever they are.
    pub named: Vec<Hit>,
    /// Lone high-entropy lines: findings only beside hashed identifiers.
    pub lone: Vec<Hit>,
    /// The file holds hashed identifiers (many 32/40/64/128-digit hex digests).
    pub digests: bool,
}

impl Seen {
    pub fn is_empty(&self) -> bool {
        self.named.is_empty() && self.lone.is_empty() && !self.digests
    }
}

/// Looks at a file's bytes (`whole` when it was read whole, else its head).
pub fn examine(path: &Path, head: &[u8], whole: Option<&[u8]>) -> Seen {
    let mut seen = Seen::default();
    let data = whole.unwrap_or(head);
    let sample = &data[..data.len().min(DIGEST_SAMPLE)];
    if sample.contains(&0) {
        // Binary: a short file of random bytes may still be a key beside
        // hashed identifiers.
        if let Some(whole) = whole
            && (16..=64).contains(&whole.len())
            && random_bytes(whole)
        {
            seen.lone.push(Hit {
                line: 1,
                name: None,
                form: format!("{} raw bytes of high entropy", whole.len()),
                credential: false,
            });
        }
        return seen;
    }
    seen.digests = holds_digests(sample, whole.is_none());
    let Some(text) = whole
        .filter(|w| w.len() <= CONFIG_MAX)
        .and_then(|w| std::str::from_utf8(w).ok())
    else {
        return seen;
    };
    if looks_like_json(path, text) {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            json(text, &value, None, &mut seen.named);
        }
    } else {
        lines(text, &mut seen);
    }
    if seen.digests {
        seen.lone.clear();
    }
    seen
}

fn looks_like_json(path: &Path, text: &str) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    matches!(ext.as_deref(), Some("json"))
        || matches!(text.trim_start().as_bytes().first(), Some(b'{'))
}

/// Walks a JSON value; strings under a key-like name (or in an array under
/// one) that look like key material are hits, at the line of their first
/// occurrence in the text.
fn json(text: &str, v: &serde_json::Value, name: Option<&str>, hits: &mut Vec<Hit>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let full = match name {
                    Some(n) => format!("{n}.{k}"),
                    None => k.clone(),
                };
                json(text, child, Some(&full), hits);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| json(text, i, name, hits)),
        Value::String(s) => {
            let Some(name) = name else { return };
            let last = name.rsplit('.').next().unwrap_or(name);
            if !key_name(last) {
                return;
            }
            let Some(form) = key_material(s) else { return };
            let encoded = serde_json::to_string(s).unwrap_or_default();
            let line = text
                .find(&encoded)
                .map_or(1, |at| text[..at].matches('\n').count() + 1);
            hits.push(Hit {
                line,
                name: Some(name.to_string()),
                form,
                credential: credential_name(name),
            });
        }
        _ => {}
    }
}

/// `name = value` (INI, TOML, env, `export NAME=value`), `name: value`
/// (YAML) and `"name": "value",` (JSON that did not parse), one a line;
/// sections (`[hashing]`) are kept for the name shown. A lone token on a
/// line of a short file is noted for the beside-digests rule.
fn lines(text: &str, seen: &mut Seen) {
    let mut section = String::new();
    let mut pem = false;
    let nonempty = text.lines().filter(|l| !l.trim().is_empty()).count();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with("-----BEGIN ") {
            pem = true;
            continue;
        }
        if line.starts_with("-----END ") {
            pem = false;
            continue;
        }
        // PEM bodies are certificates and the system's own identity keys
        // (ssh host keys, TLS keys), not pseudonym keys.
        if pem || line.is_empty() || is_comment(line) {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            continue;
        }
        match assignment(line) {
            Some((name, value)) => {
                let value = unquote(strip_comment(value));
                // systemd's `Environment=MAC_SALT=... OTHER=...`.
                if name.eq_ignore_ascii_case("environment") {
                    for (n, v) in value.split_whitespace().filter_map(|w| w.split_once('=')) {
                        if key_name(n)
                            && let Some(form) = key_material(unquote(v))
                        {
                            seen.named.push(Hit {
                                line: i + 1,
                                name: Some(n.chars().take(80).collect()),
                                form,
                                credential: credential_name(n),
                            });
                        }
                    }
                    continue;
                }
                if key_name(name) {
                    if let Some(form) = key_material(value) {
                        let shown = if section.is_empty() {
                            name.to_string()
                        } else {
                            format!("[{section}] {name}")
                        };
                        seen.named.push(Hit {
                            line: i + 1,
                            name: Some(shown.chars().take(80).collect()),
                            form,
                            credential: credential_name(name),
                        });
                    }
                } else if nonempty <= LONE_LINES_MAX
                    && !digest_name(name)
                    && let Some(form) = key_material(value)
                {
                    seen.lone.push(Hit {
                        line: i + 1,
                        name: Some(name.chars().take(80).collect()),
                        form,
                        credential: false,
                    });
                }
            }
            None if nonempty <= LONE_LINES_MAX => {
                if let Some(form) = key_material(unquote(line)) {
                    seen.lone.push(Hit {
                        line: i + 1,
                        name: None,
                        form,
                        credential: false,
                    });
                }
            }
            None => {}
        }
    }
}

fn is_comment(line: &str) -> bool {
    line.starts_with('#') || line.starts_with(';') || line.starts_with("//")
}

/// Splits `name = value`, `name: value`, `NAME=value`; the name must be an
/// identifier (letters, digits, `_ - .`), quotes allowed around it.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let line = line.strip_prefix("export ").unwrap_or(line);
    let line = line.strip_prefix("- ").unwrap_or(line).trim_start();
    let at = line.find(['=', ':'])?;
    let name = line[..at].trim().trim_matches(|c| c == '"' || c == '\'');
    // Identifiers start with a letter or `_` (not C's `.key =`).
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok {
        return None;
    }
    // `a := b`, `a == b` and YAML's `a: |` are not settings with a value.
    let value = line[at + 1..].trim();
    let value = value.strip_prefix('=').map_or(value, str::trim);
    Some((name, value.trim_end_matches(',')))
}

/// INI and shell comments after a value: ` ;...` or ` #...`.
fn strip_comment(v: &str) -> &str {
    let cut = [" #", " ;", "\t#", "\t;"]
        .iter()
        .filter_map(|c| v.find(c))
        .min()
        .unwrap_or(v.len());
    v[..cut].trim()
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// The parts of a name: split on `_ - .` and at lower-to-upper case changes,
/// lowercased (`apiKey` and `API_KEY` give `api`, `key`).
fn parts(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A name that says key or salt: a part is salt, pepper, secret, key, seed,
/// hmac or a run-together form of one (`hashkey`, `macsalt`), and no part
/// says the value is about the key rather than the key (its path, id, size,
/// a public half, a database key).
pub fn key_name(name: &str) -> bool {
    const WORDS: [&str; 8] = [
        "salt", "salts", "pepper", "secret", "key", "keys", "seed", "hmac",
    ];
    // Run-together names; `key` alone is not a suffix (monkey, hotkey).
    const SUFFIXES: [&str; 3] = ["salt", "pepper", "secret"];
    const COMPOUNDS: [&str; 10] = [
        "apikey",
        "hashkey",
        "hmackey",
        "secretkey",
        "privkey",
        "signkey",
        "signingkey",
        "enckey",
        "cryptkey",
        "masterkey",
    ];
    const ABOUT: [&str; 28] = [
        "file",
        "path",
        "dir",
        "url",
        "uri",
        "name",
        "id",
        "ids",
        "len",
        "length",
        "size",
        "bits",
        "type",
        "alg",
        "algorithm",
        "format",
        "public",
        "pub",
        "fingerprint",
        "primary",
        "foreign",
        "sort",
        "partition",
        "cache",
        "host",
        "server",
        "ring",
        "store",
    ];
    let parts = parts(name);
    let says_key = parts.iter().any(|p| {
        WORDS.contains(&p.as_str())
            || COMPOUNDS.contains(&p.as_str())
            || SUFFIXES.iter().any(|s| p.ends_with(s))
    });
    says_key && !parts.iter().any(|p| ABOUT.contains(&p.as_str()))
}

/// A key-like name of a web service's credential (`GOOGLE_API_KEY`,
/// `CLIENT_SECRET`, `access_token`): a secret, but not one that turns
/// pseudonyms back into MACs. Set aside, not a finding.
pub fn credential_name(name: &str) -> bool {
    const WORDS: [&str; 9] = [
        "api", "apikey", "client", "oauth", "access", "token", "auth", "bearer", "password",
    ];
    parts(name).iter().any(|p| WORDS.contains(&p.as_str()))
}

/// Names of digests and identifiers (`sha256`, `checksum`, `uuid`): their
/// values are not keys even beside hashed identifiers.
fn digest_name(name: &str) -> bool {
    const WORDS: [&str; 13] = [
        "md5",
        "sha1",
        "sha256",
        "sha512",
        "hash",
        "digest",
        "checksum",
        "sum",
        "id",
        "uuid",
        "guid",
        "fingerprint",
        "etag",
    ];
    parts(name)
        .iter()
        .any(|p| WORDS.contains(&p.as_str()) || p.ends_with("sum") || p.ends_with("id"))
}

/// What a value looks like when it is 16 to 64 bytes of secret: hex of 32
/// to 128 digits, base64 of 22 to 88 characters, a UUID, or a long string
/// of high entropy; `None` for paths, URLs, numbers, booleans and words.
pub fn key_material(v: &str) -> Option<String> {
    let v = v.trim();
    if v.len() < 16 || v.len() > 130 || v.contains(char::is_whitespace) {
        return None;
    }
    if v.contains("://")
        || v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("~/")
        || v.contains("${")
        || v.contains("%(")
    {
        return None;
    }
    let hex = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    // A long number is not a key (32 random hex digits are all decimal once
    // in three million).
    if hex.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let bytes = hex.len() / 2;
        // Placeholders (all zeros, `0123456789abcdef` repeated) are not keys.
        return ((16..=64).contains(&bytes)
            && hex.len().is_multiple_of(2)
            && distinct(hex.as_bytes()) >= 8
            && !hex.to_ascii_lowercase().contains("0123456789abcdef"))
        .then(|| format!("{bytes} bytes as hex"));
    }
    if is_uuid(v) {
        return Some("a UUID (16 bytes)".to_string());
    }
    let b64 = v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    let body = v.trim_end_matches('=');
    let classes = [
        body.bytes().any(|b| b.is_ascii_uppercase()),
        body.bytes().any(|b| b.is_ascii_lowercase()),
        body.bytes().any(|b| b.is_ascii_digit()),
        body.bytes().any(|b| matches!(b, b'+' | b'/' | b'-' | b'_')),
    ]
    .iter()
    .filter(|&&c| c)
    .count();
    if b64 {
        let bytes = body.len() * 3 / 4;
        // Random base64 mixes cases and digits; identifiers and words
        // (`snake_case_name`, `CamelCaseName`) do not.
        let mixed = body.bytes().any(|b| b.is_ascii_digit())
            && body.bytes().any(|b| b.is_ascii_uppercase())
            && body.bytes().any(|b| b.is_ascii_lowercase());
        return ((16..=64).contains(&bytes)
            && mixed
            && classes >= 3
            && distinct(body.as_bytes()) >= body.len().min(40) / 2
            && !wordy(body))
        .then(|| format!("{bytes} bytes as base64"));
    }
    // Any other printable token: long, mixed and of high entropy.
    // Brackets, quotes, separators, `::`, `->` and a leading sigil
    // (`&p256::OPS`, `$VAR`) are code or markup, not a secret.
    let code = v.contains("::") || v.contains("->") || v.starts_with(['&', '*', '$', '@', '%']);
    (v.len() >= 20
        && !code
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()[]{}<>;,\"'`\\".contains(&b))
        && classes >= 3
        && v.bytes().filter(u8::is_ascii_digit).count() >= 2
        && entropy(v.as_bytes()) >= 4.0
        && !wordy(v))
    .then(|| format!("a {}-character string of high entropy", v.len()))
}

fn is_uuid(v: &str) -> bool {
    let groups: Vec<&str> = v.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Made of words: three quarters of the characters are in pieces of 3 or
/// more, a piece being a run of one case or of digits (a capital may lead
/// lower case): `NID_pbe_WithSHA1And3_Key_TripleDES_CBC`, `CamelCaseName`.
/// Random base64 falls into short pieces (1.5% of 16-byte values, 0.1% of
/// 32-byte ones, are taken for words).
fn wordy(v: &str) -> bool {
    let mut long = 0;
    let mut piece: Vec<u8> = Vec::new();
    let mut flush = |piece: &mut Vec<u8>| {
        if piece.len() >= 3 {
            long += piece.len();
        }
        piece.clear();
    };
    for c in v.bytes() {
        if !c.is_ascii_alphanumeric() {
            flush(&mut piece);
            continue;
        }
        if let Some(&p) = piece.last() {
            let goes_on = (p.is_ascii_digit() && c.is_ascii_digit())
                || (p.is_ascii_lowercase() && c.is_ascii_lowercase())
                || (p.is_ascii_uppercase() && c.is_ascii_uppercase())
                || (p.is_ascii_uppercase() && c.is_ascii_lowercase() && piece.len() == 1);
            if !goes_on {
                flush(&mut piece);
            }
        }
        piece.push(c);
    }
    flush(&mut piece);
    long * 4 >= v.len() * 3
}

fn distinct(b: &[u8]) -> usize {
    let mut seen = [false; 256];
    b.iter().for_each(|&x| seen[usize::from(x)] = true);
    seen.iter().filter(|&&s| s).count()
}

/// Shannon entropy in bits per byte.
fn entropy(b: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    b.iter().for_each(|&x| counts[usize::from(x)] += 1);
    let n = b.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// 16 to 64 bytes that look random: many distinct values, many outside
/// printable text.
fn random_bytes(b: &[u8]) -> bool {
    let binary = b
        .iter()
        .filter(|x| !(x.is_ascii_graphic() || x.is_ascii_whitespace()))
        .count();
    distinct(b) >= b.len() / 2 && binary * 4 >= b.len()
}

/// Many lines holding a hex digest (32, 40, 64 or 128 digits standing
/// alone): at least 3, and half of the lines (a header or a cut last line
/// aside).
fn holds_digests(sample: &[u8], cut: bool) -> bool {
    let text = String::from_utf8_lossy(sample);
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if cut || sample.len() == DIGEST_SAMPLE {
        lines.pop();
    }
    let with = lines
        .iter()
        .filter(|l| {
            l.split(|c: char| !c.is_ascii_alphanumeric()).any(|t| {
                matches!(t.len(), 32 | 40 | 64 | 128) && t.bytes().all(|b| b.is_ascii_hexdigit())
            })
        })
        .count();
    with >= 3 && with * 2 >= lines.len().saturating_sub(1)
}

/// Folders holding hashed identifiers, and lone tokens waiting to learn
/// whether their folder holds some (files are seen in any order).
#[derive(Debug, Default)]
pub struct Beside {
    digest_dirs: BTreeMap<PathBuf, String>,
    lone: Vec<(PathBuf, Hit)>,
    named: BTreeSet<(PathBuf, usize)>,
}

impl Beside {
    /// Notes a file's hits; returns those to report now (named settings).
    pub fn add(&mut self, path: &Path, seen: Seen) -> Vec<Hit> {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if seen.digests {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.digest_dirs.entry(dir).or_insert(name);
        }
        for h in &seen.named {
            self.named.insert((path.to_path_buf(), h.line));
        }
        self.lone
            .extend(seen.lone.into_iter().map(|h| (path.to_path_buf(), h)));
        seen.named
    }

    /// Lone tokens in folders that hold hashed identifiers, with the digest
    /// file they sit beside; lines already reported by name are left out.
    pub fn finish(self) -> Vec<(PathBuf, Hit, String)> {
        self.lone
            .into_iter()
            .filter(|(p, h)| !self.named.contains(&(p.clone(), h.line)))
            .filter_map(|(p, h)| {
                let dir = p.parent()?;
                let digests = self.digest_dirs.get(dir)?;
                Some((p.clone(), h, digests.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_salt_in_a_systemd_environment_line_is_found() {
        let unit = "[Service]\nEnvironment=LOG=info MAC_SALT=9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a90\n";
        let seen = examine(Path::new("vendor.service"), b"", Some(unit.as_bytes()));
        assert_eq!(seen.named.len(), 1);
        assert_eq!(seen.named[0].line, 2);
        assert_eq!(seen.named[0].name.as_deref(), Some("MAC_SALT"));
    }

    #[test]
    fn names_are_matched_on_word_parts() {
        for n in [
            "salt",
            "SALT",
            "hash_salt",
            "MAC_SALT",
            "pepper",
            "secret",
            "apiKey",
            "api_key",
            "hmac",
            "hash_key",
            "seed",
            "macsalt",
            "HashKey",
            "keys",
        ] {
            assert!(key_name(n), "{n}");
        }
        for n in [
            "keyboard",
            "monkey",
            "primary_key",
            "key_file",
            "public_key",
            "salt_length",
            "hotkey",
            "keyid",
            "name",
            "key_id",
        ] {
            assert!(!key_name(n), "{n}");
        }
    }

    #[test]
    fn values_are_told_from_paths_words_and_numbers() {
        for v in [
            "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a90",
            "q3Jx9LmZ0vPc7tYw2KsN8g==",
            "3b1f0c2e-9a7d-4c55-8e21-6f0a9d3b7c14",
            "Zx7#q9!Lm2@pV4$wR8&tK1",
        ] {
            assert!(key_material(v).is_some(), "{v}");
        }
        for v in [
            "true",
            "/etc/ssl/private/x.pem",
            "https://example.org/keys/abcdef",
            "12345678901234567890",
            "id",
            "org.freedesktop.NetworkManager",
            "CamelCaseIdentifierName",
            "snake_case_identifier_name",
            "00000000000000000000000000000000",
            "0123456789abcdef0123456789abcdef",
            "a sentence with words in it",
            "signature.sign_hmac_sha256_with_client",
            "self._lib.NID_pbe_WithSHA1And3_Key_TripleDES_CBC",
            "&p256::PRIVATE_KEY_OPS",
        ] {
            assert!(key_material(v).is_none(), "{v}");
        }
    }
}
