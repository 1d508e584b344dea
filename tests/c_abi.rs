//! Builds tests/c/abi.c against the library and runs it: the C ABI exercised from C
//! (NULLs, bad UTF-8 and JSON, context rules, auth hook, drop functions).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn c_abi_program_passes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c");
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let build = Command::new("make")
        .args(["-s", &format!("PROFILE={profile}"), "abi"])
        .current_dir(&dir)
        .output()
        .expect("make runs");
    assert!(build.status.success(), "abi.c does not build:\n{}", String::from_utf8_lossy(&build.stderr));
    let run = Command::new(dir.join("abi"))
        .current_dir(&dir)
        .env_remove("MIZULIVE_LOG")
        .output()
        .expect("abi runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "abi.c failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
