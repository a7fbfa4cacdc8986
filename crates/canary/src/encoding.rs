//! Every form a device might keep an identifier in. A vendor that "anonymizes"
//! usually spells the MAC one way, maybe hashes it, maybe truncates the hex,
//! maybe keeps the OUI so analysts can still see the phone's maker. Each form
//! here has a stable name, which is what reports show instead of the value.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};

/// How the six bytes of a MAC are written out as text. The first four are
/// the classic spellings (and, with the raw bytes, the nine inputs
/// `vitrine-reverse` tries); the others are what other software writes:
/// per-byte dots or spaces, groups of two or three bytes under any
/// separator (Cisco, PostgreSQL's `macaddr` input forms), and octets
/// without their leading zero (glibc's `ether_ntoa`, Python netaddr's
/// `mac_unix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Spelling {
    /// `aa:bb:cc:dd:ee:ff`
    #[serde(rename = "colon")]
    Colon,
    /// `aa-bb-cc-dd-ee-ff`
    #[serde(rename = "dash")]
    Dash,
    /// `aabb.ccdd.eeff` (Cisco)
    #[serde(rename = "dot")]
    Dot,
    /// `aabbccddeeff`
    #[serde(rename = "bare")]
    Bare,
    /// `aa.bb.cc.dd.ee.ff`
    #[serde(rename = "dot2")]
    Dot2,
    /// `aa bb cc dd ee ff` (hex dumps, some loggers)
    #[serde(rename = "space")]
    Space,
    /// `aabb:ccdd:eeff`
    #[serde(rename = "colon4")]
    Colon4,
    /// `aabb-ccdd-eeff`
    #[serde(rename = "dash4")]
    Dash4,
    /// `aabb ccdd eeff`
    #[serde(rename = "space4")]
    Space4,
    /// `aabbcc:ddeeff` (PostgreSQL `macaddr` input, netaddr `mac_pgsql`)
    #[serde(rename = "colon6")]
    Colon6,
    /// `aabbcc-ddeeff`
    #[serde(rename = "dash6")]
    Dash6,
    /// `aabbcc.ddeeff`
    #[serde(rename = "dot6")]
    Dot6,
    /// `aabbcc ddeeff`
    #[serde(rename = "space6")]
    Space6,
    /// `a:bb:c:dd:e:ff`: octets without a leading zero (`ether_ntoa`,
    /// netaddr `mac_unix`)
    #[serde(rename = "colon-unpadded")]
    ColonUnpadded,
    /// `a-bb-c-dd-e-ff`
    #[serde(rename = "dash-unpadded")]
    DashUnpadded,
    /// `a.bb.c.dd.e.ff`
    #[serde(rename = "dot2-unpadded")]
    Dot2Unpadded,
    /// `a bb c dd e ff`
    #[serde(rename = "space-unpadded")]
    SpaceUnpadded,
}

impl Spelling {
    /// Every spelling searched for in clear.
    pub const ALL: [Spelling; 17] = [
        Spelling::Colon,
        Spelling::Dash,
        Spelling::Dot,
        Spelling::Bare,
        Spelling::Dot2,
        Spelling::Space,
        Spelling::Colon4,
        Spelling::Dash4,
        Spelling::Space4,
        Spelling::Colon6,
        Spelling::Dash6,
        Spelling::Dot6,
        Spelling::Space6,
        Spelling::ColonUnpadded,
        Spelling::DashUnpadded,
        Spelling::Dot2Unpadded,
        Spelling::SpaceUnpadded,
    ];

    /// The classic four, fixed-width: with the raw bytes in both cases, the
    /// nine inputs `vitrine-reverse` tries.
    pub const CLASSIC: [Spelling; 4] = [
        Spelling::Colon,
        Spelling::Dash,
        Spelling::Dot,
        Spelling::Bare,
    ];

