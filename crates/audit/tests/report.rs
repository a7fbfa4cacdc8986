//! Signed reports: the envelope verifies, and any change to the report is
//! caught; the HTML page cannot be made to carry markup from evidence.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use time::macros::datetime;
use vitrine_audit::report::{
    CanaryRecord, CheckResult, DeviceKey, Evidence, Finding, KeyError, PolicyRecord, Report,
    SCHEMA, Severity, Status, VerifyError, WindowPoint, canonical_bytes, open, render_html, sign,
    verify, write_report,
};

fn report() -> Report {
    let checks = vec![
        CheckResult {
            id: "storage.canary".into(),
            title: "No canary on disk, in any encoding".into(),
            severity: Severity::Critical,
            status: Status::Failed,
            examined: "12 files, 3.1 kB under /tmp/x".into(),
            findings: vec![
                Finding {
                    check: "storage.canary".into(),
                    severity: Severity::Critical,
                    summary: "Canary mac-01 is stored in a database.".into(),
                    evidence: Evidence {
                        path: Some("/var/lib/app/db.sqlite".into()),
                        offset: Some(4096),
                        canary: Some("mac-01".into()),
                        encoding: Some("colon-lower".into()),
                        ..Evidence::default()
                    },
                },
                Finding {
                    check: "storage.canary".into(),
                    severity: Severity::Critical,
                    summary: "Canary mac-01 is in a compressed log.".into(),
                    evidence: Evidence {
                        path: Some("/var/log/app.log.1.gz".into()),
                        offset: Some(77),
                        container: Some("gzip".into()),
                        canary: Some("mac-01".into()),
                        encoding: Some("bare-upper".into()),
                        ..Evidence::default()
                    },
                },
            ],
            counts: None,
            not_read: None,
            set_aside: None,
        },
        CheckResult {
            id: "journal.canary".into(),
            title: "No canary in the system journal".into(),
            severity: Severity::Critical,
            status: Status::Skipped {
                reason: "no journal here".into(),
            },
            examined: String::new(),
            findings: vec![],
            counts: None,
            not_read: None,
            set_aside: None,
        },
    ];
    Report {
        schema: SCHEMA.into(),
        tool: "vitrine-audit 0.1.0".into(),
        mode: "scan".into(),
        subject: "test tree".into(),
        started: datetime!(2026-03-14 09:00:00 UTC),
        finished: datetime!(2026-03-14 09:05:00 UTC),
        verdict: Report::verdict_of(&checks),
        policy: PolicyRecord::new("defaults", &vitrine_config::policy::Policy::default()),
        canaries: vec![CanaryRecord {
            id: "mac-01".into(),
            kind: "mac".into(),
            emitted: vec!["2026-03-14T08:55:00Z".into()],
        }],
        checks,
        windows: (0..3)
            .map(|i| WindowPoint {
                start: format!("2026-03-14T09:0{i}:00Z"),
                topic: "vitrine/s/r/wifi".into(),
                probe_requests: 100 + i,
                distinct_macs: 30 + i,
                devices_estimate: 12.3 + i as f64 / 10.0,
            })
            .collect(),
    }
}

/// The signed file with its report changed by `f`.
fn tampered(json: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(json).unwrap();
    f(&mut v["report"]);
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn a_signed_report_verifies_and_reads_back_the_same() {
    let key = DeviceKey::generate();
    let r = report();
    let json = sign(&r, &key).to_json_pretty();
    assert_eq!(verify(&json, None).unwrap(), r);
    assert_eq!(verify(&json, Some(&key.public_key_base64())).unwrap(), r);
}

#[test]
fn a_version_1_report_still_verifies() {
    // Version 1 is version 2 without the `incomplete` status and the count
    // and place fields: a report signed then reads back as it was.
    let key = DeviceKey::generate();
    let mut r = report();
    r.schema = "vitrine-audit-report/1".into();
    let json = sign(&r, &key).to_json_pretty();
    assert_eq!(verify(&json, None).unwrap(), r);
}

#[test]
fn the_envelope_has_the_documented_shape() {
    let key = DeviceKey::generate();
    let v: Value = serde_json::from_str(&sign(&report(), &key).to_json_pretty()).unwrap();
    assert_eq!(v["report"]["schema"], SCHEMA);
    assert_eq!(v["signature"]["algorithm"], "ed25519");
    assert_eq!(v["signature"]["public_key"], key.public_key_base64());
    let b64 = |s: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_str().unwrap())
            .unwrap()
    };
    assert_eq!(b64(&v["signature"]["public_key"]).len(), 32);
    assert_eq!(b64(&v["signature"]["value"]).len(), 64);
}

