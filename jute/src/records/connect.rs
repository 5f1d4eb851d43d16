//! The handshake records (§1.2–§1.3). Their trailing `readOnly` byte is optional on the wire: a
//! pre-3.4 ("old") client omits it and must get a reply without it, so it decodes as `Option<bool>`.

use bytes::{Bytes, BytesMut};

use crate::wire::{Cx, JResult, Jute};

/// The first frame a client sends, with no RequestHeader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// `None` for an old-format request that ends after `passwd`.
    pub read_only: Option<bool>,
}

/// The first frame the server sends, with no ReplyHeader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// Written only when the client's request carried the byte (`None` for old clients).
    pub read_only: Option<bool>,
}

fn optional_bool<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Option<bool>> {
    if i.is_empty() {
        Ok((i, None))
    } else {
        let (i, b) = bool::decode(cx, i)?;
        Ok((i, Some(b)))
    }
}

impl Jute for ConnectRequest {
    fn encode(&self, out: &mut BytesMut) {
        self.protocol_version.encode(out);
        self.last_zxid_seen.encode(out);
        self.time_out.encode(out);
        self.session_id.encode(out);
        self.passwd.encode(out);
        if let Some(ro) = self.read_only {
            ro.encode(out);
        }
    }

    fn decode<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        let (i, protocol_version) = i32::decode(cx, i)?;
        let (i, last_zxid_seen) = i64::decode(cx, i)?;
        let (i, time_out) = i32::decode(cx, i)?;
        let (i, session_id) = i64::decode(cx, i)?;
        let (i, passwd) = Bytes::decode(cx, i)?;
        let (i, read_only) = optional_bool(cx, i)?;
        Ok((
            i,
            ConnectRequest {
                protocol_version,
                last_zxid_seen,
                time_out,
                session_id,
                passwd,
                read_only,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        4 + 8 + 4 + 8 + self.passwd.encoded_len() + usize::from(self.read_only.is_some())
    }
}

impl Jute for ConnectResponse {
    fn encode(&self, out: &mut BytesMut) {
        self.protocol_version.encode(out);
        self.time_out.encode(out);
        self.session_id.encode(out);
        self.passwd.encode(out);
        if let Some(ro) = self.read_only {
            ro.encode(out);
        }
    }

    fn decode<'a>(cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        let (i, protocol_version) = i32::decode(cx, i)?;
        let (i, time_out) = i32::decode(cx, i)?;
        let (i, session_id) = i64::decode(cx, i)?;
        let (i, passwd) = Bytes::decode(cx, i)?;
        let (i, read_only) = optional_bool(cx, i)?;
        Ok((
            i,
            ConnectResponse {
                protocol_version,
                time_out,
                session_id,
                passwd,
                read_only,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        4 + 4 + 8 + self.passwd.encoded_len() + usize::from(self.read_only.is_some())
    }
}

#[cfg(test)]
mod arb_impls {
    use super::*;
    use crate::arb::Arb;
    use proptest::prelude::*;
    use proptest::strategy::BoxedStrategy;

    impl Arb for ConnectRequest {
        fn arb() -> BoxedStrategy<Self> {
            (
                any::<i32>(),
                any::<i64>(),
                any::<i32>(),
                any::<i64>(),
                Bytes::arb(),
                Option::<bool>::arb(),
            )
                .prop_map(
                    |(
                        protocol_version,
                        last_zxid_seen,
                        time_out,
                        session_id,
                        passwd,
                        read_only,
                    )| {
                        ConnectRequest {
                            protocol_version,
                            last_zxid_seen,
                            time_out,
                            session_id,
                            passwd,
                            read_only,
                        }
                    },
                )
                .boxed()
        }
    }

    impl Arb for ConnectResponse {
        fn arb() -> BoxedStrategy<Self> {
            (
                any::<i32>(),
                any::<i32>(),
                any::<i64>(),
                Bytes::arb(),
                Option::<bool>::arb(),
            )
                .prop_map(
                    |(protocol_version, time_out, session_id, passwd, read_only)| ConnectResponse {
                        protocol_version,
                        time_out,
                        session_id,
                        passwd,
                        read_only,
                    },
                )
                .boxed()
        }
    }
}