    /// Spellings whose digests are searched for: what formatting functions
    /// produce as a MAC's text, hence what a program has in hand when it
    /// hashes one. The others are searched for in clear only.
    pub const HASHED: [Spelling; 6] = [
        Spelling::Colon,
        Spelling::Dash,
        Spelling::Dot,
        Spelling::Bare,
        Spelling::ColonUnpadded,
        Spelling::Colon6,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Spelling::Colon => "colon",
            Spelling::Dash => "dash",
            Spelling::Dot => "dot",
            Spelling::Bare => "bare",
            Spelling::Dot2 => "dot2",
            Spelling::Space => "space",
            Spelling::Colon4 => "colon4",
            Spelling::Dash4 => "dash4",
            Spelling::Space4 => "space4",
            Spelling::Colon6 => "colon6",
            Spelling::Dash6 => "dash6",
            Spelling::Dot6 => "dot6",
            Spelling::Space6 => "space6",
            Spelling::ColonUnpadded => "colon-unpadded",
            Spelling::DashUnpadded => "dash-unpadded",
            Spelling::Dot2Unpadded => "dot2-unpadded",
            Spelling::SpaceUnpadded => "space-unpadded",
        }
    }

    /// The separator, the bytes per group and whether octets keep their
    /// leading zero.
    fn layout(self) -> (Option<u8>, usize, bool) {
        match self {
            Spelling::Colon => (Some(b':'), 1, true),
            Spelling::Dash => (Some(b'-'), 1, true),
            Spelling::Dot => (Some(b'.'), 2, true),
            Spelling::Bare => (None, 6, true),
            Spelling::Dot2 => (Some(b'.'), 1, true),
            Spelling::Space => (Some(b' '), 1, true),
            Spelling::Colon4 => (Some(b':'), 2, true),
            Spelling::Dash4 => (Some(b'-'), 2, true),
            Spelling::Space4 => (Some(b' '), 2, true),
            Spelling::Colon6 => (Some(b':'), 3, true),
            Spelling::Dash6 => (Some(b'-'), 3, true),
            Spelling::Dot6 => (Some(b'.'), 3, true),
            Spelling::Space6 => (Some(b' '), 3, true),
            Spelling::ColonUnpadded => (Some(b':'), 1, false),
            Spelling::DashUnpadded => (Some(b'-'), 1, false),
            Spelling::Dot2Unpadded => (Some(b'.'), 1, false),
            Spelling::SpaceUnpadded => (Some(b' '), 1, false),
        }
    }

    /// Octets written without their leading zero.
    pub fn unpadded(self) -> bool {
        !self.layout().2
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Case {
    Lower,
    Upper,
}

impl Case {
    pub const ALL: [Case; 2] = [Case::Lower, Case::Upper];

    pub fn name(self) -> &'static str {
        match self {
            Case::Lower => "lower",
            Case::Upper => "upper",
        }
    }
}

/// Writes `mac` in `spelling` and `case` into `out` (cleared first).
pub fn spell(mac: &[u8; 6], spelling: Spelling, case: Case, out: &mut Vec<u8>) {
    let digits: &[u8; 16] = match case {
        Case::Lower => b"0123456789abcdef",
        Case::Upper => b"0123456789ABCDEF",
    };
    let (sep, group, padded) = spelling.layout();
    out.clear();
    for (i, b) in mac.iter().enumerate() {
        if i > 0 && i % group == 0 {
            out.extend(sep);
        }
        if padded || b >> 4 != 0 {
            out.push(digits[usize::from(b >> 4)]);
        }
        out.push(digits[usize::from(b & 0xf)]);
    }
}

/// `mac` spelled, as a `String`.
pub fn spelled(mac: &[u8; 6], spelling: Spelling, case: Case) -> String {
    let mut out = Vec::with_capacity(17);
    spell(mac, spelling, case, &mut out);
    String::from_utf8(out).expect("hex digits and separators are ASCII")
}

/// What was fed to a hash or to base64: the raw bytes, or a text spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "lowercase")]
pub enum Input {
    Raw,
    Text { spelling: Spelling, case: Case },
}

