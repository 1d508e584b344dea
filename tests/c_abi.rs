//! Builds the C programs of tests/c against the library and runs them: the C ABI
//! exercised from C (NULLs, bad UTF-8 and JSON, context rules, auth hook, drop
//! functions, freeing an app that other threads are using).

use std::path::PathBuf;
use std::process::Command;

fn build_and_run(program: &str) -> String {
    build_and_run_with(program).0
}

/// Builds and runs `program`; its stdout and stderr.
fn build_and_run_with(program: &str) -> (String, String) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c");
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let build = Command::new("make")
        .args(["-s", &format!("PROFILE={profile}"), program])
        .current_dir(&dir)
        .output()
        .expect("make runs");
    assert!(
        build.status.success(),
        "{program}.c does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = Command::new(dir.join(program))
        .current_dir(&dir)
        .env_remove("MIZULIVE_LOG")
        .output()
        .expect("the program runs");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{program}.c failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    (stdout, stderr)
}

#[test]
fn c_abi_program_passes() {
    build_and_run("abi");
}

/// lv_app_free while threads are blocked in lv_serve and lv_wait and a callback
/// publishes in a loop (`make test-c-sanitize` runs it under valgrind too, which
/// sees a library thread reading a freed app).
#[test]
fn freeing_an_app_while_other_threads_are_inside_calls() {
    build_and_run("free_race");
}

/// A callback blocked on a gate: lv_shutdown returns LV_ERR_TIMEOUT after
/// `shutdown_timeout_ms` instead of waiting for it, and the late callback may still
/// publish once it resumes.
#[test]
fn shutdown_is_bounded_by_shutdown_timeout_ms() {
    build_and_run("shutdown_timeout");
}

/// Templates from the options JSON and `lv_app_add_view` serve a page from a working
/// directory with no views folder; bad names and sources are refused by name.
#[test]
fn views_held_in_memory_serve_a_page() {
    build_and_run("views_memory");
}

/// Requests and WebSockets handed in by a host's own server: malformed requests and
/// NULLs refused by name, the descriptor owned by the library on every path, a
/// frame-carried socket's frames and close, and every call refused after shutdown.
#[test]
fn a_host_server_hands_requests_and_sockets_to_the_library() {
    build_and_run("transport");
}

/// The browser session from C: mount, a no-JS event and the auth hook read and write
/// it, the next mount of the same browser sees it and no other browser does; NULLs,
/// bad JSON, a missing key, the size limit and stale handles are refused by name.
#[test]
fn the_browser_session_from_c() {
    build_and_run("browser");
}

/// The test client from C: the counter and a form page driven in-process (clicks,
/// a form with overrides, a key filter), a typo's error naming the selector and the
/// page's event names, refute_push, the state, a publish seen with next_push, NULLs,
/// a call from a callback refused and one from another thread served.
#[test]
fn the_test_client_from_c() {
    build_and_run("testclient");
}

/// The C conveniences: lv_errstr for every code, booleans, lv_pointer_append,
/// lv_len in bytes, pointer errors that name the pointer (LV_ERR_POINTER), and every
/// part of an event (type, target, field, key, raw JSON, each value of a repeated
/// field) from a no-JS POST and a live WebSocket event.
#[test]
fn the_c_conveniences() {
    build_and_run("capi");
}

/// A host's decoded copy of the state kept with its session: fresh until a write or
/// a failed callback's rollback, a replaced value dropped once, the same value kept
/// without a drop, one per session, NULLs refused, dropped when the session ends.
#[test]
fn a_host_keeps_its_decoded_state_with_the_session() {
    build_and_run("state_cache");
}

/// Every failed callback is logged at warn with its message, session and route, dev
/// mode off (through lv_set_log_callback); with "log_format": "json" every line the
/// library writes to stderr is one JSON object with time, level and message, and the
/// lines about a session carry its id and route.
#[test]
fn failures_are_logged_and_logs_can_be_json_lines() {
    let (_, stderr) = build_and_run_with("logs");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "nothing logged to stderr");
    for line in &lines {
        let time = line["time"].as_str().unwrap_or_else(|| panic!("no time: {line}"));
        assert!(time.len() >= 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T', "{line}");
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&line["level"].as_str().unwrap_or("")),
            "{line}"
        );
        assert!(line["message"].is_string() && line["target"].is_string(), "{line}");
    }
    let failed = lines
        .iter()
        .find(|l| l["message"].as_str().is_some_and(|m| m.contains("the sky fell")))
        .unwrap_or_else(|| panic!("no line for the failed event in:\n{stderr}"));
    assert_eq!(failed["level"], "WARN", "{failed}");
    assert_eq!(failed["route"], "/l/{kind}", "{failed}");
    let session = failed["session"].as_str().unwrap_or("");
    assert!(session.len() == 32 && session.bytes().all(|b| b.is_ascii_hexdigit()), "{failed}");
    assert!(
        lines.iter().any(|l| l["message"].as_str().is_some_and(|m| m.contains("mount went wrong"))),
        "{stderr}"
    );
}