#[test]
fn reformatting_keeps_the_signature_valid() {
    let key = DeviceKey::generate();
    let json = sign(&report(), &key).to_json_pretty();
    let v: Value = serde_json::from_str(&json).unwrap();
    // Compact, and with every object's keys in reverse order.
    let compact = serde_json::to_string(&v).unwrap();
    assert!(verify(&compact, None).is_ok());
    fn reversed(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .rev()
                    .map(|(k, v)| format!("{}  :\n {}", Value::String(k.clone()), reversed(v)))
                    .collect();
                format!("{{\n\t{}\n}}", parts.join(" ,\r\n"))
            }
            Value::Array(a) => format!(
                "[ {} ]",
                a.iter().map(reversed).collect::<Vec<_>>().join(" , ")
            ),
            other => other.to_string(),
        }
    }
    let shuffled = reversed(&v);
    assert_ne!(shuffled, json);
    assert_eq!(verify(&shuffled, None).unwrap(), report());
}

#[test]
fn the_canonical_form_sorts_keys_and_has_no_whitespace() {
    let v: Value = serde_json::from_str(r#"{"b": [ {"z": 1, "a": "x y"} ], "a": 2.5}"#).unwrap();
    assert_eq!(
        canonical_bytes(&v),
        br#"{"a":2.5,"b":[{"a":"x y","z":1}]}"#.to_vec()
    );
}

#[test]
fn changing_the_verdict_breaks_the_signature() {
    let key = DeviceKey::generate();
    let json = sign(&report(), &key).to_json_pretty();
    let bad = tampered(&json, |r| r["verdict"] = "pass".into());
    assert!(matches!(
        verify(&bad, None),
        Err(VerifyError::BadSignature { .. })
    ));
}

#[test]
fn removing_a_finding_breaks_the_signature() {
    let key = DeviceKey::generate();
    let json = sign(&report(), &key).to_json_pretty();
    let bad = tampered(&json, |r| {
        r["checks"][0]["findings"].as_array_mut().unwrap().pop();
    });
    assert!(matches!(
        verify(&bad, None),
        Err(VerifyError::BadSignature { .. })
    ));
}

#[test]
fn changing_a_number_or_adding_a_field_breaks_the_signature() {
    let key = DeviceKey::generate();
    let json = sign(&report(), &key).to_json_pretty();
    for bad in [
        tampered(&json, |r| r["windows"][0]["devices_estimate"] = 12.4.into()),
        tampered(&json, |r| {
            r["checks"][0]["findings"][0]["evidence"]["offset"] = 4097.into()
        }),
        tampered(&json, |r| r["note"] = "added".into()),
    ] {
        assert!(
            matches!(verify(&bad, None), Err(VerifyError::BadSignature { .. })),
            "{bad}"
        );
    }
}

#[test]
fn replacing_the_key_in_the_file_is_caught_when_the_key_is_pinned() {
    let device = DeviceKey::generate();
    let forger = DeviceKey::generate();
    // A forger re-signs a changed report with their own key: the file is
    // consistent, so only pinning the expected key catches it.
    let mut r = report();
    r.verdict = vitrine_audit::report::Verdict::Pass;
    let json = sign(&r, &forger).to_json_pretty();
    assert!(verify(&json, None).is_ok());
    let err = verify(&json, Some(&device.public_key_base64())).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongKey {
            expected: device.fingerprint(),
            found: forger.fingerprint()
        }
    );
    assert!(err.to_string().contains("WRONG KEY"));
}

#[test]
fn swapping_the_public_key_alone_is_a_bad_signature() {
    let device = DeviceKey::generate();
    let other = DeviceKey::generate();
    let json = sign(&report(), &device).to_json_pretty();
    let mut v: Value = serde_json::from_str(&json).unwrap();
    v["signature"]["public_key"] = other.public_key_base64().into();
    assert!(matches!(
        verify(&v.to_string(), Some(&other.public_key_base64())),
        Err(VerifyError::BadSignature { .. })
    ));
}

