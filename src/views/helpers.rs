//! The `lv` template helper object.
//!
//! Page templates never write `data-lv-*` attributes by hand: they call `lv.click(..)`,
//! `lv.form(..)` and friends, so the attribute names, the value encoding and the no-JS
//! form conventions of `docs/protocol.md` ("Without JavaScript") live in one place.
//!
//! Every helper returns a *safe* string (already HTML-escaped), so auto-escaping does
//! not escape it a second time, and every helper fails with an error naming the helper
//! (`lv.click: ...`) instead of writing a half-right attribute: a broken event binding
//! is far harder to debug in the browser than a render error.
//!
//! Value keyword arguments (`**values` below) become `data-lv-value-<name>`
//! attributes, the name exactly as written. Names must match `[a-z0-9_-]+`; strings
//! are written as-is, numbers in their display form (`1`, `1.5`), booleans as `true` /
//! `false` (JSON's spelling, not minijinja's `True`), `none` as the empty string;
//! lists, maps and other objects are an error because the protocol carries every value
//! as one string. Undefined counts as `none`, except under `UndefinedBehavior::Strict`
//! or `SemiStrict`, where it is an error like printing it would be. Values are always
//! attribute-escaped, even when marked safe: they are data, not markup.
//!
//! Attribute order is deterministic (so rendered HTML can be compared byte for byte and
//! region diffs do not churn): the helper's primary attribute, then its fixed options,
//! then values sorted by name.

use std::sync::Arc;

use minijinja::value::{from_args, ArgType, Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State, UndefinedBehavior};

/// The `lv` global: register with `env.add_global("lv", helpers::lv())`.
///
/// Helpers (the kwargs a helper *reserves* are its options; every other kwarg is a
/// value, see the module docs):
///
/// - `lv.click(event, **values)`: `data-lv-click` plus values, plus
///   `name="_lv_click" value="<event>?<urlencoded values>"` so a `<button>` inside an
///   `lv.form()` also works as a plain POST without JavaScript. Reserves nothing. The
///   event name must not contain `?`, which separates it from the values in `value`.
/// - `lv.submit(event, **values)`: `data-lv-submit`. Reserves nothing.
/// - `lv.change(event, debounce=ms, **values)`: `data-lv-change`, then
///   `data-lv-debounce` when `debounce` is given. Reserves `debounce`.
/// - `lv.keyup(event, key=k, **values)` / `lv.keydown(..)`: `data-lv-keyup` /
///   `data-lv-keydown`, then `data-lv-key` when `key` is given. Reserves `key`.
/// - `lv.focus(event, **values)`, `lv.blur(event, **values)`. Reserve nothing.
/// - `lv.target(name)`: `data-lv-target`.
/// - `lv.debounce(ms)`, `lv.throttle(ms)`: `data-lv-debounce` / `data-lv-throttle`;
///   non-negative integers only.
/// - `lv.loading(class="lv-loading")`: `data-lv-loading`.
/// - `lv.form(event=none, **attrs)`: an opening `<form method="post" action=..>` tag
///   and its hidden `_lv_token`, `_lv_event` (only with an event) and `_csrf` inputs.
///   Every kwarg is an HTML attribute of the form (sorted by name, names matching
///   `[A-Za-z0-9_:-]+`): `true` writes a bare attribute, `false`/`none` omits it.
///   `method`, `action` and `data-lv-submit` are written by the helper and rejected
///   as kwargs. Token, CSRF token and action come from the `_lv` context variable.
///
/// Because reserved kwargs are per helper, `lv.click("x", debounce=300)` writes a
/// *value* named `debounce`; combine `lv.click("x")` with `lv.debounce(300)` instead.
/// An option set to `none` (`debounce=none`, `key=none`) is treated as absent, so a
/// template can pass a possibly-missing setting straight through.
pub fn lv() -> Value {
    Value::from_object(LvHelpers)
}

/// Escape text for an HTML attribute value (&, <, >, ", ').
///
/// Covers both quote styles so the result is safe in `"..."` and `'...'` attributes,
/// and `<`/`>` so it is also safe as element text.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

/// The object behind the `lv` global. It has no state: everything page-specific comes
/// from the render context (`_lv`), so one instance serves every page and render.
#[derive(Debug)]
struct LvHelpers;

