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
            ("pages/counter/index.html", "<p id=\"stats\">{{ partial(\"counter/stats\") }}</p>"),
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
    assert!(
        html.starts_with("<html><body><div id=\"lv-root\" data-lv><p id=\"stats\"><b>7</b></p></div>"),
        "{html}"
    );
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

fn dev_views(templates: &[(&str, &str)]) -> Views {
    Views::new(&memory(templates), true, "default", "lv-root").unwrap()
}

fn state_ctx(state: serde_json::Value) -> Value {
    minijinja::context! { state => Value::from_serialize(&state), browser => Value::from_serialize(serde_json::json!({})) }
}

#[test]
fn dev_mode_names_an_undefined_value_its_template_and_line() {
    let board = "<table>\n<tr>\n<td>{{ state.colums }}</td>\n</tr>\n</table>";
    let views = dev_views(&[("pages/board.html", board)]);
    let ctx = state_ctx(serde_json::json!({"columns": 3}));
    let err = views.render_body(&spec("board", &[]), &ctx).unwrap_err().to_string();
    assert!(
        err.starts_with("template error: undefined value state.colums (in pages/board.html line 3)"),
        "{err}"
    );
    assert!(err.contains("3 | <td>{{ state.colums }}</td>"), "the line itself: {err}");
    assert_eq!(err.matches("template error").count(), 1, "{err}");

    // Without dev mode an undefined value prints as nothing, as before.
    let quiet = Views::new(&memory(&[("pages/board.html", board)]), false, "default", "lv-root").unwrap();
    let html = quiet.render_body(&spec("board", &[]), &ctx).unwrap();
    assert!(html.contains("<td></td>"), "{html}");
}

#[test]
fn dev_mode_names_the_undefined_part_of_each_kind_of_expression() {
    let views = dev_views(&[
        ("partials/a.html", "{{ state.a.b }}"),
        ("partials/b.html", "{% for c in state.cols %}{{ c }}{% endfor %}"),
        ("partials/c.html", "{{ state.name | upper }}"),
        ("partials/d.html", "{% for r in state.rows %}\n{{ r.nmae }}{% endfor %}"),
        ("partials/e.html", "{{ colums }}"),
        ("partials/f.html", "{{ browser['voter'] }}"),
        ("partials/g.html", "x\n{{ partial(\"a\") }}"),
    ]);
    let ctx = state_ctx(serde_json::json!({"rows": [{"name": "r1"}]}));
    for (partial, named) in [
        ("a", "undefined value state.a (in partials/a.html line 1)"),
        ("b", "undefined value state.cols (in partials/b.html line 1)"),
        ("c", "undefined value state.name (in partials/c.html line 1)"),
        ("d", "undefined value r.nmae (in partials/d.html line 2)"),
        ("e", "undefined value colums (in partials/e.html line 1)"),
        ("f", "undefined value browser['voter'] (in partials/f.html line 1)"),
        // A partial's error names the partial, not the template that included it.
        ("g", "undefined value state.a (in partials/a.html line 1)"),
    ] {
        let err = views.render_partial(partial, &ctx).unwrap_err().to_string();
        assert!(err.contains(named), "{partial}: {err}");
    }
}

#[test]
fn dev_mode_still_lets_templates_test_for_optional_values() {
    let views = dev_views(&[(
        "partials/opt.html",
        "{% if browser.voter %}v{% endif %}|{{ state.x is defined }}|{{ state.x | default(\"d\") }}|\
         {{ state.x or \"o\" }}|{% if state.x is not defined %}n{% endif %}|{{ flash.info if flash.info }}",
    )]);
    let ctx = minijinja::context! { state => minijinja::context! {}, browser => minijinja::context! {}, flash => minijinja::context! {} };
    assert_eq!(views.render_partial("opt", &ctx).unwrap(), "|False|d|o|n|");
}