impl Input {
    /// The nine classic inputs: raw bytes and the [`Spelling::CLASSIC`]
    /// spellings in both cases (what `vitrine-reverse` tries).
    pub fn all() -> impl Iterator<Item = Input> {
        Input::of(&Spelling::CLASSIC)
    }

    /// Every input whose digests and base64 are searched for: raw bytes and
    /// the [`Spelling::HASHED`] spellings in both cases.
    pub fn hashed() -> impl Iterator<Item = Input> {
        Input::of(&Spelling::HASHED)
    }

    fn of(spellings: &'static [Spelling]) -> impl Iterator<Item = Input> {
        std::iter::once(Input::Raw).chain(spellings.iter().flat_map(|&spelling| {
            Case::ALL
                .into_iter()
                .map(move |case| Input::Text { spelling, case })
        }))
    }

    /// Writes the input bytes for `mac` into `out` (cleared first).
    pub fn write(self, mac: &[u8; 6], out: &mut Vec<u8>) {
        match self {
            Input::Raw => {
                out.clear();
                out.extend_from_slice(mac);
            }
            Input::Text { spelling, case } => spell(mac, spelling, case, out),
        }
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Raw => f.write_str("raw"),
            Input::Text { spelling, case } => {
                write!(f, "{}-{}", spelling.name(), case.name())
            }
        }
    }
}

/// The digests vendors use on identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Md5,
        Algorithm::Sha1,
        Algorithm::Sha256,
        Algorithm::Sha512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Digest length in bytes.
    #[allow(clippy::len_without_is_empty, reason = "no digest is empty")]
    pub fn len(self) -> usize {
        match self {
            Algorithm::Md5 => 16,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Md5 => Md5::digest(data).to_vec(),
            Algorithm::Sha1 => Sha1::digest(data).to_vec(),
            Algorithm::Sha256 => Sha256::digest(data).to_vec(),
            Algorithm::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// The algorithm whose digests are `hex_digits` long, for a full-length
    /// hex digest found on a device.
    pub fn from_hex_len(hex_digits: usize) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.len() * 2 == hex_digits)
    }
}

/// How a digest is written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestForm {
    /// Hex digits in one case, full or truncated (8, 12, 16... digits).
    Hex(Case),
    /// The digest bytes themselves (a BLOB column, a binary log).
    Binary,
    /// Standard base64 of the digest bytes.
    Base64,
}

/// One form a canary can take on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Encoding {
    /// The MAC written out in clear.
    Clear { spelling: Spelling, case: Case },
    /// The six bytes as they were on the air.
    RawBytes,
    /// Base64 of an input.
    Base64 { of: Input },
    /// A digest of an input.
    Digest {
        algorithm: Algorithm,
        of: Input,
        form: DigestForm,
    },
    /// The OUI kept in clear and the device part replaced by the first three
    /// bytes of a digest of the whole MAC: `aa:bb:cc:` + 3 digest bytes.
    OuiKeeping {
        algorithm: Algorithm,
        of: Input,
        spelling: Spelling,
        case: Case,
    },
    /// An SSID's bytes as they were on the air.
    SsidClear,
    /// An SSID's bytes in hex.
    SsidHex(Case),
    /// Base64 of an SSID's bytes.
    SsidBase64,
    /// A digest of an SSID's bytes.
    SsidDigest {
        algorithm: Algorithm,
        form: DigestForm,
    },
}

