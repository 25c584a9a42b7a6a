//! Wire framing of the RouterOS API: length-prefixed words grouped into sentences that end
//! with a zero-length word (help.mikrotik.com, "API", section "Protocol" / "API words").

use bytes::{Buf, BufMut, BytesMut};
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

/// Default cap on one word; RouterOS replies are far smaller, this only stops a hostile peer.
pub const DEFAULT_MAX_WORD: usize = 1 << 20;
/// Default cap on the summed word bytes of one sentence.
pub const DEFAULT_MAX_SENTENCE: usize = 8 << 20;
/// Default cap on the number of words in one sentence.
pub const DEFAULT_MAX_WORDS: usize = 16 * 1024;

/// One decoded sentence: its words as raw bytes, in order, without the terminating empty word.
pub type RawSentence = Vec<Vec<u8>>;

/// Why bytes could not be framed or unframed.
#[derive(Debug, Error)]
pub enum CodecError {
    /// A first length byte of 0xF1..=0xFF: reserved control bytes ("API words": >= 0xF8) or an
    /// encoding the documentation does not define; the rest of the stream cannot be interpreted.
    #[error("unknown control byte {0:#04x} in a word length")]
    ControlByte(u8),
    /// A word longer than the configured cap.
    #[error("word of {len} bytes exceeds the limit of {max}")]
    WordTooLong {
        /// Announced length.
        len: usize,
        /// Configured cap.
        max: usize,
    },
    /// A sentence whose words add up to more than the configured cap.
    #[error("sentence exceeds the limit of {max} bytes")]
    SentenceTooLong {
        /// Configured cap.
        max: usize,
    },
    /// A sentence with more words than the configured cap.
    #[error("sentence exceeds the limit of {max} words")]
    TooManyWords {
        /// Configured cap.
        max: usize,
    },
    /// A word too long to be encoded at all (over `u32::MAX` bytes).
    #[error("word of {0} bytes cannot be encoded")]
    Unencodable(usize),
    /// The stream ended inside a sentence.
    #[error("connection closed in the middle of a sentence")]
    Truncated,
    /// An I/O error from the underlying transport.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Appends the API length prefix for a word of `len` bytes ("API words" table: 1 to 5 bytes).
pub fn encode_length(len: usize, dst: &mut BytesMut) -> Result<(), CodecError> {
    let n = u32::try_from(len).map_err(|_| CodecError::Unencodable(len))?;
    match n {
        0..=0x7F => dst.put_u8(n as u8),
        0x80..=0x3FFF => dst.put_u16(n as u16 | 0x8000),
        0x4000..=0x1F_FFFF => {
            let v = n | 0xC0_0000;
            dst.put_slice(&v.to_be_bytes()[1..]);
        }
        0x20_0000..=0x0FFF_FFFF => dst.put_u32(n | 0xE000_0000),
        _ => {
            dst.put_u8(0xF0);
            dst.put_u32(n);
        }
    }
    Ok(())
}

/// Reads a length prefix from the start of `buf`: `Ok(None)` if more bytes are needed, else
/// the word length and the number of prefix bytes.
pub fn decode_length(buf: &[u8]) -> Result<Option<(usize, usize)>, CodecError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let width = match b0 {
        0x00..=0x7F => 1,
        0x80..=0xBF => 2,
        0xC0..=0xDF => 3,
        0xE0..=0xEF => 4,
        0xF0 => 5,
        _ => return Err(CodecError::ControlByte(b0)),
    };
    if buf.len() < width {
        return Ok(None);
    }
    let len = match width {
        1 => u32::from(b0),
        2 => u32::from_be_bytes([0, 0, b0, buf[1]]) & 0x3FFF,
        3 => u32::from_be_bytes([0, b0, buf[1], buf[2]]) & 0x1F_FFFF,
        4 => u32::from_be_bytes([b0, buf[1], buf[2], buf[3]]) & 0x0FFF_FFFF,
        _ => u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]),
    };
    Ok(Some((usize::try_from(len).unwrap_or(usize::MAX), width)))
}

/// `tokio_util` codec turning a byte stream into sentences and back, with size limits.
#[derive(Debug)]
pub struct ApiCodec {
    max_word: usize,
    max_sentence: usize,
    max_words: usize,
    words: RawSentence,
    sentence_bytes: usize,
}

impl Default for ApiCodec {
    fn default() -> Self {
        Self::with_limits(DEFAULT_MAX_WORD, DEFAULT_MAX_SENTENCE, DEFAULT_MAX_WORDS)
    }
}