#[test]
fn malformed_files_and_unknown_schemas_are_told_apart() {
    let key = DeviceKey::generate();
    let json = sign(&report(), &key).to_json_pretty();
    assert!(matches!(
        verify("not json", None),
        Err(VerifyError::Malformed(_))
    ));
    assert!(matches!(
        verify(r#"{"report": {"schema": "vitrine-audit-report/1"}}"#, None),
        Err(VerifyError::Malformed(_))
    ));
    let mut v: Value = serde_json::from_str(&json).unwrap();
    v["signature"]["value"] = "AAAA".into();
    assert!(matches!(
        verify(&v.to_string(), None),
        Err(VerifyError::Malformed(_))
    ));
    let other = tampered(&json, |r| r["schema"] = "vitrine-audit-report/3".into());
    assert_eq!(
        verify(&other, None).unwrap_err(),
        VerifyError::UnknownSchema {
            found: "vitrine-audit-report/3".into()
        }
    );
    let mut v: Value = serde_json::from_str(&json).unwrap();
    v["signature"]["algorithm"] = "rsa".into();
    assert!(matches!(
        verify(&v.to_string(), None),
        Err(VerifyError::UnsupportedAlgorithm { .. })
    ));
    assert_eq!(
        verify(&json, Some("not a key")).unwrap_err(),
        VerifyError::BadExpectedKey
    );
}

#[test]
fn the_html_page_carries_the_record_and_verifies() {
    let key = DeviceKey::generate();
    let signed = sign(&report(), &key);
    let html = render_html(&signed);
    assert_eq!(verify(&html, None).unwrap(), report());
    assert!(verify(&html, Some(&key.public_key_base64())).is_ok());
    let reopened = open(&html, None).unwrap();
    assert_eq!(render_html(&reopened), html);
}

#[test]
fn markup_in_evidence_cannot_reach_the_page() {
    let key = DeviceKey::generate();
    let mut r = report();
    let evil = "/tmp/<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>";
    let f = &mut r.checks[0].findings[0];
    f.evidence.path = Some(evil.into());
    f.evidence.detail = Some("</script><script>alert(3)</script><!--".into());
    f.summary = "<b>bold</b>".into();
    r.subject = "<h1>x</h1>".into();
    r.windows[0].topic = "</svg><script>alert(4)</script>".into();
    r.canaries[0].id = "<i>c</i>".into();
    let signed = sign(&r, &key);
    let html = render_html(&signed);
    // The only script element is the embedded record, and it is not ended
    // early by the data.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert_eq!(html.matches("</script>").count(), 1);
    assert!(!html.contains("<img"));
    assert!(!html.contains("<b>bold"));
    assert!(!html.contains("<h1>"));
    assert!(!html.contains("<i>c"));
    assert!(!html.contains("<!--"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/<wbr>script&gt;"));
    // ... and the record still reads back exactly.
    assert_eq!(verify(&html, None).unwrap(), r);
}

#[test]
fn the_page_names_the_verdict_first_and_omits_empty_charts() {
    let key = DeviceKey::generate();
    let mut r = report();
    let html = render_html(&sign(&r, &key));
    let verdict = html.find("FAIL").unwrap();
    assert!(verdict < html.find("Checks").unwrap());
    assert!(html.contains("2 findings — 2 critical"));
    assert!(html.contains("<svg"));
    assert!(html.contains(&key.fingerprint()[..4]));
    assert!(html.contains("vitrine-audit verify-report"));
    r.windows.clear();
    let html = render_html(&sign(&r, &key));
    assert!(!html.contains("<svg"));
    assert!(html.contains("no charts"));
}

#[test]
fn the_page_loads_nothing_from_elsewhere() {
    let html = render_html(&sign(&report(), &DeviceKey::generate()));
    for needle in ["src=", "href=\"http", "@import", "url(", "<link"] {
        assert!(!html.contains(needle), "{needle}");
    }
}

#[test]
fn a_device_key_is_created_private_and_loaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/device.key");
    let k1 = DeviceKey::load_or_create(&path).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let k2 = DeviceKey::load_or_create(&path).unwrap();
    assert_eq!(k1.public_key_base64(), k2.public_key_base64());
    assert_eq!(k1.fingerprint().len(), 16);
    // No temporary file is left behind.
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
    // The secret never shows in Debug.
    let dbg = format!("{k1:?}");
    assert!(dbg.contains("redacted") && dbg.contains(&k1.fingerprint()));
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.key");
    DeviceKey::load_or_create(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = DeviceKey::load_or_create(&path).unwrap_err();
    assert!(matches!(err, KeyError::Exposed { mode: 0o644, .. }));
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[test]
fn a_key_file_of_the_wrong_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.key");
    std::fs::write(&path, b"short").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        DeviceKey::load_or_create(&path),
        Err(KeyError::Length { .. })
    ));
}

#[test]
fn write_report_writes_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let signed = sign(&report(), &DeviceKey::generate());
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    write_report(&signed, &json, &html).unwrap();
    let text = std::fs::read_to_string(&json).unwrap();
    assert_eq!(verify(&text, None).unwrap(), report());
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn a_report_with_fields_added_later_still_verifies_and_keeps_them() {
    // What a newer /1 writer may produce: a field this version does not know.
    let seed = [7u8; 32];
    let key = DeviceKey::from_seed(&seed);
    let mut record = serde_json::to_value(report()).unwrap();
    record["operator"] = "Example Audits Ltd".into();
    record["checks"][0]["duration_s"] = 12.into();
    use ed25519_dalek::Signer;
    let sig = ed25519_dalek::SigningKey::from_bytes(&seed).sign(&canonical_bytes(&record));
    let value = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
    };
    let envelope = serde_json::json!({
        "report": record,
        "signature": {
            "algorithm": "ed25519",
            "public_key": key.public_key_base64(),
            "value": value,
        },
    });
    let opened = open(&envelope.to_string(), Some(&key.public_key_base64())).unwrap();
    assert_eq!(opened.report, report());
    assert_eq!(opened.record()["operator"], "Example Audits Ltd");
    // Written again (say, into the page), the record keeps what it does not know.
    assert!(verify(&render_html(&opened), Some(&key.public_key_base64())).is_ok());
}