impl fmt::Display for Encoding {
    /// The stable name reports use, e.g. `sha256(colon-lower)/hex-lower`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn case(c: &Case) -> &'static str {
            match c {
                Case::Lower => "lower",
                Case::Upper => "upper",
            }
        }
        fn form(f: &DigestForm) -> String {
            match f {
                DigestForm::Hex(c) => format!("hex-{}", case(c)),
                DigestForm::Binary => "binary".into(),
                DigestForm::Base64 => "base64".into(),
            }
        }
        match self {
            Encoding::Clear { spelling, case: c } => {
                write!(f, "clear({}-{})", spelling.name(), case(c))
            }
            Encoding::RawBytes => f.write_str("raw-bytes"),
            Encoding::Base64 { of } => write!(f, "base64({of})"),
            Encoding::Digest {
                algorithm,
                of,
                form: fm,
            } => {
                write!(f, "{}({of})/{}", algorithm.name(), form(fm))
            }
            Encoding::OuiKeeping {
                algorithm,
                of,
                spelling,
                case: c,
            } => {
                write!(
                    f,
                    "oui+{}({of})[..3]/{}-{}",
                    algorithm.name(),
                    spelling.name(),
                    case(c)
                )
            }
            Encoding::SsidClear => f.write_str("ssid-clear"),
            Encoding::SsidHex(c) => write!(f, "ssid-hex-{}", case(c)),
            Encoding::SsidBase64 => f.write_str("ssid-base64"),
            Encoding::SsidDigest {
                algorithm,
                form: fm,
            } => {
                write!(f, "{}(ssid)/{}", algorithm.name(), form(fm))
            }
        }
    }
}

/// Lowercase or uppercase hex of `bytes`.
pub fn hex(bytes: &[u8], case: Case) -> String {
    let digits: &[u8; 16] = match case {
        Case::Lower => b"0123456789abcdef",
        Case::Upper => b"0123456789ABCDEF",
    };
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(digits[usize::from(b >> 4)]));
        s.push(char::from(digits[usize::from(b & 0xf)]));
    }
    s
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Base64 without the characters that depend on what follows the input
/// when it is embedded in a longer value (padding and the last partial
/// sextet): the part that is the same wherever the input ends a run.
pub fn base64_stable(bytes: &[u8]) -> String {
    let full = STANDARD.encode(bytes);
    let stable_chars = bytes.len() * 8 / 6;
    full[..stable_chars].to_string()
}

/// A form of an identifier, with the bytes to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub encoding: Encoding,
    /// The complete bytes of this form.
    pub bytes: Vec<u8>,
    /// How a shorter prefix may stand for the whole: digests are truncated.
    pub truncatable: Truncation,
}

/// What counts as a find of a form: the whole of it or a prefix, and what
/// may stand next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// Only the whole form.
    Whole,
    /// The whole form, not continued by a hex digit of its case (digits
    /// count in both cases) on the sides marked: an unpadded MAC whose first
    /// or last octet is one digit would otherwise be found inside another
    /// MAC (`e:2a:…` in `1e:2a:…`). A letter of the other case ends the
    /// octet: nobody mixes cases in one MAC, and binary neighbours (a SQLite
    /// REAL starts with `A`) must not hide it.
    Apart {
        before: bool,
        after: bool,
        case: Case,
    },
    /// A hex digest, whole or cut to a prefix of at least this many digits.
    /// It stands alone (no hex digit on either side), or, from
    /// [`MIN_HEX_DIGITS_IN_RUN`] digits on, begins a run of hex digits or
    /// its second byte whatever follows: in binary containers the next
    /// column's bytes follow a value directly and may be hex digits.
    HexPrefix(usize),
    /// Any prefix of at least this many bytes.
    Prefix(usize),
}

/// Shortest truncated hex digest searched for: 8 digits, 32 bits, standing
/// alone.
pub const MIN_HEX_DIGITS: usize = 8;
/// Shortest truncated hex digest found next to other hex digits: 12 digits,
/// 48 bits (the false-positive computation is in docs/audit.md).
pub const MIN_HEX_DIGITS_IN_RUN: usize = 12;
/// Shortest binary digest prefix searched for: 8 bytes.
pub const MIN_BINARY_BYTES: usize = 8;
/// Shortest base64 digest prefix searched for: 12 characters, 72 bits.
pub const MIN_BASE64_CHARS: usize = 12;

