//! Tests of the `lv.*` template helpers: the HTML they write and the errors they give.

use super::*;
use minijinja::{context, Environment};

/// Renders `src` as an `.html` template (auto-escaping on), like real pages.
fn render(src: &str, ctx: Value) -> Result<String, Error> {
    let mut env = Environment::new();
    env.add_global("lv", lv());
    env.add_template_owned("page.html", src.to_owned())?;
    env.get_template("page.html")?.render(ctx)
}

fn ok(src: &str) -> String {
    match render(src, context! {}) {
        Ok(html) => html,
        Err(err) => panic!("render of {src:?} failed: {err:#}"),
    }
}

fn err(src: &str) -> Error {
    match render(src, context! {}) {
        Ok(html) => panic!("render of {src:?} succeeded with {html:?}"),
        Err(err) => err,
    }
}

fn assert_err(src: &str, kind: ErrorKind, needle: &str) {
    let err = err(src);
    let detail = err.detail().unwrap_or_default();
    assert_eq!(err.kind(), kind, "{src}: {err:#}");
    assert!(detail.contains(needle), "{src}: {detail:?} lacks {needle:?}");
}

fn page_ctx() -> Value {
    context! { _lv => context! { token => "tok.en", csrf => "c&s", action => "/counter" } }
}

#[test]
fn click_with_value() {
    assert_eq!(
        ok(r#"<button {{ lv.click("inc", by=1) }}>+</button>"#),
        r#"<button data-lv-click="inc" data-lv-value-by="1" name="_lv_click" value="inc?by=1">+</button>"#
    );
}

#[test]
fn click_without_values_has_no_query() {
    assert_eq!(ok(r#"{{ lv.click("reset") }}"#), r#"data-lv-click="reset" name="_lv_click" value="reset""#);
}

#[test]
fn click_values_are_sorted_converted_and_urlencoded() {
    assert_eq!(
        ok(r#"{{ lv.click("go", z="a b&c=d", a=1.5, m=true, n=none, **{"user-id": "é/x", "b_2": false}) }}"#),
        concat!(
            r#"data-lv-click="go" data-lv-value-a="1.5" data-lv-value-b_2="false" "#,
            r#"data-lv-value-m="true" data-lv-value-n="" data-lv-value-user-id="é/x" "#,
            r#"data-lv-value-z="a b&amp;c=d" name="_lv_click" "#,
            r#"value="go?a=1.5&amp;b_2=false&amp;m=true&amp;n=&amp;user-id=%C3%A9%2Fx&amp;z=a+b%26c%3Dd""#
        )
    );
}

#[test]
fn click_rejects_question_mark_in_event() {
    assert_err(
        r#"{{ lv.click("a?b") }}"#,
        ErrorKind::InvalidOperation,
        "lv.click: event name \"a?b\" must not contain `?`",
    );
}

#[test]
fn submit() {
    assert_eq!(ok(r#"{{ lv.submit("save") }}"#), r#"data-lv-submit="save""#);
    assert_eq!(ok(r#"{{ lv.submit("save", id=7) }}"#), r#"data-lv-submit="save" data-lv-value-id="7""#);
}

#[test]
fn change_with_debounce_and_values() {
    assert_eq!(
        ok(r#"{{ lv.change("validate", debounce=300, field="email", b=2) }}"#),
        r#"data-lv-change="validate" data-lv-debounce="300" data-lv-value-b="2" data-lv-value-field="email""#
    );
    assert_eq!(ok(r#"{{ lv.change("v") }}"#), r#"data-lv-change="v""#);
    assert_eq!(ok(r#"{{ lv.change("v", debounce=none) }}"#), r#"data-lv-change="v""#);
}

#[test]
fn keyup_and_keydown() {
    assert_eq!(
        ok(r#"{{ lv.keyup("search", key="Enter", q="x") }}"#),
        r#"data-lv-keyup="search" data-lv-key="Enter" data-lv-value-q="x""#
    );
    assert_eq!(ok(r#"{{ lv.keyup("search") }}"#), r#"data-lv-keyup="search""#);
    assert_eq!(
        ok(r#"{{ lv.keydown("nav", key="ArrowUp") }}"#),
        r#"data-lv-keydown="nav" data-lv-key="ArrowUp""#
    );
    // `debounce` is only reserved on change: here it is a plain value.
    assert_eq!(
        ok(r#"{{ lv.keydown("nav", debounce=1) }}"#),
        r#"data-lv-keydown="nav" data-lv-value-debounce="1""#
    );
}

#[test]
fn focus_and_blur() {
    assert_eq!(ok(r#"{{ lv.focus("f", row=3) }}"#), r#"data-lv-focus="f" data-lv-value-row="3""#);
    assert_eq!(ok(r#"{{ lv.blur("b") }}"#), r#"data-lv-blur="b""#);
}

#[test]
fn target_debounce_throttle_loading() {
    assert_eq!(ok(r#"{{ lv.target("cart") }}"#), r#"data-lv-target="cart""#);
    assert_eq!(ok("{{ lv.debounce(300) }}"), r#"data-lv-debounce="300""#);
    assert_eq!(ok("{{ lv.throttle(500) }}"), r#"data-lv-throttle="500""#);
    assert_eq!(ok("{{ lv.debounce(0) }}"), r#"data-lv-debounce="0""#);
    assert_eq!(ok("{{ lv.loading() }}"), r#"data-lv-loading="lv-loading""#);
    assert_eq!(ok(r#"{{ lv.loading("spinning") }}"#), r#"data-lv-loading="spinning""#);
}

#[test]
fn bad_milliseconds() {
    for src in [
        "{{ lv.debounce(-1) }}",
        "{{ lv.debounce(1.5) }}",
        r#"{{ lv.throttle("300") }}"#,
        "{{ lv.throttle(true) }}",
        r#"{{ lv.change("v", debounce="300ms") }}"#,
    ] {
        assert_err(src, ErrorKind::InvalidOperation, "must be a non-negative integer");
    }
    assert_err("{{ lv.debounce() }}", ErrorKind::MissingArgument, "lv.debounce: expected");
}

#[test]
fn hostile_strings_are_escaped() {
    assert_eq!(
        ok(r#"{{ lv.click('"><script>', v='"><script>') }}"#),
        concat!(
            r#"data-lv-click="&quot;&gt;&lt;script&gt;" "#,
            r#"data-lv-value-v="&quot;&gt;&lt;script&gt;" name="_lv_click" "#,
            r#"value="&quot;&gt;&lt;script&gt;?v=%22%3E%3Cscript%3E""#
        )
    );
    assert_eq!(ok(r#"{{ lv.keyup("k", key="'") }}"#), r#"data-lv-keyup="k" data-lv-key="&#39;""#);
    assert_eq!(
        render(r#"{{ lv.form('"><script>', title='"><script>') }}"#, page_ctx()).unwrap(),
        concat!(
            r#"<form method="post" action="/counter" data-lv-submit="&quot;&gt;&lt;script&gt;" "#,
            r#"title="&quot;&gt;&lt;script&gt;">"#,
            r#"<input type="hidden" name="_lv_token" value="tok.en">"#,
            r#"<input type="hidden" name="_lv_event" value="&quot;&gt;&lt;script&gt;">"#,
            r#"<input type="hidden" name="_csrf" value="c&amp;s">"#
        )
    );
}

#[test]
fn safe_strings_are_still_escaped() {
    // A value is data: marking it safe must not let it break out of the attribute.
    assert_eq!(ok(r#"{{ lv.submit("s", v='"x'|safe) }}"#), r#"data-lv-submit="s" data-lv-value-v="&quot;x""#);
}

#[test]
fn invalid_value_names() {
    assert_err(
        r#"{{ lv.click("x", **{"a b": 1}) }}"#,
        ErrorKind::InvalidOperation,
        "lv.click: value name \"a b\" must match [a-z0-9_-]+",
    );
    assert_err(r#"{{ lv.click("x", userId=1) }}"#, ErrorKind::InvalidOperation, "value name \"userId\"");
    assert_err(
        r#"{{ lv.change("x", **{'x"><script>': 1}) }}"#,
        ErrorKind::InvalidOperation,
        "lv.change: value name",
    );
    assert_err(r#"{{ lv.blur("x", **{"": 1}) }}"#, ErrorKind::InvalidOperation, "lv.blur: value name \"\"");
}

#[test]
fn container_values_are_errors() {
    assert_err(
        r#"{{ lv.click("x", ids=[1, 2]) }}"#,
        ErrorKind::InvalidOperation,
        "lv.click: value `ids` must be a string, number, boolean or none, got sequence",
    );
    assert_err(
        r#"{{ lv.focus("x", m={"a": 1}) }}"#,
        ErrorKind::InvalidOperation,
        "lv.focus: value `m` must be",
    );
    assert_err(
        r#"{{ lv.form(class=["a"]) }}"#,
        ErrorKind::InvalidOperation,
        "lv.form: attribute `class` must be",
    );
}

#[test]
fn bad_event_names() {
    assert_err("{{ lv.click() }}", ErrorKind::MissingArgument, "lv.click: expected an event name");
    assert_err("{{ lv.click(none) }}", ErrorKind::MissingArgument, "lv.click: expected an event name");
    assert_err("{{ lv.click(by=1) }}", ErrorKind::MissingArgument, "lv.click: expected an event name");
    assert_err(
        r#"{{ lv.submit("") }}"#,
        ErrorKind::InvalidOperation,
        "lv.submit: event name must not be empty",
    );
    assert_err(
        "{{ lv.keyup(1) }}",
        ErrorKind::InvalidOperation,
        "lv.keyup: event name must be a string, got number 1",
    );
    assert_err(r#"{{ lv.click("a", "b") }}"#, ErrorKind::TooManyArguments, "lv.click:");
    assert_err(
        r#"{{ lv.keyup("a", key="") }}"#,
        ErrorKind::InvalidOperation,
        "lv.keyup: key must not be empty",
    );
}

#[test]
fn unknown_kwargs_and_helpers() {
    assert_err(
        r#"{{ lv.target("t", x=1) }}"#,
        ErrorKind::TooManyArguments,
        "lv.target: unknown keyword argument 'x'",
    );
    assert_err(r#"{{ lv.clik("x") }}"#, ErrorKind::UnknownMethod, "lv has no helper named `clik`");
}

#[test]
fn form_with_page_context() {
    assert_eq!(
        render(r#"{{ lv.form("save", id="f", class="x") }}</form>"#, page_ctx()).unwrap(),
        concat!(
            r#"<form method="post" action="/counter" data-lv-submit="save" class="x" id="f">"#,
            r#"<input type="hidden" name="_lv_token" value="tok.en">"#,
            r#"<input type="hidden" name="_lv_event" value="save">"#,
            r#"<input type="hidden" name="_csrf" value="c&amp;s">"#,
            "</form>"
        )
    );
}

#[test]
fn form_reset_flag() {
    let html = render(r#"{{ lv.form("send", reset=true) }}</form>"#, page_ctx()).unwrap();
    assert!(
        html.starts_with(r#"<form method="post" action="/counter" data-lv-submit="send" data-lv-reset>"#),
        "{html}"
    );
    let html = render(r#"{{ lv.form("send", reset=false) }}</form>"#, page_ctx()).unwrap();
    assert!(!html.contains("reset"), "{html}");
    let err = render(r#"{{ lv.form("send", reset="yes") }}</form>"#, page_ctx()).unwrap_err();
    assert!(err.to_string().contains("`reset` must be true or false"), "{err}");
}

#[test]
fn form_without_event_for_click_buttons() {
    assert_eq!(
        render(r#"{{ lv.form() }}<button {{ lv.click("inc", by=1) }}>+</button></form>"#, page_ctx())
            .unwrap(),
        concat!(
            r#"<form method="post" action="/counter">"#,
            r#"<input type="hidden" name="_lv_token" value="tok.en">"#,
            r#"<input type="hidden" name="_csrf" value="c&amp;s">"#,
            r#"<button data-lv-click="inc" data-lv-value-by="1" name="_lv_click" value="inc?by=1">+</button></form>"#
        )
    );
}

#[test]
fn form_without_page_context_renders_empty() {
    assert_eq!(
        ok(r#"{{ lv.form("save") }}"#),
        concat!(
            r#"<form method="post" action="" data-lv-submit="save">"#,
            r#"<input type="hidden" name="_lv_token" value="">"#,
            r#"<input type="hidden" name="_lv_event" value="save">"#,
            r#"<input type="hidden" name="_csrf" value="">"#
        )
    );
}

#[test]
fn form_boolean_and_odd_attributes() {
    assert_eq!(
        ok(
            r#"{{ lv.form(novalidate=true, hidden=false, title=none, tabindex=2, **{"data-x": "y", "xml:lang": "en"}) }}"#
        ),
        concat!(
            r#"<form method="post" action="" data-x="y" novalidate tabindex="2" xml:lang="en">"#,
            r#"<input type="hidden" name="_lv_token" value="">"#,
            r#"<input type="hidden" name="_csrf" value="">"#
        )
    );
    assert_err(
        r#"{{ lv.form(**{"a b": 1}) }}"#,
        ErrorKind::InvalidOperation,
        "lv.form: attribute name \"a b\" must match [A-Za-z0-9_:-]+",
    );
    assert_err(r#"{{ lv.form(**{'x"onload': 1}) }}"#, ErrorKind::InvalidOperation, "lv.form: attribute name");
    for name in ["action", "METHOD", "data-lv-submit"] {
        assert_err(
            &format!(r#"{{{{ lv.form(**{{"{name}": "/x"}}) }}}}"#),
            ErrorKind::InvalidOperation,
            "is written by lv.form itself",
        );
    }
}

#[test]
fn form_rejects_malformed_page_context() {
    let result = render("{{ lv.form() }}", context! { _lv => "oops" });
    let err = result.expect_err("a string _lv must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidOperation);
    assert!(err.detail().unwrap_or_default().contains("`_lv` context variable"));

    let result = render("{{ lv.form() }}", context! { _lv => context! { token => 5 } });
    let err = result.expect_err("a numeric token must fail");
    assert!(err.detail().unwrap_or_default().contains("`_lv.token` must be a string"));
}

#[test]
fn form_sees_page_context_in_macros_and_includes() {
    let mut env = Environment::new();
    env.add_global("lv", lv());
    env.add_template("forms.html", r#"{% macro f() %}{{ lv.form() }}{% endmacro %}"#).unwrap();
    env.add_template(
        "page.html",
        r#"{% import "forms.html" as forms %}{{ forms.f() }}|{% include "part.html" %}"#,
    )
    .unwrap();
    env.add_template("part.html", r#"{{ lv.form() }}"#).unwrap();
    let form = concat!(
        r#"<form method="post" action="/counter">"#,
        r#"<input type="hidden" name="_lv_token" value="tok.en">"#,
        r#"<input type="hidden" name="_csrf" value="c&amp;s">"#
    );
    assert_eq!(env.get_template("page.html").unwrap().render(page_ctx()).unwrap(), format!("{form}|{form}"));
}

#[test]
fn splatted_values() {
    let ctx = context! { vals => context! { b => "2", a => 1 } };
    assert_eq!(
        render(r#"{{ lv.click("x", **vals) }}"#, ctx).unwrap(),
        r#"data-lv-click="x" data-lv-value-a="1" data-lv-value-b="2" name="_lv_click" value="x?a=1&amp;b=2""#
    );
}

#[test]
fn escape_attr_escapes_all_five() {
    assert_eq!(escape_attr(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    assert_eq!(escape_attr("plain ü"), "plain ü");
    assert_eq!(escape_attr("ü&ü<"), "ü&amp;ü&lt;");
    assert_eq!(escape_attr("'"), "&#39;");
}

#[test]
fn undefined_follows_the_environment() {
    // Lenient (the default): undefined is like none.
    assert_eq!(
        ok(r#"{{ lv.change("v", id=nope, debounce=nope) }}"#),
        r#"data-lv-change="v" data-lv-value-id="""#
    );
    assert_eq!(ok("{{ lv.loading(nope) }}"), r#"data-lv-loading="lv-loading""#);

    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_global("lv", lv());
    let ctx = context! { item => context! { id => 1 } };
    for (src, needle) in [
        (r#"{{ lv.click("x", id=item.missing) }}"#, "lv.click: value `id` is undefined"),
        (r#"{{ lv.change("x", debounce=item.ms) }}"#, "lv.change: `debounce` is undefined"),
        (r#"{{ lv.form(title=item.title) }}"#, "lv.form: attribute `title` is undefined"),
        ("{{ lv.loading(item.cls) }}", "lv.loading: the positional argument is undefined"),
    ] {
        let err = env.render_str(src, ctx.clone()).expect_err(src);
        assert_eq!(err.kind(), ErrorKind::UndefinedError, "{src}");
        assert!(err.detail().unwrap_or_default().contains(needle), "{src}: {err:#}");
    }
    assert_eq!(
        env.render_str(r#"{{ lv.click("x", id=item.id) }}"#, ctx).unwrap(),
        r#"data-lv-click="x" data-lv-value-id="1" name="_lv_click" value="x?id=1""#
    );
}

#[test]
fn click_fast_path_writes_what_click_writes() {
    let kw = |pairs: &[(&str, Value)]| Value::from(pairs.iter().cloned().collect::<Kwargs>());
    let call = Call { method: "click", strict: false };
    let cases: Vec<Vec<Value>> = vec![
        vec![Value::from("inc")],
        vec![Value::from("a&b\"<c>'")],
        vec![Value::from("bump"), kw(&[("row", Value::from(7))])],
        vec![Value::from("bump"), kw(&[("row", Value::from(-42i64)), ("at", Value::from(i64::MIN))])],
        vec![
            Value::from("go"),
            kw(&[
                ("z", Value::from("a b&c=d")),
                ("m", Value::from(true)),
                ("f", Value::from(false)),
                ("n", Value::from(())),
                ("user-id", Value::from("é/x<'\">")),
                ("b_2", Value::from("")),
            ]),
        ],
        // Left to the general path (and its errors): floats, containers, undefined,
        // bad names, bad events.
        vec![Value::from("go"), kw(&[("a", Value::from(1.5))])],
        vec![Value::from("bump"), kw(&[("n", Value::from(u64::MAX)), ("z", Value::from(0))])],
        vec![Value::from("go"), kw(&[("a", Value::from(vec![1, 2]))])],
        vec![Value::from("go"), kw(&[("a", Value::UNDEFINED)])],
        vec![Value::from("go"), kw(&[("Up", Value::from(1))])],
        vec![Value::from("go"), kw(&[("a b", Value::from(1))])],
        vec![Value::from("go?x")],
        vec![Value::from("")],
        vec![Value::from(1)],
        vec![Value::from(())],
        vec![],
        vec![kw(&[("a", Value::from(1))])],
        vec![Value::from("a"), Value::from("b")],
        vec![Value::from("a"), Value::UNDEFINED],
        // More values than the fast path keeps on its stack.
        vec![
            Value::from("many"),
            Value::from((0..9).map(|i| (format!("v{i}"), Value::from(i))).collect::<Kwargs>()),
        ],
    ];
    let mut fast = 0;
    for args in &cases {
        let general = click(&call, args);
        match click_fast(args) {
            Some(html) => {
                fast += 1;
                assert_eq!(Some(html), general.ok(), "{args:?}");
            }
            // The general path still writes these (or refuses them with its error).
            None => assert!(fast == 5, "{args:?} should take the fast path: {general:?}"),
        }
    }
    assert_eq!(fast, 5, "the first five cases take the fast path");
}
