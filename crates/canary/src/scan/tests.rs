use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::encoding::{Algorithm, Case, DigestForm, Input, Spelling, Truncation, hex, spelled};

fn registry(n: usize, seed: u64) -> Registry {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Registry::generate(n, 2, &[[0x3c, 0x22, 0xfb], [0x00, 0x1b, 0x63]], &mut rng)
}

fn finds(scanner: &Scanner, data: &[u8]) -> Vec<Match> {
    let mut v = Vec::new();
    scanner.scan(data, &mut |m| v.push(m));
    v
}

#[test]
fn every_form_of_every_canary_is_found_where_it_was_planted() {
    let reg = registry(5, 1);
    let scanner = Scanner::new(&reg);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for (ci, canary) in reg.canaries.iter().enumerate() {
        for form in canary.forms() {
            // Random binary around it, at an unaligned offset.
            let mut data = vec![0u8; 1000 + rng.random_range(0..7)];
            rng.fill_bytes(&mut data);
            for b in &mut data {
                if b.is_ascii_hexdigit() {
                    *b = b'#';
                }
            }
            let at = 300 + rng.random_range(0..5);
            data.splice(at..at, form.bytes.iter().copied());
            let got = finds(&scanner, &data);
            assert!(
                got.iter().any(|m| m.canary == ci
                    && m.offset == at as u64
                    && m.len == form.bytes.len()
                    && !m.truncated),
                "{} {} not found at {at}: {got:?}",
                canary.id,
                form.encoding
            );
        }
    }
}

#[test]
fn same_finds_as_aho_corasick_on_whole_forms() {
    // The oracle: a plain automaton over every whole form.
    let reg = registry(20, 3);
    let scanner = Scanner::new(&reg);
    let mut forms = Vec::new();
    for (ci, c) in reg.canaries.iter().enumerate() {
        for f in c.forms() {
            forms.push((ci, f));
        }
    }
    let ac = aho_corasick::AhoCorasick::new(forms.iter().map(|(_, f)| &f.bytes)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut data = vec![0u8; 1 << 20];
    rng.fill_bytes(&mut data);
    // Plant 500 forms, separated by non-hex bytes so truncation rules
    // do not apply.
    for _ in 0..500 {
        let (_, f) = &forms[rng.random_range(0..forms.len())];
        let at = rng.random_range(0..data.len() - 200);
        data[at] = b' ';
        data[at + 1..at + 1 + f.bytes.len()].copy_from_slice(&f.bytes);
        data[at + 1 + f.bytes.len()] = b' ';
    }
    let mut expected: Vec<(u64, usize)> = ac
        .find_overlapping_iter(&data)
        .map(|m| (m.start() as u64, forms[m.pattern().as_usize()].0))
        .collect();
    expected.sort();
    expected.dedup();
    let mut got: Vec<(u64, usize)> = finds(&scanner, &data)
        .into_iter()
        .filter(|m| !m.truncated)
        .map(|m| (m.offset, m.canary))
        .collect();
    got.sort();
    got.dedup();
    assert!(
        expected.len() >= 400,
        "planted forms overlap too much: {}",
        expected.len()
    );
    assert_eq!(got, expected);
}

#[test]
fn truncated_digests_are_found_with_their_length_but_not_inside_longer_hex() {
    let reg = registry(1, 5);
    let scanner = Scanner::new(&reg);
    let mac = reg.canaries[0].mac().unwrap();
    let text = spelled(&mac, Spelling::Colon, Case::Lower);
    let digest = hex(&Algorithm::Sha256.digest(text.as_bytes()), Case::Lower);
    for n in [8, 12, 16, 64] {
        let data = format!("device_id={},seen=3\n", &digest[..n]);
        let got = finds(&scanner, data.as_bytes());
        let m = got
            .iter()
            .find(|m| {
                m.encoding
                    == Encoding::Digest {
                        algorithm: Algorithm::Sha256,
                        of: Input::Text {
                            spelling: Spelling::Colon,
                            case: Case::Lower,
                        },
                        form: DigestForm::Hex(Case::Lower),
                    }
            })
            .unwrap_or_else(|| panic!("{n} digits not found: {got:?}"));
        assert_eq!((m.offset, m.len, m.truncated), (10, n, n < 64));
    }
    // Eight matching digits in the middle of an unrelated hex run mean nothing.
    let data = format!("id=77{}0123\n", &digest[..8]);
    assert_eq!(finds(&scanner, data.as_bytes()), vec![]);
    // Fewer than eight digits are never a find.
    let data = format!("id={}\n", &digest[..7]);
    assert_eq!(finds(&scanner, data.as_bytes()), vec![]);
}

#[test]
fn every_spelling_case_and_oui_keeping_form_is_named() {
    let reg = registry(1, 6);
    let scanner = Scanner::new(&reg);
    let mac = reg.canaries[0].mac().unwrap();
    for (text, name) in [
        (
            spelled(&mac, Spelling::Dash, Case::Upper),
            "clear(dash-upper)",
        ),
        (
            spelled(&mac, Spelling::Dot, Case::Lower),
            "clear(dot-lower)",
        ),
        (
            spelled(&mac, Spelling::Bare, Case::Upper),
            "clear(bare-upper)",
        ),
        (crate::encoding::base64(&mac), "base64(raw)"),
    ] {
        let got = finds(&scanner, format!("x {text} y").as_bytes());
        let names: Vec<String> = got.iter().map(|m| m.encoding.to_string()).collect();
        assert!(names.contains(&name.to_string()), "{name}: {names:?}");
    }
    // OUI kept, device part from SHA-1 of the raw bytes.
    let d = Algorithm::Sha1.digest(&mac);
    let kept = spelled(
        &[mac[0], mac[1], mac[2], d[0], d[1], d[2]],
        Spelling::Colon,
        Case::Lower,
    );
    let got = finds(&scanner, format!("mac={kept};").as_bytes());
    assert!(
        got.iter()
            .any(|m| m.encoding.to_string() == "oui+sha1(raw)[..3]/colon-lower"),
        "{got:?}"
    );
}

#[test]
fn chunked_reading_finds_each_match_once_across_chunk_boundaries() {
    let reg = registry(3, 7);
    let scanner = Scanner::new(&reg);
    let mac = reg.canaries[1].mac().unwrap();
    let needle = hex(&Algorithm::Sha512.digest(&mac), Case::Upper);
    let mut data = vec![b'.'; 20 << 20];
    // Straddle the 8 MiB chunk boundary at every offset around it.
    let mut planted = Vec::new();
    for k in 0..40 {
        let at = (8 << 20) - 140 + k * 200 + (k % 3);
        data[at..at + needle.len()].copy_from_slice(needle.as_bytes());
        planted.push(at as u64);
    }
    let mut got = Vec::new();
    let read = scanner
        .scan_reader(&data[..], &mut |m| got.push(m))
        .unwrap();
    assert_eq!(read, data.len() as u64);
    let offsets: Vec<u64> = got.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, planted);
    assert!(got.iter().all(|m| m.len == 128 && !m.truncated));
}

