//! Watches (zookeeper-protocol.md §6): soft state per connection on this replica, fired from
//! post_apply. A faithful model of ZooKeeper 3.8's `WatchManager`: two tables (data and child),
//! each mapping a path to the connections watching it with a mode (standard one-shot, persistent,
//! persistent-recursive); one notification per connection per trigger; recursive watches fire on
//! descendants (with the changed node's path) but never for NodeChildrenChanged.
//!
//! Layer: `zk` soft state. Touches nothing but its own maps; never part of apply.

use std::collections::{BTreeMap, BTreeSet};

use zoolog_jute::EventType;

use super::outcome::{TriggerKind, WatchTrigger};

/// A connection on this replica (not a session: watches belong to connections).
pub type ConnId = u64;

/// How a watch was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// One-shot: removed when it fires.
    Standard,
    /// Stays until removed; fires for the path itself.
    Persistent,
    /// Stays until removed; fires for the path and every descendant.
    PersistentRecursive,
}

/// Which table a watch lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    /// exists / getData watches, persistent and recursive watches.
    Data,
    /// getChildren watches and persistent watches.
    Child,
}

#[derive(Default)]
struct WatchTable {
    /// path → connection → mode.
    by_path: BTreeMap<String, BTreeMap<ConnId, WatchMode>>,
    /// connection → paths (to drop a connection's watches quickly).
    by_conn: BTreeMap<ConnId, BTreeSet<String>>,
    recursive: usize,
}

impl WatchTable {
    fn add(&mut self, path: &str, conn: ConnId, mode: WatchMode) {
        let conns = self.by_path.entry(path.to_string()).or_default();
        // ZooKeeper 3.8 keeps one mode per (connection, path): the latest registration wins.
        if let Some(old) = conns.insert(conn, mode)
            && old == WatchMode::PersistentRecursive
        {
            self.recursive -= 1;
        }
        if mode == WatchMode::PersistentRecursive {
            self.recursive += 1;
        }
        self.by_conn
            .entry(conn)
            .or_default()
            .insert(path.to_string());
    }

    fn remove(&mut self, path: &str, conn: ConnId) -> Option<WatchMode> {
        let conns = self.by_path.get_mut(path)?;
        let mode = conns.remove(&conn)?;
        if conns.is_empty() {
            self.by_path.remove(path);
        }
        if let Some(paths) = self.by_conn.get_mut(&conn) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
        if mode == WatchMode::PersistentRecursive {
            self.recursive -= 1;
        }
        Some(mode)
    }

    fn mode(&self, path: &str, conn: ConnId) -> Option<WatchMode> {
        self.by_path.get(path)?.get(&conn).copied()
    }

    fn drop_conn(&mut self, conn: ConnId) {
        if let Some(paths) = self.by_conn.remove(&conn) {
            for p in paths {
                if let Some(conns) = self.by_path.get_mut(&p) {
                    if conns.remove(&conn) == Some(WatchMode::PersistentRecursive) {
                        self.recursive -= 1;
                    }
                    if conns.is_empty() {
                        self.by_path.remove(&p);
                    }
                }
            }
        }
    }

    /// ZooKeeper's `triggerWatch`: the connections to notify, minus `suppress`.
    fn trigger(
        &mut self,
        path: &str,
        event: EventType,
        suppress: &BTreeSet<ConnId>,
    ) -> BTreeSet<ConnId> {
        let mut fired = BTreeSet::new();
        // The path itself: every mode fires; standard watches are consumed.
        if let Some(conns) = self.by_path.get_mut(path) {
            let mut consumed = Vec::new();
            for (&conn, &mode) in conns.iter() {
                match mode {
                    WatchMode::PersistentRecursive => {
                        if event != EventType::NodeChildrenChanged {
                            fired.insert(conn);
                        }
                    }
                    WatchMode::Persistent => {
                        fired.insert(conn);
                    }
                    WatchMode::Standard => {
                        fired.insert(conn);
                        consumed.push(conn);
                    }
                }
            }
            for conn in consumed {
                self.remove(path, conn);
            }
        }
        // Ancestors: only recursive watches fire.
        if self.recursive > 0 && event != EventType::NodeChildrenChanged {
            for anc in ancestors(path) {
                if let Some(conns) = self.by_path.get(anc) {
                    for (&conn, &mode) in conns {
                        if mode == WatchMode::PersistentRecursive {
                            fired.insert(conn);
                        }
                    }
                }
            }
        }
        fired.retain(|c| !suppress.contains(c));
        fired
    }
}

