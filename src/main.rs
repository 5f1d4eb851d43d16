//! `zoolog` command line: the entry point of the server binary.
//!
//! The server (`zoolog serve`) and admin calls (`zoolog ctl`) arrive with the single-node server;
//! until then the binary describes itself.

use clap::{CommandFactory, Parser};

/// A wire-compatible drop-in replacement for Apache ZooKeeper, built on a virtual shared log.
#[derive(Parser, Debug)]
#[command(name = "zoolog", version, about, long_about = None)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    let mut cmd = Cli::command();
    // Nothing to run yet: say what this binary is.
    if let Err(e) = cmd.print_help() {
        eprintln!("zoolog: {e}");
        std::process::exit(1);
    }
    println!();
}
