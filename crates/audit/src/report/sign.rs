//! Signed reports. The auditing device holds an Ed25519 key; a report leaves
//! it as an envelope
//!
//! ```json
//! {"report": {...}, "signature": {"algorithm": "ed25519", "public_key": "<base64>", "value": "<base64>"}}
//! ```
//!
//! The signed bytes are the canonical form of the `report` value: its JSON
//! with the keys of every object sorted (by their UTF-8 bytes) and no
//! whitespace outside strings, exactly as `serde_json` writes a value (see
//! [`canonical_bytes`] and docs/report.md). Reformatting the file therefore
//! keeps the signature valid; changing any value does not.

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::model::{Report, SCHEMA, SCHEMAS_READ};

/// The only signature algorithm this version writes and accepts.
pub const ALGORITHM: &str = "ed25519";

/// The id of the `<script>` element that carries the signed record inside
/// the HTML page.
pub const EMBED_ID: &str = "vitrine-report";

/// The auditing device's signing key. The secret is zeroized on drop and
/// never printed (`Debug` shows the fingerprint only).
pub struct DeviceKey {
    key: SigningKey,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("fingerprint", &self.fingerprint())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a device key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the device key {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the device key {}: {source}", .path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the device key {} can be read by group or others (mode {mode:04o}); \
         make it private with `chmod 600 {}` (and consider it exposed)",
        .path.display(), .path.display()
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("the device key {} is not a key: a key file holds exactly 32 bytes", .path.display())]
    Length { path: PathBuf },
}

impl DeviceKey {
    /// A new key from the operating system's random generator.
    pub fn generate() -> DeviceKey {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(seed.as_mut())
            .expect("the operating system's random generator is available");
        DeviceKey::from_seed(&seed)
    }