/// The proper ancestors of `path`, nearest first, ending with "/".
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut cur = path;
    std::iter::from_fn(move || {
        if cur == "/" || cur.is_empty() {
            return None;
        }
        let idx = cur.rfind('/')?;
        cur = if idx == 0 { "/" } else { &cur[..idx] };
        Some(cur)
    })
}

/// One notification to deliver: `(connection, event type, path)`.
pub type Notification = (ConnId, EventType, String);

/// All watches of this replica.
#[derive(Default)]
pub struct WatchManager {
    data: WatchTable,
    child: WatchTable,
}

impl WatchManager {
    pub fn new() -> Self {
        WatchManager::default()
    }

    fn table(&mut self, t: Table) -> &mut WatchTable {
        match t {
            Table::Data => &mut self.data,
            Table::Child => &mut self.child,
        }
    }

    /// A standard watch from exists/getData (data table) or getChildren (child table).
    pub fn add_standard(&mut self, table: Table, path: &str, conn: ConnId) {
        self.table(table).add(path, conn, WatchMode::Standard);
    }

    /// addWatch PERSISTENT: both tables.
    pub fn add_persistent(&mut self, path: &str, conn: ConnId) {
        self.data.add(path, conn, WatchMode::Persistent);
        self.child.add(path, conn, WatchMode::Persistent);
    }

    /// addWatch PERSISTENT_RECURSIVE: in 3.8 both tables (it never fires NodeChildrenChanged).
    pub fn add_recursive(&mut self, path: &str, conn: ConnId) {
        self.data.add(path, conn, WatchMode::PersistentRecursive);
        self.child.add(path, conn, WatchMode::PersistentRecursive);
    }

    /// The mode `conn` has on `path` in `table`, if any.
    pub fn mode(&self, table: Table, path: &str, conn: ConnId) -> Option<WatchMode> {
        match table {
            Table::Data => self.data.mode(path, conn),
            Table::Child => self.child.mode(path, conn),
        }
    }

    /// Whether any connection watches `path` in `table`.
    pub fn watched_by_anyone(&self, table: Table, path: &str) -> bool {
        match table {
            Table::Data => self.data.by_path.contains_key(path),
            Table::Child => self.child.by_path.contains_key(path),
        }
    }

    /// Removes `conn`'s watch on `path` in `table`, returning what was there.
    pub fn remove(&mut self, table: Table, path: &str, conn: ConnId) -> Option<WatchMode> {
        self.table(table).remove(path, conn)
    }

    /// Forgets every watch of a closed connection.
    pub fn drop_conn(&mut self, conn: ConnId) {
        self.data.drop_conn(conn);
        self.child.drop_conn(conn);
    }

    /// One `triggerWatch` call of ZooKeeper's DataTree, appending the notifications it sends.
    /// NodeDeleted goes to the data table, then to the child table except the connections the
    /// data table already notified.
    pub fn fire(&mut self, trigger: &WatchTrigger, out: &mut Vec<Notification>) {
        let none = BTreeSet::new();
        let p = &trigger.path;
        let event = trigger.kind.event_type();
        match trigger.kind {
            TriggerKind::NodeCreated | TriggerKind::NodeDataChanged => {
                for c in self.data.trigger(p, event, &none) {
                    out.push((c, event, p.clone()));
                }
            }
            TriggerKind::NodeChildrenChanged => {
                for c in self.child.trigger(p, event, &none) {
                    out.push((c, event, p.clone()));
                }
            }
            TriggerKind::NodeDeleted => {
                let fired = self.data.trigger(p, event, &none);
                for &c in &fired {
                    out.push((c, event, p.clone()));
                }
                for c in self.child.trigger(p, event, &fired) {
                    out.push((c, event, p.clone()));
                }
            }
        }
    }

    /// `(connections watching, paths watched, total watches)` of the data table, as `wchs`.
    pub fn summary(&self) -> (usize, usize, usize) {
        let total = self.data.by_path.values().map(BTreeMap::len).sum();
        (self.data.by_conn.len(), self.data.by_path.len(), total)
    }

    /// Data-table watches by connection, as `wchc`.
    pub fn by_connection(&self) -> &BTreeMap<ConnId, BTreeSet<String>> {
        &self.data.by_conn
    }

