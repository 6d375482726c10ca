use proptest::prelude::*;

use super::*;

const UNLIMITED: u64 = u64::MAX;

/// What a sender puts on the wire for `message` (RFC 5321 §4.5.2): a dot doubled at the
/// start of every line, a CRLF added if the message does not end with one, `.` CRLF.
fn stuff(message: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(message.len() + 8);
    let mut line_start = true;
    for (i, &b) in message.iter().enumerate() {
        if line_start && b == b'.' {
            wire.push(b'.');
        }
        wire.push(b);
        line_start = b == b'\n' && i > 0 && message[i - 1] == b'\r';
    }
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

/// Everything the decoder says about `input` fed in pieces cut at `cuts`.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    out: Vec<u8>,
    consumed: usize,
    done: bool,
    result: Result<Decoded, Violation>,
}

fn run(input: &[u8], cuts: &[usize], max_line: usize, max_bytes: u64) -> Run {
    let mut decoder = DataDecoder::new(max_line, max_bytes);
    let mut out = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    bounds.extend([0, input.len()]);
    bounds.sort_unstable();
    let mut consumed = 0;
    let mut done = false;
    for pair in bounds.windows(2) {
        let piece = &input[pair[0]..pair[1]];
        let progress = decoder.feed(piece, &mut out);
        consumed += progress.consumed;
        done = progress.done;
        if done {
            break;
        }
        assert_eq!(progress.consumed, piece.len(), "a piece is used whole until the end of data");
    }
    Run { out, consumed, done, result: decoder.finish() }
}

fn whole(input: &[u8]) -> Run {
    run(input, &[], 1000, UNLIMITED)
}

#[test]
fn unstuffs_and_stops_at_crlf_dot_crlf() {
    let r = whole(b"Subject: x\r\n\r\n..leading dot\r\n...\r\nlast\r\n.\r\nQUIT\r\n");
    assert_eq!(r.out, b"Subject: x\r\n\r\n.leading dot\r\n..\r\nlast\r\n");
    assert!(r.done);
    assert_eq!(r.consumed, 43);
    assert_eq!(r.result, Ok(Decoded { size: 38, message_id: None }));
}

#[test]
fn empty_message() {
    let r = whole(b".\r\nRSET\r\n");
    assert_eq!((r.out.as_slice(), r.consumed, r.done), (&b""[..], 3, true));
}

#[test]
fn bare_lf_and_bare_cr_never_end_the_data() {
    for tricky in [&b"a\n.\nb\r\n"[..], b"a\n.\r\nb\r\n", b"a\r.\rb\r\n", b"a\r\n.\nb\r\n", b"a\r\n.\rb\r\n"] {
        let mut input = tricky.to_vec();
        let r = whole(&input);
        assert!(!r.done, "{:?} ended the data", String::from_utf8_lossy(tricky));
        input.extend_from_slice(b".\r\n");
        let r = whole(&input);
        assert!(r.done);
        assert_eq!(r.consumed, input.len());
    }
}

#[test]
fn smuggled_commands_stay_inside_the_message() {
    let input = b"x\r\n\n.\nMAIL FROM:<evil@x>\r\n\r\n.\r\n";
    let r = whole(input);
    assert!(r.done);
    assert_eq!(r.consumed, input.len());
    assert_eq!(r.out, b"x\r\n\n.\nMAIL FROM:<evil@x>\r\n\r\n");
}

#[test]
fn dot_cr_without_lf_drops_only_the_dot() {
    assert_eq!(whole(b".\rX\r\n.\r\n").out, b"\rX\r\n");
    assert_eq!(whole(b".\r\r\n.\r\n").out, b"\r\r\n");
}

