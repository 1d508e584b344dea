//! Templates: minijinja over a views folder (`layouts/`, `pages/`, `partials/`), or
//! over templates held in memory under the same names (see [`source`]).
//!
//! Page, layout and region templates all render with one context shape
//! ([`CONTEXT_KEYS`]), so a partial renders the same whether it is included by the
//! page on the first GET or rendered alone as a region patch.

pub(crate) mod errors;
pub mod helpers;
pub(crate) mod html;
pub(crate) mod json;
mod regions;
pub mod source;

use arc_swap::ArcSwap;
use minijinja::{path_loader, AutoEscape, Environment, State, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::page::PageSpec;
use source::{check_view_name, ViewsSource, VIEW_FOLDERS};

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
    /// Counts the rebuilds of a reloading folder (see [`Views::refresh`]).
    generation: AtomicU64,
    /// Regions a look at their page's templates could not find (an id written by an
    /// expression): page file -> region ids, checked in the first rendered document.
    unsure_regions: Mutex<HashMap<String, Vec<String>>>,
}

/// What [`Views::refresh`] found in a reloading views folder.
#[derive(Debug, Clone, PartialEq)]
pub enum Refresh {
    Unchanged,
    /// Edited templates compiled: renders use them from now on.
    Reloaded,
    /// An edited template does not compile (the message says which and where): the
    /// templates as they were stay in use.
    Broken(String),
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
        let env = build_env(dir.as_deref(), &memory, dev)?;
        Ok(Views {
            dir,
            dev,
            default_layout: default_layout.to_string(),
            root_id: root_id.to_string(),
            memory: Mutex::new(memory),
            env: ArcSwap::from_pointee(env),
            stamp: Mutex::new(stamp),
            generation: AtomicU64::new(0),
            unsure_regions: Mutex::new(HashMap::new()),
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
        env.add_template_owned(name.to_string(), source.to_string())
            .map_err(|e| Error::Template(errors::describe(&e, None, None)))?;
        self.env.store(Arc::new(env));
        memory.insert(name.to_string(), source.to_string());
        Ok(())
    }

    fn env(&self) -> Arc<Environment<'static>> {
        self.refresh();
        self.env.load_full()
    }

    /// Dev mode with a views folder: when a file in it changed since the last look,
    /// compiles the changed templates and, when they compile, renders use the folder
    /// as it is now. A template that does not compile keeps the templates as they
    /// were (and is reported, here and in the log) until it is fixed.
    pub fn refresh(&self) -> Refresh {
        let (true, Some(dir)) = (self.dev, &self.dir) else { return Refresh::Unchanged };
        let mut stamp = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
        let newest = newest_mtime(dir);
        if newest == *stamp {
            return Refresh::Unchanged;
        }
        let since = *stamp;
        *stamp = newest;
        let memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let env = match build_env(Some(dir), &memory, self.dev) {
            Ok(env) => env,
            // Each compiled when it was added; only a minijinja regression gets here.
            Err(e) => {
                tracing::error!("rebuilding the views: {e}");
                return Refresh::Broken(e.to_string());
            }
        };
        for name in changed_templates(dir, since) {
            if memory.contains_key(&name) {
                continue;
            }
            if let Err(e) = env.get_template(&name) {
                let msg = errors::describe(&e, None, None);
                tracing::error!("{name} does not compile; the views as they were stay in use: {msg}");
                return Refresh::Broken(format!("template error: {msg}"));
            }
        }
        self.env.store(Arc::new(env));
        self.generation.fetch_add(1, Ordering::SeqCst);
        Refresh::Reloaded
    }

    /// Whether templates reload on change (dev mode with a views folder).
    pub fn reloads(&self) -> bool {
        self.dev && self.dir.is_some()
    }

