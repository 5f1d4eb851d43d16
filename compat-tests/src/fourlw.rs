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

/// The comparable shape of `word`'s output `text`.
pub fn shape(word: &str, text: &str) -> V {
    let s = match word {
        "ruok" | "isro" | "gtmk" | "stmk" | "crst" | "srst" => V::str(text),
        "mntr" => keys(text, '\t'),
        "conf" => keys(text, '='),
        "envi" => keys(text, '='),
        "srvr" | "stat" => server_lines(text),
        "cons" => V::Set(text.lines().map(|l| V::str(blank(l))).collect()),
        "dirs" => keys(text, ':'),
        _ => lines(text),
    };
    V::rec("4lw", vec![("word", V::str(word)), ("shape", s)])
}
