//! Jute primitives (zookeeper-protocol.md §4): big-endian `int`/`long`, one-byte `boolean`,
//! length-prefixed `buffer`/`ustring`/`vector` with `-1` meaning null, nested records inline.
//!
//! Decoding is written with `nom` over byte slices of one frame. Buffers and strings come back as
//! [`Bytes`]/[`ByteString`] slices of that frame (no copy), and no length field is trusted beyond
//! the configured limit or the bytes actually present.

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use nom::Parser;
use nom::number::complete::{be_i32, be_i64, be_u8};

use crate::error::DecodeError;

/// ZooKeeper's default `jute.maxbuffer`: 0xfffff bytes.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// The result of a decoding step: the rest of the input and the value.
pub type JResult<'a, T> = nom::IResult<&'a [u8], T, DecodeError>;

/// Decoding context: the frame the input slices come from, and the length limit.
#[derive(Debug, Clone, Copy)]
pub struct Cx<'a> {
    frame: &'a Bytes,
    max_len: usize,
}

impl<'a> Cx<'a> {
    /// A context over `frame` where no buffer, string or vector may be longer than `max_len`.
    pub fn new(frame: &'a Bytes, max_len: usize) -> Self {
        Cx { frame, max_len }
    }

    /// The whole frame this context decodes.
    pub fn frame(&self) -> &'a [u8] {
        self.frame
    }

    /// The configured length limit.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// A [`Bytes`] for `sub`, sharing the frame's memory when `sub` lies inside it.
    pub fn slice(&self, sub: &[u8]) -> Bytes {
        let base = self.frame.as_ptr() as usize;
        let start = sub.as_ptr() as usize;
        if sub.is_empty() {
            return Bytes::new();
        }
        if start >= base && start + sub.len() <= base + self.frame.len() {
            self.frame.slice(start - base..start - base + sub.len())
        } else {
            Bytes::copy_from_slice(sub)
        }
    }

    /// Reads a length or count: `Ok(None)` for `-1` (null), an error for other negatives and for
    /// values over the limit.
    pub fn length(&self, i: &'a [u8]) -> JResult<'a, Option<usize>> {
        let (i, len) = be_i32.parse(i)?;
        match len {
            -1 => Ok((i, None)),
            n if n < 0 => Err(nom::Err::Failure(DecodeError::NegativeLength(n))),
            n if n as usize > self.max_len => Err(nom::Err::Failure(DecodeError::OverLimit {
                len: i64::from(n),
                limit: self.max_len,
            })),
            n => Ok((i, Some(n as usize))),
        }
    }

    /// Takes `n` bytes, failing with [`DecodeError::Truncated`] if fewer are left.
    pub fn take(&self, i: &'a [u8], n: usize) -> JResult<'a, &'a [u8]> {
        if i.len() < n {
            return Err(nom::Err::Failure(DecodeError::Truncated));
        }
        let (head, rest) = i.split_at(n);
        Ok((rest, head))
    }
}

/// A value with a Jute encoding.
pub trait Jute: Sized {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut BytesMut);

    /// Decodes one value from the front of `i`, which must be a slice of `cx`'s frame.
    fn decode<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self>;

    /// The number of bytes [`Jute::encode`] writes.
    fn encoded_len(&self) -> usize;

    /// Encodes `self` into a fresh buffer of exactly the right size.
    fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }

    /// Decodes a value that must fill `frame` exactly.
    fn from_bytes(frame: &Bytes, max_len: usize) -> Result<Self, DecodeError> {
        let cx = Cx::new(frame, max_len);
        let (rest, v) = Self::decode(&cx, frame)?;
        if rest.is_empty() {
            Ok(v)
        } else {
            Err(DecodeError::TrailingBytes(rest.len()))
        }
    }
}

fn fail<T>(e: DecodeError) -> Result<T, nom::Err<DecodeError>> {
    Err(nom::Err::Failure(e))
}

fn truncated<'a, T>(r: JResult<'a, T>) -> JResult<'a, T> {
    r.map_err(|e| match e {
        nom::Err::Error(_) | nom::Err::Incomplete(_) => nom::Err::Failure(DecodeError::Truncated),
        f => f,
    })
}

impl Jute for i32 {
    fn encode(&self, out: &mut BytesMut) {
        out.extend_from_slice(&i32::to_be_bytes(*self));
    }
    fn decode<'a>(_cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        truncated(be_i32.parse(i))
    }
    fn encoded_len(&self) -> usize {
        4
    }
}

impl Jute for i64 {
    fn encode(&self, out: &mut BytesMut) {
        out.extend_from_slice(&i64::to_be_bytes(*self));
    }
    fn decode<'a>(_cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        truncated(be_i64.parse(i))
    }
    fn encoded_len(&self) -> usize {
        8
    }
}

impl Jute for bool {
    fn encode(&self, out: &mut BytesMut) {
        out.extend_from_slice(&u8::to_be_bytes(u8::from(*self)));
    }
    /// Any nonzero byte reads as true, as in Java's `DataInput.readBoolean`.
    fn decode<'a>(_cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        let (i, b) = truncated(be_u8.parse(i))?;
        Ok((i, b != 0))
    }
    fn encoded_len(&self) -> usize {
        1
    }
}

