//! The `mizulive` command: `mizulive new NAME --lang c|python|go [--dir DIR]` writes a
//! runnable app to start from (see `mizulive::scaffold`).

use std::path::PathBuf;
use std::process::ExitCode;

use mizulive::scaffold::{self, Lang, Settings};

const USAGE: &str = "\
usage: mizulive new NAME --lang c|python|go [--dir DIR] [--go-module DIR]

Writes a runnable app called NAME into DIR (default ./NAME): a counter at /counter,
a live list at /list, their views, a test and a README. Then, in that folder:
  make run    serve on $MIZULIVE_ADDR (default 127.0.0.1:3000)
  make test   run its tests

  --go-module DIR   Go only: the mizulive Go module's folder (bindings/go of a
                    checkout), written into go.mod as a replace line";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("mizulive: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        Some("new") => {}
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return Ok(());
        }
        Some(other) => return Err(format!("unknown command {other:?}\n\n{USAGE}")),
        None => return Err(USAGE.to_owned()),
    }
    let (mut name, mut lang, mut dir, mut settings) = (None, None, None, Settings::default());
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value =
            || inline.clone().or_else(|| args.next().cloned()).ok_or(format!("{flag} needs a value"));
        match flag {
            "--lang" | "-l" => lang = Some(value()?.parse::<Lang>().map_err(plain)?),
            "--dir" | "-d" => dir = Some(PathBuf::from(value()?)),
            "--go-module" => settings.go_module_dir = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            f if f.starts_with('-') => return Err(format!("unknown option {f:?}\n\n{USAGE}")),
            _ if name.is_none() => name = Some(arg.clone()),
            _ => {
                return Err(format!(
                    "one app at a time: {arg:?} follows the name {:?}",
                    name.unwrap_or_default()
                ))
            }
        }
    }
    let name = name.ok_or_else(|| format!("the app needs a name\n\n{USAGE}"))?;
    let lang = lang.ok_or("which language? add --lang c, --lang python or --lang go")?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
    scaffold::write(&name, lang, &dir, &settings).map_err(plain)?;
    let dir = dir.display();
    println!("wrote the {lang} app {name} into {dir}; now\n  cd {dir}\n  make run     # serves /counter and /list on $MIZULIVE_ADDR (default 127.0.0.1:3000)\n  make test");
    Ok(())
}

/// A usage mistake's message without the library's category prefix.
fn plain(err: mizulive::Error) -> String {
    match err {
        mizulive::Error::Config(msg) => msg,
        other => other.to_string(),
    }
}