impl Object for LvHelpers {
    /// Plain, so `{{ lv }}` does not pretend to be an (empty) map.
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let call = Call::new(state, method);
        let html = match method {
            "click" => match click_fast(args) {
                Some(html) => html,
                None => click(&call, args)?,
            },
            "submit" => event_attrs(&call, "submit", args, &[])?,
            "change" => event_attrs(&call, "change", args, &[EventOption::Debounce])?,
            "keyup" => event_attrs(&call, "keyup", args, &[EventOption::Key])?,
            "keydown" => event_attrs(&call, "keydown", args, &[EventOption::Key])?,
            "focus" => event_attrs(&call, "focus", args, &[])?,
            "blur" => event_attrs(&call, "blur", args, &[])?,
            "target" => target(&call, args)?,
            "debounce" => millis_attr(&call, "debounce", args)?,
            "throttle" => millis_attr(&call, "throttle", args)?,
            "loading" => loading(&call, args)?,
            "form" => form(&call, state, args)?,
            _ => {
                return Err(Error::new(
                    ErrorKind::UnknownMethod,
                    format!(
                        "lv has no helper named `{method}` (known: click, submit, change, \
                         keyup, keydown, focus, blur, target, debounce, throttle, loading, form)"
                    ),
                ))
            }
        };
        Ok(Value::from_safe_string(html))
    }
}

/// Options an event helper takes out of its kwargs instead of treating them as values.
#[derive(Clone, Copy)]
enum EventOption {
    /// `key=` on keyup/keydown: which `KeyboardEvent.key` fires the event.
    Key,
    /// `debounce=` on change: typing in a field should not send one event per key.
    Debounce,
}

impl EventOption {
    fn kwarg(self) -> &'static str {
        match self {
            EventOption::Key => "key",
            EventOption::Debounce => "debounce",
        }
    }
}

/// `data-lv-<kind>="event"`, its options, then its values.
fn event_attrs(call: &Call, kind: &str, args: &[Value], options: &[EventOption]) -> Result<String, Error> {
    let (event, kwargs) = call.args(args)?;
    let event = call.event_name(event)?;

    let mut attrs = Attrs::default();
    attrs.push(&format!("data-lv-{kind}"), &event);
    for option in options {
        let name = option.kwarg();
        let Some(value) = call.option(&kwargs, name)? else {
            continue;
        };
        match option {
            EventOption::Key => {
                let key = call.string("key", &value)?;
                attrs.push("data-lv-key", key);
            }
            EventOption::Debounce => {
                let ms = call.millis("debounce", &value)?;
                attrs.push("data-lv-debounce", &ms.to_string());
            }
        }
    }
    let reserved: Vec<&str> = options.iter().map(|o| o.kwarg()).collect();
    for (name, value) in call.values(&kwargs, &reserved)? {
        attrs.push_value(name, &value);
    }
    call.finish(&kwargs)?;
    Ok(attrs.into_string())
}

/// `lv.click`: the event attributes plus the `name`/`value` pair the no-JS POST reads.
fn click(call: &Call, args: &[Value]) -> Result<String, Error> {
    let (event, kwargs) = call.args(args)?;
    let event = call.event_name(event)?;
    if event.contains('?') {
        // The server splits `value` at the first `?`; a `?` in the name would make the
        // no-JS path run a different event than the JS path does.
        return Err(call.invalid(format!("event name {event:?} must not contain `?`")));
    }
    let values = call.values(&kwargs, &[])?;
    call.finish(&kwargs)?;

    let mut attrs = Attrs(String::with_capacity(128));
    attrs.push("data-lv-click", &event);
    for (name, value) in &values {
        attrs.push_value(name, value);
    }
    attrs.push("name", "_lv_click");

    let mut button_value = event;
    for (i, (name, value)) in values.iter().enumerate() {
        button_value.push(if i == 0 { '?' } else { '&' });
        push_form_urlencoded(&mut button_value, name);
        button_value.push('=');
        push_form_urlencoded(&mut button_value, value);
    }
    attrs.push("value", &button_value);
    Ok(attrs.into_string())
}

