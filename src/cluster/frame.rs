//! The cluster's wire format: length-prefixed frames carrying calls to named services.
//!
//! Layer: `cluster/`, data only (no I/O beyond the codec). A frame is
//! `len u32 | kind u8 | call u64 | service_len u8 | service | payload`, big endian, `len` counting
//! everything after itself. A request names the service (the module that owns the message type,
//! e.g. `raft/loglet-3`) and a call id; the response carries the same call id and either the
//! handler's answer or an error text. Frames above [`MAX_FRAME`] or of an unknown kind are a
//! protocol error: the connection is closed, never the node.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::error::ClusterError;

/// The largest frame a peer may send (a raft batch or a checkpoint chunk fits well below it).
pub const MAX_FRAME: usize = 64 << 20;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A call of a service; answered by a [`Kind::Reply`] or [`Kind::Failure`] with its id.
    Request = 1,
    /// The handler's answer.
    Reply = 2,
    /// The handler failed, or no such service: the payload is the reason (UTF-8).
    Failure = 3,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Request),
            2 => Some(Kind::Reply),
            3 => Some(Kind::Failure),
            _ => None,
        }
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub call: u64,
    /// The service called (empty in replies).
    pub service: String,
    pub payload: Bytes,
}

impl Frame {
    /// Bytes this frame takes on the wire.
    pub fn wire_len(&self) -> usize {
        4 + 1 + 8 + 1 + self.service.len() + self.payload.len()
    }
}

/// Encodes and decodes [`Frame`]s on a byte stream.
#[derive(Debug, Default)]
pub struct FrameCodec;

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = ClusterError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ClusterError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len > MAX_FRAME {
            return Err(ClusterError::Protocol(format!(
                "frame of {len} bytes exceeds the maximum of {MAX_FRAME}"
            )));
        }
        if len < 10 {
            return Err(ClusterError::Protocol(format!(
                "frame of {len} bytes is too short"
            )));
        }
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        let mut body = src.split_to(len).freeze();
        let kind = Kind::from_u8(body.get_u8())
            .ok_or_else(|| ClusterError::Protocol("unknown frame kind".into()))?;
        let call = body.get_u64();
        let slen = body.get_u8() as usize;
        if body.len() < slen {
            return Err(ClusterError::Protocol(
                "service name past the frame's end".into(),
            ));
        }
        let service = std::str::from_utf8(&body[..slen])
            .map_err(|_| ClusterError::Protocol("service name is not UTF-8".into()))?
            .to_string();
        body.advance(slen);
        Ok(Some(Frame {
            kind,
            call,
            service,
            payload: body,
        }))
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = ClusterError;

    fn encode(&mut self, f: Frame, dst: &mut BytesMut) -> Result<(), ClusterError> {
        if f.service.len() > u8::MAX as usize {
            return Err(ClusterError::Protocol(format!(
                "service name `{}` is longer than 255 bytes",
                f.service
            )));
        }
        let len = f.wire_len() - 4;
        if len > MAX_FRAME {
            return Err(ClusterError::TooLarge {
                len,
                max: MAX_FRAME,
            });
        }
        dst.reserve(4 + len);
        dst.put_u32(len as u32);
        dst.put_u8(f.kind as u8);
        dst.put_u64(f.call);
        dst.put_u8(f.service.len() as u8);
        dst.put_slice(f.service.as_bytes());
        dst.put_slice(&f.payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_partial_input() {
        let f = Frame {
            kind: Kind::Request,
            call: 7,
            service: "raft/meta".into(),
            payload: Bytes::from_static(b"hello"),
        };
        let mut buf = BytesMut::new();
        FrameCodec.encode(f.clone(), &mut buf).unwrap();
        assert_eq!(buf.len(), f.wire_len());
        let mut part = BytesMut::from(&buf[..buf.len() - 1]);
        assert_eq!(FrameCodec.decode(&mut part).unwrap(), None);
        assert_eq!(FrameCodec.decode(&mut buf).unwrap(), Some(f));
        assert!(buf.is_empty());
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        let mut huge = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff, 1][..]);
        assert!(matches!(
            FrameCodec.decode(&mut huge),
            Err(ClusterError::Protocol(_))
        ));
        let mut kind = BytesMut::from(&[0, 0, 0, 10, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]);
        assert!(matches!(
            FrameCodec.decode(&mut kind),
            Err(ClusterError::Protocol(_))
        ));
        let mut name = BytesMut::from(&[0, 0, 0, 10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 200][..]);
        assert!(matches!(
            FrameCodec.decode(&mut name),
            Err(ClusterError::Protocol(_))
        ));
    }
}