#[test]
fn one_naming_scheme_for_pages_partials_layouts_and_render() {
    let views = dev_views(&[
        ("layouts/main.html", "<body>{{ content }}</body>"),
        ("pages/polls/show.html", "<div data-lv>{{ partial(\"partials/polls/votes.html\") }}</div>"),
        ("partials/polls/votes.html", "<i id=\"votes\">{{ state.votes }}</i>"),
    ]);
    let ctx = state_ctx(serde_json::json!({"votes": 2}));
    for page in ["polls/show", "polls/show.html", "pages/polls/show", "pages/polls/show.html"] {
        for partial in ["polls/votes", "partials/polls/votes.html"] {
            for layout in ["main", "layouts/main.html"] {
                let mut s = spec(page, &[("votes", partial)]);
                s.layout = Some(layout.into());
                views.check(&s).unwrap_or_else(|e| panic!("{page} {partial} {layout}: {e}"));
                let (html, _) = views.render_document(&s, &ctx, "{}").unwrap();
                assert!(html.starts_with("<body><div data-lv><i id=\"votes\">2</i></div>"), "{html}");
            }
        }
    }
    for name in ["pages/polls/show.html", "pages/polls/show"] {
        assert_eq!(views.render_file(name, &ctx).unwrap(), "<div data-lv><i id=\"votes\">2</i></div>");
    }
    // The page's short name is not a file name: the error gives the right spelling.
    let err = views.render_file("polls/show", &ctx).unwrap_err().to_string();
    assert!(err.contains("such as \"pages/polls/show.html\""), "{err}");
    let err = views.render_file("polls/votes", &ctx).unwrap_err().to_string();
    assert!(err.contains("such as \"partials/polls/votes.html\""), "{err}");
}

#[test]
fn a_region_whose_element_is_missing_is_refused_naming_it_and_the_page() {
    let views = dev_views(&[
        ("pages/counter.html", "<div data-lv><p id=\"stats\">{{ partial(\"stats\") }}</p></div>"),
        ("pages/dynamic.html", "<div data-lv><p id=\"{{ state.rid }}\"></p></div>"),
        ("partials/stats.html", "{{ state.count }}"),
        ("partials/log.html", "log"),
    ]);
    views.check(&spec("counter", &[("stats", "stats")])).unwrap();
    let err = views.check(&spec("counter", &[("stats", "stats"), ("log", "log")])).unwrap_err().to_string();
    assert!(
        err.contains("region \"log\" has no element with id=\"log\" in pages/counter.html")
            && err.contains("<div id=\"log\">{{ partial(\"log\") }}</div>"),
        "{err}"
    );
    // An id an expression writes may be the region's: not refused.
    views.check(&spec("dynamic", &[("log", "log")])).unwrap();
}

#[test]
fn a_reloading_folder_keeps_its_templates_while_an_edit_does_not_compile() {
    let tmp = TempViews::new("broken");
    tmp.write("pages/a.html", "one", 60);
    let dev = Views::new(&ViewsSource::Dir(tmp.0.clone()), true, "default", "lv-root").unwrap();
    assert_eq!(dev.render_file("pages/a.html", &ctx(1)).unwrap(), "one");
    assert_eq!(dev.refresh(), Refresh::Unchanged);
    let before = dev.generation();

    tmp.write("pages/a.html", "two {% if %}", 30);
    match dev.refresh() {
        Refresh::Broken(msg) => assert!(msg.contains("pages/a.html line 1"), "{msg}"),
        other => panic!("expected Broken, got {other:?}"),
    }
    assert_eq!(dev.render_file("pages/a.html", &ctx(1)).unwrap(), "one", "the old template stays");
    assert_eq!(dev.generation(), before);

    tmp.write("pages/a.html", "three", 10);
    assert_eq!(dev.refresh(), Refresh::Reloaded);
    assert_eq!(dev.generation(), before + 1);
    assert_eq!(dev.render_file("pages/a.html", &ctx(1)).unwrap(), "three");
}

#[test]
fn a_role_names_its_file_in_its_folder_with_an_extension() {
    for (folder, name, file) in [
        ("pages", "polls/show", "pages/polls/show.html"),
        ("pages", "polls/show.html", "pages/polls/show.html"),
        ("pages", "pages/polls/show", "pages/polls/show.html"),
        ("pages", "pages/polls/show.html", "pages/polls/show.html"),
        // Only the folder itself counts, and only the last part's extension.
        ("pages", "pagesx/show", "pages/pagesx/show.html"),
        ("partials", "v1.2/row", "partials/v1.2/row.html"),
        ("layouts", "app.txt", "layouts/app.txt"),
    ] {
        assert_eq!(super::role_file(folder, name), file, "{folder} {name}");
    }
    assert_eq!(super::with_extension("pages/show"), "pages/show.html");
    assert_eq!(super::with_extension("pages/show.htm"), "pages/show.htm");
}
