//! Session ids and passwords exactly as ZooKeeper makes them (zookeeper-protocol.md §10.1, §10.2),
//! so sessions survive a migration in either direction.
//!
//! Layer: `zk/`, pure functions; touches nothing. Callers pass the clock: the id is chosen by the
//! proposing server, outside apply, and travels in the `CreateSession` command.

/// `ZooKeeperServer.superSecret`.
const SUPER_SECRET: i64 = 0xB341_5C00;

/// The container marker, which no session may use.
const CONTAINER_OWNER: i64 = i64::MIN;

/// `SessionTrackerImpl.initializeNextSessionId`: the first session id of a server that started
/// at `now_ms` (milliseconds of a monotonic clock in ZooKeeper): 40 bits of the clock at bits
/// 16..55, the server id in the top byte, the low 16 bits counting sessions.
pub fn initial_session_id(server_id: i64, now_ms: i64) -> i64 {
    let mut next = (((now_ms << 24) as u64) >> 8) as i64;
    next |= server_id << 56;
    if next == CONTAINER_OWNER {
        next += 1;
    }
    next
}

/// The `counter`-th session id (0-based) of a server whose tracker was initialized at `now_ms`.
pub fn session_id(server_id: i64, now_ms: i64, counter: u64) -> i64 {
    initial_session_id(server_id, now_ms).wrapping_add(counter as i64)
}

/// The 16-byte password of a session: `new java.util.Random(id ^ superSecret).nextBytes(16)`.
pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut out = [0u8; 16];
    JavaRandom::new(session_id ^ SUPER_SECRET).next_bytes(&mut out);
    out
}

/// `ZooKeeperServer.checkPasswd`: a nonzero id and exactly its password.
pub fn check_password(session_id: i64, password: &[u8]) -> bool {
    session_id != 0 && password == session_password(session_id)
}

/// `java.util.Random`'s linear congruential generator.
struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next_int(&mut self) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> 16) as u32 as i32
    }

    fn next_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(4) {
            let mut rnd = self.next_int();
            for b in chunk {
                *b = rnd as u8;
                rnd >>= 8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn password_reference_vectors() {
        // §1.2 / §10.2, captured from ZooKeeper 3.8.0.
        assert_eq!(
            hex(&session_password(0x0100_0007_05a0_0000)),
            "d205f6a2f75728b2002aea0b982a12c2"
        );
        // Observed here on the Debian 3.8.0 server (standalone, session 0x1000011f9e40000).
        assert_eq!(
            hex(&session_password(0x0100_0011_f9e4_0000)),
            "5ec3c0cd93d4d6356c60f908945e0100"
        );
        assert!(check_password(
            0x0100_0007_05a0_0000,
            &session_password(0x0100_0007_05a0_0000)
        ));
        assert!(!check_password(0x0100_0007_05a0_0000, &[0u8; 16]));
        assert!(!check_password(0, &session_password(0)));
    }

    #[test]
    fn session_id_layout() {
        // 0x0100000705a00000: server 1, clock 0x00000705a0 ms.
        assert_eq!(initial_session_id(1, 0x0705a0), 0x0100_0007_05a0_0000);
        assert_eq!(session_id(1, 0x0705a0, 3), 0x0100_0007_05a0_0003);
        // Only 40 bits of the clock are kept.
        assert_eq!(
            initial_session_id(2, 0x7f_0000_0009_ed46),
            0x0200_0009_ed46_0000
        );
        // The container marker is avoided.
        assert_eq!(initial_session_id(0x80, 0), i64::MIN + 1);
    }
}
