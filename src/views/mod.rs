//! Templates: minijinja over a views folder (`layouts/`, `pages/`, `partials/`).
//!
//! Page, layout and region templates all render with one context shape
//! ([`CONTEXT_KEYS`]), so a partial renders the same whether it is included by the
//! page on the first GET or rendered alone as a region patch.

pub mod helpers;
pub(crate) mod html;
pub(crate) mod json;

use minijinja::{path_loader, AutoEscape, Environment, State, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::page::PageSpec;

/// The variables every template sees.
pub const CONTEXT_KEYS: &[&str] =
    &["state", "flash", "params", "session", "user_id", "title", "page", "csrf", "_lv"];

/// Used when the views folder has no `layouts/<default>.html`, so a first page needs
/// no layout file. Registered under [`FALLBACK_NAME`] like any other template, so it
/// auto-escapes like them (`title` often comes from user input).
const FALLBACK_LAYOUT: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{{ title or \"mizulive\" }}</title>\n</head>\n<body>\n{{ content }}\n</body>\n</html>\n";

/// Outside `layouts/`, so no `layout` option or page can name it by accident.
const FALLBACK_NAME: &str = "mizulive/fallback-layout.html";

pub struct Views {
    dir: PathBuf,
    default_layout: String,
    root_id: String,
    env: Env,
}

/// The template environment.
enum Env {
    /// Built once: renders on every host thread share it without taking a lock.
    Fixed(Arc<Environment<'static>>),
    /// Dev mode: with the views folder's newest mtime it was built from; a newer file
    /// rebuilds it, so edits show on the next render.
    Reloading(Mutex<(Option<SystemTime>, Arc<Environment<'static>>)>),
}

impl Views {
    pub fn new(dir: &Path, dev: bool, default_layout: &str, root_id: &str) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Config(format!(
                "views folder {} does not exist (set \"views\" in the options)",
                dir.display()
            )));
        }
        let env = if dev {
            Env::Reloading(Mutex::new((newest_mtime(dir), Arc::new(build_env(dir)))))
        } else {
            Env::Fixed(Arc::new(build_env(dir)))
        };
        Ok(Views {
            dir: dir.to_path_buf(),
            default_layout: default_layout.to_string(),
            root_id: root_id.to_string(),
            env,
        })
    }

    fn env(&self) -> Arc<Environment<'static>> {
        match &self.env {
            Env::Fixed(env) => env.clone(),
            Env::Reloading(slot) => {
                let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
                let stamp = newest_mtime(&self.dir);
                if stamp != guard.0 {
                    *guard = (stamp, Arc::new(build_env(&self.dir)));
                }
                guard.1.clone()
            }
        }
    }

    /// Fails unless the page template and every region partial exist and compile.
    pub fn check(&self, spec: &PageSpec) -> Result<()> {
        let env = self.env();
        env.get_template(&page_file(&spec.template))?;
        for partial in spec.regions.values() {
            env.get_template(&partial_file(partial))?;
        }
        if let Some(layout) = &spec.layout {
            env.get_template(&layout_file(layout))?;
        }
        Ok(())
    }

    /// The page body: the page template, wrapped in a live root when it has none.
    pub fn render_body(&self, spec: &PageSpec, ctx: &Value) -> Result<String> {
        let env = self.env();
        let body = env.get_template(&page_file(&spec.template))?.render(ctx)?;
        if html::has_live_root(&body) {
            Ok(body)
        } else {
            Ok(format!("<div id=\"{}\" data-lv>{body}</div>", helpers::escape_attr(&self.root_id)))
        }
    }

    /// The inner HTML of one region.
    pub fn render_partial(&self, partial: &str, ctx: &Value) -> Result<String> {
        Ok(self.env().get_template(&partial_file(partial))?.render(ctx)?)
    }

    /// The whole document: layout around the body, the boot data and runtime script
    /// injected before `</body>`.
    pub fn render_document(&self, spec: &PageSpec, ctx: &Value, boot_json: &str) -> Result<(String, String)> {
        let body = self.render_body(spec, ctx)?;
        let env = self.env();
        let layout_name = spec.layout.as_deref().unwrap_or(&self.default_layout);
        let mut layout_ctx = ctx.clone();
        layout_ctx = minijinja::context! { content => Value::from_safe_string(body.clone()), ..layout_ctx };
        let html = match env.get_template(&layout_file(layout_name)) {
            Ok(t) => t.render(layout_ctx)?,
            Err(e) if e.kind() == minijinja::ErrorKind::TemplateNotFound && spec.layout.is_none() => {
                env.get_template(FALLBACK_NAME)?.render(layout_ctx)?
            }
            Err(e) => return Err(e.into()),
        };
        Ok((inject_boot(&html, boot_json), body))
    }

    /// Renders any template of the views folder by file name (`pages/x.html`).
    pub fn render_file(&self, name: &str, ctx: &Value) -> Result<String> {
        Ok(self.env().get_template(name)?.render(ctx)?)
    }
}

fn build_env(dir: &Path) -> Environment<'static> {
    let mut env = Environment::new();
    // Every template of a views folder ends up in an HTML page (or a patch of one),
    // whatever its file name says, so all of them escape for HTML.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_loader(path_loader(dir));
    if let Err(e) = env.add_template(FALLBACK_NAME, FALLBACK_LAYOUT) {
        // A constant that compiles in the tests; only a minijinja regression gets here.
        tracing::error!("the built-in fallback layout does not compile: {e}");
    }
    env.add_global("lv", helpers::lv());
    env.add_function("partial", partial);
    env
}

/// `partial("counter/stats")`: renders a partial with the caller's context.
fn partial(state: &State, name: &str) -> Result<Value, minijinja::Error> {
    let tmpl = state.env().get_template(&partial_file(name))?;
    let mut ctx = std::collections::BTreeMap::new();
    for key in CONTEXT_KEYS {
        if let Some(v) = state.lookup(key) {
            ctx.insert(*key, v);
        }
    }
    Ok(Value::from_safe_string(tmpl.render(Value::from(ctx))?))
}

fn page_file(name: &str) -> String {
    format!("pages/{name}.html")
}

fn partial_file(name: &str) -> String {
    format!("partials/{name}.html")
}

fn layout_file(name: &str) -> String {
    format!("layouts/{name}.html")
}

/// Inserts the boot data and the runtime before the last `</body>` (or at the end).
fn inject_boot(html: &str, boot_json: &str) -> String {
    let tags = format!(
        "<script id=\"lv-boot\" type=\"application/json\">{}</script>\n<script src=\"/_live/runtime.js\" defer></script>\n",
        script_safe(boot_json)
    );
    let at = html.to_ascii_lowercase().rfind("</body>").unwrap_or(html.len());
    let mut out = String::with_capacity(html.len() + tags.len());
    out.push_str(&html[..at]);
    out.push_str(&tags);
    out.push_str(&html[at..]);
    out
}

/// JSON that cannot end its `<script>` element early or be read as markup.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if let Ok(m) = meta.modified() {
                newest = newest.max(Some(m));
            }
        }
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_is_script_safe_and_before_body_end() {
        let html = inject_boot("<html><body><p>x</p></BODY></html>", r#"{"a":"</script><b>"}"#);
        assert!(html.contains(r#"{"a":"\u003c/script\u003e\u003cb\u003e"}"#));
        assert!(html.ends_with("</script>\n</BODY></html>"));
    }
}
