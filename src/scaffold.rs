//! `mizulive new NAME --lang c|python|go`: a runnable app to start from.
//!
//! The files live in `scaffold/` at the top of the repository and are compiled into
//! the library, so every entry point writes the same app: the `mizulive` binary
//! (`src/bin/mizulive.rs`), `python -m mizulive new` and the Go module's
//! `cmd/mizulive`, the last two through `lv_scaffold_write`. Each app has the counter of
//! the design (`/counter`), a live list that every open page sees grow (`/list`),
//! its views, a test through the test client and a README with two commands,
//! `make run` and `make test`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};

/// The host language of a new app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    C,
    Python,
    Go,
}

impl Lang {
    const ALL: [Lang; 3] = [Lang::C, Lang::Python, Lang::Go];

    fn name(self) -> &'static str {
        match self {
            Lang::C => "c",
            Lang::Python => "python",
            Lang::Go => "go",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Lang {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        let lang = match lower.as_str() {
            "c" => Lang::C,
            "python" | "py" => Lang::Python,
            "go" | "golang" => Lang::Go,
            _ => {
                return Err(Error::Config(format!(
                    "unknown language {s:?}: write one of {}",
                    Lang::ALL.map(Lang::name).join(", ")
                )))
            }
        };
        Ok(lang)
    }
}

/// What a new app is written with besides its name and language.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Go only: a local copy of the Go module (`bindings/go` of a checkout) that the
    /// app's go.mod points at with a `replace` line, for a module that is not
    /// published where the Go toolchain looks.
    pub go_module_dir: Option<PathBuf>,
}

/// One file of a scaffold: its path in the new app and its text, in which
/// `__NAME__` stands for the app's name.
struct File {
    path: &'static str,
    /// Where it is under `scaffold/` (read by the test that every file is listed).
    #[cfg_attr(not(test), allow(dead_code))]
    src: &'static str,
    text: &'static str,
}

macro_rules! files {
    ($($path:literal => $src:literal),* $(,)?) => {
        &[$(File { path: $path, src: $src, text: include_str!(concat!("../scaffold/", $src)) }),*]
    };
}

/// The views every app shares, whatever its language.
const VIEWS: &[File] = files![
    "views/layouts/default.html" => "views/layouts/default.html",
    "views/pages/counter/index.html" => "views/pages/counter/index.html",
    "views/partials/counter/stats.html" => "views/partials/counter/stats.html",
    "views/partials/counter/log.html" => "views/partials/counter/log.html",
    "views/pages/list/index.html" => "views/pages/list/index.html",
    "views/partials/list/new.html" => "views/partials/list/new.html",
    "views/partials/list/items.html" => "views/partials/list/items.html",
];

const C: &[File] = files![
    "README.md" => "c/README.md",
    "Makefile" => "c/Makefile",
    "pages.h" => "c/pages.h",
    "pages.c" => "c/pages.c",
    "main.c" => "c/main.c",
    "test.c" => "c/test.c",
    ".gitignore" => "c/gitignore",
];

const PYTHON: &[File] = files![
    "README.md" => "python/README.md",
    "Makefile" => "python/Makefile",
    "app.py" => "python/app.py",
    "test_app.py" => "python/test_app.py",
    ".gitignore" => "python/gitignore",
];

const GO: &[File] = files![
    "README.md" => "go/README.md",
    "Makefile" => "go/Makefile",
    "go.mod" => "go/go.mod.txt",
    // The Go package's own checksums: what the app needs besides the package.
    "go.sum" => "../bindings/go/go.sum",
    "main.go" => "go/main.go",
    "pages.go" => "go/pages.go",
    "pages_test.go" => "go/pages_test.go",
    ".gitignore" => "go/gitignore",
];

fn files(lang: Lang) -> impl Iterator<Item = &'static File> {
    let own = match lang {
        Lang::C => C,
        Lang::Python => PYTHON,
        Lang::Go => GO,
    };
    own.iter().chain(VIEWS)
}