/// The `<section id="ID">` of a page, up to its end.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no section {id}"));
    let len = html[start..].find("</section>").expect("closed");
    &html[start..start + len]
}

/// A failing scan: one canary found in two files and two forms, one found in
/// clear in memory, two not found at all.
fn failing_scan() -> Report {
    let mut r = report();
    let storage = &mut r.checks[0];
    storage.findings = ["/var/log/tracker.log", "/var/lib/app/db.sqlite"]
        .iter()
        .map(|p| Finding {
            check: "storage.canary".into(),
            severity: Severity::Critical,
            summary: "Canary mac-03 is stored as a truncated hash.".into(),
            evidence: Evidence {
                path: Some((*p).into()),
                offset: Some(10),
                canary: Some("mac-03".into()),
                encoding: Some("sha256(colon-lower)/hex-lower truncated to 12 hex digits".into()),
                count: Some(40),
                offsets: vec![10, 90],
                ..Evidence::default()
            },
        })
        .chain(std::iter::once(Finding {
            check: "storage.canary".into(),
            severity: Severity::Critical,
            summary: "Canary mac-03 is stored as base64.".into(),
            evidence: Evidence {
                path: Some("/var/log/tracker.log".into()),
                offset: Some(500),
                canary: Some("mac-03".into()),
                encoding: Some("base64(raw)".into()),
                ..Evidence::default()
            },
        }))
        .collect();
    storage.counts = Some(vitrine_audit::report::Counts {
        findings: 81,
        unlisted: 0,
        per_canary: [("mac-03".to_string(), 81)].into_iter().collect(),
        per_file: [
            ("/var/log/tracker.log".to_string(), 41),
            ("/var/lib/app/db.sqlite".to_string(), 40),
        ]
        .into_iter()
        .collect(),
    });
    r.checks.push(CheckResult {
        id: "memory.canary".into(),
        title: "No canary in the daemon's memory past the in-memory retention".into(),
        severity: Severity::High,
        status: Status::Failed,
        examined: "2.0 MB".into(),
        findings: vec![Finding {
            check: "memory.canary".into(),
            severity: Severity::High,
            summary: "Canary mac-05 is in memory.".into(),
            evidence: Evidence {
                process: Some("tracker".into()),
                pid: Some(42),
                canary: Some("mac-05".into()),
                encoding: Some("clear(colon-unpadded-lower)".into()),
                ..Evidence::default()
            },
        }],
        counts: None,
        not_read: None,
        set_aside: None,
    });
    r.canaries = ["mac-01", "mac-03", "mac-05", "ssid-02"]
        .iter()
        .map(|id| CanaryRecord {
            id: (*id).into(),
            kind: if id.starts_with("ssid") {
                "ssid"
            } else {
                "mac"
            }
            .into(),
            emitted: vec!["2026-03-14T08:55:00Z".into()],
        })
        .collect();
    r.verdict = Report::verdict_of(&r.checks);
    r
}