/// [`click`] for what templates nearly always pass (an event name, and values that
/// are strings, integers, booleans or `none` under valid names), writing the same
/// bytes without minijinja's `Kwargs`, which copies every name twice to look it up
/// and mark it used: a 100-row table renders 100 of these per event. `None` hands
/// anything else, and every error, to [`click`].
fn click_fast(args: &[Value]) -> Option<String> {
    let (event, kwargs) = match args {
        [event] => (event, None),
        // Read in place: a value that is not kwargs is the general path's to refuse.
        [event, kwargs] => (event, Some(<Kwargs as ArgType>::from_value(Some(kwargs)).ok()?)),
        _ => return None,
    };
    if event.kind() != ValueKind::String {
        return None;
    }
    let event = event.as_str().filter(|e| !e.is_empty() && !e.contains('?'))?;
    // The values on the stack, sorted by name: a few at most in any template.
    const MOST: usize = 8;
    let mut names = [""; MOST];
    let mut count = 0;
    for name in kwargs.iter().flat_map(Kwargs::args) {
        if count == MOST || !valid_name(name, false) || name.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        names[count] = name;
        count += 1;
    }
    let names = &mut names[..count];
    names.sort_unstable();
    let mut texts = [const { None }; MOST];
    if let Some(kwargs) = &kwargs {
        for (name, text) in names.iter().zip(&mut texts) {
            *text = Some(ScalarText::of(kwargs.peek::<&Value>(name).ok()?)?);
        }
    }
    // Each value's text, read out once for the two places it goes.
    let mut strs = [""; MOST];
    for (s, text) in strs.iter_mut().zip(texts.iter().take(count).flatten()) {
        *s = text.as_str();
    }
    let texts = &strs[..count];
    let mut out = String::with_capacity(96);
    out.push_str("data-lv-click=\"");
    push_escaped(&mut out, event);
    out.push('"');
    for (name, text) in names.iter().zip(texts) {
        out.push_str(" data-lv-value-");
        out.push_str(name);
        out.push_str("=\"");
        push_escaped(&mut out, text);
        out.push('"');
    }
    out.push_str(" name=\"_lv_click\" value=\"");
    push_escaped(&mut out, event);
    for (i, (name, text)) in names.iter().zip(texts).enumerate() {
        // The query is escaped as a whole in `click`: only its `&` needs it.
        out.push_str(if i == 0 { "?" } else { "&amp;" });
        push_form_urlencoded(&mut out, name);
        out.push('=');
        push_form_urlencoded(&mut out, text);
    }
    out.push('"');
    Some(out)
}

/// A value's text as [`Call::scalar_text`] writes it, for [`click_fast`]: `None` for
/// anything that path leaves to the general one (undefined, floats, containers).
enum ScalarText<'v> {
    Str(&'v str),
    /// An integer's digits (and sign) at the end of `buf`, from `start`.
    Int {
        buf: [u8; 21],
        start: usize,
    },
}

