//! Decoded replies as a small value tree, and its normalisation: only what legitimately differs
//! between two servers is rewritten — zxids (to their rank among the zxids one server showed in
//! one run, which keeps equality and order), times (to "a plausible wall-clock time"), session
//! ids (to the name of the session in the script), children lists (to sets). Everything else is
//! compared as is.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use zoolog_jute::{
    Acl, ClientInfo, ErrorCode, EventType, MultiResult, OpCode, Response, Stat, WatcherEvent,
};

/// A decoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Bytes(Vec<u8>),
    /// A zxid (normalised to its rank).
    Zxid(i64),
    /// A wall-clock time in ms (normalised to plausible/implausible).
    Time(i64),
    /// A session id (normalised to the session's name in the script).
    Session(i64),
    /// An error code.
    Err(i32),
    List(Vec<V>),
    /// A list whose order is unspecified (compared sorted).
    Set(Vec<V>),
    Rec(&'static str, Vec<(&'static str, V)>),
}

impl V {
    pub fn rec(name: &'static str, fields: Vec<(&'static str, V)>) -> V {
        V::Rec(name, fields)
    }

    pub fn str(s: impl Into<String>) -> V {
        V::Str(s.into())
    }

    /// Every zxid in the value.
    pub fn zxids(&self, out: &mut BTreeSet<i64>) {
        match self {
            V::Zxid(z) => {
                out.insert(*z);
            }
            V::List(v) | V::Set(v) => v.iter().for_each(|x| x.zxids(out)),
            V::Rec(_, f) => f.iter().for_each(|(_, x)| x.zxids(out)),
            _ => {}
        }
    }
}

/// How one server's values are normalised.
#[derive(Debug, Clone, Default)]
pub struct Norm {
    /// zxid -> rank (1-based) among the positive zxids seen.
    pub ranks: BTreeMap<i64, usize>,
    /// session id -> name.
    pub sessions: BTreeMap<i64, String>,
    /// Wall clock (ms) when the run happened.
    pub now_ms: i64,
    /// Show raw zxids and session ids beside the normalised form (for reports).
    pub show_raw: bool,
    /// Render zxids and session ids raw (hex), times raw: no normalisation at all.
    pub raw: bool,
}

impl Norm {
    pub fn new(zxids: &BTreeSet<i64>, sessions: BTreeMap<i64, String>) -> Norm {
        let ranks = zxids
            .iter()
            .filter(|z| **z > 0)
            .enumerate()
            .map(|(i, z)| (*z, i + 1))
            .collect();
        Norm {
            ranks,
            sessions,
            now_ms: now_ms(),
            show_raw: false,
            raw: false,
        }
    }

    /// A renderer that shows values as they came (for the proxy's logs).
    pub fn raw() -> Norm {
        Norm {
            raw: true,
            now_ms: now_ms(),
            ..Norm::default()
        }
    }

    pub fn zxid(&self, z: i64) -> String {
        if self.raw {
            return if z > 0 {
                format!("{z:#x}")
            } else {
                z.to_string()
            };
        }
        let base = match z {
            0 => "0".to_string(),
            -1 => "-1".to_string(),
            z => match self.ranks.get(&z) {
                Some(r) => format!("z{r}"),
                None => format!("z?{z:#x}"),
            },
        };
        if self.show_raw && z > 0 {
            format!("{base}[{z:#x}]")
        } else {
            base
        }
    }

    pub fn time(&self, t: i64) -> String {
        if self.raw {
            return t.to_string();
        }
        // A real wall-clock time in ms, within a day of now.
        if (t - self.now_ms).abs() < 86_400_000 {
            if self.show_raw {
                format!("t[{t}]")
            } else {
                "t".to_string()
            }
        } else {
            format!("t!{t}")
        }
    }

    pub fn session(&self, s: i64) -> String {
        if self.raw {
            return if s == 0 {
                "0".into()
            } else {
                format!("sess:{s:#x}")
            };
        }
        let base = if s == 0 {
            "0".to_string()
        } else {
            match self.sessions.get(&s) {
                Some(n) => format!("sess:{n}"),
                None => "sess:?".to_string(),
            }
        };
        if self.show_raw && s != 0 {
            format!("{base}[{s:#x}]")
        } else {
            base
        }
    }

    /// Renders `v` normalised.
    pub fn render(&self, v: &V) -> String {
        let mut s = String::new();
        self.render_into(v, &mut s);
        s
    }

    fn render_into(&self, v: &V, out: &mut String) {
        match v {
            V::Null => out.push_str("null"),
            V::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            V::Int(i) => {
                let _ = write!(out, "{i}");
            }
            V::Str(s) => {
                let _ = write!(out, "{s:?}");
            }
            V::Bytes(b) => out.push_str(&show_bytes(b)),
            V::Zxid(z) => out.push_str(&self.zxid(*z)),
            V::Time(t) => out.push_str(&self.time(*t)),
            V::Session(s) => out.push_str(&self.session(*s)),
            V::Err(e) => out.push_str(&err_name(*e)),
            V::List(items) => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.render_into(x, out);
                }
                out.push(']');
            }
            V::Set(items) => {
                let mut r: Vec<String> = items.iter().map(|x| self.render(x)).collect();
                r.sort();
                out.push('{');
                out.push_str(&r.join(", "));
                out.push('}');
            }
            V::Rec(name, fields) => {
                out.push_str(name);
                out.push('{');
                for (i, (k, x)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push('=');
                    self.render_into(x, out);
                }
                out.push('}');
            }
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Bytes as a string literal when printable UTF-8, else hex.
pub fn show_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if s.chars().all(|c| !c.is_control() || c == '\n') => format!("b{s:?}"),
        _ => {
            let mut h = String::from("0x");
            for x in b {
                let _ = write!(h, "{x:02x}");
            }
            h
        }
    }
}