impl ApiCodec {
    /// A codec with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec with explicit caps on word bytes, sentence bytes and words per sentence.
    pub fn with_limits(max_word: usize, max_sentence: usize, max_words: usize) -> Self {
        Self { max_word, max_sentence, max_words, words: Vec::new(), sentence_bytes: 0 }
    }
}

impl Decoder for ApiCodec {
    type Item = RawSentence;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RawSentence>, CodecError> {
        loop {
            let Some((len, width)) = decode_length(src)? else {
                return Ok(None);
            };
            if len > self.max_word {
                return Err(CodecError::WordTooLong { len, max: self.max_word });
            }
            // Checked before the word arrives, so a peer cannot make us buffer past the cap.
            if self.sentence_bytes.saturating_add(len) > self.max_sentence {
                return Err(CodecError::SentenceTooLong { max: self.max_sentence });
            }
            let needed = width + len;
            if src.len() < needed {
                src.reserve(needed - src.len());
                return Ok(None);
            }
            src.advance(width);
            let word = src.split_to(len);
            if len == 0 {
                let words = std::mem::take(&mut self.words);
                self.sentence_bytes = 0;
                // "Empty sentences are ignored" (API, "Protocol").
                if words.is_empty() {
                    continue;
                }
                return Ok(Some(words));
            }
            if self.words.len() >= self.max_words {
                return Err(CodecError::TooManyWords { max: self.max_words });
            }
            self.sentence_bytes += len;
            self.words.push(word.to_vec());
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<RawSentence>, CodecError> {
        match self.decode(src)? {
            Some(s) => Ok(Some(s)),
            None if src.is_empty() && self.words.is_empty() => Ok(None),
            None => Err(CodecError::Truncated),
        }
    }
}

impl<W: AsRef<[u8]>> Encoder<Vec<W>> for ApiCodec {
    type Error = CodecError;

    fn encode(&mut self, words: Vec<W>, dst: &mut BytesMut) -> Result<(), CodecError> {
        for word in &words {
            let word = word.as_ref();
            encode_length(word.len(), dst)?;
            dst.put_slice(word);
        }
        dst.put_u8(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc_len(len: usize) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_length(len, &mut b).unwrap();
        b.to_vec()
    }

    /// Boundary vectors from the length table on help.mikrotik.com "API" ("API words").
    const DOC_VECTORS: &[(usize, &[u8])] = &[
        (0x00, &[0x00]),
        (0x7F, &[0x7F]),
        (0x80, &[0x80, 0x80]),
        (0x3FFF, &[0xBF, 0xFF]),
        (0x4000, &[0xC0, 0x40, 0x00]),
        (0x1F_FFFF, &[0xDF, 0xFF, 0xFF]),
        (0x20_0000, &[0xE0, 0x20, 0x00, 0x00]),
        (0x0FFF_FFFF, &[0xEF, 0xFF, 0xFF, 0xFF]),
        (0x1000_0000, &[0xF0, 0x10, 0x00, 0x00, 0x00]),
        (0xFFFF_FFFF, &[0xF0, 0xFF, 0xFF, 0xFF, 0xFF]),
    ];

    #[test]
    fn lengths_match_documentation() {
        for &(len, bytes) in DOC_VECTORS {
            assert_eq!(enc_len(len), bytes, "encode {len:#x}");
            assert_eq!(decode_length(bytes).unwrap(), Some((len, bytes.len())), "decode {len:#x}");
            // Every proper prefix asks for more bytes instead of guessing.
            for cut in 0..bytes.len() {
                assert_eq!(decode_length(&bytes[..cut]).unwrap(), None);
            }
        }
    }

    #[test]
    fn reserved_control_bytes_are_rejected() {
        for b in 0xF1..=0xFFu8 {
            assert!(matches!(
                decode_length(&[b, 0, 0, 0, 0]),
                Err(CodecError::ControlByte(x)) if x == b
            ));
        }
    }

    #[test]
    fn sentence_framing() {
        let mut codec = ApiCodec::new();
        let mut buf = BytesMut::new();
        codec.encode(vec!["/login", "=name=admin", "=password="], &mut buf).unwrap();
        let mut expected = vec![6u8];
        expected.extend_from_slice(b"/login");
        expected.push(11);
        expected.extend_from_slice(b"=name=admin");
        expected.push(10);
        expected.extend_from_slice(b"=password=");
        expected.push(0);
        assert_eq!(&buf[..], &expected[..]);
        let got = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(got, vec![b"/login".to_vec(), b"=name=admin".to_vec(), b"=password=".to_vec()]);
        assert!(buf.is_empty());
    }

    #[test]
    fn empty_sentences_are_skipped_and_byte_by_byte_feeding_works() {
        let mut codec = ApiCodec::new();
        let mut wire = BytesMut::new();
        wire.put_u8(0);
        codec.encode(vec!["!done", "=ret=*1"], &mut wire).unwrap();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for b in wire {
            buf.put_u8(b);
            if let Some(s) = codec.decode(&mut buf).unwrap() {
                out.push(s);
            }
        }
        assert_eq!(out, vec![vec![b"!done".to_vec(), b"=ret=*1".to_vec()]]);
    }

    #[test]
    fn limits_give_clear_errors() {
        let mut codec = ApiCodec::with_limits(4, 6, 2);
        let mut buf = BytesMut::from(&[0x05u8, b'a'][..]);
        assert!(matches!(codec.decode(&mut buf), Err(CodecError::WordTooLong { len: 5, max: 4 })));
        let mut codec = ApiCodec::with_limits(4, 6, 2);
        let mut buf = BytesMut::from(&b"\x04abcd\x04"[..]);
        assert!(matches!(codec.decode(&mut buf), Err(CodecError::SentenceTooLong { max: 6 })));
        let mut codec = ApiCodec::with_limits(4, 6, 2);
        let mut buf = BytesMut::from(&b"\x01a\x01b\x01c"[..]);
        assert!(matches!(codec.decode(&mut buf), Err(CodecError::TooManyWords { max: 2 })));
        // A 5-byte length announcing 4 GiB is refused at once, not buffered.
        let mut codec = ApiCodec::new();
        let mut buf = BytesMut::from(&[0xF0u8, 0xFF, 0xFF, 0xFF, 0xFF][..]);
        assert!(matches!(codec.decode(&mut buf), Err(CodecError::WordTooLong { .. })));
    }

    #[test]
    fn truncated_stream_is_an_error_at_eof() {
        let mut codec = ApiCodec::new();
        let mut buf = BytesMut::from(&b"\x05!done"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(matches!(codec.decode_eof(&mut buf), Err(CodecError::Truncated)));
    }

    /// xorshift64*: a tiny seeded RNG so property tests are reproducible without a dependency.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn length_round_trip_property() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..100_000 {
            // Pick a class first so every width is exercised evenly.
            let len = match rng.below(5) {
                0 => rng.below(0x80),
                1 => 0x80 + rng.below(0x3F80),
                2 => 0x4000 + rng.below(0x1F_C000),
                3 => 0x20_0000 + rng.below(0x0FE0_0000),
                _ => 0x1000_0000 + rng.below(0xF000_0000),
            } as usize;
            let bytes = enc_len(len);
            assert_eq!(decode_length(&bytes).unwrap(), Some((len, bytes.len())));
        }
    }

    #[test]
    fn sentence_round_trip_property() {
        let mut rng = Rng(42);
        let mut codec = ApiCodec::with_limits(1 << 22, 1 << 23, 1024);
        for round in 0..300 {
            let mut sentences = Vec::new();
            let mut wire = BytesMut::new();
            for _ in 0..1 + rng.below(4) {
                let words: RawSentence = (0..1 + rng.below(6))
                    .map(|_| {
                        let len = match rng.below(10) {
                            0 if round % 50 == 0 => 0x20_0000 + rng.below(64),
                            0..=2 => 0x80 + rng.below(0x4000),
                            3 => 0x4000 + rng.below(0x1000),
                            _ => 1 + rng.below(0x7F),
                        } as usize;
                        (0..len).map(|_| rng.next() as u8).collect()
                    })
                    .collect();
                codec.encode(words.clone(), &mut wire).unwrap();
                sentences.push(words);
            }
            // Feed in random chunks to exercise partial reads.
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            while !wire.is_empty() {
                let n = (1 + rng.below(9000) as usize).min(wire.len());
                buf.extend_from_slice(&wire.split_to(n));
                while let Some(s) = codec.decode(&mut buf).unwrap() {
                    got.push(s);
                }
            }
            assert_eq!(got, sentences);
        }
    }

    #[test]
    fn decoding_random_bytes_never_panics() {
        let mut rng = Rng(7);
        for _ in 0..20_000 {
            let mut codec = ApiCodec::with_limits(512, 2048, 16);
            let len = rng.below(64) as usize;
            let mut buf: BytesMut = (0..len).map(|_| rng.next() as u8).collect();
            while let Ok(Some(_)) = codec.decode(&mut buf) {}
            let _ = codec.decode_eof(&mut buf);
        }
    }
}
