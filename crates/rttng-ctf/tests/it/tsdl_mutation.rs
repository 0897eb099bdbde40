//! Mutation test: corpus metadata texts (plus the spec's golden example) with random byte
//! flips, insertions, deletions, truncations and splices never make `decode_metadata_stream`
//! or `parse_metadata` panic. Set `RTTNG_MUTATION_CASES` to change the case count (default
//! 2000; CI runs 100000).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use rttng_ctf::metadata_stream::decode_metadata_stream;
use rttng_ctf::tsdl::parse_metadata;

use super::tsdl_corpus::corpus_texts;
use super::tsdl_golden::GOLDEN_TSDL;

const DEFAULT_CASES: u32 = 2000;

/// Bytes that are likely to change the meaning of TSDL text when inserted.
const INTERESTING: &[u8] = b"{}[]();,=:.<>-*\"'/\\\n\r 0123456789_xabcdefz\0\xff";

#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: usize,
        byte: u8,
    },
    Insert {
        at: usize,
        byte: u8,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Truncate {
        at: usize,
    },
    /// Copy `len` bytes from `from` of another corpus text to `at`.
    Splice {
        other: usize,
        from: usize,
        len: usize,
        at: usize,
    },
    Duplicate {
        from: usize,
        len: usize,
        at: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![any::<u8>(), proptest::sample::select(INTERESTING)];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (any::<usize>(), byte).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), any::<usize>(), 1usize..512, any::<usize>()).prop_map(
            |(other, from, len, at)| Mutation::Splice {
                other,
                from,
                len,
                at
            }
        ),
        (any::<usize>(), 1usize..256, any::<usize>())
            .prop_map(|(from, len, at)| Mutation::Duplicate { from, len, at }),
    ]
}

fn apply(mut bytes: Vec<u8>, m: &Mutation, corpus: &[Vec<u8>]) -> Vec<u8> {
    let pos = |at: usize, len: usize| if len == 0 { 0 } else { at % (len + 1) };
    match *m {
        Mutation::Flip { at, byte } => {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = byte;
            }
        }
        Mutation::Insert { at, byte } => {
            let i = pos(at, bytes.len());
            bytes.insert(i, byte);
        }
        Mutation::Delete { at, len } => {
            let i = pos(at, bytes.len());
            let end = (i + len).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Truncate { at } => {
            let i = pos(at, bytes.len());
            bytes.truncate(i);
        }
        Mutation::Splice {
            other,
            from,
            len,
            at,
        } => {
            let src = &corpus[other % corpus.len()];
            let start = pos(from, src.len());
            let end = (start + len).min(src.len());
            let i = pos(at, bytes.len());
            bytes.splice(i..i, src[start..end].iter().copied());
        }
        Mutation::Duplicate { from, len, at } => {
            let start = pos(from, bytes.len());
            let end = (start + len).min(bytes.len());
            let piece = bytes[start..end].to_vec();
            let i = pos(at, bytes.len());
            bytes.splice(i..i, piece);
        }
    }
    bytes
}

fn cases() -> u32 {
    std::env::var("RTTNG_MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

#[test]
fn mutated_metadata_never_panics() {
    let mut corpus: Vec<Vec<u8>> = corpus_texts().into_iter().map(String::into_bytes).collect();
    corpus.push(GOLDEN_TSDL.as_bytes().to_vec());
    let corpus = corpus;
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (any::<usize>(), proptest::collection::vec(mutation(), 1..8));
    let parsed_ok = std::cell::Cell::new(0u32);
    runner
        .run(&strategy, |(which, mutations)| {
            let mut bytes = corpus[which % corpus.len()].clone();
            for m in &mutations {
                bytes = apply(bytes, m, &corpus);
            }
            let _ = decode_metadata_stream(&bytes);
            let text = String::from_utf8_lossy(&bytes);
            if parse_metadata(&text).is_ok() {
                parsed_ok.set(parsed_ok.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    // Some mutations are harmless (inside comments or strings): the parser must not reject all.
    assert!(
        parsed_ok.get() > 0 || cases() < 100,
        "no mutated text parsed"
    );
}

#[test]
fn every_prefix_of_the_golden_example_is_handled() {
    // Truncation at every byte: each prefix is either accepted or rejected with a line inside it.
    let lines = GOLDEN_TSDL.lines().count() as u32;
    for end in 0..GOLDEN_TSDL.len() {
        if let Err(e) = parse_metadata(&GOLDEN_TSDL[..end]) {
            assert!(e.line >= 1 && e.line <= lines, "prefix {end}: {e}");
        }
    }
    assert!(parse_metadata(GOLDEN_TSDL).is_ok());
}