    /// Fails unless the page template and every region partial exist and compile,
    /// and unless each region's id is on an element of the page (or its layout or
    /// the partials they include). A region whose element the templates write with
    /// an expression (`id="{{ x }}"`) is looked for in the first rendered document.
    pub fn check(&self, spec: &PageSpec) -> Result<()> {
        let env = self.env();
        let page = page_file(&spec.template);
        let load = |name: &str| env.get_template(name).map_err(|e| template_error(&env, &e, None));
        load(&page)?;
        for partial in spec.regions.values() {
            load(&partial_file(partial))?;
        }
        let layout = match &spec.layout {
            Some(layout) => {
                load(&layout_file(layout))?;
                Some(layout_file(layout))
            }
            None => Some(layout_file(&self.default_layout)).filter(|l| env.get_template(l).is_ok()),
        };
        let ids: Vec<&str> = spec.regions.keys().map(String::as_str).collect();
        let mut unsure = Vec::new();
        for (id, found) in regions::scan(&env, &page, layout.as_deref(), &ids) {
            match found {
                regions::Found::Yes => {}
                regions::Found::Unsure => unsure.push(id.to_string()),
                regions::Found::No => {
                    let partial = &spec.regions[id];
                    return Err(Error::Page(format!(
                        "region {id:?} has no element with id=\"{id}\" in {page} or the templates it \
                         includes: the page must hold the element its partial fills, such as \
                         <div id=\"{id}\">{{{{ partial(\"{partial}\") }}}}</div>"
                    )));
                }
            }
        }
        if !unsure.is_empty() {
            self.unsure_regions.lock().unwrap_or_else(|e| e.into_inner()).insert(page, unsure);
        }
        Ok(())
    }

    /// The page body: the page template, wrapped in a live root when it has none.
    pub fn render_body(&self, spec: &PageSpec, ctx: &Value) -> Result<String> {
        let env = self.env();
        let body = render(&env, &page_file(&spec.template), ctx)?;
        if html::has_live_root(&body) {
            Ok(body)
        } else {
            Ok(format!("<div id=\"{}\" data-lv>{body}</div>", helpers::escape_attr(&self.root_id)))
        }
    }

    /// The inner HTML of one region.
    #[cfg(test)]
    pub fn render_partial(&self, partial: &str, ctx: &Value) -> Result<String> {
        self.render_partial_file(&partial_file(partial), ctx)
    }

    /// A region's partial by its file ([`partial_file`] of its name).
    pub(crate) fn render_partial_file(&self, file: &str, ctx: &Value) -> Result<String> {
        render(&self.env(), file, ctx)
    }

    /// The whole document: layout around the body, the boot data and runtime script
    /// injected before `</body>`.
    pub fn render_document(&self, spec: &PageSpec, ctx: &Value, boot_json: &str) -> Result<(String, String)> {
        let body = self.render_body(spec, ctx)?;
        let env = self.env();
        let layout_name = spec.layout.as_deref().unwrap_or(&self.default_layout);
        let mut layout_ctx = ctx.clone();
        layout_ctx = minijinja::context! { content => Value::from_safe_string(body.clone()), ..layout_ctx };
        let layout = layout_file(layout_name);
        let html = match env.get_template(&layout) {
            Ok(_) => render(&env, &layout, &layout_ctx)?,
            Err(e) if e.kind() == minijinja::ErrorKind::TemplateNotFound && spec.layout.is_none() => {
                render(&env, FALLBACK_NAME, &layout_ctx)?
            }
            Err(e) => return Err(template_error(&env, &e, None)),
        };
        self.check_unsure_regions(spec, &html);
        Ok((inject_boot(&html, boot_json), body))
    }

    /// The first document of a page whose regions a look at its templates could not
    /// find: a region with no element in it is logged, naming it and the template.
    fn check_unsure_regions(&self, spec: &PageSpec, html: &str) {
        let page = page_file(&spec.template);
        let mut unsure = self.unsure_regions.lock().unwrap_or_else(|e| e.into_inner());
        if unsure.is_empty() {
            return;
        }
        let Some(ids) = unsure.remove(&page) else { return };
        drop(unsure);
        let present = html::element_ids(html);
        for id in ids.iter().filter(|id| !present.contains(&id.as_str())) {
            tracing::error!(
                "region {id:?} has no element with id=\"{id}\" in the page {page} as first rendered: \
                 its patches will find nothing to update"
            );
        }
    }

