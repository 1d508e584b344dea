//! `make install` into a temporary prefix, then programs built outside the checkout the
//! way a user builds them, finding libmizulive only through pkg-config: the C counter
//! against the shared and against the static library, a C program that also links
//! another Rust static library, and a Go module of its own that uses the Go package
//! (built as it is and vendored). Each program serves its page on 127.0.0.1.

mod common;

use common::process::{run, run_ok, sh, start, stop, Scratch, Server, WAIT};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// `make install`: seals libmizulive.a and copies files.
const INSTALL_LIMIT: Duration = Duration::from_secs(120);
/// A C compile and link.
const CC_LIMIT: Duration = Duration::from_secs(120);
/// A `go build` that compiles the cgo package afresh (its folder is new every run).
const GO_LIMIT: Duration = Duration::from_secs(300);

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The SONAME build.rs gives the shared library.
fn soname() -> String {
    match env!("CARGO_PKG_VERSION_MAJOR") {
        "0" => format!("libmizulive.so.0.{}", env!("CARGO_PKG_VERSION_MINOR")),
        major => format!("libmizulive.so.{major}"),
    }
}

/// `make install PREFIX=<a scratch prefix>`; the prefix lives as long as the result.
fn install() -> Scratch {
    let prefix = Scratch::new("prefix");
    let built = root().join("target/release/libmizulive.so");
    assert!(built.is_file(), "{} is missing: cargo build --release first (make test does)", built.display());
    let mut make = Command::new("make");
    // NO_BUILD=1: install the library as `cargo build --release` left it, as the C
    // examples' test runs it (make test builds it first). A build from here would build it
    // again without the dev-dependencies' features, and the next `cargo test` once more.
    // LDCONFIG=true: the prefix is no system directory, leave the loader's cache alone.
    make.args(["-s", "install", "NO_BUILD=1", "LDCONFIG=true"])
        .arg(format!("PREFIX={}", prefix.path().display()));
    make.current_dir(root());
    run_ok(make, INSTALL_LIMIT);
    prefix
}

fn pkg_config_path(prefix: &Path) -> PathBuf {
    prefix.join("lib/pkgconfig")
}

fn readelf_dynamic(file: &Path) -> String {
    let mut cmd = Command::new("readelf");
    cmd.arg("-dW").arg(file);
    String::from_utf8(run_ok(cmd, CC_LIMIT).stdout).expect("readelf prints text")
}

/// The shared libraries `file` records as needed.
fn needed(file: &Path) -> Vec<String> {
    readelf_dynamic(file)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_string()))
        .collect()
}

