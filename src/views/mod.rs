//! Templates: minijinja over a views folder (`layouts/`, `pages/`, `partials/`), or
//! over templates held in memory under the same names (see [`source`]).
//!
//! Page, layout and region templates all render with one context shape
//! ([`CONTEXT_KEYS`]), so a partial renders the same whether it is included by the
//! page on the first GET or rendered alone as a region patch.

pub mod helpers;
pub(crate) mod html;
pub(crate) mod json;
pub mod source;

use arc_swap::ArcSwap;
use minijinja::{path_loader, AutoEscape, Environment, State, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::page::PageSpec;
use source::{check_view_name, ViewsSource};

/// The variables every template sees.
pub const CONTEXT_KEYS: &[&str] =
    &["state", "flash", "params", "session", "browser", "user_id", "title", "page", "csrf", "_lv"];

/// Used when the views folder has no `layouts/<default>.html`, so a first page needs
/// no layout file. Registered under [`FALLBACK_NAME`] like any other template, so it
/// auto-escapes like them (`title` often comes from user input).
const FALLBACK_LAYOUT: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{{ title or \"mizulive\" }}</title>\n</head>\n<body>\n{{ content }}\n</body>\n</html>\n";

/// Outside `layouts/`, so no `layout` option or page can name it by accident.
const FALLBACK_NAME: &str = "mizulive/fallback-layout.html";

pub struct Views {
    /// The views folder, when the templates come from one.
    dir: Option<PathBuf>,
    dev: bool,
    default_layout: String,
    root_id: String,
    /// Templates held in memory, by name: the `views` option's object and every
    /// `add`. Rebuilds of a reloading folder add them again. Its lock also orders
    /// writers of `env`.
    memory: Mutex<BTreeMap<String, String>>,
    /// The environment renders use: swapped whole, so renders on every host thread
    /// share it without taking a lock.
    env: ArcSwap<Environment<'static>>,
    /// Dev mode with a folder: the folder's newest mtime when `env` was built; a
    /// newer file rebuilds it, so edits show on the next render.
    stamp: Mutex<Option<SystemTime>>,
}

impl Views {
    pub fn new(source: &ViewsSource, dev: bool, default_layout: &str, root_id: &str) -> Result<Self> {
        let (dir, memory) = match source {
            ViewsSource::Dir(dir) if !dir.is_dir() => {
                return Err(Error::Config(format!(
                    "views folder {} does not exist (set \"views\" in the options to a folder, \
                     or to an object of template name to source)",
                    dir.display()
                )));
            }
            ViewsSource::Dir(dir) => (Some(dir.clone()), BTreeMap::new()),
            ViewsSource::Memory(memory) => {
                for name in memory.keys() {
                    check_view_name(name)?;
                }
                (None, memory.clone())
            }
        };
        let stamp = dir.as_deref().filter(|_| dev).and_then(newest_mtime);
        let env = build_env(dir.as_deref(), &memory)?;
        Ok(Views {
            dir,
            dev,
            default_layout: default_layout.to_string(),
            root_id: root_id.to_string(),
            memory: Mutex::new(memory),
            env: ArcSwap::from_pointee(env),
            stamp: Mutex::new(stamp),
        })
    }

    /// Adds (or replaces) a template held in memory, named as its file in a views
    /// folder ("pages/counter/index.html"). It wins over a file of that name in the
    /// views folder. Fails, changing nothing, on a bad name or a source that does not
    /// compile.
    pub fn add(&self, name: &str, source: &str) -> Result<()> {
        check_view_name(name)?;
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let mut env = Environment::clone(&self.env.load());
        env.add_template_owned(name.to_string(), source.to_string())?;
        self.env.store(Arc::new(env));
        memory.insert(name.to_string(), source.to_string());
        Ok(())
    }

    fn env(&self) -> Arc<Environment<'static>> {
        if let (true, Some(dir)) = (self.dev, &self.dir) {
            let mut stamp = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
            let newest = newest_mtime(dir);
            if newest != *stamp {
                let memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
                match build_env(Some(dir), &memory) {
                    Ok(env) => self.env.store(Arc::new(env)),
                    // Each compiled when it was added; only a minijinja regression gets here.
                    Err(e) => tracing::error!("rebuilding the views: {e}"),
                }
                *stamp = newest;
            }
        }
        self.env.load_full()
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

    /// Renders any template by its file name in the views (`pages/x.html`).
    pub fn render_file(&self, name: &str, ctx: &Value) -> Result<String> {
        Ok(self.env().get_template(name)?.render(ctx)?)
    }
}

fn build_env(dir: Option<&Path>, memory: &BTreeMap<String, String>) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    // Every template of a views folder ends up in an HTML page (or a patch of one),
    // whatever its file name says, so all of them escape for HTML.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    if let Some(dir) = dir {
        env.set_loader(path_loader(dir));
    }
    if let Err(e) = env.add_template(FALLBACK_NAME, FALLBACK_LAYOUT) {
        // A constant that compiles in the tests; only a minijinja regression gets here.
        tracing::error!("the built-in fallback layout does not compile: {e}");
    }
    // Held in the environment itself, which looks them up before asking the loader:
    // a template in memory wins over a file of the same name.
    for (name, source) in memory {
        env.add_template_owned(name.clone(), source.clone())?;
    }
    env.add_global("lv", helpers::lv());
    env.add_function("partial", partial);
    Ok(env)
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
mod tests;
