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
    // The automaton knows no neighbours: an unpadded MAC inside a padded
    // one (`a:8b:1e:…` in `0a:8b:1e:…`) is not a find.
    let apart = |m: &aho_corasick::Match| match forms[m.pattern().as_usize()].1.truncatable {
        Truncation::Apart { before, .. } => !(before && data[m.start() - 1].is_ascii_hexdigit()),
        _ => true,
    };
    let mut expected: Vec<(u64, usize)> = ac
        .find_overlapping_iter(&data)
        .filter(apart)
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
    assert_eq!(
        crate::parse_mac("60:8b:e:2a:65:2b"),
        Some([0x60, 0x8b, 0x0e, 0x2a, 0x65, 0x2b])
    );
    for bad in [
        "608b0e:2a652",
        "608:b0e2a:652b",
        "60:8b:e:2a:65:2bc",
        "€€€€",
        "60::8b:e:2a:65",
    ] {
        assert_eq!(crate::parse_mac(bad), None, "{bad}");
    }
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
                Truncation::Whole | Truncation::Apart { .. } => (f.bytes.len(), false),
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
            let hex_at = |i: usize| data.get(i).is_some_and(u8::is_ascii_hexdigit);
            let before_hex = start > 0 && hex_at(start - 1);
            let after_hex = len < f.bytes.len() && hex_at(start + len);
            let second_of_run = before_hex && (start < 2 || !hex_at(start - 2));
            let in_run_ok = len >= 12 && (!before_hex || second_of_run);
            if hex && (before_hex || after_hex) && !in_run_ok {
                continue;
            }
            if let Truncation::Apart {
                before,
                after,
                case,
            } = f.truncatable
            {
                let cont = |b: u8| match case {
                    Case::Lower => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
                    Case::Upper => b.is_ascii_digit() || (b'A'..=b'F').contains(&b),
                };
                if (before && start > 0 && cont(data[start - 1]))
                    || (after && data.get(start + len).is_some_and(|&b| cont(b)))
                {
                    continue;
                }
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

/// A registry of one MAC canary, `mac`.
fn one_mac(mac: [u8; 6]) -> Registry {
    Registry {
        seed: None,
        canaries: vec![crate::Canary {
            id: "mac-01".into(),
            value: crate::CanaryValue::Mac(mac),
            emitted: Vec::new(),
        }],
    }
}

fn names(scanner: &Scanner, data: &[u8]) -> Vec<String> {
    finds(scanner, data)
        .iter()
        .map(|m| m.encoding.to_string())
        .collect()
}

#[test]
fn every_spelling_in_the_wild_is_found_by_its_name_and_a_one_digit_change_is_not() {
    // First and last octets below 0x10, so that unpadded spellings differ.
    let mac = [0x0a, 0x8b, 0x0e, 0x2a, 0x65, 0x0b];
    let scanner = Scanner::new(&one_mac(mac));
    for spelling in Spelling::ALL {
        for case in Case::ALL {
            let text = spelled(&mac, spelling, case);
            let name = format!("clear({}-{})", spelling.name(), case.name());
            let got = names(&scanner, format!("mac={text};").as_bytes());
            assert!(got.contains(&name), "{text}: {name} not in {got:?}");
            // Near miss: the fourth octet's last digit changed.
            let other = spelled(&[0x0a, 0x8b, 0x0e, 0x2b, 0x65, 0x0b], spelling, case);
            let got = names(&scanner, format!("mac={other};").as_bytes());
            assert!(got.is_empty(), "{other}: {got:?}");
        }
    }
    assert_eq!(
        spelled(&mac, Spelling::ColonUnpadded, Case::Lower),
        "a:8b:e:2a:65:b"
    );
    assert_eq!(
        spelled(&mac, Spelling::Colon6, Case::Lower),
        "0a8b0e:2a650b"
    );
    assert_eq!(
        spelled(&mac, Spelling::Space4, Case::Upper),
        "0A8B 0E2A 650B"
    );
    assert_eq!(spelled(&mac, Spelling::Dot6, Case::Lower), "0a8b0e.2a650b");
}

#[test]
fn an_unpadded_mac_is_not_found_inside_another_mac_but_is_next_to_binary() {
    let mac = [0x0a, 0x8b, 0x0e, 0x2a, 0x65, 0x0b];
    let scanner = Scanner::new(&one_mac(mac));
    let lower = "a:8b:e:2a:65:b";
    // Inside another MAC: 1a:… or …:bc are other addresses.
    for near in [
        format!("1{lower} "),
        format!(" {lower}c"),
        format!(" {lower}0"),
    ] {
        assert_eq!(
            names(&scanner, near.as_bytes()),
            Vec::<String>::new(),
            "{near}"
        );
    }
    // A capital letter after a lower-case MAC is not part of it (a SQLite
    // REAL after a TEXT column starts with 0x41).
    let got = names(&scanner, format!("\x01{lower}A\x41").as_bytes());
    assert_eq!(got, vec!["clear(colon-unpadded-lower)".to_string()]);
    // A padded MAC keeps its octets: its unpadded search is not needed.
    let padded = one_mac([0x60, 0x8b, 0x1e, 0x2a, 0x65, 0x2b]);
    assert!(
        padded.canaries[0].forms().iter().all(
            |f| !matches!(f.encoding, Encoding::Clear { spelling, .. } if spelling.unpadded())
        )
    );
}

#[test]
fn digests_and_base64_of_the_other_hashed_spellings_are_found_and_of_a_neighbour_mac_not() {
    let mac = [0x60, 0x8b, 0x0e, 0x2a, 0x65, 0x2b];
    // Another fourth octet: base64 leaves out the last partial sextet, so a
    // change in the last digit alone can be invisible to it.
    let neighbour = [0x60, 0x8b, 0x0e, 0x3a, 0x65, 0x2b];
    let scanner = Scanner::new(&one_mac(mac));
    for spelling in [Spelling::ColonUnpadded, Spelling::Colon6] {
        for case in Case::ALL {
            let of = Input::Text { spelling, case };
            for (m, found) in [(mac, true), (neighbour, false)] {
                let mut input = Vec::new();
                of.write(&m, &mut input);
                for algorithm in Algorithm::ALL {
                    let d = algorithm.digest(&input);
                    let text = format!(
                        "{} {} ",
                        hex(&d, Case::Lower),
                        crate::encoding::base64(&input)
                    );
                    let got = names(&scanner, text.as_bytes());
                    let want = [
                        format!("{}({of})/hex-lower", algorithm.name()),
                        format!("base64({of})"),
                    ];
                    for w in want {
                        assert_eq!(got.contains(&w), found, "{w}: {got:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn truncated_digests_next_to_binary_neighbours_count_from_twelve_digits() {
    let mac = [0x60, 0x8b, 0x0e, 0x2a, 0x65, 0x2b];
    let scanner = Scanner::new(&one_mac(mac));
    let text = spelled(&mac, Spelling::Colon, Case::Lower);
    let digest = hex(&Algorithm::Sha256.digest(text.as_bytes()), Case::Lower);
    let name = "sha256(colon-lower)/hex-lower";
    // (before, digits, after, found): a REAL column (0x41 'A'), an ISO date
    // ('2'), a serial type that is a hex digit ('5' = text of 20 bytes).
    for (before, n, after, found) in [
        (&b"\x01"[..], 12, &b"A\xd9"[..], true),
        (b"\x01", 16, b"2026-12-02", true),
        (b"\x01", 12, b"2026-12-02", true),
        (b"\x255", 12, b"2026", true),
        (b"\x255", 16, b"A", true),
        (b"\x01", 11, b"A", false),
        (b"\x01", 8, b"2026-12-02", false),
        (b"\x01", 8, b"\x00", true),
        // Deeper in a hex run than one byte: part of something else.
        (b"\x0155", 12, b"\x00", false),
        (b"\x0155", 16, b"A", false),
    ] {
        let mut data = before.to_vec();
        data.extend_from_slice(&digest.as_bytes()[..n]);
        data.extend_from_slice(after);
        let got = finds(&scanner, &data);
        let hit = got.iter().find(|m| m.encoding.to_string() == name);
        assert_eq!(hit.is_some(), found, "{n} digits in {data:?}: {got:?}");
        if let Some(m) = hit {
            assert_eq!(m.offset, before.len() as u64);
            assert!(m.len >= n && m.truncated);
        }
    }
}

#[test]
fn a_seed_makes_the_same_registry_and_is_kept_in_it() {
    let ouis = [[0x3c, 0x22, 0xfb], [0x00, 0x1b, 0x63], [0xf0, 0x18, 0x98]];
    let a = Registry::from_seed(8, 2, &ouis, 42);
    assert_eq!(a, Registry::from_seed(8, 2, &ouis, 42));
    assert_ne!(a, Registry::from_seed(8, 2, &ouis, 43));
    assert_eq!(a.seed, Some(42));
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<Registry>(&json).unwrap(), a);
    // Registries written before seeds load.
    let old = r#"{"canaries":[{"id":"mac-01","kind":"mac","value":"3c:22:fb:01:02:03"}]}"#;
    assert_eq!(serde_json::from_str::<Registry>(old).unwrap().seed, None);
    for (c, mac) in a.macs() {
        assert!(ouis.contains(&[mac[0], mac[1], mac[2]]), "{}", c.id);
    }
    for (_, ssid) in a.ssids() {
        assert!((8..=32).contains(&ssid.len()), "{ssid}");
    }
}

#[test]
fn the_vendor_pool_holds_every_block_of_the_top_vendors_but_the_registration_authority() {
    let row = |o: [u8; 3], v: &str| (o, v.to_string());
    let ranked = [
        row([0x00, 0x00, 0x01], "Big"),
        row([0x00, 0x00, 0x02], "Big"),
        row([0x00, 0x00, 0x03], "IEEE Registration Authority"),
        row([0x03, 0x00, 0x04], "Mid"),
        row([0x00, 0x00, 0x05], "Mid"),
        row([0x00, 0x00, 0x06], "Small"),
    ];
    assert_eq!(
        crate::registry::vendor_pool(&ranked, 2),
        vec![[0, 0, 1], [0, 0, 2], [0, 0, 5]]
    );
    assert_eq!(crate::registry::vendor_pool(&ranked, 9).len(), 4);
}
