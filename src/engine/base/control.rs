//! Commands of the base engine itself, carried in the log under the `base.ctl` header and applied
//! by the base engine (never passed up the stack), and the persisted engine-enable flags they
//! write in the base engine's partition.
//!
//! Layer: part of the base engine's apply (deterministic: reads and writes only the transaction
//! it is given) plus the loading of the flags at start.
//!
//! Command format: `tag u8 | body`. Tag 1, `EnableEngine`: body = the engine name (UTF-8).
//! Flag keys: `enabled/<name>` → the log position of the first enable command (u64 BE).

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use tracing::{info, warn};

use crate::log::Pos;
use crate::store::{KeyRange, Partition, RwTxn, StoreRead};

use crate::engine::error::ApplyError;

const TAG_ENABLE_ENGINE: u8 = 1;
const FLAG_PREFIX: &[u8] = b"enabled/";

/// A command of the base engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseCommand {
    /// Phase 2 of adding an engine: from the next position on, the engine named here acts.
    EnableEngine(String),
}

impl BaseCommand {
    /// The header value.
    pub fn encode(&self) -> Bytes {
        match self {
            BaseCommand::EnableEngine(name) => {
                let mut b = BytesMut::with_capacity(1 + name.len());
                b.extend_from_slice(&u8::to_be_bytes(TAG_ENABLE_ENGINE));
                b.extend_from_slice(name.as_bytes());
                b.freeze()
            }
        }
    }
}

/// What applying a command did, for the apply loop to act on after the commit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControlEffect {
    /// An engine to switch on.
    pub enabled: Option<String>,
}

fn flag_key(name: &str) -> Vec<u8> {
    let mut k = FLAG_PREFIX.to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

/// Applies the command `value` found at `pos`. A command with an unknown tag (from a newer
/// build) stops the apply loop; a malformed one is skipped, identically on every replica.
pub fn apply(
    txn: &mut RwTxn<'_>,
    partition: &Partition,
    value: &Bytes,
    pos: Pos,
) -> Result<ControlEffect, ApplyError> {
    let Some((&tag, body)) = value.split_first() else {
        warn!(pos, "skipping an empty base control command");
        return Ok(ControlEffect::default());
    };
    match tag {
        TAG_ENABLE_ENGINE => {
            let Ok(name) = std::str::from_utf8(body) else {
                warn!(
                    pos,
                    "skipping an enable command whose engine name is not UTF-8"
                );
                return Ok(ControlEffect::default());
            };
            let key = flag_key(name);
            if txn.get(partition, &key)?.is_none() {
                txn.put(partition, key, pos.to_be_bytes());
                info!(engine = name, pos, "engine enabled");
            }
            Ok(ControlEffect {
                enabled: Some(name.to_owned()),
            })
        }
        other => Err(ApplyError::Unsupported {
            pos,
            reason: format!("unknown base control command {other}"),
        }),
    }
}

/// The persisted enable flags: engine name → position of its enable command.
pub fn load_flags(
    read: &dyn StoreRead,
    partition: &Partition,
) -> crate::store::Result<BTreeMap<String, Pos>> {
    let mut out = BTreeMap::new();
    for (k, v) in read.scan(partition, &KeyRange::prefix(FLAG_PREFIX))? {
        let Some(name) = k.strip_prefix(FLAG_PREFIX) else {
            continue;
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let pos = <[u8; 8]>::try_from(v.as_slice()).map_or(0, Pos::from_be_bytes);
        out.insert(name, pos);
    }
    Ok(out)
}
