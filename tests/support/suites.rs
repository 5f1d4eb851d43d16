//! Runners for the out-of-process client suites in `tests/clients/` (kazoo, Java, C): each takes
//! a [`Server`], runs the suite against it and panics with the suite's report (and the server's
//! log tail) if anything mismatched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::{ProgramRun, Server, ServerConfig, java_classpath, run_program};

/// Longest a suite may run before it is killed.
pub const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// The server settings the suites are validated with: short ticks so that session expiry,
/// container and TTL reaping are quick; a super user.
pub fn reference_config() -> ServerConfig {
    ServerConfig {
        tick_time_ms: 200,
        min_session_timeout_ms: Some(400),
        max_session_timeout_ms: Some(4000),
        container_check_interval_ms: Some(200),
        super_user: Some(("super".to_string(), "zoolog-super-secret".to_string())),
        extended_types: true,
        extra: String::new(),
    }
}

pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("clients")
}

/// The jars the Java suite compiles and runs against.
pub fn java_suite_classpath() -> String {
    java_classpath(&["zookeeper.jar", "zookeeper-jute.jar", "slf4j-simple.jar"])
}

/// Panics with the suite's output unless the run succeeded (the server prints its log tail when it
/// is dropped during the panic); prints the report either way (see it with `-- --nocapture`).
pub fn check_run(suite: &str, server: &Server, run: &ProgramRun) {
    let status = if run.timed_out {
        format!("timed out after {:?}", run.elapsed)
    } else {
        match run.status {
            Some(s) => s.to_string(),
            None => "did not run".to_string(),
        }
    };
    if !run.success() {
        panic!(
            "{suite} suite against {} at {} failed ({status}, {:.1}s)\n--- suite output ---\n{}\n\
             (the server's log tail follows when it stops)",
            server.name(),
            server.addr(),
            run.elapsed.as_secs_f64(),
            run.output,
        );
    }
    println!(
        "{}\n({suite} suite: {:.1}s)",
        run.output,
        run.elapsed.as_secs_f64()
    );
}

pub fn python() -> &'static str {
    "python3"
}

/// kazoo suite (`tests/clients/kazoo_suite.py`).
pub fn run_kazoo(server: &Server) -> ProgramRun {
    let mut cmd = Command::new(python());
    cmd.arg(clients_dir().join("kazoo_suite.py"))
        .args(server.suite_args());
    run_program(&mut cmd, SUITE_TIMEOUT)
}

/// C client suite (`tests/clients/c_suite.py`, driving `cli_mt`).
pub fn run_c(server: &Server) -> ProgramRun {
    let mut cmd = Command::new(python());
    cmd.arg(clients_dir().join("c_suite.py"))
        .args(server.suite_args());
    run_program(&mut cmd, SUITE_TIMEOUT)
}

/// Compiles `JavaSuite.java` once per test process; returns the class directory.
///
/// The classes live under cargo's per-target scratch directory (`CARGO_TARGET_TMPDIR`), in a
/// directory named after a hash of the source and the classpath, so nothing is left in /tmp, an
/// unchanged suite is not compiled again, and a changed one never runs stale classes. javac
/// writes into a fresh directory that is renamed into place, so concurrent test processes never
/// see a half-written one.
pub fn compile_java_suite() -> Result<PathBuf, String> {
    static CLASSES: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CLASSES
        .get_or_init(|| {
            use std::hash::{DefaultHasher, Hash, Hasher};
            let source_path = clients_dir().join("JavaSuite.java");
            let source = std::fs::read(&source_path)
                .map_err(|e| format!("{}: {e}", source_path.display()))?;
            let classpath = java_suite_classpath();
            let mut h = DefaultHasher::new();
            source.hash(&mut h);
            classpath.hash(&mut h);
            let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let dir = scratch.join(format!("java-suite-{:016x}", h.finish()));
            if dir.join("JavaSuite.class").is_file() {
                return Ok(dir);
            }
            std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
            let work = tempfile::Builder::new()
                .prefix("java-suite-build-")
                .tempdir_in(&scratch)
                .map_err(|e| e.to_string())?;
            let mut cmd = Command::new("javac");
            cmd.arg("-nowarn")
                .arg("-cp")
                .arg(&classpath)
                .arg("-d")
                .arg(work.path())
                .arg(&source_path);
            let run = run_program(&mut cmd, Duration::from_secs(240));
            if !run.success() {
                return Err(format!("javac JavaSuite.java failed:\n{}", run.output));
            }
            // Another process may have renamed its copy into place first; either copy is the
            // same compilation, and `work` is removed when it drops.
            if std::fs::rename(work.path(), &dir).is_err() && !dir.join("JavaSuite.class").is_file()
            {
                return Err(format!(
                    "cannot move the compiled suite to {}",
                    dir.display()
                ));
            }
            Ok(dir)
        })
        .clone()
}

/// Java suite (`tests/clients/JavaSuite.java`).
pub fn run_java(server: &Server) -> ProgramRun {
    let classes = match compile_java_suite() {
        Ok(c) => c,
        Err(e) => {
            return ProgramRun {
                status: None,
                output: e,
                elapsed: Duration::ZERO,
                timed_out: false,
            };
        }
    };
    let mut cmd = Command::new("java");
    cmd.arg("-Xmx256m")
        .arg("-XX:+UseSerialGC")
        .arg("-XX:TieredStopAtLevel=1")
        .arg("-Djava.net.preferIPv4Stack=true")
        .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=error")
        .arg("-cp")
        .arg(format!("{}:{}", java_suite_classpath(), classes.display()))
        .arg("JavaSuite")
        .args(server.suite_args());
    run_program(&mut cmd, SUITE_TIMEOUT)
}