#[test]
fn ssid_canaries_are_found_in_clear_hex_and_digests() {
    let reg = registry(0, 8);
    let scanner = Scanner::new(&reg);
    let (_, ssid) = reg.ssids().next().unwrap();
    for (data, name) in [
        (format!("ssid={ssid}\n"), "ssid-clear"),
        (
            format!("ssid={}\n", hex(ssid.as_bytes(), Case::Lower)),
            "ssid-hex-lower",
        ),
        (
            format!(
                "h={}\n",
                hex(&Algorithm::Md5.digest(ssid.as_bytes()), Case::Lower)
            ),
            "md5(ssid)/hex-lower",
        ),
    ] {
        let got = finds(&scanner, data.as_bytes());
        assert!(
            got.iter().any(|m| m.encoding.to_string() == name),
            "{name}: {got:?}"
        );
    }
}

#[test]
fn registry_round_trips_and_mac_spellings_parse() {
    let mut reg = registry(2, 9);
    reg.mark_emitted(time::macros::datetime!(2026-11-24 10:00 UTC));
    let dir = std::env::temp_dir().join(format!("vitrine-canary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("canaries.json");
    reg.save(&path).unwrap();
    assert_eq!(Registry::load(&path).unwrap(), reg);
    let mac = reg.canaries[0].mac().unwrap();
    for s in Spelling::ALL {
        for c in Case::ALL {
            assert_eq!(crate::parse_mac(&spelled(&mac, s, c)), Some(mac));
        }
    }
    assert_eq!(crate::parse_mac("00:11:22:33:44"), None);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The rules applied one position at a time: what the scanner must agree
/// with, whatever it samples.
fn plain_search(reg: &Registry, data: &[u8]) -> Vec<Match> {
    let mut by_head: std::collections::HashMap<[u8; 4], Vec<(usize, crate::encoding::Form)>> =
        std::collections::HashMap::new();
    for (ci, c) in reg.canaries.iter().enumerate() {
        for f in c.forms() {
            by_head
                .entry(f.bytes[..4].try_into().unwrap())
                .or_default()
                .push((ci, f));
        }
    }
    let mut found = Vec::new();
    for start in 0..data.len().saturating_sub(3) {
        let head: [u8; 4] = data[start..start + 4].try_into().unwrap();
        for (ci, f) in by_head.get(&head).into_iter().flatten() {
            let (min_len, hex) = match f.truncatable {
                Truncation::Whole => (f.bytes.len(), false),
                Truncation::HexPrefix(n) => (n, true),
                Truncation::Prefix(n) => (n, false),
            };
            let len = data[start..]
                .iter()
                .zip(&f.bytes)
                .take_while(|(a, b)| a == b)
                .count();
            if len < min_len {
                continue;
            }
            let before_hex = start > 0 && data[start - 1].is_ascii_hexdigit();
            let after_hex = data.get(start + len).is_some_and(u8::is_ascii_hexdigit);
            if hex && (before_hex || (len < f.bytes.len() && after_hex)) {
                continue;
            }
            found.push(Match {
                canary: *ci,
                encoding: f.encoding,
                offset: start as u64,
                len,
                truncated: len < f.bytes.len(),
            });
        }
    }
    found.sort_by_key(|m| (m.offset, m.canary, std::cmp::Reverse(m.len)));
    found.dedup_by_key(|m| (m.offset, m.canary, m.len));
    found
}

#[test]
fn same_finds_as_a_plain_search_in_hex_text_separators_and_binary() {
    let reg = registry(10, 10);
    let scanner = Scanner::new(&reg);
    let forms: Vec<_> = reg.canaries.iter().flat_map(|c| c.forms()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let alphabets: [&[u8]; 3] = [b"0123456789abcdef", b"0123456789ABCDEFabcdef:-. =\n", b""];
    let mut total = 0;
    for round in 0..12 {
        let alphabet = alphabets[round % 3];
        let mut data = vec![0u8; 200_000 + rng.random_range(0..64)];
        if alphabet.is_empty() {
            rng.fill_bytes(&mut data);
        } else {
            data.iter_mut()
                .for_each(|b| *b = alphabet[rng.random_range(0..alphabet.len())]);
        }
        // Forms, whole or cut short, anywhere: at both ends, inside hex
        // runs, across the reader's chunk boundaries.
        for k in 0..400 {
            let f = &forms[rng.random_range(0..forms.len())];
            let len = if rng.random_bool(0.3) {
                rng.random_range(4..=f.bytes.len())
            } else {
                f.bytes.len()
            };
            let at = match k {
                0 => 0,
                1 => data.len() - len,
                _ => rng.random_range(0..=data.len() - len),
            };
            data[at..at + len].copy_from_slice(&f.bytes[..len]);
        }
        let expected = plain_search(&reg, &data);
        total += expected.len();
        assert_eq!(finds(&scanner, &data), expected, "round {round}");
        let mut chunked = Vec::new();
        scanner
            .scan_reader(&data[..], &mut |m| chunked.push(m))
            .unwrap();
        assert_eq!(chunked, expected, "round {round}, read in chunks");
    }
    assert!(total > 3000, "{total}");
}

#[test]
fn every_hex_digit_is_marked_and_nothing_else() {
    let data: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    for at in 0..data.len() {
        let bits = hex_bits(&data, at);
        for i in 0..64 {
            let hex = data.get(at + i).is_some_and(u8::is_ascii_hexdigit);
            assert_eq!(bits >> i & 1 == 1, hex, "byte {at} + {i}");
        }
    }
}

#[test]
fn every_kind_of_pattern_is_found_once_at_every_offset_around_the_first_chunk_end() {
    let reg = registry(2, 12);
    let scanner = Scanner::new(&reg);
    let mac = reg.canaries[0].mac().unwrap();
    let sampled = spelled(&mac, Spelling::Colon, Case::Upper).into_bytes();
    let short = mac.to_vec();
    let hex_run = hex(&Algorithm::Md5.digest(&mac), Case::Lower).into_bytes();
    // The first chunk is 64 KiB; finds must start before its last
    // `overlap` bytes to be reported with it.
    let end = (64 << 10) - scanner.overlap();
    for needle in [sampled, short, hex_run] {
        for at in end - 24..end + 24 {
            let mut data = vec![b'.'; 70_000];
            data[at..at + needle.len()].copy_from_slice(&needle);
            let mut got = Vec::new();
            scanner
                .scan_reader(&data[..], &mut |m| got.push(m))
                .unwrap();
            let got: Vec<(u64, usize)> = got.iter().map(|m| (m.offset, m.len)).collect();
            assert_eq!(got, vec![(at as u64, needle.len())], "at {at}");
        }
    }
}
