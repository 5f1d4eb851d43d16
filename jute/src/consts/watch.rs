//! Watch constants (§6): `Watcher.Event.EventType`, `KeeperState`, `WatcherType`, `AddWatchMode`.

use super::int_enum;

int_enum! {
    /// `WatcherEvent.type`.
    pub enum EventType ("event type") {
        None = -1,
        NodeCreated = 1,
        NodeDeleted = 2,
        NodeDataChanged = 3,
        NodeChildrenChanged = 4,
        DataWatchRemoved = 5,
        ChildWatchRemoved = 6,
        PersistentWatchRemoved = 7,
    }
}

int_enum! {
    /// `WatcherEvent.state`; the server only ever sends `SyncConnected`.
    pub enum KeeperState ("keeper state") {
        Unknown = -1,
        Disconnected = 0,
        NoSyncConnected = 1,
        SyncConnected = 3,
        AuthFailed = 4,
        ConnectedReadOnly = 5,
        SaslAuthenticated = 6,
        Closed = 7,
        Expired = -112,
    }
}

int_enum! {
    /// The `type` of checkWatches / removeWatches (§6.3).
    pub enum WatcherType ("watcher type") {
        Children = 1,
        Data = 2,
        Any = 3,
        Persistent = 4,
        PersistentRecursive = 5,
    }
}

int_enum! {
    /// The `mode` of addWatch.
    pub enum AddWatchMode ("add-watch mode") {
        Persistent = 0,
        PersistentRecursive = 1,
    }
}