fn digest_forms(
    algorithm: Algorithm,
    digest: &[u8],
    mut make: impl FnMut(DigestForm) -> Encoding,
) -> Vec<Form> {
    let _ = algorithm;
    let mut v = Vec::new();
    for c in Case::ALL {
        v.push(Form {
            encoding: make(DigestForm::Hex(c)),
            bytes: hex(digest, c).into_bytes(),
            truncatable: Truncation::HexPrefix(MIN_HEX_DIGITS),
        });
    }
    v.push(Form {
        encoding: make(DigestForm::Binary),
        bytes: digest.to_vec(),
        truncatable: Truncation::Prefix(MIN_BINARY_BYTES),
    });
    v.push(Form {
        encoding: make(DigestForm::Base64),
        bytes: base64_stable(digest).into_bytes(),
        truncatable: Truncation::Prefix(MIN_BASE64_CHARS),
    });
    v
}

/// Every form of a MAC address that is searched for.
pub fn mac_forms(mac: &[u8; 6]) -> Vec<Form> {
    let mut forms: Vec<Form> = Vec::new();
    let mut buf = Vec::new();
    for spelling in Spelling::ALL {
        for case in Case::ALL {
            spell(mac, spelling, case, &mut buf);
            // Without an octet below 0x10 an unpadded spelling is its padded
            // one: searched for once, under the padded name.
            if spelling.unpadded() && forms.iter().any(|f| f.bytes == buf) {
                continue;
            }
            let truncatable = if spelling.unpadded() {
                Truncation::Apart {
                    before: mac[0] < 0x10,
                    after: mac[5] < 0x10,
                    case,
                }
            } else {
                Truncation::Whole
            };
            forms.push(Form {
                encoding: Encoding::Clear { spelling, case },
                bytes: buf.clone(),
                truncatable,
            });
        }
    }
    forms.push(Form {
        encoding: Encoding::RawBytes,
        bytes: mac.to_vec(),
        truncatable: Truncation::Whole,
    });
    let mut hashed: Vec<Vec<u8>> = Vec::new();
    for of in Input::hashed() {
        of.write(mac, &mut buf);
        // An unpadded input equal to its padded one hashes the same.
        if hashed.contains(&buf) {
            continue;
        }
        hashed.push(buf.clone());
        forms.push(Form {
            encoding: Encoding::Base64 { of },
            bytes: base64_stable(&buf).into_bytes(),
            truncatable: Truncation::Whole,
        });
        for algorithm in Algorithm::ALL {
            let digest = algorithm.digest(&buf);
            forms.extend(digest_forms(algorithm, &digest, |form| Encoding::Digest {
                algorithm,
                of,
                form,
            }));
            // OUI-keeping: vendors hash the whole address, keep the maker.
            if matches!(
                of,
                Input::Raw
                    | Input::Text {
                        spelling: Spelling::Colon | Spelling::Bare,
                        ..
                    }
            ) {
                let kept = [mac[0], mac[1], mac[2], digest[0], digest[1], digest[2]];
                for spelling in [Spelling::Colon, Spelling::Bare] {
                    for case in Case::ALL {
                        let mut b = Vec::new();
                        spell(&kept, spelling, case, &mut b);
                        forms.push(Form {
                            encoding: Encoding::OuiKeeping {
                                algorithm,
                                of,
                                spelling,
                                case,
                            },
                            bytes: b,
                            truncatable: Truncation::Whole,
                        });
                    }
                }
            }
        }
    }
    forms
}

/// Every form of an SSID that is searched for.
pub fn ssid_forms(ssid: &[u8]) -> Vec<Form> {
    let mut forms = vec![Form {
        encoding: Encoding::SsidClear,
        bytes: ssid.to_vec(),
        truncatable: Truncation::Whole,
    }];
    for c in Case::ALL {
        forms.push(Form {
            encoding: Encoding::SsidHex(c),
            bytes: hex(ssid, c).into_bytes(),
            truncatable: Truncation::Whole,
        });
    }
    forms.push(Form {
        encoding: Encoding::SsidBase64,
        bytes: base64_stable(ssid).into_bytes(),
        truncatable: Truncation::Whole,
    });
    for algorithm in Algorithm::ALL {
        let digest = algorithm.digest(ssid);
        forms.extend(digest_forms(algorithm, &digest, |form| {
            Encoding::SsidDigest { algorithm, form }
        }));
    }
    forms
}
