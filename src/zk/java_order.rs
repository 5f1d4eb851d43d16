//! Java's iteration order of a `HashSet` / `ConcurrentHashMap` key set, where ZooKeeper exposes
//! it on the wire: the order a session's ephemerals are deleted (and their NodeDeleted events
//! sent) when it closes, and the order of a connection's auth ids in whoAmI. Pure arithmetic on
//! Java's `hashCode`s, so it is deterministic and may be used in apply.
//!
//! Layer: `zk`, pure functions; touches nothing.

/// Java's `String.hashCode`.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The jute-generated `Id.hashCode` of `scheme:id`.
pub fn id_hash(scheme: &str, id: &str) -> i32 {
    37i32
        .wrapping_mul(37i32.wrapping_mul(17).wrapping_add(string_hash(scheme)))
        .wrapping_add(string_hash(id))
}

/// The indices of `hashes` (given in insertion order) in the order a Java hash set holding them
/// iterates: by bucket of the spread hash in a table of the default 16 buckets grown at load
/// factor 0.75, insertion order within a bucket.
pub fn hash_set_order(hashes: &[i32]) -> Vec<usize> {
    let mut buckets = 16usize;
    while hashes.len() > buckets * 3 / 4 {
        buckets *= 2;
    }
    let mut order: Vec<(usize, usize)> = hashes
        .iter()
        .enumerate()
        .map(|(i, &h)| {
            let spread = (h ^ ((h as u32) >> 16) as i32) & 0x7fff_ffff;
            ((spread as usize) & (buckets - 1), i)
        })
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hashes() {
        assert_eq!(string_hash("ip"), 3367);
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("digest"), -1331913276);
        assert_eq!(string_hash("/a"), 1554);
    }

    #[test]
    fn auth_ids_in_zookeeper_order() {
        // Observed on 3.8.0 (fixture java-01): digest bob listed before ip 127.0.0.1.
        let hashes = [
            id_hash("ip", "127.0.0.1"),
            id_hash("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
        ];
        assert_eq!(hash_set_order(&hashes), vec![1, 0]);
    }
}
