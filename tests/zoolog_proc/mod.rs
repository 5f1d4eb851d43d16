//! Test support: run the `zoolog` binary of this build as a real process on a zoo.cfg of the
//! test's own, on 127.0.0.1, and kill it (SIGKILL) when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Node {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub fn write_cfg(dir: &Path, port: u16) -> PathBuf {
    write_cfg_with(dir, port, "")
}

/// A zoo.cfg with short ticks on `port`, plus `extra` lines.
pub fn write_cfg_with(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\nminSessionTimeout=400\nmaxSessionTimeout=20000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\njute.maxbuffer=65536\n{extra}",
            dir.join("data").display()
        ),
    )
    .expect("write cfg");
    cfg
}

pub fn start(cfg: &Path) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zoolog"))
        .arg("serve")
        .arg("--config")
        .arg(cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn zoolog");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Node { child, addr }
}

/// Runs `zoolog ctl --data-dir DIR ARGS…`: whether it succeeded, and what it printed.
pub fn ctl(data_dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zoolog"))
        .arg("ctl")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run zoolog ctl");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