    /// Data-table watches by path, as `wchp`.
    pub fn by_path(&self) -> impl Iterator<Item = (&String, impl Iterator<Item = &ConnId>)> {
        self.data.by_path.iter().map(|(p, c)| (p, c.keys()))
    }

    /// Total watch registrations across both tables (for `mntr` watch_count).
    pub fn count(&self) -> usize {
        self.summary().2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The triggers ZooKeeper's DataTree issues for a create, delete or setData of `path`.
    enum Change {
        Created(&'static str),
        Deleted(&'static str),
        DataChanged(&'static str),
    }

    fn parent_of(path: &str) -> &str {
        match path.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &path[..i],
        }
    }

    fn fire(w: &mut WatchManager, c: Change) -> Vec<Notification> {
        let triggers = match c {
            Change::Created(p) => vec![
                WatchTrigger::new(p, TriggerKind::NodeCreated),
                WatchTrigger::new(parent_of(p), TriggerKind::NodeChildrenChanged),
            ],
            Change::Deleted(p) => vec![
                WatchTrigger::new(p, TriggerKind::NodeDeleted),
                WatchTrigger::new(parent_of(p), TriggerKind::NodeChildrenChanged),
            ],
            Change::DataChanged(p) => vec![WatchTrigger::new(p, TriggerKind::NodeDataChanged)],
        };
        let mut out = Vec::new();
        for t in &triggers {
            w.fire(t, &mut out);
        }
        out
    }

    #[test]
    fn standard_watches_fire_once() {
        let mut w = WatchManager::new();
        w.add_standard(Table::Data, "/a", 1);
        w.add_standard(Table::Child, "/", 2);
        let n = fire(&mut w, Change::Created("/a"));
        assert_eq!(
            n,
            vec![
                (1, EventType::NodeCreated, "/a".into()),
                (2, EventType::NodeChildrenChanged, "/".into())
            ]
        );
        assert!(fire(&mut w, Change::DataChanged("/a")).is_empty());
    }

    #[test]
    fn delete_notifies_each_connection_once() {
        let mut w = WatchManager::new();
        w.add_standard(Table::Data, "/a", 1);
        w.add_standard(Table::Child, "/a", 1);
        w.add_standard(Table::Child, "/a", 2);
        let n = fire(&mut w, Change::Deleted("/a"));
        assert_eq!(
            n,
            vec![
                (1, EventType::NodeDeleted, "/a".into()),
                (2, EventType::NodeDeleted, "/a".into())
            ]
        );
        assert_eq!(w.summary(), (0, 0, 0));
    }

    #[test]
    fn recursive_watches_fire_for_descendants_with_their_path() {
        let mut w = WatchManager::new();
        w.add_recursive("/r", 7);
        let n = fire(&mut w, Change::Created("/r/x/y"));
        assert_eq!(n, vec![(7, EventType::NodeCreated, "/r/x/y".into())]);
        let n = fire(&mut w, Change::DataChanged("/r"));
        assert_eq!(n, vec![(7, EventType::NodeDataChanged, "/r".into())]);
        // Never NodeChildrenChanged.
        let n = fire(&mut w, Change::Created("/r/z"));
        assert_eq!(n, vec![(7, EventType::NodeCreated, "/r/z".into())]);
        assert!(fire(&mut w, Change::DataChanged("/other")).is_empty());
        assert_eq!(
            w.mode(Table::Data, "/r", 7),
            Some(WatchMode::PersistentRecursive)
        );
    }

    #[test]
    fn persistent_watches_stay() {
        let mut w = WatchManager::new();
        w.add_persistent("/p", 3);
        for _ in 0..3 {
            let n = fire(&mut w, Change::Created("/p/c"));
            assert_eq!(n, vec![(3, EventType::NodeChildrenChanged, "/p".into())]);
            fire(&mut w, Change::Deleted("/p/c"));
        }
        assert_eq!(w.remove(Table::Data, "/p", 3), Some(WatchMode::Persistent));
        assert_eq!(w.remove(Table::Data, "/p", 3), None);
        w.drop_conn(3);
        assert!(fire(&mut w, Change::Created("/p/c")).is_empty());
    }

    #[test]
    fn ancestors_walk_to_root() {
        assert_eq!(
            ancestors("/a/b/c").collect::<Vec<_>>(),
            vec!["/a/b", "/a", "/"]
        );
        assert_eq!(ancestors("/a").collect::<Vec<_>>(), vec!["/"]);
        assert_eq!(ancestors("/").count(), 0);
    }
}