impl<'v> ScalarText<'v> {
    fn of(value: &'v Value) -> Option<ScalarText<'v>> {
        match value.kind() {
            ValueKind::String => value.as_str().map(ScalarText::Str),
            ValueKind::Bool => Some(ScalarText::Str(if value.is_true() { "true" } else { "false" })),
            ValueKind::None => Some(ScalarText::Str("")),
            ValueKind::Number if value.is_integer() => {
                let n = value.as_i64()?;
                let mut buf = [0u8; 21];
                let mut start = buf.len();
                let mut rest = n.unsigned_abs();
                loop {
                    start -= 1;
                    buf[start] = b'0' + (rest % 10) as u8;
                    rest /= 10;
                    if rest == 0 {
                        break;
                    }
                }
                if n < 0 {
                    start -= 1;
                    buf[start] = b'-';
                }
                Some(ScalarText::Int { buf, start })
            }
            _ => None,
        }
    }

    fn as_str(&self) -> &str {
        match self {
            ScalarText::Str(s) => s,
            ScalarText::Int { buf, start } => std::str::from_utf8(&buf[*start..]).unwrap_or_default(),
        }
    }
}

/// `lv.target(name)`: routes events of the element and its descendants to a component.
fn target(call: &Call, args: &[Value]) -> Result<String, Error> {
    let (name, kwargs) = call.args(args)?;
    call.finish(&kwargs)?;
    let Some(name) = name else {
        return Err(call.missing("a target name"));
    };
    let mut attrs = Attrs::default();
    attrs.push("data-lv-target", call.string("target name", &name)?);
    Ok(attrs.into_string())
}

/// `lv.debounce(ms)` / `lv.throttle(ms)`.
fn millis_attr(call: &Call, kind: &str, args: &[Value]) -> Result<String, Error> {
    let (ms, kwargs) = call.args(args)?;
    call.finish(&kwargs)?;
    let Some(ms) = ms else {
        return Err(call.missing("a number of milliseconds"));
    };
    let ms = call.millis("milliseconds", &ms)?;
    let mut attrs = Attrs::default();
    attrs.push(&format!("data-lv-{kind}"), &ms.to_string());
    Ok(attrs.into_string())
}

/// `lv.loading(class)`: the class the runtime adds while an event is in flight.
fn loading(call: &Call, args: &[Value]) -> Result<String, Error> {
    let (class, kwargs) = call.args(args)?;
    call.finish(&kwargs)?;
    let class = match &class {
        Some(class) => call.string("class", class)?,
        None => "lv-loading",
    };
    let mut attrs = Attrs::default();
    attrs.push("data-lv-loading", class);
    Ok(attrs.into_string())
}

/// `lv.form(event=none, **attrs)`: a form that works both live and as a plain POST.
fn form(call: &Call, state: &State<'_, '_>, args: &[Value]) -> Result<String, Error> {
    let (event, kwargs) = call.args(args)?;
    let event = match event {
        Some(event) => Some(call.event_name(Some(event))?),
        None => None,
    };
    let page = PageContext::lookup(call, state)?;

    let mut attrs = Attrs::default();
    attrs.push("method", "post");
    attrs.push("action", &page.action);
    if let Some(event) = &event {
        attrs.push("data-lv-submit", event);
    }

    let mut names: Vec<&str> = kwargs.args().collect();
    names.sort_unstable();
    for name in names {
        if !valid_name(name, true) {
            return Err(call.invalid(format!("attribute name {name:?} must match [A-Za-z0-9_:-]+")));
        }
        // HTML attribute names are case-insensitive: `ACTION` would duplicate `action`.
        let lower = name.to_ascii_lowercase();
        if matches!(lower.as_str(), "method" | "action" | "data-lv-submit") {
            return Err(
                call.invalid(format!("attribute `{name}` is written by lv.form itself and cannot be passed"))
            );
        }
        let value: Value = kwargs.get(name).map_err(|err| call.rewrap(err))?;
        // `reset=true`: the runtime resets the form to the server's values once the
        // submit's reply arrives (a chat box empties even when its HTML did not change).
        if lower == "reset" {
            if value.kind() != ValueKind::Bool {
                return Err(call.invalid("`reset` must be true or false".to_string()));
            }
            if value.is_true() {
                attrs.push_bare("data-lv-reset");
            }
            continue;
        }
        if value.kind() == ValueKind::Bool {
            if value.is_true() {
                attrs.push_bare(name);
            }
            continue;
        }
        if let Some(text) = call.scalar_text(|| format!("attribute `{name}`"), &value)? {
            attrs.push(name, &text);
        }
    }
    call.finish(&kwargs)?;

    let mut out = String::from("<form ");
    out.push_str(&attrs.into_string());
    out.push('>');
    push_hidden(&mut out, "_lv_token", &page.token);
    if let Some(event) = &event {
        push_hidden(&mut out, "_lv_event", event);
    }
    push_hidden(&mut out, "_csrf", &page.csrf);
    Ok(out)
}

fn push_hidden(out: &mut String, name: &str, value: &str) {
    out.push_str("<input type=\"hidden\" name=\"");
    push_escaped(out, name);
    out.push_str("\" value=\"");
    push_escaped(out, value);
    out.push_str("\">");
}

/// The per-render page data the server puts in the context as `_lv`.
#[derive(Default)]
struct PageContext {
    token: String,
    csrf: String,
    action: String,
}

impl PageContext {
    /// Reads `_lv`. Missing means "not a live page" (a test helper, an email, a static
    /// page): the form still renders, with empty values, because failing there would
    /// make templates unusable outside a session. A `_lv` of the wrong shape is a bug
    /// in whoever built the context, so that one is an error.
    fn lookup(call: &Call, state: &State<'_, '_>) -> Result<PageContext, Error> {
        let Some(lv) = state.lookup("_lv") else {
            return Ok(PageContext::default());
        };
        if lv.is_undefined() || lv.is_none() {
            return Ok(PageContext::default());
        }
        if lv.kind() != ValueKind::Map {
            return Err(call.invalid(format!(
                "the `_lv` context variable must be a map with token, csrf and action, got {}",
                lv.kind()
            )));
        }
        let field = |name: &str| -> Result<String, Error> {
            let value = lv.get_attr(name).map_err(|err| call.rewrap(err))?;
            if value.is_undefined() || value.is_none() {
                return Ok(String::new());
            }
            match value.as_str() {
                Some(s) if value.kind() == ValueKind::String => Ok(s.to_owned()),
                _ => Err(call.invalid(format!("`_lv.{name}` must be a string, got {}", value.kind()))),
            }
        };
        Ok(PageContext { token: field("token")?, csrf: field("csrf")?, action: field("action")? })
    }
}

/// One helper invocation: the helper's name for error messages, and whether the
/// environment wants undefined values to be errors.
struct Call<'m> {
    /// The helper's method name (`click` for `lv.click`); errors name it.
    method: &'m str,
    strict: bool,
}

