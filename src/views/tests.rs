use super::*;
use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, SystemTime};

use crate::page::{Ctx, Event, HostError, Page};

#[test]
fn boot_is_script_safe_and_before_body_end() {
    let html = inject_boot("<html><body><p>x</p></BODY></html>", r#"{"a":"</script><b>"}"#);
    assert!(html.contains(r#"{"a":"\u003c/script\u003e\u003cb\u003e"}"#));
    assert!(html.ends_with("</script>\n</BODY></html>"));
}

struct NoPage;

impl Page for NoPage {
    fn mount(&self, _: &mut Ctx<'_>) -> Result<(), HostError> {
        Ok(())
    }
    fn event(&self, _: &mut Ctx<'_>, _: &Event) -> Result<(), HostError> {
        Ok(())
    }
}

fn spec(template: &str, regions: &[(&str, &str)]) -> PageSpec {
    PageSpec {
        template: template.into(),
        regions: regions.iter().map(|(id, p)| (id.to_string(), p.to_string())).collect(),
        layout: None,
        handler: Arc::new(NoPage),
    }
}

fn memory(views: &[(&str, &str)]) -> ViewsSource {
    ViewsSource::Memory(views.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect::<BTreeMap<_, _>>())
}

fn ctx(count: i64) -> Value {
    minijinja::context! { state => minijinja::context! { count => count } }
}

/// A fresh folder under the system temp dir, removed when dropped.
struct TempViews(PathBuf);

impl TempViews {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mizulive-views-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        TempViews(dir)
    }

    /// Writes `text` to `rel`, stamped `age_s` seconds before now: each write in a
    /// test gets a distinct mtime without waiting for the clock.
    fn write(&self, rel: &str, text: &str, age_s: u64) {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(age_s)).unwrap();
    }
}

impl Drop for TempViews {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pages_render_from_templates_in_memory() {
    let views = Views::new(
        &memory(&[
            ("layouts/default.html", "<html><body>{{ content }}</body></html>"),
            ("pages/counter/index.html", "<p>{{ partial(\"counter/stats\") }}</p>"),
            ("partials/counter/stats.html", "<b>{{ state.count }}</b>"),
        ]),
        false,
        "default",
        "lv-root",
    )
    .unwrap();
    let page = spec("counter/index", &[("stats", "counter/stats")]);
    views.check(&page).unwrap();
    let (html, _) = views.render_document(&page, &ctx(7), "{}").unwrap();
    assert!(html.starts_with("<html><body><div id=\"lv-root\" data-lv><p><b>7</b></p></div>"), "{html}");
    assert_eq!(views.render_partial("counter/stats", &ctx(-1)).unwrap(), "<b>-1</b>");
    let err = views.check(&spec("counter/missing", &[])).unwrap_err().to_string();
    assert!(err.contains("pages/counter/missing.html"), "{err}");
}

#[test]
fn bad_names_and_sources_in_memory_are_errors_naming_them() {
    let err = Views::new(&memory(&[("pages/../secret.html", "x")]), false, "default", "lv-root")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("\"pages/../secret.html\""), "{err}");
    let err = Views::new(&memory(&[("pages/broken.html", "{% if %}")]), false, "default", "lv-root")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("pages/broken.html"), "{err}");

    let views = Views::new(&memory(&[]), false, "default", "lv-root").unwrap();
    let err = views.add("/pages/a.html", "x").unwrap_err().to_string();
    assert!(err.contains("\"/pages/a.html\" is absolute"), "{err}");
    let err = views.add("pages/a.html", "{{ unclosed").unwrap_err().to_string();
    assert!(err.contains("pages/a.html"), "{err}");
    // Neither failure added anything.
    assert!(views.render_file("pages/a.html", &ctx(0)).is_err());
    views.add("pages/a.html", "a={{ state.count }}").unwrap();
    assert_eq!(views.render_file("pages/a.html", &ctx(1)).unwrap(), "a=1");
    views.add("pages/a.html", "A={{ state.count }}").unwrap();
    assert_eq!(views.render_file("pages/a.html", &ctx(2)).unwrap(), "A=2");
}

#[test]
fn a_missing_folder_is_an_error_naming_it() {
    let dir = PathBuf::from("/nonexistent/mizulive/views");
    let err = Views::new(&ViewsSource::Dir(dir), false, "default", "lv-root").err().unwrap().to_string();
    assert!(err.contains("/nonexistent/mizulive/views does not exist"), "{err}");
}

#[test]
fn templates_in_memory_win_over_files_of_the_same_name() {
    let tmp = TempViews::new("precedence");
    tmp.write("pages/a.html", "file a", 0);
    tmp.write("pages/b.html", "file b", 0);
    let views = Views::new(&ViewsSource::Dir(tmp.0.clone()), false, "default", "lv-root").unwrap();
    assert_eq!(views.render_file("pages/a.html", &ctx(0)).unwrap(), "file a");
    views.add("pages/a.html", "memory a").unwrap();
    assert_eq!(views.render_file("pages/a.html", &ctx(0)).unwrap(), "memory a");
    assert_eq!(views.render_file("pages/b.html", &ctx(0)).unwrap(), "file b");
}

#[test]
fn dev_mode_reloads_an_edited_folder_and_keeps_templates_in_memory() {
    let tmp = TempViews::new("reload");
    tmp.write("pages/a.html", "one {{ state.count }}", 60);
    let dev = Views::new(&ViewsSource::Dir(tmp.0.clone()), true, "default", "lv-root").unwrap();
    let fixed = Views::new(&ViewsSource::Dir(tmp.0.clone()), false, "default", "lv-root").unwrap();
    dev.add("partials/m.html", "memory").unwrap();
    assert_eq!(dev.render_file("pages/a.html", &ctx(1)).unwrap(), "one 1");
    assert_eq!(fixed.render_file("pages/a.html", &ctx(1)).unwrap(), "one 1");

    tmp.write("pages/a.html", "two {{ state.count }}", 30);
    tmp.write("partials/new.html", "new", 30);
    assert_eq!(dev.render_file("pages/a.html", &ctx(2)).unwrap(), "two 2");
    assert_eq!(dev.render_file("partials/new.html", &ctx(2)).unwrap(), "new");
    assert_eq!(dev.render_file("partials/m.html", &ctx(2)).unwrap(), "memory");
    // Without dev mode a loaded template stays as it was.
    assert_eq!(fixed.render_file("pages/a.html", &ctx(2)).unwrap(), "one 2");
}
