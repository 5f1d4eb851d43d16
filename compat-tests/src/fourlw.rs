//! The shape of a four-letter word's output: what must be the same on both servers (the keys of
//! `mntr`, `conf`, `envi`; the lines of `srvr`/`stat` with numbers blanked; exact text for the
//! fixed answers), leaving out values that differ by nature (counters, latencies, paths, ids).

use crate::value::V;

/// Blanks numbers (`N`) and hex ids (`0xH`) in a line.
pub fn blank(line: &str) -> String {
    let mut out = String::new();
    let b: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '0' && i + 1 < b.len() && (b[i + 1] == 'x' || b[i + 1] == 'X') {
            let mut j = i + 2;
            while j < b.len() && b[j].is_ascii_hexdigit() {
                j += 1;
            }
            out.push_str("0xH");
            i = j;
        } else if b[i].is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push('N');
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn keys(text: &str, sep: char) -> V {
    V::Set(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| V::str(l.split(sep).next().unwrap_or("").trim()))
            .collect(),
    )
}

fn lines(text: &str) -> V {
    V::List(text.lines().map(|l| V::str(blank_line(l))).collect())
}

fn blank_line(l: &str) -> String {
    if l.starts_with("Zookeeper version:") {
        // Version and build differ by nature; the protocol level must be 3.8.
        let v = l.trim_start_matches("Zookeeper version:").trim();
        return format!("Zookeeper version: {}…", v.get(..4).unwrap_or(v));
    }
    blank(l)
}

/// `srvr` / `stat`: the server lines in order, the per-connection lines of `stat` as a set.
fn server_lines(text: &str) -> V {
    let mut fixed = Vec::new();
    let mut clients = Vec::new();
    for l in text.lines() {
        if l.starts_with(" /") {
            clients.push(V::str(blank(l)));
        } else {
            fixed.push(V::str(blank_line(l)));
        }
    }
    if clients.is_empty() {
        V::List(fixed)
    } else {
        V::rec(
            "stat",
            vec![("lines", V::List(fixed)), ("clients", V::Set(clients))],
        )
    }
}

/// `mntr` keys; the per-namespace metrics (`zk_<stat>_<top-level znode>_{read,write}_per_namespace`)
/// depend on which top-level znodes were ever used, so their namespace is blanked.
fn mntr_keys(text: &str) -> V {
    let mut set = std::collections::BTreeSet::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let k = l.split('\t').next().unwrap_or("").trim();
        let k = match (
            k.strip_suffix("_read_per_namespace"),
            k.strip_suffix("_write_per_namespace"),
        ) {
            (Some(head), _) | (_, Some(head)) => {
                let kind = if k.ends_with("_read_per_namespace") {
                    "read"
                } else {
                    "write"
                };
                let stat = head.split('_').nth(1).unwrap_or("");
                format!("zk_{stat}_<ns>_{kind}_per_namespace")
            }
            _ => k.to_string(),
        };
        set.insert(k);
    }
    V::Set(set.into_iter().map(V::Str).collect())
}

/// Blocks of a header line followed by tab-indented lines (`wchc`, `wchp`), order-free.
fn blocks(text: &str) -> V {
    let mut out: Vec<V> = Vec::new();
    let mut cur: Option<(String, Vec<V>)> = None;
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix('\t') {
            if let Some((_, items)) = cur.as_mut() {
                items.push(V::str(blank_hex(rest)));
            }
        } else {
            if let Some((h, items)) = cur.take() {
                out.push(V::rec(
                    "block",
                    vec![("head", V::Str(h)), ("items", V::Set(items))],
                ));
            }
            if !l.trim().is_empty() {
                cur = Some((blank_hex(l), Vec::new()));
            }
        }
    }
    if let Some((h, items)) = cur.take() {
        out.push(V::rec(
            "block",
            vec![("head", V::Str(h)), ("items", V::Set(items))],
        ));
    }
    V::Set(out)
}

/// Blanks only hex ids (paths may contain digits).
fn blank_hex(l: &str) -> String {
    let mut out = String::new();
    let mut rest = l;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let n = tail.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        out.push_str("0xH");
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

/// `dump`: the distinct line shapes (bucket dates and counts blanked).
fn dump_shape(text: &str) -> V {
    let mut set = std::collections::BTreeSet::new();
    for l in text.lines() {
        let b = if let Some(i) = l.find(" expire at ") {
            format!("{} expire at <date>:", blank(&l[..i]))
        } else {
            blank(l)
        };
        set.insert(b);
    }
    V::Set(set.into_iter().map(V::Str).collect())
}

/// The comparable shape of `word`'s output `text`.
pub fn shape(word: &str, text: &str) -> V {
    let s = match word {
        "ruok" | "isro" | "gtmk" | "stmk" | "crst" | "srst" => V::str(text),
        "mntr" => mntr_keys(text),
        "wchc" | "wchp" => blocks(text),
        "dump" => dump_shape(text),
        "conf" => keys(text, '='),
        "envi" => keys(text, '='),
        "srvr" | "stat" => server_lines(text),
        "cons" => V::Set(text.lines().map(|l| V::str(blank(l))).collect()),
        "dirs" => keys(text, ':'),
        _ => lines(text),
    };
    V::rec("4lw", vec![("word", V::str(word)), ("shape", s)])
}