impl<'m> Call<'m> {
    fn new(state: &State<'_, '_>, method: &'m str) -> Call<'m> {
        Call {
            method,
            strict: matches!(
                state.undefined_behavior(),
                UndefinedBehavior::Strict | UndefinedBehavior::SemiStrict
            ),
        }
    }

    /// Every helper takes at most one positional argument plus kwargs. `none` (and
    /// lenient undefined) counts as not given, so `lv.form(none)` is `lv.form()`.
    fn args(&self, args: &[Value]) -> Result<(Option<Value>, Kwargs), Error> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args).map_err(|err| self.rewrap(err))?;
        match positional {
            [] => Ok((None, kwargs)),
            [value] if value.is_none() => Ok((None, kwargs)),
            [value] if value.is_undefined() => {
                if self.strict {
                    Err(self.undefined("the positional argument"))
                } else {
                    Ok((None, kwargs))
                }
            }
            [value] => Ok((Some(value.clone()), kwargs)),
            _ => Err(Error::new(
                ErrorKind::TooManyArguments,
                format!(
                    "lv.{}: takes at most one positional argument, got {}",
                    self.method,
                    positional.len()
                ),
            )),
        }
    }

    /// An option kwarg: `none` (and lenient undefined) means absent.
    fn option(&self, kwargs: &Kwargs, name: &str) -> Result<Option<Value>, Error> {
        if !kwargs.has(name) {
            return Ok(None);
        }
        // `Value`, not `Option<Value>`: the latter folds undefined into `None` before
        // strict mode could reject it.
        let value: Value = kwargs.get(name).map_err(|err| self.rewrap(err))?;
        if value.is_undefined() && self.strict {
            return Err(self.undefined(&format!("`{name}`")));
        }
        if value.is_undefined() || value.is_none() {
            return Ok(None);
        }
        Ok(Some(value))
    }

    /// The event name: a non-empty string. Other types are rejected rather than
    /// stringified because `lv.click(item)` is far more likely a mistake than intent.
    fn event_name(&self, event: Option<Value>) -> Result<String, Error> {
        let Some(event) = event else {
            return Err(self.missing("an event name"));
        };
        self.string("event name", &event).map(str::to_owned)
    }

    /// A non-empty string argument.
    fn string<'v>(&self, what: &str, value: &'v Value) -> Result<&'v str, Error> {
        match value.as_str() {
            Some("") if value.kind() == ValueKind::String => {
                Err(self.invalid(format!("{what} must not be empty")))
            }
            Some(s) if value.kind() == ValueKind::String => Ok(s),
            _ => Err(self.invalid(format!("{what} must be a string, got {}", describe(value)))),
        }
    }

    /// Milliseconds: a non-negative integer. Floats and numeric strings are rejected so
    /// a typo like `debounce="300ms"` fails at render time instead of being ignored by
    /// the browser runtime.
    fn millis(&self, what: &str, value: &Value) -> Result<u64, Error> {
        if value.is_integer() {
            if let Ok(ms) = u64::try_from(value.clone()) {
                return Ok(ms);
            }
        }
        Err(self.invalid(format!("{what} must be a non-negative integer, got {}", describe(value))))
    }

    /// The value kwargs (everything not in `reserved`), validated, converted and sorted.
    fn values<'k>(&self, kwargs: &'k Kwargs, reserved: &[&str]) -> Result<Vec<(&'k str, String)>, Error> {
        let mut names: Vec<&str> = kwargs.args().filter(|name| !reserved.contains(name)).collect();
        names.sort_unstable();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            // Lower case only: HTML lower-cases attribute names, so `userId` would reach
            // the JS path as `userid` but a no-JS post as `userId`.
            if !valid_name(name, false) || name.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(self.invalid(format!("value name {name:?} must match [a-z0-9_-]+")));
            }
            let value: Value = kwargs.get(name).map_err(|err| self.rewrap(err))?;
            let text = self.scalar_text(|| format!("value `{name}`"), &value)?;
            out.push((name, text.unwrap_or_default()));
        }
        Ok(out)
    }

    /// The string form of a value or attribute, `None` for `none`/undefined. The
    /// protocol carries every value as one string, so containers have no faithful
    /// encoding and are rejected.
    fn scalar_text(&self, what: impl Fn() -> String, value: &Value) -> Result<Option<String>, Error> {
        match value.kind() {
            ValueKind::String => match value.as_str() {
                Some(s) => Ok(Some(s.to_owned())),
                None => Err(self.invalid(format!("{} is not valid text", what()))),
            },
            // minijinja displays booleans the Python way (`True`); the protocol and the
            // browser runtime use JSON's `true`/`false`.
            ValueKind::Bool if value.is_true() => Ok(Some("true".to_owned())),
            ValueKind::Bool => Ok(Some("false".to_owned())),
            ValueKind::Number => Ok(Some(value.to_string())),
            ValueKind::None => Ok(None),
            ValueKind::Undefined if self.strict => Err(self.undefined(&what())),
            ValueKind::Undefined => Ok(None),
            kind => {
                Err(self.invalid(format!("{} must be a string, number, boolean or none, got {kind}", what())))
            }
        }
    }

    /// Rejects kwargs the helper did not read, and non-string keys from `**{1: 2}`.
    fn finish(&self, kwargs: &Kwargs) -> Result<(), Error> {
        kwargs.assert_all_used().map_err(|err| self.rewrap(err))
    }

    fn invalid(&self, message: String) -> Error {
        Error::new(ErrorKind::InvalidOperation, format!("lv.{}: {message}", self.method))
    }

    fn missing(&self, what: &str) -> Error {
        Error::new(ErrorKind::MissingArgument, format!("lv.{}: expected {what}", self.method))
    }

    fn undefined(&self, what: &str) -> Error {
        Error::new(ErrorKind::UndefinedError, format!("lv.{}: {what} is undefined", self.method))
    }

    /// Keeps the kind of a minijinja argument error but names the helper, since
    /// `from_args` and `Kwargs` errors alone ("too many arguments") do not say where.
    fn rewrap(&self, err: Error) -> Error {
        let detail = match err.detail() {
            Some(detail) => detail.to_owned(),
            None => err.kind().to_string(),
        };
        Error::new(err.kind(), format!("lv.{}: {detail}", self.method))
    }
}

