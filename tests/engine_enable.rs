//! Two-phase engine enabling: a stack deployed with its batching and session-order engines
//! disabled (phase 1) passes proposals and entries through unchanged; an enable command in the
//! log (phase 2) switches each engine on at one log position, the same on every replica — here an
//! active replica and a passive one — and the switch survives a restart.

mod engine_support;

use std::sync::Arc;

use engine_support::*;
use tempfile::tempdir;
use zoolog::engine::session::with_stream;
use zoolog::engine::{
    Activation, BatchingConfig, BatchingEngine, Engine, Entry, SessionOrderConfig,
    SessionOrderEngine, StackBuilder,
};
use zoolog::log::{Loglet, MemLoglet};

fn layers(b: StackBuilder) -> StackBuilder {
    b.batching(BatchingConfig {
        activation: Activation::OnCommand,
        ..BatchingConfig::default()
    })
    .session_order(SessionOrderConfig {
        activation: Activation::OnCommand,
        ..SessionOrderConfig::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_switch_engines_on_at_the_same_position() {
    init_tracing();
    let log = Arc::new(MemLoglet::new());
    let (d1, d2) = (tempdir().unwrap(), tempdir().unwrap());
    let a = layers(StackBuilder::new(log.clone(), open_store(d1.path())))
        .build(TestApp::new())
        .unwrap();
    let b = layers(StackBuilder::new(log.clone(), open_store(d2.path())))
        .build(TestApp::new())
        .unwrap();
    for s in [&a, &b] {
        assert!(!s.base().switch(SessionOrderEngine::NAME).is_on());
        assert!(!s.base().switch(BatchingEngine::NAME).is_on());
    }

    // Phase 1: deployed, disabled. Every proposal goes down alone and unstamped.
    drive_range(a.top().clone(), 4, 0, 10, 5).await;
    assert_eq!(a.base().stats().applied, 40, "no batching while disabled");
    assert_eq!(a.batching().unwrap().stats(), Default::default());
    assert_eq!(a.session_order().unwrap().stats().proposals, 0);

    // Phase 2: enable session order, then batching, while the other replica only reads.
    a.base()
        .enable_engine(SessionOrderEngine::NAME)
        .await
        .unwrap();
    assert!(a.base().switch(SessionOrderEngine::NAME).is_on());
    drive_range(a.top().clone(), 4, 10, 20, 5).await;
    a.base().enable_engine(BatchingEngine::NAME).await.unwrap();
    drive_range(a.top().clone(), 4, 20, 60, 10).await;
    // An entry proposed without the engines' headers (as one proposed before the switch and
    // applied after it would be) still passes through.
    a.base()
        .propose(with_stream(Entry::new(payload(9, 0)), 9))
        .await
        .unwrap();
    assert!(a.batching().unwrap().stats().batches > 0);
    assert!(a.session_order().unwrap().stats().proposals > 0);

    let (tail, _) = log.check_tail().await.unwrap();
    let sa = a.sync().await.unwrap();
    let sb = b.sync().await.unwrap();
    assert_eq!(sb.cursor().unwrap(), tail);
    let enabled = a.base().enabled_engines().unwrap();
    assert_eq!(
        enabled,
        b.base().enabled_engines().unwrap(),
        "same switch positions"
    );
    let p_so = enabled[SessionOrderEngine::NAME];
    let p_batch = enabled[BatchingEngine::NAME];
    assert!(40 <= p_so && p_so < p_batch);
    for s in [&a, &b] {
        assert!(s.base().switch(SessionOrderEngine::NAME).is_on());
        assert!(s.base().switch(BatchingEngine::NAME).is_on());
    }
    for snap in [&sa, &sb] {
        assert_lists_in_order(snap, 4, 60);
        assert_eq!(read_list(snap, 9), vec![0]);
        let entries = read_log(snap);
        assert_eq!(entries.len(), 4 * 60 + 1);
        for &(c, pos, stamped) in &entries {
            // Before the session-order switch nothing is stamped; between the two switches every
            // entry is; after the batching switch the application sees the sub-entries of
            // batches (the batch itself carries the stamp).
            if pos < p_so {
                assert!(
                    !stamped,
                    "entry {c} at {pos} stamped before the switch at {p_so}"
                );
            } else if pos < p_batch {
                assert!(
                    stamped,
                    "entry {c} at {pos} not stamped after the switch at {p_so}"
                );
            }
        }
        assert_eq!(entries.iter().filter(|e| e.1 < p_so).count(), 40);
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.1 > p_so && e.1 < p_batch)
                .count(),
            40
        );
        let after: Vec<u64> = entries
            .iter()
            .filter(|e| e.1 > p_batch)
            .map(|e| e.1)
            .collect();
        assert_eq!(after.len(), 4 * 40 + 1);
        let mut positions = after.clone();
        positions.dedup();
        assert!(
            positions.len() < after.len(),
            "batches share a position after the switch"
        );
    }
    assert!(
        sa.dump().unwrap() == sb.dump().unwrap(),
        "replicas diverged"
    );
    let digest = sa.digest().unwrap();
    drop((sa, sb));
    a.shutdown().await.unwrap();

    // The switch is persisted: a restarted replica has the engines on before applying anything.
    b.shutdown().await.unwrap();
    let b = layers(StackBuilder::new(log.clone(), open_store(d2.path())))
        .build(TestApp::new())
        .unwrap();
    assert!(b.base().switch(SessionOrderEngine::NAME).is_on());
    assert!(b.base().switch(BatchingEngine::NAME).is_on());
    drive_range(b.top().clone(), 2, 60, 70, 10).await;
    let sb = b.sync().await.unwrap();
    assert_ne!(sb.digest().unwrap(), digest);
    assert_eq!(read_list(&sb, 1), (0..70).collect::<Vec<_>>());
    drop(sb);
    b.shutdown().await.unwrap();
}