    /// The key whose 32-byte secret seed this is.
    pub fn from_seed(seed: &[u8; 32]) -> DeviceKey {
        DeviceKey {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Loads the key at `path`, or creates one there when there is none: the
    /// parent folder is created (mode 0700), the 32-byte seed is written with
    /// mode 0600 to a temporary file, synced, and linked into place, so a
    /// key file is either complete or absent and an existing one is never
    /// overwritten. A key file that group or others can read is refused.
    pub fn load_or_create(path: &Path) -> Result<DeviceKey, KeyError> {
        match std::fs::File::open(path) {
            Ok(file) => return load(path, file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(KeyError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        }
        let key = DeviceKey::generate();
        match create(path, &key.key.to_bytes()) {
            Ok(()) => Ok(key),
            // Someone else created it first: theirs is the key.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let file = std::fs::File::open(path).map_err(|source| KeyError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                load(path, file)
            }
            Err(source) => Err(KeyError::Create {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The public key, standard base64 (with padding) of its 32 bytes.
    pub fn public_key_base64(&self) -> String {
        B64.encode(self.key.verifying_key().as_bytes())
    }

    /// A short form of the public key for people to compare: the first 16
    /// hex digits of the SHA-256 of its 32 bytes.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(self.key.verifying_key().as_bytes())
    }
}

fn load(path: &Path, mut file: std::fs::File) -> Result<DeviceKey, KeyError> {
    let read_err = |source| KeyError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(read_err(std::io::Error::other("not a regular file")));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(33));
    (&mut file)
        .take(33)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    let seed: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::Length {
        path: path.to_owned(),
    })?;
    Ok(DeviceKey::from_seed(seed))
}

fn create(path: &Path, seed: &[u8; 32]) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the key path names no file"))?;
    let tmp = parent.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(seed)?;
        f.sync_all()?;
        // A hard link never replaces an existing file, unlike a rename.
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    written?;
    std::fs::File::open(parent)?.sync_all()
}

/// The first 16 hex digits of the SHA-256 of a public key's 32 bytes.
pub fn fingerprint_of(public_key: &[u8; 32]) -> String {
    Sha256::digest(public_key)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `signature` object of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Always `ed25519` in this version.
    pub algorithm: String,
    /// Standard base64 of the signer's 32-byte public key.
    pub public_key: String,
    /// Standard base64 of the 64-byte signature over [`canonical_bytes`]
    /// of the report.
    pub value: String,
}

impl Signature {
    /// The signer's fingerprint (see [`DeviceKey::fingerprint`]), or `None`
    /// when `public_key` is not a base64 32-byte key.
    pub fn fingerprint(&self) -> Option<String> {
        decode_key(&self.public_key).map(|k| fingerprint_of(&k))
    }
}

/// A report with its signature: what [`sign`] makes and [`open`] returns.
#[derive(Debug, Clone)]
pub struct SignedReport {
    /// The report, typed.
    pub report: Report,
    pub signature: Signature,
    /// The `report` value exactly as signed (for an opened file, with any
    /// fields a newer version added).
    record: Value,
}

impl SignedReport {
    /// The signed `report` value.
    pub fn record(&self) -> &Value {
        &self.record
    }

    /// The envelope as indented JSON, ending with a newline.
    pub fn to_json_pretty(&self) -> String {
        let mut s =
            serde_json::to_string_pretty(&self.envelope()).expect("a JSON value always serializes");
        s.push('\n');
        s
    }

    /// The signer's fingerprint.
    pub fn fingerprint(&self) -> String {
        self.signature
            .fingerprint()
            .unwrap_or_else(|| "(no valid key)".to_owned())
    }

    fn envelope(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("report".to_owned(), self.record.clone());
        m.insert(
            "signature".to_owned(),
            serde_json::to_value(&self.signature).expect("strings serialize"),
        );
        Value::Object(m)
    }
}

impl Serialize for SignedReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.envelope().serialize(s)
    }
}

/// The bytes that are signed for a `report` value: its JSON with the keys of
/// every object sorted by their UTF-8 bytes, no whitespace between tokens,
/// strings escaped as `serde_json` does (only `"`, `\` and control
/// characters; `\n`-style short forms where they exist, else `\u00xx` in
/// lower-case hex), numbers as written by `serde_json` (integers in
/// decimal, floats in their shortest round-trip form).
pub fn canonical_bytes(report: &Value) -> Vec<u8> {
    serde_json::to_vec(&sorted(report)).expect("a JSON value always serializes")
}

/// Rebuilds every object with its keys in sorted order, so the canonical
/// form does not depend on whether serde_json keeps insertion order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Signs a report with the device key.
pub fn sign(report: &Report, key: &DeviceKey) -> SignedReport {
    let record = serde_json::to_value(report).expect("a report serializes to JSON");
    use ed25519_dalek::Signer;
    let sig = key.key.sign(&canonical_bytes(&record));
    SignedReport {
        report: report.clone(),
        signature: Signature {
            algorithm: ALGORITHM.to_owned(),
            public_key: key.public_key_base64(),
            value: B64.encode(sig.to_bytes()),
        },
        record,
    }
}

/// Why a signed report was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not JSON, or not an envelope: a field is missing or of the wrong
    /// type, a key or signature is not valid base64 of the right length,
    /// or the signed report does not follow the model.
    #[error("not a signed Vitrine audit report: {0}")]
    Malformed(String),
    #[error("unknown report schema {found:?} (this verifier reads {SCHEMAS_READ:?})")]
    UnknownSchema { found: String },
    #[error("unsupported signature algorithm {found:?} (only {ALGORITHM:?})")]
    UnsupportedAlgorithm { found: String },
    /// The signature does not match the report: it was changed after
    /// signing, or the signature was not made with the key the file names.
    #[error(
        "BAD SIGNATURE: the report was changed after it was signed, or not signed by key {fingerprint}"
    )]
    BadSignature { fingerprint: String },
    /// A valid signature, by another key than the one expected.
    #[error(
        "WRONG KEY: the signature is valid but was made by key {found}, not by the expected key {expected}"
    )]
    WrongKey { expected: String, found: String },
    /// The expected public key given is not base64 of 32 bytes.
    #[error("the expected public key is not standard base64 of a 32-byte Ed25519 key")]
    BadExpectedKey,
}

