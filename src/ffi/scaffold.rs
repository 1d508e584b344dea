//! `lv_scaffold_write`: the `mizulive new` of every host (`python -m mizulive new`,
//! the Go module's `cmd/mizulive`), one implementation in `crate::scaffold`.

use std::ffi::{c_char, c_int};
use std::path::Path;

use super::{arg, boundary, opt_arg, status, LV_ERR_PANIC};
use crate::scaffold::{self, Lang, Settings};

/// Writes a new app called `name` in `lang` (`"c"`, `"python"` or `"go"`) into the
/// folder `dir`, which must not exist or be empty: a counter at `/counter`, a live
/// list at `/list`, their views, a test and a README whose two commands are
/// `make run` and `make test`. `go_module_dir` (Go only, may be NULL) is a local copy
/// of the Go module (`bindings/go` of a checkout) for go.mod's `replace` line.
/// `LV_ERR_CONFIG` for a name, language or folder it will not use (the message
/// says why), `LV_ERR_IO` when writing fails.
#[no_mangle]
pub unsafe extern "C" fn lv_scaffold_write(
    name: *const c_char,
    lang: *const c_char,
    dir: *const c_char,
    go_module_dir: *const c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let args = (|| {
            Ok((
                arg(name, "name")?,
                arg(lang, "lang")?,
                arg(dir, "dir")?,
                opt_arg(go_module_dir, "go_module_dir")?,
            ))
        })();
        let (name, lang, dir, go_module_dir) = match args {
            Ok(a) => a,
            Err(code) => return code,
        };
        let settings = Settings { go_module_dir: go_module_dir.map(Into::into) };
        status(
            lang.parse::<Lang>()
                .and_then(|lang| scaffold::write(name, lang, Path::new(dir), &settings).map(drop)),
        )
    })
}