/// Checks that `name` can name an app: a folder, a C program, a Go module and a
/// Python file all accept it.
pub fn check_name(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::Config(format!("app name {name:?} {why}")));
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > 64 {
        return bad("is longer than 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("must start with a lowercase letter (a-z)");
    }
    if let Some(c) =
        name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return bad(&format!("has {c:?}: use lowercase letters, digits, '_' and '-'"));
    }
    Ok(())
}

/// Writes a new `lang` app called `name` into the folder `dir`, which must not exist
/// yet or be empty; returns the paths written, in order. Nothing is overwritten.
pub fn write(name: &str, lang: Lang, dir: &Path, settings: &Settings) -> Result<Vec<PathBuf>> {
    check_name(name)?;
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::Config(format!(
                    "{} already exists and is not empty: pick another name or folder",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::Io(std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))),
    }
    let replace = match (&settings.go_module_dir, lang) {
        (Some(module), Lang::Go) => {
            let module = std::path::absolute(module)?;
            format!("\nreplace github.com/mizulive/mizulive/bindings/go => {}\n", module.display())
        }
        _ => String::new(),
    };
    let mut written = Vec::new();
    for file in files(lang) {
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_at(&path, e))?;
        }
        let text = file
            .text
            .replace("__NAME__", name)
            .replace("__GO_REPLACE__\n", &replace)
            .replace("__GO_REQUIRES__\n", &go_requires());
        std::fs::write(&path, text).map_err(|e| io_at(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

/// The Go package's own requirements (from its go.mod), as the `// indirect` lines an
/// app that uses it needs in its go.mod.
fn go_requires() -> String {
    let go_mod = include_str!("../bindings/go/go.mod");
    let mut lines = String::new();
    let mut block = false;
    for line in go_mod.lines().map(str::trim) {
        let module = if block {
            block = line != ")";
            line.strip_suffix("// indirect").unwrap_or(line).trim()
        } else if line == "require (" {
            block = true;
            continue;
        } else if let Some(one) = line.strip_prefix("require ") {
            one.trim()
        } else {
            continue;
        };
        if !module.is_empty() && module != ")" {
            lines.push_str(&format!("\t{module} // indirect\n"));
        }
    }
    lines
}

fn io_at(path: &Path, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_scaffold_folder_is_listed_once() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scaffold");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                // Caches a test run of an app leaves (.mypy_cache, __pycache__).
                let name = path.file_name().unwrap().to_string_lossy();
                if name.starts_with('.') || name == "__pycache__" {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else {
                    on_disk.push(path.strip_prefix(&root).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let mut listed: Vec<String> = C
            .iter()
            .chain(PYTHON)
            .chain(GO)
            .chain(VIEWS)
            .filter(|f| !f.src.starts_with("../"))
            .map(|f| f.src.to_owned())
            .collect();
        listed.sort();
        assert_eq!(listed, on_disk, "src/scaffold.rs lists every file under scaffold/, once");
    }

    #[test]
    fn names_that_cannot_name_an_app_are_refused_saying_why() {
        for (name, why) in [
            ("", "empty"),
            ("Board", "lowercase letter"),
            ("9lives", "lowercase letter"),
            ("my app", "' '"),
            ("a/../x", "'/'"),
            ("a.b", "'.'"),
            ("a/b", "'/'"),
        ] {
            let err = check_name(name).unwrap_err().to_string();
            assert!(err.contains(why), "{name:?}: {err}");
        }
        check_name("status_board-2").unwrap();
    }

    #[test]
    fn an_unknown_language_names_the_known_ones() {
        let err = "rust".parse::<Lang>().unwrap_err().to_string();
        assert!(err.contains("\"rust\"") && err.contains("c, python, go"), "{err}");
        assert_eq!("Python".parse::<Lang>().unwrap(), Lang::Python);
    }

    #[test]
    fn a_folder_that_holds_files_is_left_alone() {
        let dir = std::env::temp_dir().join(format!("mizulive-scaffold-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keep.txt"), "mine").unwrap();
        let err = write("app", Lang::C, &dir, &Settings::default()).unwrap_err().to_string();
        assert!(err.contains("not empty"), "{err}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
