//! openraft's network for a raft loglet, over the cluster transport.
//!
//! Layer: `log/raft`, on `cluster/`. Each raft group has its own services on the quorum port
//! (`raft/<group>/ae`, `…/vote`, `…/snap`); requests and answers are bincode-encoded openraft
//! messages. A peer that cannot be reached is reported as `Unreachable`, so openraft backs off.
#![allow(clippy::result_large_err)] // openraft's StorageError is large, and its API returns it

use bytes::Bytes;
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed,
    StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{Snapshot, SnapshotMeta, Vote};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::types::{LogletRaft, LogletState};
use crate::cluster::{Cluster, ClusterError};

/// The name of a group's service `what`.
pub(crate) fn service(group: &str, what: &str) -> String {
    format!("raft/{group}/{what}")
}

/// Makes the raft clients of one group.
pub(crate) struct Network {
    pub(crate) cluster: Cluster,
    pub(crate) group: String,
}

impl RaftNetworkFactory<LogletRaft> for Network {
    type Network = Client;

    async fn new_client(&mut self, target: u64, _node: &openraft::EmptyNode) -> Client {
        Client {
            cluster: self.cluster.clone(),
            group: self.group.clone(),
            target,
        }
    }
}

/// Raft calls to one peer.
pub(crate) struct Client {
    cluster: Cluster,
    group: String,
    target: u64,
}

fn transport_err<E: std::error::Error>(e: ClusterError) -> RPCError<u64, openraft::EmptyNode, E> {
    match e {
        ClusterError::Unreachable(_)
        | ClusterError::UnknownPeer(_)
        | ClusterError::Closed
        | ClusterError::Backpressure { .. } => RPCError::Unreachable(Unreachable::new(&e)),
        _ => RPCError::Network(NetworkError::new(&e)),
    }
}

impl Client {
    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        what: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, ClusterError> {
        let payload = bincode::serialize(req)
            .map_err(|e| ClusterError::Protocol(format!("encode {what}: {e}")))?;
        let answer = self
            .cluster
            .call(
                self.target,
                &service(&self.group, what),
                Bytes::from(payload),
                option.hard_ttl(),
            )
            .await?;
        bincode::deserialize(&answer)
            .map_err(|e| ClusterError::Protocol(format!("decode {what} answer: {e}")))
    }
}

type RaftResult<T, E = openraft::error::Infallible> = Result<T, RaftError<u64, E>>;

impl RaftNetwork<LogletRaft> for Client {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<LogletRaft>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, openraft::EmptyNode, RaftError<u64>>>
    {
        let r: RaftResult<AppendEntriesResponse<u64>> = self
            .call("ae", &rpc, &option)
            .await
            .map_err(transport_err)?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    #[allow(deprecated)]
    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<LogletRaft>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, openraft::EmptyNode, RaftError<u64, InstallSnapshotError>>,
    > {
        Err(RPCError::Network(NetworkError::new(
            &ClusterError::Protocol(
                "chunked snapshots are not used; full_snapshot sends the loglet state".into(),
            ),
        )))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, openraft::EmptyNode, RaftError<u64>>> {
        let r: RaftResult<VoteResponse<u64>> = self
            .call("vote", &rpc, &option)
            .await
            .map_err(transport_err)?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot<LogletRaft>,
        _cancel: impl std::future::Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<LogletRaft, Fatal<u64>>> {
        let req: SnapshotMsg = (vote, snapshot.meta, *snapshot.snapshot);
        let r: Result<SnapshotResponse<u64>, Fatal<u64>> = self
            .call("snap", &req, &option)
            .await
            .map_err(|e| match e {
            ClusterError::Unreachable(_) | ClusterError::UnknownPeer(_) | ClusterError::Closed => {
                StreamingError::Unreachable(Unreachable::new(&e))
            }
            _ => StreamingError::Network(NetworkError::new(&e)),
        })?;
        r.map_err(|e| StreamingError::RemoteError(RemoteError::new(self.target, e)))
    }
}

/// What `snap` carries: the leader's vote and the snapshot.
pub(crate) type SnapshotMsg = (
    Vote<u64>,
    SnapshotMeta<u64, openraft::EmptyNode>,
    LogletState,
);

/// Registers the group's raft services on `cluster`, answering with `raft`.
pub(crate) fn serve(cluster: &Cluster, group: &str, raft: openraft::Raft<LogletRaft>) {
    fn decode<T: DeserializeOwned>(p: &[u8]) -> Result<T, String> {
        bincode::deserialize(p).map_err(|e| format!("undecodable raft message: {e}"))
    }
    fn encode<T: Serialize>(v: &T) -> Result<Bytes, String> {
        bincode::serialize(v)
            .map(Bytes::from)
            .map_err(|e| e.to_string())
    }
    let r = raft.clone();
    cluster.register(
        &service(group, "ae"),
        std::sync::Arc::new(move |_from, p| {
            let r = r.clone();
            Box::pin(async move {
                let req: AppendEntriesRequest<LogletRaft> = decode(&p)?;
                encode(&r.append_entries(req).await)
            })
        }),
    );
    let r = raft.clone();
    cluster.register(
        &service(group, "vote"),
        std::sync::Arc::new(move |_from, p| {
            let r = r.clone();
            Box::pin(async move {
                let req: VoteRequest<u64> = decode(&p)?;
                encode(&r.vote(req).await)
            })
        }),
    );
    cluster.register(
        &service(group, "snap"),
        std::sync::Arc::new(move |_from, p| {
            let r = raft.clone();
            Box::pin(async move {
                let (vote, meta, state): SnapshotMsg = decode(&p)?;
                let snap = Snapshot {
                    meta,
                    snapshot: Box::new(state),
                };
                encode(&r.install_full_snapshot(vote, snap).await)
            })
        }),
    );
}
