//! The folder tree is the architecture (DESIGN.md §1): the platform — `src/log`, `src/store`,
//! `src/engine` — knows nothing of ZooKeeper, so it may not name the ZooKeeper application, the
//! server, the configuration or the Jute codec. This test reads the sources and fails on any
//! such reference.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn platform_does_not_depend_on_zookeeper() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let forbidden = [
        "crate::zk",
        "crate::server",
        "crate::config",
        "zoolog_jute",
        "super::super::zk",
    ];
    let mut offenders = Vec::new();
    for layer in ["log", "store", "engine"] {
        let mut files = Vec::new();
        rust_files(&root.join(layer), &mut files);
        assert!(!files.is_empty(), "no sources under src/{layer}");
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read source");
            for (n, line) in text.lines().enumerate() {
                if forbidden.iter().any(|w| line.contains(w)) {
                    offenders.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the platform names ZooKeeper:\n{}",
        offenders.join("\n")
    );
}