/// `NONODE(-101)`.
pub fn err_name(e: i32) -> String {
    match ErrorCode::from_i32(e) {
        Some(ErrorCode::Ok) => "OK".to_string(),
        Some(c) => format!("{}({e})", c.name()),
        None => format!("err({e})"),
    }
}

pub fn op_name(op: i32) -> String {
    match OpCode::from_i32(op) {
        Some(o) => o.name().to_string(),
        None => format!("op{op}"),
    }
}

pub fn event_name(t: i32) -> String {
    match EventType::from_i32(t) {
        Some(e) => format!("{e:?}"),
        None => format!("event{t}"),
    }
}

pub fn stat(s: &Stat) -> V {
    V::rec(
        "Stat",
        vec![
            ("czxid", V::Zxid(s.czxid)),
            ("mzxid", V::Zxid(s.mzxid)),
            ("ctime", V::Time(s.ctime)),
            ("mtime", V::Time(s.mtime)),
            ("version", V::Int(s.version.into())),
            ("cversion", V::Int(s.cversion.into())),
            ("aversion", V::Int(s.aversion.into())),
            ("ephemeralOwner", V::Session(s.ephemeral_owner)),
            ("dataLength", V::Int(s.data_length.into())),
            ("numChildren", V::Int(s.num_children.into())),
            ("pzxid", V::Zxid(s.pzxid)),
        ],
    )
}

fn data(d: &Option<bytes::Bytes>) -> V {
    match d {
        None => V::Null,
        Some(b) => V::Bytes(b.to_vec()),
    }
}

fn opt_str(s: &Option<impl AsRef<str>>) -> V {
    match s {
        None => V::Null,
        Some(s) => V::str(s.as_ref()),
    }
}

pub fn acl(a: &Acl) -> V {
    V::rec(
        "ACL",
        vec![
            ("perms", V::Int(a.perms.into())),
            ("scheme", opt_str(&a.id.scheme)),
            ("id", opt_str(&a.id.id)),
        ],
    )
}

fn client_info(c: &ClientInfo) -> V {
    V::rec(
        "ClientInfo",
        vec![
            ("scheme", V::str(&*c.auth_scheme)),
            ("user", V::str(&*c.user)),
        ],
    )
}

fn names(v: &[zoolog_jute::ByteString]) -> V {
    V::Set(v.iter().map(|s| V::str(&**s)).collect())
}

/// A decoded reply body.
pub fn response(r: &Response) -> V {
    match r {
        Response::Empty => V::Null,
        Response::Create(c) => V::rec("Create", vec![("path", V::str(&*c.path))]),
        Response::Create2(c) => V::rec(
            "Create2",
            vec![("path", V::str(&*c.path)), ("stat", stat(&c.stat))],
        ),
        Response::Exists(e) => stat(&e.stat),
        Response::GetData(g) => V::rec(
            "GetData",
            vec![("data", data(&g.data)), ("stat", stat(&g.stat))],
        ),
        Response::SetData(s) => stat(&s.stat),
        Response::GetAcl(a) => V::rec(
            "GetACL",
            vec![
                ("acl", V::List(a.acl.iter().map(acl).collect())),
                ("stat", stat(&a.stat)),
            ],
        ),
        Response::SetAcl(s) => stat(&s.stat),
        Response::GetChildren(c) => V::rec("GetChildren", vec![("children", names(&c.children))]),
        Response::GetChildren2(c) => V::rec(
            "GetChildren2",
            vec![("children", names(&c.children)), ("stat", stat(&c.stat))],
        ),
        Response::Sync(s) => V::rec("Sync", vec![("path", V::str(&*s.path))]),
        Response::Multi(m) => V::List(m.results.iter().map(multi_result).collect()),
        Response::Sasl(s) => V::rec("Sasl", vec![("token", data(&s.token))]),
        Response::GetEphemerals(e) => {
            V::rec("GetEphemerals", vec![("ephemerals", names(&e.ephemerals))])
        }
        Response::GetAllChildrenNumber(n) => V::rec(
            "GetAllChildrenNumber",
            vec![("total", V::Int(n.total_number.into()))],
        ),
        Response::AddWatch(e) => V::rec("AddWatch", vec![("err", V::Err(e.err))]),
        Response::WhoAmI(w) => V::rec(
            "WhoAmI",
            vec![(
                "clientInfo",
                V::Set(w.client_info.iter().map(client_info).collect()),
            )],
        ),
    }
}

pub fn multi_result(r: &MultiResult) -> V {
    match r {
        MultiResult::Create(c) => V::rec("create", vec![("path", V::str(&*c.path))]),
        MultiResult::Create2(c) => V::rec(
            "create2",
            vec![("path", V::str(&*c.path)), ("stat", stat(&c.stat))],
        ),
        MultiResult::Delete => V::rec("delete", vec![]),
        MultiResult::SetData(s) => V::rec("setData", vec![("stat", stat(&s.stat))]),
        MultiResult::Check => V::rec("check", vec![]),
        MultiResult::GetChildren(c) => {
            V::rec("getChildren", vec![("children", names(&c.children))])
        }
        MultiResult::GetData(g) => V::rec(
            "getData",
            vec![("data", data(&g.data)), ("stat", stat(&g.stat))],
        ),
        MultiResult::Error(e) => V::rec("error", vec![("err", V::Err(*e))]),
    }
}

pub fn event(zxid: i64, e: &WatcherEvent) -> V {
    V::rec(
        "event",
        vec![
            ("type", V::str(event_name(e.event_type))),
            ("state", V::Int(e.state.into())),
            ("path", V::str(&*e.path)),
            ("zxid", V::Zxid(zxid)),
        ],
    )
}
