//! Dev mode helps: an undefined template value is an error naming it and its line,
//! on the page GET (as an HTML overlay) and after an event; a region without its
//! element is refused at registration; an edited template reaches open pages.

mod common;

use common::*;
use mizulive::{App, Ctx, Event, HostError, Options, Page, PageSpec};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A views folder of its own under the system temp dir, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mizulive-dev-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let f = Folder(dir);
        f.write("layouts/default.html", "<html><body>{{ content }}</body></html>");
        f.write(
            "pages/board.html",
            "<div id=\"lv-root\" data-lv>\n<h1>Board v1</h1>\n<div id=\"cells\">{{ partial(\"board/cells\") }}</div>\n</div>",
        );
        f.write(
            "partials/board/cells.html",
            "{% if state.n > 0 %}\n{{ state.colums }}\n{% endif %}{{ state.columns }}",
        );
        f.write("pages/typo.html", "<div data-lv>\n<p>{{ state.colums }}</p>\n</div>");
        f.write("pages/other.html", "<div data-lv><p>other</p></div>");
        f
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
    }

    /// An edit, stamped `s` seconds ahead: each edit of a test is newer than the
    /// last even where the file system's clock is coarse.
    fn edit(&self, rel: &str, text: &str, s: u64) {
        self.write(rel, text);
        let file = fs::File::options().write(true).open(self.0.join(rel)).unwrap();
        file.set_modified(std::time::SystemTime::now() + Duration::from_secs(s)).unwrap();
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Mounts `{"n": 0, "columns": 3}` (or fails with `fail_mount`); any event sets n to
/// 1 and marks `cells`.
struct Board {
    fail_mount: Option<String>,
}

impl Page for Board {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        if let Some(msg) = &self.fail_mount {
            return Err(HostError(msg.clone()));
        }
        ctx.set_state(json!({"n": 0, "columns": 3}));
        Ok(())
    }

    fn event(&self, ctx: &mut Ctx<'_>, _: &Event) -> Result<(), HostError> {
        ctx.set("/n", json!(1))?;
        ctx.mark("cells")?;
        Ok(())
    }
}

fn spec(template: &str, regions: &[(&str, &str)], fail_mount: Option<&str>) -> PageSpec {
    PageSpec {
        template: template.into(),
        regions: regions.iter().map(|(id, p)| (id.to_string(), p.to_string())).collect::<BTreeMap<_, _>>(),
        layout: None,
        handler: Arc::new(Board { fail_mount: fail_mount.map(str::to_string) }),
    }
}

const SCRIPT: &str = "<script>alert(1)</script>";

fn start(folder: &Folder, dev: bool) -> Arc<App> {
    let opts = Options {
        views: folder.0.clone().into(),
        dev,
        secret: Some(SECRET.to_string()),
        ..Options::default()
    };
    let app = App::new(opts).expect("App::new");
    app.register_page("/board", spec("board", &[("cells", "board/cells")], None)).expect("register /board");
    app.register_page("/typo", spec("typo", &[], None)).expect("register /typo");
    app.register_page("/other", spec("other", &[], None)).expect("register /other");
    app.register_page("/bad", spec("typo", &[], Some(SCRIPT))).expect("register /bad");
    app.start("127.0.0.1:0").expect("start");
    Arc::new(app)
}

#[tokio::test]
async fn an_undefined_value_on_the_page_get_is_an_overlay_naming_it_and_its_line() {
    let folder = Folder::new("get");
    let app = start(&folder, true);
    let addr = app.local_addr().unwrap();

    let resp = http(addr, "GET", "/typo", &[], b"").await;
    assert_eq!(resp.status, 500);
    assert_eq!(resp.header("content-type"), Some("text/html; charset=utf-8"));
    let body = resp.text();
    assert!(body.contains("<div id=\"lv-error-overlay\" role=\"alert\""), "{body}");
    assert!(
        body.contains(
            "mizulive render_error: template error: undefined value state.colums (in pages/typo.html line 2)\n  \
             2 | &lt;p&gt;{{ state.colums }}&lt;/p&gt;"
        ),
        "{body}"
    );

    // A failing mount: the host's message, escaped.
    let resp = http(addr, "GET", "/bad", &[], b"").await;
    assert_eq!(resp.status, 500);
    let body = resp.text();
    assert!(
        body.contains(
            "mizulive host_error: callback failed: mount: &lt;script&gt;alert(1)&lt;/script&gt;\n</div>"
        ),
        "{body}"
    );
    assert!(!body.contains(SCRIPT), "{body}");
}

