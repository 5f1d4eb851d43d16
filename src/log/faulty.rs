//! `FaultyLoglet`: a test wrapper that injects delays, failures and reordering into appends.
//!
//! Layer: a loglet decorator for tests; touches only the loglet it wraps. Every random choice
//! comes from a small seeded generator (SplitMix64), drawn in call order, so a run is repeatable
//! for a given seed and call sequence:
//! - **delay**: an append sleeps a random time in `[min, max]` before reaching the inner loglet
//!   (so it may land after a seal, like an append still in flight during a reconfiguration);
//! - **fail**: an append returns [`LogError::Injected`] without appending (with a probability,
//!   or for the next `n` appends);
//! - **reorder**: appends are held until `reorder_window` of them are waiting (or `reorder_wait`
//!   passed), then released to the inner loglet one by one in a shuffled order, so concurrent
//!   appenders get positions in an order different from their call order.
//!
//! Reads, `check_tail`, `seal` and `prefix_trim` pass straight through.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::oneshot;

use super::error::{LogError, Result};
use super::loglet::{Loglet, Pos};

/// What a [`FaultyLoglet`] injects.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Probability in `[0, 1]` that an append fails with [`LogError::Injected`].
    pub fail_probability: f64,
    /// Uniform random delay before an append reaches the inner loglet.
    pub delay: Option<(Duration, Duration)>,
    /// Appends held and shuffled together; `0` or `1` disables reordering.
    pub reorder_window: usize,
    /// A partial window is released after this long.
    pub reorder_wait: Duration,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            fail_probability: 0.0,
            delay: None,
            reorder_window: 0,
            reorder_wait: Duration::from_millis(20),
        }
    }
}

/// What a [`FaultyLoglet`] did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Appends failed on purpose.
    pub injected_failures: u64,
    /// Appends delayed.
    pub delayed: u64,
    /// Groups of held appends released in a shuffled order.
    pub reordered_groups: u64,
}

/// SplitMix64: tiny, seedable, good enough to pick faults.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

struct Held {
    payload: Bytes,
    reply: oneshot::Sender<Result<Pos>>,
}

struct State {
    cfg: FaultConfig,
    rng: SplitMix64,
    fail_next: u64,
    held: Vec<Held>,
    stats: FaultStats,
}

impl State {
    /// Takes the held appends in a shuffled order that differs from arrival order.
    fn take_shuffled(&mut self) -> Vec<Held> {
        let mut batch = std::mem::take(&mut self.held);
        let n = batch.len();
        if n < 2 {
            return batch;
        }
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        if order.iter().enumerate().all(|(i, &o)| i == o) {
            order.rotate_left(1);
        }
        self.stats.reordered_groups += 1;
        let mut slots: Vec<Option<Held>> = batch.drain(..).map(Some).collect();
        order.iter().filter_map(|&i| slots[i].take()).collect()
    }
}

/// A loglet wrapper that injects faults into appends (see the module doc).
pub struct FaultyLoglet {
    inner: Arc<dyn Loglet>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FaultyLoglet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyLoglet")
            .field("cfg", &self.lock().cfg)
            .finish_non_exhaustive()
    }
}

impl FaultyLoglet {
    /// Wraps `inner`; `seed` fixes every random choice.
    pub fn new(inner: Arc<dyn Loglet>, cfg: FaultConfig, seed: u64) -> Self {
        FaultyLoglet {
            inner,
            state: Arc::new(Mutex::new(State {
                cfg,
                rng: SplitMix64(seed),
                fail_next: 0,
                held: Vec::new(),
                stats: FaultStats::default(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the fault configuration (held appends stay held until released).
    pub fn set_config(&self, cfg: FaultConfig) {
        self.lock().cfg = cfg;
    }

    /// Makes the next `n` appends fail with [`LogError::Injected`].
    pub fn fail_next(&self, n: u64) {
        self.lock().fail_next = n;
    }

    /// What was injected so far.
    pub fn stats(&self) -> FaultStats {
        self.lock().stats
    }

    /// The wrapped loglet.
    pub fn inner(&self) -> &Arc<dyn Loglet> {
        &self.inner
    }

    fn release(&self, batch: Vec<Held>) {
        if batch.is_empty() {
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            for h in batch {
                let res = inner.append(h.payload).await;
                let _ = h.reply.send(res);
            }
        });
    }
}

#[async_trait]
impl Loglet for FaultyLoglet {
    async fn append(&self, payload: Bytes) -> Result<Pos> {
        let (fail, delay, window, wait) = {
            let mut st = self.lock();
            let fail = if st.fail_next > 0 {
                st.fail_next -= 1;
                true
            } else {
                st.cfg.fail_probability > 0.0 && st.rng.next_f64() < st.cfg.fail_probability
            };
            let delay = match st.cfg.delay {
                Some((lo, hi)) if hi > lo => {
                    let span = (hi - lo).as_micros() as u64;
                    Some(lo + Duration::from_micros(st.rng.below(span + 1)))
                }
                Some((lo, _)) if !lo.is_zero() => Some(lo),
                _ => None,
            };
            if fail {
                st.stats.injected_failures += 1;
            } else if delay.is_some() {
                st.stats.delayed += 1;
            }
            (fail, delay, st.cfg.reorder_window, st.cfg.reorder_wait)
        };
        if fail {
            return Err(LogError::Injected);
        }
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if window <= 1 {
            return self.inner.append(payload).await;
        }
        let (reply, mut rx) = oneshot::channel();
        let full = {
            let mut st = self.lock();
            st.held.push(Held { payload, reply });
            if st.held.len() >= window {
                st.take_shuffled()
            } else {
                Vec::new()
            }
        };
        self.release(full);
        let res = match tokio::time::timeout(wait, &mut rx).await {
            Ok(res) => res,
            Err(_) => {
                let partial = self.lock().take_shuffled();
                self.release(partial);
                rx.await
            }
        };
        res.map_err(|_| LogError::Unavailable("faulty loglet dropped a held append".into()))?
    }

    async fn check_tail(&self) -> Result<(Pos, bool)> {
        self.inner.check_tail().await
    }

    async fn read(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, Bytes)>> {
        self.inner.read(from, to).await
    }

    async fn seal(&self) -> Result<()> {
        self.inner.seal().await
    }

    async fn prefix_trim(&self, pos: Pos) -> Result<()> {
        self.inner.prefix_trim(pos).await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}
