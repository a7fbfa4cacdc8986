use super::*;

/// The radiotap header of the ESP32 captures: channel, dBm signal, antenna.
fn esp32_radiotap(freq: u16, signal: i8) -> Vec<u8> {
    let mut rt = vec![0, 0, 14, 0, 0x28, 0x08, 0, 0];
    rt.extend_from_slice(&freq.to_le_bytes());
    rt.extend_from_slice(&[0x80, 0x00, signal as u8, 0]);
    rt
}

fn probe_request(sa: [u8; 6], seq: u16, ssid: &[u8]) -> Vec<u8> {
    let mut f = vec![0x40, 0x00, 0, 0];
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&sa);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&(seq << 4).to_le_bytes());
    f.extend_from_slice(&[0, ssid.len() as u8]);
    f.extend_from_slice(ssid);
    f.extend_from_slice(&[1, 4, 0x02, 0x04, 0x0b, 0x16]);
    f.extend_from_slice(&[255, 3, 35, 0xaa, 0xbb]);
    f.extend_from_slice(&[221, 5, 0x00, 0x17, 0xf2, 0x0a, 0x00]);
    f
}

#[test]
fn probe_request_fields_are_read() {
    let mut p = esp32_radiotap(2437, -61);
    p.extend(probe_request([0x02, 1, 2, 3, 4, 5], 1234, b"HomeNet"));
    let frame = parse(&p).unwrap();
    assert_eq!(frame.kind, FrameKind::ProbeRequest);
    assert_eq!(frame.radio.signal_dbm, Some(-61));
    assert_eq!(
        frame.radio.channel(),
        Some(Channel {
            band: Band::Ghz2_4,
            number: 6
        })
    );
    let probe = frame.probe.unwrap();
    assert_eq!(probe.seq, 1234);
    assert!(probe.transmitter.is_randomized());
    assert!(probe.ssid.is_directed());
    let ids: Vec<_> = probe
        .elements()
        .map(|e| (e.id, e.ext_id, e.data.len()))
        .collect();
    assert_eq!(
        ids,
        vec![
            (0, None, 7),
            (1, None, 4),
            (255, Some(35), 2),
            (221, None, 5)
        ]
    );
}

#[test]
fn every_truncation_of_a_valid_packet_is_classified() {
    let mut p = esp32_radiotap(2412, -40);
    p.extend(probe_request([0x02, 1, 2, 3, 4, 5], 7, b""));
    // Cuts between elements leave a shorter but valid chain.
    let element_boundaries = [38, 40, 46, 51];
    for cut in 0..p.len() {
        let got = parse(&p[..cut]).map(|f| f.probe.unwrap().elements().count());
        let expected = match cut {
            0..14 => Err(Malformed::RadiotapTruncated),
            14..38 => Err(Malformed::Dot11Truncated),
            _ => match element_boundaries.iter().position(|&b| b == cut) {
                Some(n) => Ok(n),
                None => Err(Malformed::ElementOverrun),
            },
        };
        assert_eq!(got, expected, "cut at {cut}");
    }
}

#[test]
fn flags_fcs_is_stripped_and_bad_fcs_is_reported() {
    // Flags field present (bit 1), FCS at end.
    let mut p = vec![0, 0, 9, 0, 0x02, 0, 0, 0, FLAG_FCS];
    p.extend(probe_request([0x02, 1, 2, 3, 4, 5], 7, b""));
    p.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let frame = parse(&p).unwrap();
    assert_eq!(frame.probe.unwrap().elements().count(), 4);
    p[8] |= 0x40;
    assert_eq!(parse(&p).unwrap_err(), Malformed::BadFcs);
}
const FLAG_FCS: u8 = 0x10;

#[test]
fn extended_presence_words_and_alignment_are_honoured() {
    // TSFT + flags + channel + signal, with one extended presence word.
    let mut rt = vec![0, 0, 0, 0];
    rt.extend_from_slice(&(0x8000_002bu32).to_le_bytes());
    rt.extend_from_slice(&0u32.to_le_bytes());
    rt.extend_from_slice(&[0; 4]); // pad to 8 for TSFT at offset 16
    rt.extend_from_slice(&[0; 8]); // TSFT
    rt.push(0); // flags
    rt.push(0); // pad for channel (align 2)
    rt.extend_from_slice(&5180u16.to_le_bytes());
    rt.extend_from_slice(&[0, 1]);
    rt.push((-70i8) as u8);
    let len = rt.len() as u16;
    rt[2..4].copy_from_slice(&len.to_le_bytes());
    rt.extend(probe_request([0x00, 0x16, 0x6c, 3, 4, 5], 9, b""));
    let frame = parse(&rt).unwrap();
    assert_eq!(frame.radio.freq_mhz, Some(5180));
    assert_eq!(
        frame.radio.channel(),
        Some(Channel {
            band: Band::Ghz5,
            number: 36
        })
    );
    assert_eq!(frame.radio.signal_dbm, Some(-70));
}