/// Checks a signed report (the JSON file, or the HTML page that embeds it)
/// and returns the report. With `expected_public_key` (base64), the
/// signature must also have been made by that key.
pub fn verify(text: &str, expected_public_key: Option<&str>) -> Result<Report, VerifyError> {
    open(text, expected_public_key).map(|s| s.report)
}

/// Like [`verify`], keeping the signature and the record as signed (to
/// render the page again, say).
pub fn open(text: &str, expected_public_key: Option<&str>) -> Result<SignedReport, VerifyError> {
    let malformed = |m: String| VerifyError::Malformed(m);
    let expected = match expected_public_key {
        Some(k) => Some(decode_key(k).ok_or(VerifyError::BadExpectedKey)?),
        None => None,
    };
    let json = if text.trim_start().starts_with('<') {
        embedded_record(text)
            .ok_or_else(|| malformed("an HTML page without an embedded signed report".to_owned()))?
    } else {
        text.to_owned()
    };
    let envelope: Value =
        serde_json::from_str(&json).map_err(|e| malformed(format!("not JSON ({e})")))?;
    let Value::Object(mut envelope) = envelope else {
        return Err(malformed("the file is not a JSON object".to_owned()));
    };
    let record = envelope
        .remove("report")
        .ok_or_else(|| malformed("no `report` field".to_owned()))?;
    if !record.is_object() {
        return Err(malformed("`report` is not an object".to_owned()));
    }
    let signature: Signature = serde_json::from_value(
        envelope
            .remove("signature")
            .ok_or_else(|| malformed("no `signature` field".to_owned()))?,
    )
    .map_err(|e| malformed(format!("`signature`: {e}")))?;
    match record.get("schema") {
        Some(Value::String(s)) if SCHEMAS_READ.contains(&s.as_str()) => {}
        Some(Value::String(s)) => return Err(VerifyError::UnknownSchema { found: s.clone() }),
        _ => return Err(malformed("`report.schema` is missing".to_owned())),
    }
    if signature.algorithm != ALGORITHM {
        return Err(VerifyError::UnsupportedAlgorithm {
            found: signature.algorithm.clone(),
        });
    }
    let key_bytes = decode_key(&signature.public_key)
        .ok_or_else(|| malformed("`signature.public_key` is not base64 of 32 bytes".to_owned()))?;
    let key = VerifyingKey::from_bytes(&key_bytes)
        .map_err(|_| malformed("`signature.public_key` is not an Ed25519 public key".to_owned()))?;
    let sig_bytes: [u8; 64] = B64
        .decode(signature.value.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| malformed("`signature.value` is not base64 of 64 bytes".to_owned()))?;
    let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
    let found = fingerprint_of(&key_bytes);
    key.verify_strict(&canonical_bytes(&record), &sig)
        .map_err(|_| VerifyError::BadSignature {
            fingerprint: found.clone(),
        })?;
    if let Some(expected) = expected
        && expected != key_bytes
    {
        return Err(VerifyError::WrongKey {
            expected: fingerprint_of(&expected),
            found,
        });
    }
    let report: Report = serde_json::from_value(record.clone())
        .map_err(|e| malformed(format!("the signed report does not follow {SCHEMA}: {e}")))?;
    Ok(SignedReport {
        report,
        signature,
        record,
    })
}

fn decode_key(b64: &str) -> Option<[u8; 32]> {
    B64.decode(b64.trim()).ok()?.try_into().ok()
}

/// The signed envelope a page made by [`super::render_html`] carries, as
/// JSON text.
pub fn embedded_record(html: &str) -> Option<String> {
    let open = format!(r#"<script type="application/json" id="{EMBED_ID}">"#);
    let start = html.find(&open)? + open.len();
    let len = html[start..].find("</script>")?;
    Some(html[start..start + len].to_owned())
}

/// The envelope as JSON for a `<script type="application/json">` element:
/// `<`, `>` and `&` are written as `\u003c`, `\u003e` and `\u0026` (they
/// occur only inside JSON strings, where the escapes mean the same), so no
/// `</script>` or `<!--` in the data can end the element.
pub(crate) fn script_safe_json(signed: &SignedReport) -> String {
    let json = signed.to_json_pretty();
    let mut out = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}
