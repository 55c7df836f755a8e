use super::*;
use proptest::prelude::*;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Headers {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn round_trip(frames: &[Frame]) -> Vec<Frame> {
    let mut encoder = Encoder::new();
    let mut wire = BytesMut::new();
    for f in frames {
        encoder.encode(f, &mut wire);
    }
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    while let Some(f) = decoder.decode(&mut wire).unwrap() {
        out.push(f);
    }
    assert!(wire.is_empty());
    out
}

#[test]
fn the_dictionary_is_spdy3s() {
    assert_eq!(DICTIONARY.len(), 1423);
    // zlib names a dictionary by its Adler-32; this is the id every
    // SPDY/3 header stream carries in its zlib header.
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in DICTIONARY.iter() {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    assert_eq!(b << 16 | a, 0xe3c6_a7c2);
    assert!(DICTIONARY.starts_with(b"\x00\x00\x00\x07options"));
    assert!(DICTIONARY.ends_with(b"charset=iso-8859-1,utf-,*,enq=0."));
}

/// Two SYN_STREAMs as a peer writes them (zlib with the dictionary, one
/// stream across frames, a sync flush after each block): the second block
/// only decompresses with the first's history.
#[test]
fn decodes_a_peers_compressed_streams() {
    let mut wire = BytesMut::from(
        &hex(
            "800300010000003c0000000100000000000078f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45a024cc64610024398b209198094adc8c0600000000ffff800300010000001800000003000000000000c2aa15540a2512d209000000ffff",
        )[..],
    );
    let mut decoder = Decoder::new();
    let Some(Frame::SynStream {
        stream: 1, headers, ..
    }) = decoder.decode(&mut wire).unwrap()
    else {
        panic!("a SYN_STREAM")
    };
    assert_eq!(
        headers,
        pairs(&[("streamtype", "error"), ("port", "80"), ("requestid", "0")])
    );
    let Some(Frame::SynStream {
        stream: 3, headers, ..
    }) = decoder.decode(&mut wire).unwrap()
    else {
        panic!("a SYN_STREAM")
    };
    assert_eq!(header(&headers, "streamtype"), Some("data"));
    assert_eq!(decoder.decode(&mut wire).unwrap(), None);
}

#[test]
fn every_frame_round_trips() {
    let frames = vec![
        Frame::SynStream {
            stream: 1,
            associated: 0,
            priority: 7,
            fin: false,
            unidirectional: true,
            headers: pairs(&[("streamtype", "stdin"), ("x-multi", "a"), ("x-multi", "b")]),
        },
        Frame::SynReply {
            stream: 1,
            fin: false,
            headers: Vec::new(),
        },
        Frame::Headers {
            stream: 1,
            fin: true,
            headers: pairs(&[("a", "")]),
        },
        Frame::Data {
            stream: 1,
            fin: false,
            data: Bytes::from_static(b"hello"),
        },
        Frame::Data {
            stream: 3,
            fin: true,
            data: Bytes::new(),
        },
        Frame::RstStream {
            stream: 5,
            status: status::CANCEL,
        },
        Frame::Settings {
            clear: true,
            entries: vec![Setting {
                flags: 1,
                id: 7,
                value: 1 << 20,
            }],
        },
        Frame::Ping { id: 1 },
        Frame::GoAway {
            last_good: 9,
            status: status::GOAWAY_OK,
        },
        Frame::WindowUpdate {
            stream: 0,
            delta: 65536,
        },
    ];
    assert_eq!(round_trip(&frames), frames);
}

#[test]
fn header_names_arrive_lower_case() {
    let out = round_trip(&[Frame::SynReply {
        stream: 2,
        fin: false,
        headers: pairs(&[("StreamType", "Error")]),
    }]);
    let Frame::SynReply { headers, .. } = &out[0] else {
        panic!()
    };
    assert_eq!(headers, &pairs(&[("streamtype", "Error")]));
}

#[test]
fn partial_frames_wait_for_more_bytes() {
    let mut encoder = Encoder::new();
    let mut wire = BytesMut::new();
    encoder.encode(
        &Frame::Data {
            stream: 1,
            fin: false,
            data: Bytes::from(vec![7u8; 1000]),
        },
        &mut wire,
    );
    let whole = wire.split();
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    for (i, byte) in whole.iter().enumerate() {
        assert_eq!(decoder.decode(&mut buf).unwrap(), None, "at {i}");
        buf.put_u8(*byte);
    }
    let Some(Frame::Data { data, .. }) = decoder.decode(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(data.len(), 1000);
}

#[test]
fn unknown_control_frames_are_skipped_and_bad_ones_refused() {
    let mut wire = BytesMut::new();
    control_header(0x0f, 0, 3, &mut wire);
    wire.put_slice(b"abc");
    Encoder::new().encode(&Frame::Ping { id: 3 }, &mut wire);
    assert_eq!(
        Decoder::new().decode(&mut wire).unwrap(),
        Some(Frame::Ping { id: 3 })
    );

    let mut v2 = BytesMut::from(&[0x80u8, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1][..]);
    assert_eq!(Decoder::new().decode(&mut v2), Err(Error::Version(2)));
    let mut short_ping = BytesMut::from(&[0x80u8, 3, 0, 6, 0, 0, 0, 2, 0, 1][..]);
    assert!(matches!(
        Decoder::new().decode(&mut short_ping),
        Err(Error::Malformed(_))
    ));
    let mut data0 = BytesMut::from(&[0u8, 0, 0, 0, 0, 0, 0, 0][..]);
    assert!(Decoder::new().decode(&mut data0).is_err());
    // A header block that is not zlib.
    let mut garbage = BytesMut::new();
    control_header(TYPE_SYN_REPLY, 0, 8, &mut garbage);
    garbage.put_slice(&[0, 0, 0, 1, 1, 2, 3, 4]);
    assert!(matches!(
        Decoder::new().decode(&mut garbage),
        Err(Error::Compression(_))
    ));
}

#[test]
fn a_header_bomb_is_refused() {
    // Megabytes of one value compress to a few kilobytes.
    let big = "a".repeat(4 * MAX_HEADER_BLOCK);
    let mut encoder = Encoder::new();
    let mut wire = BytesMut::new();
    encoder.encode(
        &Frame::SynStream {
            stream: 1,
            associated: 0,
            priority: 0,
            fin: false,
            unidirectional: false,
            headers: pairs(&[("x", &big)]),
        },
        &mut wire,
    );
    assert!(wire.len() < MAX_HEADER_BLOCK);
    assert!(matches!(
        Decoder::new().decode(&mut wire),
        Err(Error::Compression(_))
    ));
}

#[test]
fn large_payloads_split_into_frames() {
    let data = Bytes::from(vec![1u8; MAX_FRAME_PAYLOAD + 10]);
    let out = round_trip(&[Frame::Data {
        stream: 1,
        fin: true,
        data: data.clone(),
    }]);
    assert_eq!(out.len(), 2);
    let fins: Vec<bool> = out
        .iter()
        .map(|f| matches!(f, Frame::Data { fin: true, .. }))
        .collect();
    assert_eq!(fins, vec![false, true]);
}

fn any_headers() -> impl Strategy<Value = Headers> {
    proptest::collection::vec(("[a-z][a-z0-9-]{0,12}", "[ -~]{0,40}"), 0..6)
}

fn any_frame() -> impl Strategy<Value = Frame> {
    let stream = 1u32..=STREAM_MASK;
    prop_oneof![
        (
            stream.clone(),
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(stream, fin, data)| Frame::Data {
                stream,
                fin,
                data: data.into()
            }),
        (
            stream.clone(),
            0..=STREAM_MASK,
            0u8..8,
            any::<bool>(),
            any::<bool>(),
            any_headers()
        )
            .prop_map(
                |(stream, associated, priority, fin, unidirectional, headers)| {
                    Frame::SynStream {
                        stream,
                        associated,
                        priority,
                        fin,
                        unidirectional,
                        headers,
                    }
                }
            ),
        (stream.clone(), any::<bool>(), any_headers()).prop_map(|(stream, fin, headers)| {
            Frame::SynReply {
                stream,
                fin,
                headers,
            }
        }),
        (stream.clone(), any::<u32>())
            .prop_map(|(stream, status)| Frame::RstStream { stream, status }),
        any::<u32>().prop_map(|id| Frame::Ping { id }),
        (0..=STREAM_MASK, any::<u32>())
            .prop_map(|(last_good, status)| Frame::GoAway { last_good, status }),
        (0..=STREAM_MASK, 0..=STREAM_MASK)
            .prop_map(|(stream, delta)| Frame::WindowUpdate { stream, delta }),
    ]
}

/// Headers with the same name come back grouped (SPDY carries one entry
/// per name, values joined by NUL), in first-appearance order.
fn grouped(headers: &Headers) -> Headers {
    let mut names: Vec<&String> = Vec::new();
    for (n, _) in headers {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
        .into_iter()
        .flat_map(|n| headers.iter().filter(move |(m, _)| m == n).cloned())
        .collect()
}

fn normalized(frame: Frame) -> Frame {
    match frame {
        Frame::SynStream {
            stream,
            associated,
            priority,
            fin,
            unidirectional,
            headers,
        } => Frame::SynStream {
            stream,
            associated,
            priority,
            fin,
            unidirectional,
            headers: grouped(&headers),
        },
        Frame::SynReply {
            stream,
            fin,
            headers,
        } => Frame::SynReply {
            stream,
            fin,
            headers: grouped(&headers),
        },
        other => other,
    }
}

proptest! {
    #[test]
    fn frames_round_trip(frames in proptest::collection::vec(any_frame(), 1..12)) {
        let expected: Vec<Frame> = frames.iter().cloned().map(normalized).collect();
        prop_assert_eq!(round_trip(&frames), expected);
    }

    /// Whatever arrives, decoding answers (a frame, more please, or an
    /// error) and never panics.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let mut decoder = Decoder::new();
        while let Ok(Some(_)) = decoder.decode(&mut buf) {}
    }

    /// Valid frames with bytes flipped: never a panic.
    #[test]
    fn corrupted_frames_never_panic(
        frames in proptest::collection::vec(any_frame(), 1..4),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut encoder = Encoder::new();
        let mut wire = BytesMut::new();
        for f in &frames {
            encoder.encode(f, &mut wire);
        }
        for (at, byte) in flips {
            let i = at.index(wire.len());
            wire[i] ^= byte;
        }
        let mut decoder = Decoder::new();
        while let Ok(Some(_)) = decoder.decode(&mut wire) {}
    }
}
