//! The checked-in C header is what cbindgen generates from src/ffi, it matches the
//! crate version, and it compiles on its own as C and as C++ without warnings.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn header() -> String {
    std::fs::read_to_string(root().join("include/mizulive.h")).expect("include/mizulive.h exists")
}

#[test]
fn checked_in_header_matches_fresh_generation() {
    // build.rs regenerated include/mizulive.h for this build; the copy in git's index
    // must be identical, or users of the checked-in header see a stale API.
    let out = Command::new("git")
        .args(["show", ":include/mizulive.h"])
        .current_dir(root())
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "include/mizulive.h is not checked in: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked_in = String::from_utf8(out.stdout).expect("header is UTF-8");
    assert!(
        checked_in == header(),
        "include/mizulive.h is stale: `cargo build` regenerated it; commit the new version"
    );
}

#[test]
fn version_macros_match_the_crate() {
    let h = header();
    for (name, value) in [
        ("LV_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("LV_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("LV_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        assert!(h.contains(&format!("#define {name} {value}\n")), "{name} should be {value}");
    }
}

fn compile(compiler: &str, lang: &str, std: &str, dir: &Path) {
    let src = dir.join(format!("standalone.{}", if lang == "c" { "c" } else { "cpp" }));
    std::fs::write(
        &src,
        "#include \"mizulive.h\"\n#include \"mizulive.h\"\nint main(void) { return LV_OK; }\n",
    )
    .expect("write source");
    let out = Command::new(compiler)
        .args([std, "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only", "-I"])
        .arg(root().join("include"))
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("{compiler} runs: {e}"));
    assert!(out.status.success(), "{compiler} rejects the header:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn header_compiles_standalone_twice_included_as_c_and_cpp() {
    let dir = std::env::temp_dir().join(format!("mizulive-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    compile("cc", "c", "-std=c11", &dir);
    compile("c++", "c++", "-std=c++17", &dir);
    let _ = std::fs::remove_dir_all(&dir);
}
