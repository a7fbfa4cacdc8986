//! Encodings and unfinished checks in plain words, for the page's readers
//! (a regulator, a store owner). Reports carry encodings by their stable
//! names (`sha256(colon-lower)/hex-lower truncated to 12 hex digits`, see
//! `vitrine_canary::encoding`); this reads such a name back and says what it
//! is, whether it can be undone, and what undoing it costs.
//!
//! The costs are the figures measured for `vitrine-audit reverse` on the
//! project's 2-core machine (docs/reverse.md, docs/benchmarks.md#hash-reversal).

/// What an encoding is, in words, and whether it hides anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    /// What was written, e.g. "a SHA-256 hash of the address written
    /// aa:bb:cc:dd:ee:ff (lower case), as hex digits, cut to 12 of them".
    pub words: String,
    pub reversible: Reversible,
    /// Why, and at what cost, in a sentence or two.
    pub reversibility: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reversible {
    /// Readable as it is (clear text, raw bytes, base64, hex).
    Readable,
    /// Hidden by an unkeyed hash: undone by trying candidates.
    ByHashing,
    /// A name this page does not know.
    Unknown,
}

impl Reversible {
    /// "yes" or "unknown", for a table cell.
    pub fn word(self) -> &'static str {
        match self {
            Reversible::Readable => "yes, read as it is",
            Reversible::ByHashing => "yes, by trying every address",
            Reversible::Unknown => "not known",
        }
    }
}

/// One OUI holds 2^24 addresses; every allocated OUI (32,530 MA-L blocks in
/// the IEEE registry) puts all vendor-assigned MACs in about 2^39.
const SEARCH_SPACE: &str = "A MAC address is not a secret of 48 bits: its first half names \
     the maker and is published by the IEEE, so every allocated address fits in about 2^39 \
     (32,530 maker blocks of 16.7 million addresses each), and a hash without a secret key can \
     be undone by hashing them all and comparing.";

/// The plain-words account of an encoding name, as reports write it.
pub fn describe(name: &str) -> Plain {
    let (base, truncated) = match name.split_once(" truncated to ") {
        Some((b, t)) => (b.trim(), Some(t.trim())),
        None => (name.trim(), None),
    };
    describe_base(base, truncated).unwrap_or_else(|| Plain {
        words: "a form this page has no description for".to_owned(),
        reversible: Reversible::Unknown,
        reversibility: "See the project's docs/audit.md for the encoding names.".to_owned(),
    })
}