#[test]
fn other_frame_types_are_classified() {
    let rt = esp32_radiotap(2412, -50);
    let cases: [(&[u8], Result<FrameKind, Malformed>); 5] = [
        (&[0xd4, 0, 0, 0, 1, 2, 3, 4, 5, 6], Ok(FrameKind::Control)),
        (&[0x80, 0, 0, 0], Err(Malformed::Dot11Truncated)),
        (&[0x08, 0x01], Err(Malformed::Dot11Truncated)),
        (&[0x41, 0, 0, 0], Err(Malformed::Dot11Version)),
        (&[], Err(Malformed::Dot11Truncated)),
    ];
    for (frame, expected) in cases {
        let mut p = rt.clone();
        p.extend_from_slice(frame);
        assert_eq!(parse(&p).map(|f| f.kind), expected, "{frame:02x?}");
    }
    let mut beacon = rt.clone();
    beacon.extend_from_slice(&[0x80, 0]);
    beacon.extend_from_slice(&[0; 22 + 12]);
    assert_eq!(parse(&beacon).unwrap().kind, FrameKind::Beacon);
}

#[test]
fn radiotap_errors_are_classified() {
    assert_eq!(
        parse(&[1, 0, 8, 0, 0, 0, 0, 0]).unwrap_err(),
        Malformed::RadiotapVersion
    );
    assert_eq!(
        parse(&[0, 0, 200, 0, 0, 0, 0, 0]).unwrap_err(),
        Malformed::RadiotapTruncated
    );
    // Signal present but the header ends before it.
    assert_eq!(
        parse(&[0, 0, 8, 0, 0x20, 0, 0, 0]).unwrap_err(),
        Malformed::RadiotapFieldOverrun
    );
    // Extended presence words that never end.
    assert_eq!(
        parse(&[0, 0, 12, 0, 0, 0, 0, 0x80, 0, 0, 0, 0x80]).unwrap_err(),
        Malformed::RadiotapFieldOverrun
    );
}

#[test]
fn channels_map_from_frequencies() {
    let ch = |f| radiotap::channel_of(f).map(|c| (c.band, c.number));
    assert_eq!(ch(2412), Some((Band::Ghz2_4, 1)));
    assert_eq!(ch(2484), Some((Band::Ghz2_4, 14)));
    assert_eq!(ch(5745), Some((Band::Ghz5, 149)));
    assert_eq!(
        ch(5955),
        Some((Band::Ghz6, 1)),
        "not the same channel as 2.4 GHz channel 1"
    );
    assert_eq!(ch(5000), None);
    assert_eq!(ch(900), None);
}

#[test]
fn debug_output_shows_no_address_ssid_or_element_contents() {
    let mut p = esp32_radiotap(2437, -61);
    p.extend(probe_request(
        [0x02, 0xca, 0xfe, 0x12, 0x34, 0x56],
        1,
        b"HomeNet",
    ));
    let text = format!("{:?}", parse(&p).unwrap());
    // Neither the SSID (text or bytes) nor the address (202 = 0xca, 254 = 0xfe) shows.
    for leak in ["HomeNet", "72, 111", "202", "254", "ca:fe", "cafe"] {
        assert!(
            !text.to_lowercase().contains(&leak.to_lowercase()),
            "{leak} in {text}"
        );
    }
    assert!(text.contains("Element(221, 5 bytes)"), "{text}");
}

#[test]
fn a_probe_cut_by_the_snaplen_keeps_its_complete_elements() {
    let mut p = esp32_radiotap(2437, -61);
    p.extend(probe_request([0x02, 1, 2, 3, 4, 5], 321, b"HomeNet"));
    let whole = p.len();
    // The elements: SSID (9 bytes), rates (6), extension (5), vendor (7).
    // Cut in the middle of the extension element: SSID and rates remain.
    let header = 14 + 24;
    let cut = &p[..header + 9 + 6 + 3];
    assert_eq!(parse(cut).unwrap_err(), Malformed::ElementOverrun);
    let frame = parse_captured(cut, whole).unwrap();
    assert!(frame.cut);
    let probe = frame.probe.unwrap();
    assert_eq!(probe.seq, 321);
    let ids: Vec<u8> = probe.elements().map(|e| e.id).collect();
    assert_eq!(ids, [element_id::SSID, element_id::SUPPORTED_RATES]);
    // Cut right after the header: a probe with no elements.
    let frame = parse_captured(&p[..header], whole).unwrap();
    assert_eq!(frame.probe.unwrap().elements().count(), 0);
    // Cut inside the 802.11 header: nothing to count.
    assert_eq!(
        parse_captured(&p[..header - 1], whole).unwrap_err(),
        Malformed::Dot11Truncated
    );
    // A whole packet is not cut, and a damaged chain is still malformed.
    assert!(!parse_captured(&p, whole).unwrap().cut);
    let mut damaged = p.clone();
    damaged[header + 9 + 1] = 200;
    assert_eq!(
        parse_captured(&damaged, whole).unwrap_err(),
        Malformed::ElementOverrun
    );
}

#[test]
fn a_cut_packet_with_an_fcs_is_not_read_as_if_the_fcs_were_there() {
    let mut p = vec![0, 0, 9, 0, 0x02, 0, 0, 0, FLAG_FCS];
    p.extend(probe_request([0x02, 1, 2, 3, 4, 5], 7, b""));
    p.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let whole = p.len();
    // Cut two bytes into the FCS: the frame itself is complete.
    let frame = parse_captured(&p[..whole - 2], whole).unwrap();
    assert!(!frame.cut);
    assert_eq!(frame.probe.unwrap().elements().count(), 4);
    // Cut before the FCS, inside the vendor element: three elements remain
    // and none of the frame's bytes is taken for an FCS.
    let frame = parse_captured(&p[..whole - 6], whole).unwrap();
    assert!(frame.cut);
    assert_eq!(frame.probe.unwrap().elements().count(), 3);
}