    /// Renders any template by its file name in the views: `pages/x.html`, or
    /// `pages/x` (`.html` may be left out, as everywhere).
    pub fn render_file(&self, name: &str, ctx: &Value) -> Result<String> {
        let env = self.env();
        let in_folder = VIEW_FOLDERS.iter().any(|f| name.strip_prefix(f).is_some_and(|r| r.starts_with('/')));
        if !in_folder {
            let known = VIEW_FOLDERS.iter().map(|f| role_file(f, name)).find(|n| env.get_template(n).is_ok());
            let example = known.unwrap_or_else(|| role_file("pages", name));
            return Err(Error::Template(format!(
                "template name {name:?} is not under layouts/, pages/ or partials/: name a template \
                 as its file in the views folder, such as {example:?}"
            )));
        }
        render(&env, &with_extension(name), ctx)
    }

    /// How many times a reloading folder was rebuilt: a watcher compares it to know
    /// whether open pages need a new render.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// Renders `name` with `ctx`; an error names the template, line and any undefined value.
fn render(env: &Environment<'static>, name: &str, ctx: &Value) -> Result<String> {
    let tmpl = env.get_template(name).map_err(|e| template_error(env, &e, None))?;
    tmpl.render(ctx).map_err(|e| template_error(env, &e, Some(ctx)))
}

fn template_error(env: &Environment<'static>, err: &minijinja::Error, ctx: Option<&Value>) -> Error {
    Error::Template(errors::describe(err, Some(env), ctx))
}

fn build_env(
    dir: Option<&Path>,
    memory: &BTreeMap<String, String>,
    dev: bool,
) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    if dev {
        // A typo (`state.colums`) is an error naming it, not an empty string. Only
        // printing, iterating or calling with an undefined value fails: `{% if x %}`,
        // `x is defined` and `x | default(...)` still test for optional values.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
        env.set_debug(true);
    }
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
        env.add_template_owned(name.clone(), source.clone())
            .map_err(|e| Error::Template(errors::describe(&e, None, None)))?;
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

// One naming scheme everywhere: a template is its file in the views folder
// (`pages/polls/show.html`). Where the role fixes the folder (a page's template, a
// region's partial, a layout, `partial()`), the folder may be left out; and `.html`
// may be left out of any name.

fn page_file(name: &str) -> String {
    role_file("pages", name)
}

pub(crate) fn partial_file(name: &str) -> String {
    role_file("partials", name)
}

fn layout_file(name: &str) -> String {
    role_file("layouts", name)
}

/// `polls/show`, `polls/show.html`, `pages/polls/show` and `pages/polls/show.html`
/// all name `pages/polls/show.html` for `folder` "pages".
///
/// Every render asks this for its template's file: one allocation and three copies,
/// without `format!` (whose machinery cost a counter's event 4 % of its instructions).
fn role_file(folder: &str, name: &str) -> String {
    let in_folder = name.strip_prefix(folder).is_some_and(|rest| rest.starts_with('/'));
    let mut file = String::with_capacity(folder.len() + 1 + name.len() + HTML.len());
    if !in_folder {
        file.push_str(folder);
        file.push('/');
    }
    file.push_str(name);
    if !has_extension(name) {
        file.push_str(HTML);
    }
    file
}

const HTML: &str = ".html";

/// Whether the last part of `name` has an extension.
fn has_extension(name: &str) -> bool {
    name.rsplit('/').next().is_some_and(|last| last.contains('.'))
}

/// `name`, with `.html` added when its last part has no extension.
fn with_extension(name: &str) -> String {
    if has_extension(name) {
        name.to_string()
    } else {
        [name, HTML].concat()
    }
}

/// The templates of `dir` whose files changed after `since` (all when `None`), by
/// name; hidden files and editor backups (`~`) are not templates.
fn changed_templates(dir: &Path, since: Option<SystemTime>) -> Vec<String> {
    let mut changed = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name.ends_with('~') {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.modified().ok() > since {
                let rel = entry.path().strip_prefix(dir).map(|p| p.to_path_buf());
                if let Some(rel) = rel.ok().and_then(|p| p.to_str().map(|s| s.replace('\\', "/"))) {
                    changed.push(rel);
                }
            }
        }
    }
    changed
}

/// Inserts the boot data and the runtime before the last `</body>` (or at the end).
fn inject_boot(html: &str, boot_json: &str) -> String {
    let tags = format!(
        "<script id=\"lv-boot\" type=\"application/json\">{}</script>\n<script src=\"/_live/runtime.js?v={}\" defer></script>\n",
        script_safe(boot_json),
        crate::server::asset::version()
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