fn describe_base(base: &str, truncated: Option<&str>) -> Option<Plain> {
    let readable = |words: String, how: &str| Plain {
        words,
        reversible: Reversible::Readable,
        reversibility: how.to_owned(),
    };
    if let Some(inner) = base
        .strip_prefix("clear(")
        .and_then(|s| s.strip_suffix(')'))
    {
        return Some(readable(
            format!("the address in clear, {}", spelling_words(inner)?),
            "Nothing is hidden: anyone who reads the file has the address.",
        ));
    }
    // A visual canary's pixels: `pixels(1/2)/interleaved`.
    if let Some((scale, layout)) = base
        .strip_prefix("pixels(1/")
        .and_then(|s| s.split_once(")/"))
    {
        let size = match scale {
            "1" => "at full size".to_owned(),
            n if n.parse::<u8>().is_ok() => {
                format!("at 1/{n} of full size (a thumbnail, or analytics' working picture)")
            }
            _ => return None,
        };
        let layout = match layout {
            "8-bit" => "one byte a pixel",
            "interleaved" => {
                "with a byte between two pixels (YUYV, 16-bit samples, a fixed-point model)"
            }
            _ => return None,
        };
        return Some(readable(
            format!(
                "rows of the visual canary's pixels, {size}, {layout}: a camera frame or a copy of one"
            ),
            "Nothing is hidden: the bytes are the picture the camera saw.",
        ));
    }
    // Reports written before the `clear(...)` name carried the spelling alone.
    if let Some(w) = spelling_words(base) {
        return Some(readable(
            format!("the address in clear, {w}"),
            "Nothing is hidden: anyone who reads the file has the address.",
        ));
    }
    match base {
        "raw-bytes" => {
            return Some(readable(
                "the address's six bytes as they were sent over the air".to_owned(),
                "Nothing is hidden: the bytes are the address.",
            ));
        }
        "ssid-clear" => {
            return Some(readable(
                "the network name in clear".to_owned(),
                "Nothing is hidden: anyone who reads the file has the name.",
            ));
        }
        "ssid-hex-lower" | "ssid-hex-upper" => {
            return Some(readable(
                "the network name's bytes written as hex digits".to_owned(),
                "Hex is a way of writing bytes, not of hiding them: read back at once.",
            ));
        }
        "ssid-base64" => {
            return Some(readable(
                "the network name in base64".to_owned(),
                "Base64 is a way of writing bytes, not of hiding them: decoded at once.",
            ));
        }
        _ => {}
    }
    if let Some(inner) = base
        .strip_prefix("base64(")
        .and_then(|s| s.strip_suffix(')'))
    {
        return Some(readable(
            format!("base64 of {}", input_words(inner)?),
            "Base64 is a way of writing bytes, not of hiding them: decoded at once.",
        ));
    }
    if let Some(rest) = base.strip_prefix("oui+") {
        // oui+ALG(INPUT)[..3]/SPELLING-CASE
        let (alg, rest) = rest.split_once('(')?;
        let (input, rest) = rest.split_once(")[..3]/")?;
        let alg = algorithm_words(alg)?;
        return Some(Plain {
            words: format!(
                "the maker's half of the address kept in clear, the device's half replaced by \
                 the first 3 bytes of a {alg} hash of {}; the result {}",
                input_words(input)?,
                spelling_words(rest)?
            ),
            reversible: Reversible::ByHashing,
            reversibility: format!(
                "The hash has no secret key and the maker's half is given, so only one block \
                 of 16.7 million addresses is left to try: {} With 3 bytes kept, a few \
                 addresses share each value, and the true one is among them.",
                per_oui(alg)
            ),
        });
    }
    let (alg, rest) = base.split_once('(')?;
    let (input, form) = rest.split_once(")/")?;
    let alg = algorithm_words(alg)?;
    let form = form_words(form)?;
    let cut = truncated
        .map(|t| format!(", cut to {t}"))
        .unwrap_or_default();
    if input == "ssid" {
        return Some(Plain {
            words: format!("a {alg} hash of the network name, {form}{cut}"),
            reversible: Reversible::ByHashing,
            reversibility: "The hash has no secret key: network names are short words people \
                            choose, undone by hashing lists of common names and comparing \
                            (not a search vitrine-audit reverse makes)."
                .to_owned(),
        });
    }
    let input_w = input_words(input)?;
    let searched = matches!(
        input.split('-').next(),
        Some("raw" | "colon" | "dash" | "dot" | "bare")
    ) && !input.contains("unpadded");
    let cost = if searched {
        per_oui(alg)
    } else {
        format!(
            "vitrine-audit reverse does not try this spelling today; a search over it costs \
             the same as over the ones it tries ({})",
            per_oui(alg)
        )
    };
    let short = match truncated.and_then(|t| t.split(' ').next()?.parse::<u32>().ok()) {
        Some(n) if truncated.is_some_and(|t| t.contains("hex")) && n < 12 => format!(
            " Cut to {n} hex digits a value matches a few addresses of all those tried by \
             chance; the true one is among them."
        ),
        Some(_) => " Cutting the hash short does not help: what is kept still singles out one \
                    address."
            .to_owned(),
        None => String::new(),
    };
    Some(Plain {
        words: format!("a {alg} hash of {input_w}, {form}{cut}"),
        reversible: Reversible::ByHashing,
        reversibility: format!("{SEARCH_SPACE} {cost}{short}"),
    })
}