#[test]
fn line_limit_counts_crlf_but_not_the_stuffing_dot() {
    let fits = [vec![b'.'; 999], b"\r\n.\r\n".to_vec()].concat(); // ".…" of 998 + CRLF = 1000
    assert!(run(&fits, &[], 1000, UNLIMITED).result.is_ok());
    let over = [vec![b'a'; 999], b"\r\n.\r\n".to_vec()].concat();
    let r = run(&over, &[], 1000, UNLIMITED);
    assert_eq!((r.done, r.consumed), (true, over.len()));
    assert_eq!(r.result, Err(Violation::LineTooLong));
    let bare_lf_lines = b"a\nb\nc\n\r\n.\r\n";
    assert!(run(bare_lf_lines, &[], 3, UNLIMITED).result.is_ok());
}

#[test]
fn size_limit_discards_but_reads_to_the_end() {
    let input = b"0123456789\r\n.\r\nNOOP\r\n";
    let fits = run(input, &[3], 1000, 12);
    assert_eq!(fits.result.map(|d| d.size), Ok(12));
    let over = run(input, &[3], 1000, 11);
    assert_eq!((over.done, over.consumed), (true, 15));
    assert_eq!(over.result, Err(Violation::TooBig));
    assert!(over.out.len() <= 11);
}

#[test]
fn message_id_comes_from_the_header() {
    let input = b"From: a@b\r\nMessage-ID:\r\n <m1@x.example>\r\n\r\nMessage-ID: <body@x>\r\n.\r\n";
    let r = run(input, &[5, 17, 30], 1000, UNLIMITED);
    assert_eq!(r.result.map(|d| d.message_id), Ok(Some("<m1@x.example>".into())));
}

#[test]
fn a_large_message_streams_in_bounded_pieces() {
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    let mut decoder = DataDecoder::new(1000, UNLIMITED);
    let mut out = Vec::with_capacity(64 * 1024);
    let chunk = line.repeat(64 * 1024 / line.len());
    let mut total = 0u64;
    for _ in 0..256 {
        out.clear();
        let progress = decoder.feed(&chunk, &mut out);
        assert_eq!(progress, Progress { consumed: chunk.len(), done: false });
        assert_eq!(out.len(), chunk.len());
        total += out.len() as u64;
    }
    assert!(decoder.feed(b".\r\n", &mut out).done);
    assert_eq!(decoder.finish().map(|d| d.size), Ok(total));
}

/// Message bytes rich in what matters: dots, CR, LF, at line starts and elsewhere.
fn message_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => Just(b'.'),
        3 => Just(b'\r'),
        3 => Just(b'\n'),
        1 => Just(0u8),
        1 => Just(0xff_u8),
        4 => b'a'..=b'z',
    ];
    let piece = prop_oneof![
        3 => proptest::collection::vec(byte, 0..8),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r\n.".to_vec()),
        1 => Just(b"\r\n.\r".to_vec()),
        1 => Just(b"\n.\n".to_vec()),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn stuffed_message_round_trips_under_any_split(
        message in message_bytes(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        trailer in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let wire = stuff(&message);
        let mut input = wire.clone();
        input.extend_from_slice(&trailer);
        let r = run(&input, &cuts, usize::MAX, UNLIMITED);
        let mut expected = message.clone();
        if !message.is_empty() && !message.ends_with(b"\r\n") {
            expected.extend_from_slice(b"\r\n");
        }
        prop_assert!(r.done);
        prop_assert_eq!(r.consumed, wire.len());
        prop_assert_eq!(&r.out, &expected);
        prop_assert_eq!(r.result.map(|d| d.size), Ok(expected.len() as u64));
    }

    #[test]
    fn any_input_any_split_same_answer(
        input in prop_oneof![message_bytes(), proptest::collection::vec(any::<u8>(), 0..300)],
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        max_line in 1usize..40,
        max_bytes in 0u64..200,
    ) {
        let in_one = run(&input, &[], max_line, max_bytes);
        let in_pieces = run(&input, &cuts, max_line, max_bytes);
        prop_assert!(in_one.out.len() <= input.len());
        prop_assert!(in_one.out.len() as u64 <= max_bytes);
        prop_assert!(in_one.consumed <= input.len());
        prop_assert_eq!(in_one, in_pieces);
    }
}
