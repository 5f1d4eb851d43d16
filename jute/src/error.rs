//! Decoding errors of the Jute layer. Every way a byte string can fail to be a record has its own
//! variant; decoding never panics and never trusts a length field beyond the bytes at hand.

use thiserror::Error;

/// Why a byte string is not the record that was expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("truncated input: the record needs more bytes than the frame holds")]
    Truncated,
    /// A length or count field was negative (other than `-1`, which means null where allowed).
    #[error("negative length {0}")]
    NegativeLength(i32),
    /// A length or count field exceeded the configured limit (`jute.maxbuffer`).
    #[error("length {len} is over the limit of {limit} bytes")]
    OverLimit { len: i64, limit: usize },
    /// A `ustring` was not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A `-1` (null) length where the record does not allow null.
    #[error("null {0} where a value is required")]
    UnexpectedNull(&'static str),
    /// An integer that should name a known constant did not.
    #[error("unknown {what} {value}")]
    UnknownDiscriminant { what: &'static str, value: i64 },
    /// Bytes were left over after a record that should fill the frame.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    /// A structural rule was broken (e.g. read and write operations mixed in one multi).
    #[error("invalid record: {0}")]
    Invalid(&'static str),
}

impl<I> nom::error::ParseError<I> for DecodeError {
    fn from_error_kind(_input: I, kind: nom::error::ErrorKind) -> Self {
        match kind {
            nom::error::ErrorKind::Eof | nom::error::ErrorKind::Complete => DecodeError::Truncated,
            _ => DecodeError::Invalid("malformed input"),
        }
    }

    fn append(_input: I, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

impl From<nom::Err<DecodeError>> for DecodeError {
    fn from(e: nom::Err<DecodeError>) -> Self {
        match e {
            nom::Err::Incomplete(_) => DecodeError::Truncated,
            nom::Err::Error(e) | nom::Err::Failure(e) => e,
        }
    }
}
