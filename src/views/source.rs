//! Where an app's templates come from: a views folder on disk, or templates held in
//! memory (a Go `embed.FS`, Python package resources, strings compiled into a C
//! program), named as their files would be under a views folder.

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// The `views` option: a folder (a JSON string) or templates in memory (a JSON
/// object of template name to source, such as `{"pages/counter/index.html": "..."}`).
#[derive(Debug, Clone, PartialEq)]
pub enum ViewsSource {
    /// A folder holding `layouts/`, `pages/` and `partials/`; dev mode reloads it.
    Dir(PathBuf),
    /// Template name -> source. `{}` starts empty (see `lv_app_add_view`).
    Memory(BTreeMap<String, String>),
}

impl Default for ViewsSource {
    fn default() -> Self {
        ViewsSource::Dir(PathBuf::from("views"))
    }
}

impl From<PathBuf> for ViewsSource {
    fn from(dir: PathBuf) -> Self {
        ViewsSource::Dir(dir)
    }
}

impl<'de> Deserialize<'de> for ViewsSource {
    fn deserialize<D: Deserializer<'de>>(de: D) -> std::result::Result<Self, D::Error> {
        match serde_json::Value::deserialize(de)? {
            serde_json::Value::String(dir) => Ok(ViewsSource::Dir(PathBuf::from(dir))),
            serde_json::Value::Object(map) => {
                let mut views = BTreeMap::new();
                for (name, source) in map {
                    let serde_json::Value::String(source) = source else {
                        return Err(D::Error::custom(format!(
                            "views: the source of {name:?} must be a string"
                        )));
                    };
                    views.insert(name, source);
                }
                Ok(ViewsSource::Memory(views))
            }
            _ => Err(D::Error::custom(
                "views must be a folder (a string) or an object of template name to template source",
            )),
        }
    }
}

/// The folders a template name may start with: the ones a views folder has.
pub const VIEW_FOLDERS: &[&str] = &["layouts", "pages", "partials"];

/// Checks a template name given with its source ("pages/counter/index.html"): a
/// relative `/`-separated path under `layouts/`, `pages/` or `partials/`, with no
/// empty, `.` or `..` part and no backslash. The error names the bad name.
pub fn check_view_name(name: &str) -> Result<()> {
    let why = if name.starts_with('/') {
        Some("is absolute")
    } else if name.contains('\\') {
        Some("contains a backslash (separate folders with '/')")
    } else if name.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        Some("has an empty, '.' or '..' part")
    } else if !name.split_once('/').is_some_and(|(folder, _)| VIEW_FOLDERS.contains(&folder)) {
        Some("is not under layouts/, pages/ or partials/")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::Template(format!(
            "view name {name:?} {why}: name a template as its file in a views folder, \
             such as \"pages/counter/index.html\""
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_under_the_three_folders_pass() {
        for name in ["pages/counter/index.html", "layouts/default.html", "partials/a/b/c.svg", "pages/x"] {
            assert!(check_view_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn bad_names_are_refused_with_the_name_and_why() {
        for (name, why) in [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("pages/../../etc/passwd", "'..'"),
            ("pages/./x.html", "'.'"),
            ("pages//x.html", "empty"),
            ("pages/", "empty"),
            ("pages\\x.html", "backslash"),
            ("pages", "not under"),
            ("static/app.css", "not under"),
            ("Pages/x.html", "not under"),
            ("C:/pages/x.html", "not under"),
        ] {
            let msg = check_view_name(name).expect_err(name).to_string();
            assert!(msg.contains(&format!("{name:?}")) && msg.contains(why), "{name}: {msg}");
        }
    }

    #[test]
    fn the_option_is_a_folder_or_an_object_of_sources() {
        let dir: ViewsSource = serde_json::from_str(r#""app/views""#).unwrap();
        assert_eq!(dir, ViewsSource::Dir("app/views".into()));
        let mem: ViewsSource = serde_json::from_str(r#"{"pages/a.html": "A"}"#).unwrap();
        assert_eq!(mem, ViewsSource::Memory([("pages/a.html".to_string(), "A".to_string())].into()));
        let err = serde_json::from_str::<ViewsSource>(r#"{"pages/a.html": 1}"#).unwrap_err();
        assert!(err.to_string().contains("\"pages/a.html\" must be a string"), "{err}");
        let err = serde_json::from_str::<ViewsSource>("3").unwrap_err();
        assert!(err.to_string().contains("a folder (a string) or an object"), "{err}");
    }
}