/// `buffer` that may not be null.
impl Jute for Bytes {
    fn encode(&self, out: &mut BytesMut) {
        out.extend_from_slice(&i32::to_be_bytes(self.len() as i32));
        out.extend_from_slice(self);
    }
    fn decode<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        match Option::<Bytes>::decode(cx, i)? {
            (i, Some(b)) => Ok((i, b)),
            (_, None) => fail(DecodeError::UnexpectedNull("buffer")),
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

/// `buffer` where `-1` means null.
impl Jute for Option<Bytes> {
    fn encode(&self, out: &mut BytesMut) {
        match self {
            Some(b) => b.encode(out),
            None => out.extend_from_slice(&i32::to_be_bytes(-1)),
        }
    }
    fn decode<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        let (i, len) = cx.length(i)?;
        match len {
            None => Ok((i, None)),
            Some(n) => {
                let (i, raw) = cx.take(i, n)?;
                Ok((i, Some(cx.slice(raw))))
            }
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, Bytes::len)
    }
}

/// `ustring` that may not be null.
impl Jute for ByteString {
    fn encode(&self, out: &mut BytesMut) {
        out.extend_from_slice(&i32::to_be_bytes(self.len() as i32));
        out.extend_from_slice(self.as_bytes());
    }
    fn decode<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        match Option::<ByteString>::decode(cx, i)? {
            (i, Some(s)) => Ok((i, s)),
            (_, None) => fail(DecodeError::UnexpectedNull("ustring")),
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

/// `ustring` where `-1` means null.
impl Jute for Option<ByteString> {
    fn encode(&self, out: &mut BytesMut) {
        match self {
            Some(s) => s.encode(out),
            None => out.extend_from_slice(&i32::to_be_bytes(-1)),
        }
    }
    fn decode<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        let (i, len) = cx.length(i)?;
        match len {
            None => Ok((i, None)),
            Some(n) => {
                let (i, raw) = cx.take(i, n)?;
                match ByteString::try_from(cx.slice(raw)) {
                    Ok(s) => Ok((i, Some(s))),
                    Err(_) => fail(DecodeError::InvalidUtf8),
                }
            }
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, |s| s.len())
    }
}

/// `vector<T>` that may not be null.
impl<T: Jute> Jute for Vec<T> {
    fn encode(&self, out: &mut BytesMut) {
        out.extend_from_slice(&i32::to_be_bytes(self.len() as i32));
        for v in self {
            v.encode(out);
        }
    }
    fn decode<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        match Option::<Vec<T>>::decode(cx, i)? {
            (i, Some(v)) => Ok((i, v)),
            (_, None) => fail(DecodeError::UnexpectedNull("vector")),
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.iter().map(Jute::encoded_len).sum::<usize>()
    }
}

/// `vector<T>` where `-1` means null.
impl<T: Jute> Jute for Option<Vec<T>> {
    fn encode(&self, out: &mut BytesMut) {
        match self {
            Some(v) => v.encode(out),
            None => out.extend_from_slice(&i32::to_be_bytes(-1)),
        }
    }
    fn decode<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        let (mut i, count) = cx.length(i)?;
        let Some(count) = count else {
            return Ok((i, None));
        };
        // Every element takes at least one byte, so the input bounds what we may reserve.
        let mut out = Vec::with_capacity(count.min(i.len()));
        for _ in 0..count {
            let (rest, v) = T::decode(cx, i)?;
            i = rest;
            out.push(v);
        }
        Ok((i, Some(out)))
    }
    fn encoded_len(&self) -> usize {
        self.as_ref().map_or(4, Jute::encoded_len)
    }
}

/// Declares a Jute record: a struct whose encoding is its fields in order, inline.
#[macro_export]
macro_rules! jute_record {
    ($(#[$m:meta])* pub struct $name:ident { $( $(#[$fm:meta])* pub $field:ident : $ty:ty ),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name { $( $(#[$fm])* pub $field: $ty ),+ }

        impl $crate::Jute for $name {
            fn encode(&self, out: &mut ::bytes::BytesMut) {
                $( $crate::Jute::encode(&self.$field, out); )+
            }
            fn decode<'a>(cx: &$crate::Cx<'a>, i: &'a [u8]) -> $crate::JResult<'a, Self> {
                $( let (i, $field) = <$ty as $crate::Jute>::decode(cx, i)?; )+
                Ok((i, Self { $($field),+ }))
            }
            fn encoded_len(&self) -> usize {
                0 $( + $crate::Jute::encoded_len(&self.$field) )+
            }
        }

        #[cfg(test)]
        impl $crate::arb::Arb for $name {
            fn arb() -> ::proptest::strategy::BoxedStrategy<Self> {
                use ::proptest::strategy::Strategy;
                ( $( <$ty as $crate::arb::Arb>::arb(), )+ )
                    .prop_map(|( $($field,)+ )| Self { $($field),+ })
                    .boxed()
            }
        }
    };
}