/// The time `vitrine-audit reverse` takes per block of 16.7 million
/// addresses, as measured (docs/benchmarks.md#hash-reversal).
fn per_oui(alg: &str) -> String {
    let one = match alg {
        "SHA-256" => "about 0.3 s",
        "SHA-1" => "about 0.25 s",
        "MD5" => "about 0.3 s",
        _ => {
            return "vitrine-audit reverse tries every address of one maker block in seconds \
                    (0.3 s for SHA-256 on 2 cores; SHA-512 was not measured)."
                .to_owned();
        }
    };
    format!(
        "vitrine-audit reverse tries every address of one maker block in {one} on 2 cores, \
         the 100 most common makers' blocks in under half a minute, and all 32,530 in about \
         2.4 hours; it stops at the first match, and the most common makers come first."
    )
}

fn algorithm_words(a: &str) -> Option<&'static str> {
    Some(match a {
        "md5" => "MD5",
        "sha1" => "SHA-1",
        "sha256" => "SHA-256",
        "sha512" => "SHA-512",
        _ => return None,
    })
}

fn form_words(f: &str) -> Option<&'static str> {
    Some(match f {
        "hex-lower" => "as hex digits (lower case)",
        "hex-upper" => "as hex digits (upper case)",
        "binary" => "as raw bytes",
        "base64" => "in base64",
        _ => return None,
    })
}

/// `raw`, or a spelling and case (`colon-lower`).
fn input_words(input: &str) -> Option<String> {
    if input == "raw" {
        return Some("the address's six bytes".to_owned());
    }
    Some(format!("the address {}", spelling_words(input)?))
}

/// `colon-lower` as "written aa:bb:cc:dd:ee:ff (lower case)".
fn spelling_words(s: &str) -> Option<String> {
    let (spelling, case) = s.rsplit_once('-')?;
    let upper = match case {
        "lower" => false,
        "upper" => true,
        _ => return None,
    };
    let example = match spelling {
        "colon" => "aa:bb:cc:dd:ee:ff",
        "dash" => "aa-bb-cc-dd-ee-ff",
        "dot" => "aabb.ccdd.eeff",
        "bare" => "aabbccddeeff",
        "dot2" => "aa.bb.cc.dd.ee.ff",
        "space" => "aa bb cc dd ee ff",
        "colon4" => "aabb:ccdd:eeff",
        "dash4" => "aabb-ccdd-eeff",
        "space4" => "aabb ccdd eeff",
        "colon6" => "aabbcc:ddeeff",
        "dash6" => "aabbcc-ddeeff",
        "dot6" => "aabbcc.ddeeff",
        "space6" => "aabbcc ddeeff",
        "colon-unpadded" => "a:bb:c:dd:e:ff",
        "dash-unpadded" => "a-bb-c-dd-e-ff",
        "dot2-unpadded" => "a.bb.c.dd.e.ff",
        "space-unpadded" => "a bb c dd e ff",
        _ => return None,
    };
    let example = if upper {
        example.to_ascii_uppercase()
    } else {
        example.to_owned()
    };
    let unpadded = if spelling.ends_with("unpadded") {
        ", without leading zeros"
    } else {
        ""
    };
    Some(format!(
        "written {example} ({} case{unpadded})",
        if upper { "upper" } else { "lower" }
    ))
}