#[tokio::test]
async fn outside_dev_mode_a_failing_page_get_tells_nothing() {
    let folder = Folder::new("prod");
    let app = start(&folder, false);
    let addr = app.local_addr().unwrap();
    let resp = http(addr, "GET", "/bad", &[], b"").await;
    assert_eq!(resp.status, 500);
    assert_eq!(resp.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        resp.text(),
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>500 internal server error</title>\n</head>\n<body>\n<h1>500 internal server error</h1>\n\
         <p>This page could not be shown. Please try again later.</p>\n</body>\n</html>\n"
    );
    // Outside dev mode an undefined value prints as nothing.
    let resp = http(addr, "GET", "/typo", &[], b"").await;
    assert_eq!(resp.status, 200);
    assert!(resp.text().contains("<p></p>"), "{}", resp.text());
}

async fn live(addr: std::net::SocketAddr, path: &str) -> WsClient {
    let resp = http(addr, "GET", path, &[], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let boot = boot(&resp.text());
    let origin = format!("http://{addr}");
    let mut ws = connect_ws(addr, Some(&origin)).await.expect("connect");
    ws.join(&boot.token, &format!("{origin}{path}"), 0).await;
    ws
}

#[tokio::test]
async fn an_undefined_value_after_an_event_is_an_error_reply_naming_it_and_its_line() {
    let folder = Folder::new("event");
    let app = start(&folder, true);
    let mut ws = live(app.local_addr().unwrap(), "/board").await;
    let r = ws.event("show", json!({})).await;
    let error = ws.expect_error(r).await;
    assert_eq!(error["code"], "render_error", "{error}");
    let msg = error["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("template error: undefined value state.colums (in partials/board/cells.html line 2)"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_region_without_its_element_is_refused_at_registration() {
    let folder = Folder::new("regions");
    let app = start(&folder, false);
    let err = app
        .register_page("/board2", spec("board", &[("cells", "board/cells"), ("log", "board/cells")], None))
        .expect_err("a region the page has no element for")
        .to_string();
    assert!(
        err.starts_with("invalid page: region \"log\" has no element with id=\"log\" in pages/board.html"),
        "{err}"
    );
    // The page's template named as its file works as well as its short name.
    app.register_page("/board3", spec("pages/board.html", &[("cells", "partials/board/cells.html")], None))
        .expect("the file names");
}

/// The next frame of type `t`, skipping others, within `WAIT`.
async fn next_of_type(ws: &mut WsClient, t: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {t} frame within {WAIT:?}");
        let v = ws.recv_json(left).await;
        if v["t"] == t {
            return v;
        }
    }
}

#[tokio::test]
async fn an_edited_template_reaches_open_pages_and_a_broken_one_shows_its_error() {
    let folder = Folder::new("reload");
    let app = start(&folder, true);
    let mut ws = live(app.local_addr().unwrap(), "/board").await;
    let mut other = live(app.local_addr().unwrap(), "/other").await;
    folder.edit(
        "pages/board.html",
        "<div id=\"lv-root\" data-lv>\n<h1>Board v2</h1>\n<div id=\"cells\"></div>\n</div>",
        10,
    );
    let patch = next_of_type(&mut ws, "patch").await;
    let root = patch["root"].as_str().unwrap_or_default();
    assert!(root.contains("<h1>Board v2</h1>"), "{patch}");
    // A page the edit does not change gets nothing.
    other.expect_no_frame(QUIET).await;

    folder.edit("pages/board.html", "<div data-lv>{% if %}</div>", 20);
    let error = next_of_type(&mut ws, "error").await;
    assert_eq!(error["recoverable"], true, "{error}");
    let msg = error["message"].as_str().unwrap_or_default();
    assert!(msg.contains("(in pages/board.html line 1)"), "{msg}");
    // The page still renders with the templates as they were.
    let resp = http(app.local_addr().unwrap(), "GET", "/board", &[], b"").await;
    assert!(resp.text().contains("Board v2"), "{}", resp.text());

    folder.edit(
        "pages/board.html",
        "<div id=\"lv-root\" data-lv>\n<h1>Board v3</h1>\n<div id=\"cells\"></div>\n</div>",
        30,
    );
    let patch = next_of_type(&mut ws, "patch").await;
    assert!(patch["root"].as_str().unwrap_or_default().contains("Board v3"), "{patch}");
}
