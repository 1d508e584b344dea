//! Regenerates include/mizulive.h from src/ffi with cbindgen. The header is checked
//! in; tests/header.rs fails when the checked-in copy is stale.

use std::path::PathBuf;

fn main() {
    soname();
    pkg_config();
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

/// Gives the shared library an ELF SONAME, so a program linked against it records the
/// version it needs and `make install` can lay out libmizulive.so.X.Y.Z with its links.
/// Compatibility follows Cargo's rule: 0.Y.Z releases of one Y are compatible, so the
/// SONAME is libmizulive.so.0.Y before 1.0 and libmizulive.so.X after. Only the cdylib
/// gets it (the staticlib and the rlib link no shared object).
fn soname() {
    // ELF platforms: the Unix family but Apple's (Mach-O, which has install names).
    let unix = std::env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|f| f.split(',').any(|f| f == "unix"));
    if !unix || std::env::var("CARGO_CFG_TARGET_VENDOR").as_deref() == Ok("apple") {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets CARGO_PKG_VERSION_MINOR");
    let soname =
        if major == "0" { format!("libmizulive.so.0.{minor}") } else { format!("libmizulive.so.{major}") };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // Programs built in the checkout link target/<profile>/libmizulive.so and record
    // the SONAME, which the loader then looks for next to it: give it that name too.
    // The artifact directory is three levels above OUT_DIR (build/<pkg>-<hash>/out).
    #[cfg(unix)]
    if let Some(dir) = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).ancestors().nth(3)
    {
        let link = dir.join(&soname);
        if std::fs::read_link(&link).is_err() {
            let _ = std::fs::remove_file(&link);
            if let Err(e) = std::os::unix::fs::symlink("libmizulive.so", &link) {
                println!("cargo:warning=could not link {} to libmizulive.so: {e}", link.display());
            }
        }
    }
}

/// The system libraries a program linking libmizulive.a needs besides libc: what
/// `rustc --print native-static-libs` reports for the crate on Linux (libgcc_s holds
/// the unwinder).
const NATIVE_STATIC_LIBS: &str = "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc";

/// Writes pkg-config files for the library as cargo left it in the checkout, into
/// target/<profile>/pkgconfig/: `mizulive.pc` (the shared library; `--static` adds what
/// libmizulive.a needs) and `mizulive-static.pc` (always libmizulive.a, by path: for cgo,
/// which never passes `--static`). Builds in the checkout point PKG_CONFIG_PATH there;
/// `make install` writes the installed copies from these, with the prefix's paths in the
/// `prefix`, `libdir` and `includedir` lines.
fn pkg_config() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let Some(artifacts) = out.ancestors().nth(3) else { return };
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let pc = |name: &str, what: &str, libs: &str| {
        [
            format!("prefix={root}"),
            format!("libdir={}", artifacts.display()),
            "includedir=${prefix}/include".to_string(),
            String::new(),
            format!("Name: {name}"),
            format!("Description: LiveView-style pages from any host language ({what})"),
            format!("Version: {version}"),
            "Cflags: -I${includedir}".to_string(),
            libs.to_string(),
        ]
        .join("\n")
            + "\n"
    };
    let files = [
        (
            "mizulive.pc",
            pc(
                "mizulive",
                "shared library",
                &format!("Libs: -L${{libdir}} -lmizulive\nLibs.private: {NATIVE_STATIC_LIBS}"),
            ),
        ),
        (
            "mizulive-static.pc",
            pc(
                "mizulive-static",
                "static library",
                &format!("Libs: ${{libdir}}/libmizulive.a {NATIVE_STATIC_LIBS}"),
            ),
        ),
    ];
    let dir = artifacts.join("pkgconfig");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        println!("cargo:warning=could not create {}: {e}", dir.display());
        return;
    }
    for (name, text) in files {
        let path = dir.join(name);
        // Rewrite only on change, as the header.
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            if let Err(e) = std::fs::write(&path, text) {
                println!("cargo:warning=could not write {}: {e}", path.display());
            }
        }
    }
}
