//! Regenerates include/mizulive.h from src/ffi with cbindgen. The header is checked
//! in; tests/header.rs fails when the checked-in copy is stale.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let out = crate_dir.join("include").join("mizulive.h");
    match cbindgen::Builder::new().with_crate(&crate_dir).with_config(config).generate() {
        Ok(bindings) => {
            let mut buf = Vec::new();
            bindings.write(&mut buf);
            let header = String::from_utf8(buf).expect("cbindgen writes UTF-8");
            // The design fixes the C field name `template`, a C++ keyword that
            // cbindgen escapes; keep `template` for C and `template_` for C++.
            let header = header.replace(
                "  const char *template_;\n",
                "#ifdef __cplusplus\n  const char *template_;\n#else\n  const char *template;\n#endif\n",
            );
            // Rewrite only on change, so a build does not touch a fresh header.
            if std::fs::read_to_string(&out).ok().as_deref() != Some(header.as_str()) {
                std::fs::write(&out, header).expect("include/mizulive.h is writable");
            }
        }
        Err(e) => {
            // A syntax error in the crate shows up better from rustc itself.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
        }
    }
}