/// What a check that did not run, or did not read everything, lacks, and
/// what to run to complete it. `mode` is the report's (`self`, `scan`,
/// `mqtt`).
pub fn remedy(check: &str, reason: &str, mode: &str) -> String {
    let r = reason.to_ascii_lowercase();
    let rerun = match mode {
        "self" => "sudo vitrine-audit self ...",
        "mqtt" => "vitrine-audit mqtt ...",
        _ => "sudo vitrine-audit scan ...",
    };
    if r.contains("needs root") || r.contains("permission denied") || r.contains("cap_sys_ptrace") {
        format!("Run the audit as root, which may read every file and process: {rerun}")
    } else if r.contains("journal") {
        "Pass the device's journal: vitrine-audit scan --journal-dir MOUNT/var/log/journal ... \
         (or run the self-audit on the device, where journalctl reads it)."
            .to_owned()
    } else if r.contains("no process named") || r.contains("cannot read process memory") {
        "Run the audit on the device while its tracking daemon runs, naming it: \
         --process NAME (self-audit: the daemon's name is vitrined by default)."
            .to_owned()
    } else if r.contains("systemd service") || r.contains("properties of") {
        "Run the daemon under its systemd unit (vitrined.service) and audit again on the \
         device."
            .to_owned()
    } else if r.contains("nothing was published") {
        "Watch longer, or the right topics: vitrine-audit mqtt --duration SECONDS --topic \
         FILTER (or --topic-prefix PREFIX, a rig's broker.topic_prefix) ..., while the \
         device is capturing."
            .to_owned()
    } else if r.contains("key rotation") {
        "Watch across a key rotation and name when it happened: --rotation-at TIME \
         (RFC 3339)."
            .to_owned()
    } else if r.contains("does not exist") {
        "Check the path given: it does not exist (a typo, or the image not mounted), then \
         scan again."
            .to_owned()
    } else if r.contains("path_max") || r.contains("too deep") {
        "Scan the too-deep folder on its own, from a path closer to it: vitrine-audit scan \
         FOLDER ..."
            .to_owned()
    } else if r.contains("bound") {
        "A decoder's bound was hit: decompress that file by hand and scan the result: \
         vitrine-audit scan FOLDER ..."
            .to_owned()
    } else if r.contains("no data directory") {
        "Name the folders where the device keeps its data: vitrine-audit scan --data-root \
         DIR ... (files there older than the policy's retention are findings)."
            .to_owned()
    } else if r.contains("/proc/swaps") {
        "Run the self-audit on the device itself, where /proc/swaps can be read.".to_owned()
    } else {
        format!("Address the reason above and run the {check} check again: {rerun}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_name_is_described() {
        for (name, rev) in [
            ("clear(colon-lower)", Reversible::Readable),
            ("clear(colon-unpadded-upper)", Reversible::Readable),
            ("colon-upper", Reversible::Readable),
            ("raw-bytes", Reversible::Readable),
            ("base64(raw)", Reversible::Readable),
            ("base64(bare-upper)", Reversible::Readable),
            ("sha256(colon-lower)/hex-lower", Reversible::ByHashing),
            (
                "sha256(colon-lower)/hex-lower truncated to 12 hex digits",
                Reversible::ByHashing,
            ),
            (
                "md5(raw)/binary truncated to 8 bytes",
                Reversible::ByHashing,
            ),
            ("sha1(colon6-lower)/base64", Reversible::ByHashing),
            ("oui+sha1(raw)[..3]/colon-lower", Reversible::ByHashing),
            ("ssid-clear", Reversible::Readable),
            ("ssid-hex-upper", Reversible::Readable),
            ("ssid-base64", Reversible::Readable),
            ("sha512(ssid)/hex-lower", Reversible::ByHashing),
            ("pixels(1/1)/8-bit", Reversible::Readable),
            ("pixels(1/2)/interleaved", Reversible::Readable),
            ("pixels(1/x)/8-bit", Reversible::Unknown),
            ("rot13(colon-lower)", Reversible::Unknown),
        ] {
            assert_eq!(describe(name).reversible, rev, "{name}");
        }
        let d = describe("sha256(colon-lower)/hex-lower truncated to 12 hex digits");
        assert!(d.words.contains("SHA-256"), "{}", d.words);
        assert!(d.words.contains("aa:bb:cc:dd:ee:ff"), "{}", d.words);
        assert!(d.words.contains("cut to 12 hex digits"), "{}", d.words);
        assert!(d.reversibility.contains("0.3 s"), "{}", d.reversibility);
        assert!(d.reversibility.contains("2^39"), "{}", d.reversibility);
    }

    #[test]
    fn remedies_name_the_command() {
        assert!(
            remedy(
                "memory.canary",
                "reading another process's memory needs root (CAP_SYS_PTRACE)",
                "self"
            )
            .contains("root")
        );
        assert!(
            remedy(
                "journal.canary",
                "journalctl found no journal to read",
                "scan"
            )
            .contains("--journal-dir")
        );
        assert!(
            remedy(
                "storage.canary",
                "1 place not read, e.g. /x: does not exist",
                "scan"
            )
            .contains("path")
        );
        assert!(
            remedy("storage.retention", "no data directory given", "scan")
                .contains("--data-root DIR")
        );
    }
}