#[test]
fn the_page_has_one_line_per_canary_found_or_not() {
    use vitrine_audit::report::html::esc;
    let r = failing_scan();
    let html = render_html(&sign(&r, &DeviceKey::generate()));
    let summary = section(&html, "canaries-found");
    // Right after the verdict, before the checks.
    assert!(html.find("class=\"verdict fail\"").unwrap() < html.find(summary).unwrap());
    assert!(html.find(summary).unwrap() < html.find("<h2>Checks</h2>").unwrap());
    assert!(
        summary.contains("2 of 3 MAC address canaries found; 0 of 1 network name canary found"),
        "{summary}"
    );
    let rows: Vec<&str> = summary.split("<tr class=\"").skip(1).collect();
    assert_eq!(rows.len(), r.canaries.len(), "{summary}");
    for (row, c) in rows.iter().zip(&r.canaries) {
        assert!(row.contains(&format!("<code>{}</code>", c.id)), "{row}");
        let found = c.id == "mac-03" || c.id == "mac-05";
        assert_eq!(row.starts_with("found\""), found, "{row}");
        assert_eq!(row.contains("Not found"), !found, "{row}");
    }
    // Where, how often (counted, not only listed) and in which forms.
    let mac03 = rows[1];
    assert!(mac03.contains("81 times"), "{mac03}");
    assert!(mac03.contains("in 2 files"), "{mac03}");
    assert!(
        mac03.contains("tracker.log") && mac03.contains("db.sqlite"),
        "{mac03}"
    );
    assert!(mac03.contains("cut to 12 hex digits"), "{mac03}");
    assert!(mac03.contains("base64 of the address"), "{mac03}");
    assert!(rows[2].contains("in the memory of"), "{}", rows[2]);

    // Every encoding the findings use, in plain words, with whether it can
    // be undone.
    let forms = section(&html, "forms");
    let used: std::collections::BTreeSet<&str> = r
        .checks
        .iter()
        .flat_map(|c| &c.findings)
        .filter_map(|f| f.evidence.encoding.as_deref())
        .collect();
    assert_eq!(forms.matches("<tr class=\"form\">").count(), used.len());
    for e in used {
        let p = vitrine_audit::report::plain::describe(e);
        assert_ne!(
            p.reversible,
            vitrine_audit::report::plain::Reversible::Unknown,
            "{e}"
        );
        let words = esc(&p.words[1..]);
        assert!(forms.contains(&words), "{e}: {words}");
        assert!(forms.contains(&esc(&p.reversibility)), "{e}");
    }
    // An unkeyed hash of a MAC is said to be reversible, with the cost.
    assert!(forms.contains("Yes, by trying every address"), "{forms}");
    assert!(forms.contains("about 0.3 s"), "{forms}");
    assert!(forms.contains("2^39"), "{forms}");
    assert!(forms.contains("Yes, read as it is"), "{forms}");
}

#[test]
fn an_incomplete_page_says_what_completes_it() {
    let mut r = report();
    r.checks[0].findings.clear();
    r.checks[0].status = Status::Incomplete {
        reason: "1 place not read, e.g. /srv/data: permission denied".into(),
    };
    r.verdict = Report::verdict_of(&r.checks);
    let html = render_html(&sign(&r, &DeviceKey::generate()));
    let lacks = section(&html, "to-complete");
    // First thing after the verdict when it is the verdict.
    assert!(html.find(lacks).unwrap() < html.find("id=\"canaries-found\"").unwrap());
    assert!(lacks.contains("Not all read:"), "{lacks}");
    assert!(lacks.contains("as root"), "{lacks}");
    // The skipped journal check names the option that gives it a journal.
    assert!(
        lacks.contains("Not run:") && lacks.contains("no journal here"),
        "{lacks}"
    );
    assert!(lacks.contains("--journal-dir"), "{lacks}");
    // No canary was found: the line says so.
    let summary = section(&html, "canaries-found");
    assert!(
        summary.contains("0 of 1 MAC address canary found"),
        "{summary}"
    );
    assert!(!html.contains("id=\"forms\""));
}