/// Attributes rendered as `name="value"` pairs separated by single spaces.
#[derive(Default)]
struct Attrs(String);

impl Attrs {
    /// `name` must already be validated: only values are escaped.
    fn push(&mut self, name: &str, value: &str) {
        self.push_bare(name);
        self.push_quoted(value);
    }

    /// `data-lv-value-<name>="value"`.
    fn push_value(&mut self, name: &str, value: &str) {
        self.push_bare("data-lv-value-");
        self.0.push_str(name);
        self.push_quoted(value);
    }

    fn push_quoted(&mut self, value: &str) {
        self.0.push_str("=\"");
        push_escaped(&mut self.0, value);
        self.0.push('"');
    }

    fn push_bare(&mut self, name: &str) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(name);
    }

    fn into_string(self) -> String {
        self.0
    }
}

/// `[A-Za-z0-9_-]+`, plus `:` for HTML attribute names (`xml:lang`). Anything else
/// could break out of the attribute name position.
fn valid_name(name: &str, allow_colon: bool) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (allow_colon && b == b':'))
}

/// Short description of a bad argument for error messages.
fn describe(value: &Value) -> String {
    match value.kind() {
        ValueKind::String | ValueKind::Number | ValueKind::Bool => {
            let mut repr = format!("{} {value:?}", value.kind());
            if repr.len() > 60 {
                let mut end = 57;
                while !repr.is_char_boundary(end) {
                    end -= 1;
                }
                repr.truncate(end);
                repr.push_str("...");
            }
            repr
        }
        kind => kind.to_string(),
    }
}

fn push_escaped(out: &mut String, s: &str) {
    // The five are ASCII, so every cut below falls on a character boundary.
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        out.push_str(entity);
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
}

/// application/x-www-form-urlencoded byte serialization (WHATWG URL standard): what a
/// browser would send, so the server decodes `_lv_click` values with its form parser.
fn push_form_urlencoded(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
}

#[cfg(test)]
#[path = "helpers_tests.rs"]
mod tests;
