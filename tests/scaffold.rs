//! `mizulive new NAME --lang c|go`: the app it writes builds outside the checkout the
//! way its README says (the library found through pkg-config), passes its own
//! `make test`, serves the counter at
//! /counter and the live list at /list, and works without JavaScript: a form post
//! adds an item that the next page shows. (`python -m mizulive new` is tested with the
//! Python package, bindings/python/tests/test_scaffold.py.)

mod common;

use common::process::{http, run, run_ok, sh, start_command, stop, Response, Scratch, Server};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SECRET: &str = "0123456789abcdef0123456789abcdef-scaffold";
/// A C compile and link, a `make`.
const BUILD_LIMIT: Duration = Duration::from_secs(120);
/// `go run` compiles the cgo package afresh in a new module.
const GO_LIMIT: Duration = Duration::from_secs(300);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pkg_config_path() -> PathBuf {
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    root().join("target").join(profile).join("pkgconfig")
}

/// `mizulive new app --lang LANG` in a scratch folder; the app's folder.
fn new_app(scratch: &Scratch, lang: &str) -> PathBuf {
    let dir = scratch.path().join("app");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mizulive"));
    cmd.args(["new", "app", "--lang", lang, "--dir"]).arg(&dir);
    if lang == "go" {
        cmd.arg("--go-module").arg(root().join("bindings/go"));
    }
    let out = run_ok(cmd, BUILD_LIMIT);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("make run") && said.contains("make test"), "{said}");
    for file in ["README.md", "Makefile", "views/pages/counter/index.html", "views/pages/list/index.html"] {
        assert!(dir.join(file).is_file(), "{file} written");
    }
    dir
}

/// What every scaffold serves, whatever its language.
fn assert_serves_counter_and_list(server: &Server) {
    let addr = server.addr.as_str();
    let counter = http(addr, "GET", "/counter", &[], "");
    assert_eq!(counter.status, 200, "{}", counter.body);
    for needle in [
        r#"<div id="lv-root" data-lv>"#,
        r#"<strong id="count">0</strong>"#,
        r#"data-lv-click="inc" data-lv-value-by="1""#,
        r#"data-lv-click="dec" data-lv-value-by="1""#,
        r#"<div id="log">"#,
    ] {
        assert!(counter.body.contains(needle), "{needle} in\n{}", counter.body);
    }

    // Without JavaScript: the list's form posts to the same session.
    let list = http(addr, "GET", "/list", &[], "");
    assert_eq!(list.status, 200, "{}", list.body);
    let cookie = browser_cookie(&list);
    let post = |page: &Response, text: &str| {
        let form = format!(
            "_lv_token={}&_csrf={}&_lv_event=add&text={text}",
            page.hidden("_lv_token"),
            page.hidden("_csrf")
        );
        let sent = http(
            addr,
            "POST",
            "/list",
            &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &cookie)],
            &form,
        );
        assert_eq!(sent.status, 303, "{}", sent.body);
        let resume = sent.header("set-cookie").expect("the resume cookie");
        let resume = resume.split(';').next().expect("a cookie pair").to_string();
        http(addr, "GET", "/list", &[("Cookie", &format!("{cookie}; {resume}"))], "")
    };
    let refused = post(&list, "");
    assert!(refused.body.contains("Write something first."), "{}", refused.body);
    let added = post(&refused, "hello%2C+%3Cworld%3E");
    assert!(added.body.contains(r#"<li id="item-1">hello, &lt;world&gt;</li>"#), "{}", added.body);
    // Another browser's page starts from the shared list.
    let other = http(addr, "GET", "/list", &[], "");
    assert!(other.body.contains("hello, &lt;world&gt;"), "{}", other.body);
}

/// The browser cookie the page GET set, as the browser sends it back.
fn browser_cookie(page: &Response) -> String {
    let set = page
        .head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim())
        .find(|v| v.starts_with("lv_bid="))
        .unwrap_or_else(|| panic!("no browser cookie in\n{}", page.head));
    set.split(';').next().expect("a cookie pair").to_string()
}

fn serve(dir: &Path, line: &str, limit: Duration) -> Server {
    let mut cmd = sh(dir, line, &[("PKG_CONFIG_PATH", &pkg_config_path())]);
    cmd.env("MIZULIVE_ADDR", "127.0.0.1:0").env("MIZULIVE_SECRET", SECRET).env_remove("MIZULIVE_DEV");
    go_env(&mut cmd);
    start_command(cmd, limit)
}

/// The installed Go, never a downloaded one; no go.work above the scratch folder.
fn go_env(cmd: &mut Command) {
    cmd.env("GOTOOLCHAIN", "local").env("GOWORK", "off").env("CGO_ENABLED", "1");
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{path}:/usr/local/go/bin"));
}

#[test]
fn a_new_c_app_builds_with_pkg_config_and_serves_both_pages() {
    let scratch = Scratch::new("scaffold-c");
    let dir = new_app(&scratch, "c");
    run_ok(sh(&dir, "make", &[("PKG_CONFIG_PATH", &pkg_config_path())]), BUILD_LIMIT);
    // The README's `make test`: test.c drives both pages through the test client.
    let out = run_ok(sh(&dir, "make test", &[("PKG_CONFIG_PATH", &pkg_config_path())]), BUILD_LIMIT);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: the counter and the list"));
    let server = serve(&dir, "exec ./app", common::process::WAIT);
    assert_serves_counter_and_list(&server);
    stop(server);
}

#[test]
fn a_new_go_app_runs_with_go_run_and_serves_both_pages() {
    let scratch = Scratch::new("scaffold-go");
    let dir = new_app(&scratch, "go");
    // `go vet` as a user's CI would run it, the README's `make test`, then the app.
    let mut check = sh(&dir, "go vet ./... && make test", &[("PKG_CONFIG_PATH", &pkg_config_path())]);
    go_env(&mut check);
    let out = run_ok(check, GO_LIMIT);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok  \tapp"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut build = sh(&dir, "go build -o app .", &[("PKG_CONFIG_PATH", &pkg_config_path())]);
    go_env(&mut build);
    run_ok(build, GO_LIMIT);
    let server = serve(&dir, "exec ./app", common::process::WAIT);
    assert_serves_counter_and_list(&server);
    stop(server);
}

#[test]
fn the_command_refuses_what_it_cannot_write_and_says_why() {
    let scratch = Scratch::new("scaffold-refusals");
    let mizulive = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mizulive"));
        cmd.current_dir(scratch.path());
        cmd
    };
    for (args, says) in [
        (vec!["new", "Board", "--lang", "c"], "must start with a lowercase letter"),
        (vec!["new", "board", "--lang", "rust"], "unknown language \"rust\": write one of c, python, go"),
        (vec!["new", "board"], "--lang c, --lang python or --lang go"),
        (vec!["make", "board"], "unknown command \"make\""),
    ] {
        let mut cmd = mizulive();
        cmd.args(&args);
        let out = run(cmd, BUILD_LIMIT);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    std::fs::create_dir(scratch.path().join("taken")).expect("a folder");
    std::fs::write(scratch.path().join("taken/notes.txt"), "mine").expect("a file in it");
    let mut cmd = mizulive();
    cmd.args(["new", "taken", "--lang", "python"]);
    let out = run(cmd, BUILD_LIMIT);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
    assert_eq!(std::fs::read_to_string(scratch.path().join("taken/notes.txt")).expect("kept"), "mine");
    assert!(!scratch.path().join("taken/Makefile").exists(), "nothing written beside the user's file");
}