/// The global symbols `file` defines, by `nm -g --defined-only` (`-D` for the dynamic
/// symbol table).
fn defined_globals(file: &Path, dynamic: bool) -> BTreeSet<String> {
    let mut cmd = Command::new("nm");
    cmd.args(["-g", "--defined-only", "--format=posix"]);
    if dynamic {
        cmd.arg("-D");
    }
    cmd.arg(file);
    let out = run_ok(cmd, CC_LIMIT);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // posix format: "name type value size"; an archive adds "member.o:" lines.
        .filter(|l| !l.ends_with(':') && !l.is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// A copy of the C counter's source and views in a scratch folder.
fn counter_sources(into: &Path) {
    let example = root().join("examples-c/counter");
    std::fs::copy(example.join("counter.c"), into.join("counter.c")).expect("copy counter.c");
    copy_dir(&example.join("views"), &into.join("views"));
}

/// The Go package's folder and its sub-packages (`live/internal/...`, `live/livetest`)
/// as a published module ships them: no tests, no test data.
fn copy_package(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the package folder");
    for entry in std::fs::read_dir(from).expect("read the package folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if path.is_dir() && name != "testdata" {
            copy_package(&path, &to.join(&name));
        } else if path.is_file() && !name.ends_with("_test.go") {
            std::fs::copy(&path, to.join(&name)).expect("copy a package file");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// GET /counter: the counter's page, with its count and buttons.
fn assert_serves_counter(server: &Server) {
    let mut stream = TcpStream::connect(&server.addr).expect("connect to the counter");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    write!(stream, "GET /counter HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr)
        .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#"<div id="lv-root" data-lv>"#), "{response}");
    assert!(response.contains(r#"<strong id="count">0</strong>"#), "{response}");
    assert!(response.contains(r#"data-lv-click="inc" data-lv-value-by="1""#), "{response}");
}

const C_WARNINGS: &str = "-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror";

#[test]
fn install_lays_out_a_versioned_shared_library_a_static_one_with_only_lv_symbols_the_header_and_pc_files() {
    let prefix = install();
    let lib = prefix.path().join("lib");

    let real = lib.join(format!("libmizulive.so.{VERSION}"));
    assert!(std::fs::symlink_metadata(&real).expect("the real file").is_file(), "{}", real.display());
    let soname = soname();
    assert_eq!(
        std::fs::read_link(lib.join(&soname)).ok(),
        Some(PathBuf::from(format!("libmizulive.so.{VERSION}")))
    );
    assert_eq!(std::fs::read_link(lib.join("libmizulive.so")).ok(), Some(PathBuf::from(&soname)));
    let dynamic = readelf_dynamic(&real);
    assert!(dynamic.contains(&format!("Library soname: [{soname}]")), "{dynamic}");

    let header = std::fs::read(prefix.path().join("include/mizulive.h")).expect("installed header");
    assert_eq!(
        header,
        std::fs::read(root().join("include/mizulive.h")).expect("header"),
        "the header as checked in"
    );

    // The static library's only global symbols are the C ABI: what the shared one exports.
    let abi = defined_globals(&real, true);
    assert!(
        abi.len() > 20 && abi.iter().all(|s| s.starts_with("lv_")),
        "the .so exports the lv_ functions: {abi:?}"
    );
    let globals = defined_globals(&lib.join("libmizulive.a"), false);
    let others: Vec<_> = globals.iter().filter(|s| !s.starts_with("lv_")).take(20).collect();
    assert!(others.is_empty(), "libmizulive.a defines globals besides lv_*, e.g. {others:?}");
    assert_eq!(globals, abi, "libmizulive.a defines the lv_ functions the .so exports");

    // pkg-config knows both, with the prefix's paths and none into the checkout.
    let checkout = root().display().to_string();
    for pc in ["mizulive.pc", "mizulive-static.pc"] {
        let text = std::fs::read_to_string(lib.join("pkgconfig").join(pc)).expect("installed .pc");
        assert!(!text.contains(&checkout), "{pc} points into the checkout:\n{text}");
    }
    let pc_path = pkg_config_path(prefix.path());
    let line = "pkg-config --modversion mizulive && pkg-config --static --libs mizulive && pkg-config --libs mizulive-static";
    let out = run_ok(sh(prefix.path(), line, &[("PKG_CONFIG_PATH", &pc_path)]), CC_LIMIT);
    let out = String::from_utf8(out.stdout).expect("pkg-config prints text");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], VERSION);
    assert!(lines[1].contains(&format!("-L{}", lib.display())) && lines[1].contains("-lmizulive"), "{out}");
    assert!(
        lines[1].contains("-lpthread") && lines[1].contains("-ldl"),
        "--static adds the private libs: {out}"
    );
    assert!(lines[2].starts_with(&format!("{}/libmizulive.a ", lib.display())), "{out}");
}

#[test]
fn c_counter_built_out_of_tree_with_pkg_config_runs_on_the_installed_shared_library() {
    let prefix = install();
    let app = Scratch::new("c-shared");
    counter_sources(app.path());
    let pc_path = pkg_config_path(prefix.path());
    let line = format!(
        "cc {C_WARNINGS} $(pkg-config --cflags mizulive) -o counter counter.c $(pkg-config --libs mizulive) -lpthread"
    );
    run_ok(sh(app.path(), &line, &[("PKG_CONFIG_PATH", &pc_path)]), CC_LIMIT);
    let exe = app.path().join("counter");
    assert!(needed(&exe).contains(&soname()), "linked against the SONAME: {:?}", needed(&exe));

    let lib = prefix.path().join("lib");
    let server = start(&exe, app.path(), &[("LD_LIBRARY_PATH", &lib)]);
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", server.child.id())).expect("read maps");
    let installed = lib.join(format!("libmizulive.so.{VERSION}"));
    assert!(maps.contains(&installed.display().to_string()), "runs on {}:\n{maps}", installed.display());
    assert_serves_counter(&server);
    stop(server);
}

#[test]
fn c_counter_built_out_of_tree_with_pkg_config_static_needs_no_shared_library() {
    let prefix = install();
    let app = Scratch::new("c-static");
    counter_sources(app.path());
    let pc_path = pkg_config_path(prefix.path());
    let line = format!(
        "cc {C_WARNINGS} $(pkg-config --static --cflags mizulive-static) -o counter counter.c \
         $(pkg-config --static --libs mizulive-static)"
    );
    run_ok(sh(app.path(), &line, &[("PKG_CONFIG_PATH", &pc_path)]), CC_LIMIT);
    let exe = app.path().join("counter");
    let needed = needed(&exe);
    assert!(!needed.iter().any(|n| n.contains("mizulive")), "linked statically: {needed:?}");

    // The prefix goes: the binary needs nothing from it.
    drop(prefix);
    let server = start(&exe, app.path(), &[]);
    assert_serves_counter(&server);
    stop(server);
}

/// The installed libmizulive.a shares no symbol with another Rust static library, so
/// both link into one program, in either order, and each works.
#[test]
fn another_rust_static_library_links_next_to_the_installed_one() {
    let prefix = install();
    let dir = Scratch::new("two-rust-libs");
    std::fs::write(
        dir.path().join("other.rs"),
        "#[no_mangle]\npub extern \"C\" fn other_sum(n: u32) -> u64 {\n    \
         let v: Vec<u64> = (1..=u64::from(n)).collect();\n    v.iter().sum()\n}\n",
    )
    .expect("write other.rs");
    std::fs::write(
        dir.path().join("both.c"),
        "#include <stdio.h>\n#include <mizulive.h>\nunsigned long long other_sum(unsigned n);\n\
         int main(void) { printf(\"%s %llu\\n\", lv_version(), other_sum(10)); return 0; }\n",
    )
    .expect("write both.c");
    let mut rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    rustc.args(["-O", "--crate-type", "staticlib", "-o", "libother.a", "other.rs"]).current_dir(dir.path());
    run_ok(rustc, CC_LIMIT);

    let pc_path = pkg_config_path(prefix.path());
    for (exe, order) in [
        ("mizulive-first", "$(pkg-config --libs mizulive-static) libother.a"),
        ("other-first", "libother.a $(pkg-config --libs mizulive-static)"),
    ] {
        let line = format!("cc {C_WARNINGS} $(pkg-config --cflags mizulive-static) -o {exe} both.c {order}");
        run_ok(sh(dir.path(), &line, &[("PKG_CONFIG_PATH", &pc_path)]), CC_LIMIT);
        let out = run_ok(Command::new(dir.path().join(exe)), CC_LIMIT);
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{VERSION} 55\n"), "{exe}");
    }
}

/// The `require` lines of bindings/go/go.mod, for a module that uses the package.
fn go_requirements() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("bindings/go/go.mod")).expect("bindings/go/go.mod");
    let mut requires = Vec::new();
    let mut block = false;
    for line in text.lines().map(str::trim) {
        if block {
            if line == ")" {
                block = false;
            } else if !line.is_empty() {
                requires.push(line.to_string());
            }
        } else if line == "require (" {
            block = true;
        } else if let Some(rest) = line.strip_prefix("require ") {
            requires.push(rest.to_string());
        }
    }
    requires
}

fn go() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("go")).find(|p| p.is_file()));
    let fallback = PathBuf::from("/usr/local/go/bin/go");
    on_path
        .or_else(|| fallback.is_file().then_some(fallback))
        .expect("go on PATH or in /usr/local/go/bin (Go >= 1.23)")
}

/// A Go command in `dir` with the environment a user outside the checkout has: the
/// installed library's pkg-config files and nothing else that points at it.
fn go_cmd(dir: &Path, args: &str, pc_path: Option<&Path>) -> Command {
    let go = go();
    let mut cmd = sh(dir, &format!("\"$GO\" {args}"), &[("GO", go.as_path())]);
    if let Some(pc_path) = pc_path {
        cmd.env("PKG_CONFIG_PATH", pc_path);
    } else {
        // No search path at all: pkg-config finds only what the system has.
        cmd.env("PKG_CONFIG_PATH", "");
    }
    // The installed Go, never a downloaded one; no go.work above the scratch folder.
    cmd.env("GOTOOLCHAIN", "local").env("GOWORK", "off").env("CGO_ENABLED", "1");
    cmd
}

/// A module of its own, outside the checkout, builds the Go counter against the
/// installed library, found through pkg-config only; it builds again after
/// `go mod vendor`. The package's folder is copied next to it and the module points
/// there with a `replace`, standing in for a published version (and leaving no checkout
/// around the package for a relative path to find).
#[test]
fn go_module_outside_the_repo_builds_against_the_installed_library_through_pkg_config() {
    let prefix = install();
    let pc_path = pkg_config_path(prefix.path());
    let work = Scratch::new("go-module");

    let package = work.path().join("mizulive-go");
    let bindings = root().join("bindings/go");
    std::fs::create_dir_all(package.join("live")).expect("create the package folder");
    for file in ["go.mod", "go.sum"] {
        std::fs::copy(bindings.join(file), package.join(file)).expect("copy go.mod, go.sum");
    }
    copy_package(&bindings.join("live"), &package.join("live"));

    let app = work.path().join("app");
    std::fs::create_dir_all(&app).expect("create the module folder");
    let mut go_mod = "module example.com/counter\n\ngo 1.23\n\nrequire (\n\tgithub.com/mizulive/mizulive/bindings/go v0.0.0\n".to_string();
    for require in go_requirements() {
        go_mod.push_str(&format!("\t{} // indirect\n", require.trim_end_matches(" // indirect")));
    }
    go_mod.push_str(")\n\nreplace github.com/mizulive/mizulive/bindings/go => ../mizulive-go\n");
    std::fs::write(app.join("go.mod"), go_mod).expect("write go.mod");
    std::fs::copy(bindings.join("go.sum"), app.join("go.sum")).expect("copy go.sum");
    for file in ["main.go", "counter.go"] {
        std::fs::copy(bindings.join("examples/counter").join(file), app.join(file))
            .expect("copy the counter");
    }
    copy_dir(&root().join("examples-c/counter/views"), &app.join("views"));

    // Without cgo, the one error says so.
    let mut no_cgo = go_cmd(&app, "build -o counter .", Some(&pc_path));
    no_cgo.env("CGO_ENABLED", "0");
    let out = run(no_cgo, GO_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("mizulive needs cgo (CGO_ENABLED=1 and a C compiler)"),
        "{stderr}"
    );

    // Without the prefix's pkg-config files the package does not build: they are what
    // finds the library.
    let out = run(go_cmd(&app, "build -o counter .", None), GO_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("mizulive-static"), "{stderr}");

    for (exe, step) in [("counter", None), ("counter-vendored", Some("mod vendor"))] {
        if let Some(step) = step {
            run_ok(go_cmd(&app, step, Some(&pc_path)), GO_LIMIT);
            let vendored = app.join("vendor/github.com/mizulive/mizulive/bindings/go/live");
            assert!(
                vendored.join("shim.h").is_file(),
                "go mod vendor copies the C shim: {}",
                vendored.display()
            );
        }
        run_ok(go_cmd(&app, &format!("build -o {exe} ."), Some(&pc_path)), GO_LIMIT);
        let exe = app.join(exe);
        let needed = needed(&exe);
        assert!(!needed.iter().any(|n| n.contains("mizulive")), "linked statically: {needed:?}");
        let server = start(&exe, &app, &[]);
        assert_serves_counter(&server);
        stop(server);
    }
}
