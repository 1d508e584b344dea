//! A failed callback leaves the state exactly as it was, whatever mix of writes it
//! made before failing: pointer writes that replace, add keys, create objects on the
//! way, append, set array items; removals; the whole state taken in place or
//! replaced. Hundreds of generated sequences, each applied by a real callback that
//! then fails, through the in-process test client; and each also applied by one that
//! succeeds, against the same writes made on a plain `serde_json::Value`.

use mizulive::testing::TestClient;
use mizulive::{App, Ctx, Event, HostError, Options, Page, PageSpec, ViewsSource};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const START: &str =
    r#"{"n": 1, "s": "x", "obj": {"a": 1, "b": [1, 2, {"c": null}]}, "list": [0, 1, 2], "nil": null}"#;

struct Ops;

/// One write, as the test sends it: `["set", pointer, value]`, `["remove", pointer]`,
/// `["mut", key, value]` (through `state_mut`), `["replace", state]`.
fn apply(ctx: &mut Ctx<'_>, op: &Value) -> Result<(), HostError> {
    let err = |e: mizulive::Error| HostError(e.to_string());
    match op[0].as_str() {
        Some("set") => {
            // A pointer that leads through a number is refused and changes nothing.
            let _ = ctx.set(op[1].as_str().unwrap_or(""), op[2].clone());
        }
        Some("remove") => {
            ctx.remove(op[1].as_str().unwrap_or(""));
        }
        Some("mut") => {
            ctx.state_mut()[op[1].as_str().unwrap_or("k")] = op[2].clone();
        }
        Some("replace") => ctx.set_state_json(&op[1].to_string()).map_err(err)?,
        // A write whose error fails the callback.
        Some("set!") => ctx.set(op[1].as_str().unwrap_or(""), op[2].clone()).map_err(err)?,
        _ => return Err(HostError(format!("bad op {op}"))),
    }
    Ok(())
}

impl Page for Ops {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        ctx.set_state_json(START).map_err(|e| HostError(e.to_string()))
    }

    fn event(&self, ctx: &mut Ctx<'_>, e: &Event) -> Result<(), HostError> {
        let ops: Vec<Value> =
            serde_json::from_str(&e.get("ops").unwrap_or_default()).map_err(|e| HostError(e.to_string()))?;
        for op in &ops {
            apply(ctx, op)?;
        }
        if e.name == "fail" {
            return Err(HostError("failing after the writes".into()));
        }
        Ok(())
    }
}

fn app() -> App {
    let views: BTreeMap<String, String> =
        [("pages/ops.html".to_string(), r#"<div id="lv-root" data-lv>ops</div>"#.to_string())].into();
    let opts = Options {
        views: ViewsSource::Memory(views),
        // The callback's message in its error.
        dev: true,
        // Six hundred events in a second or two.
        events_per_second: 100_000,
        event_burst: 100_000,
        secret: Some("state-undo-tests-secret-0123456789abcdef".into()),
        ..Options::default()
    };
    let app = App::new(opts).expect("app");
    let spec =
        PageSpec { template: "ops".into(), regions: BTreeMap::new(), layout: None, handler: Arc::new(Ops) };
    app.register_page("/ops", spec).expect("register");
    app
}

/// xorshift64*: the same sequences on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Pointers that replace, add, create on the way, append, index past the end, or go
/// through a scalar.
const POINTERS: &[&str] = &[
    "/n",
    "/s",
    "/new",
    "/obj/a",
    "/obj/new",
    "/obj/b/0",
    "/obj/b/2/c",
    "/obj/b/2/c/d",
    "/obj/b/-",
    "/obj/b/3",
    "/obj/b/9",
    "/list/-",
    "/list/1",
    "/list/3",
    "/nil",
    "/nil/x/y",
    "/n/x",
    "/deep/er/still",
    "/list/-/x",
    "/obj/b/2",
    "/obj",
];

fn random_ops(rng: &mut Rng) -> Vec<Value> {
    let len = 1 + rng.next() % 6;
    (0..len)
        .map(|i| {
            let value = match rng.next() % 4 {
                0 => json!(i),
                1 => json!("v"),
                2 => json!({"k": [i]}),
                _ => Value::Null,
            };
            match rng.next() % 10 {
                0..=5 => json!(["set", rng.pick(POINTERS), value]),
                6 | 7 => json!(["remove", rng.pick(POINTERS)]),
                8 => json!(["mut", rng.pick(&["n", "extra"]), value]),
                _ => json!(["replace", {"n": i, "list": []}]),
            }
        })
        .collect()
}

/// The same writes on a plain value, as the library documents them.
fn model(state: &mut Value, op: &Value) {
    let pointer = op[1].as_str().unwrap_or("");
    match op[0].as_str() {
        Some("set") => set(state, pointer, op[2].clone()),
        Some("remove") => {
            if let Some((parent, last)) = pointer.rsplit_once('/') {
                match state.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(last);
                    }
                    Some(Value::Array(items)) => {
                        if let Some(i) = last.parse::<usize>().ok().filter(|&i| i < items.len()) {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some("mut") => state[op[1].as_str().unwrap_or("k")] = op[2].clone(),
        Some("replace") => *state = op[1].clone(),
        _ => {}
    }
}

/// Sets at a pointer, creating objects on the way, `-` appending; a pointer through a
/// scalar or past an array's end changes nothing.
fn set(state: &mut Value, pointer: &str, value: Value) {
    let mut probe = state.clone();
    let mut cur = &mut probe;
    if !pointer.is_empty() {
        for token in pointer[1..].split('/') {
            if cur.is_null() {
                *cur = json!({});
            }
            cur = match cur {
                Value::Object(map) => map.entry(token).or_insert(Value::Null),
                Value::Array(items) => {
                    let i = if token == "-" { items.len() } else { token.parse().unwrap_or(usize::MAX) };
                    if i > items.len() {
                        return;
                    }
                    if i == items.len() {
                        items.push(Value::Null);
                    }
                    &mut items[i]
                }
                _ => return,
            };
        }
    }
    *cur = value;
    *state = probe;
}

fn event(name: &str, ops: &[Value]) -> String {
    json!({"type": "click", "name": name, "values": {"ops": Value::Array(ops.to_vec()).to_string()}})
        .to_string()
}

#[test]
fn a_failed_callback_leaves_the_state_as_it_was() {
    let app = app();
    let mut page = TestClient::open(&app, "/ops").expect("open");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut expected: Value = serde_json::from_str(START).expect("start");
    for round in 0..300 {
        let ops = random_ops(&mut rng);
        let before = page.state().expect("state");
        assert_eq!(before, expected, "round {round}: the state drifted from the model");
        let err = page.event(&event("fail", &ops)).expect_err("the callback fails");
        assert!(err.to_string().contains("failing after the writes"), "{err}");
        assert_eq!(page.state().expect("state"), before, "round {round}: {ops:?} was not undone");
        // The same writes, kept: they change the state as they change a plain value
        // (so the next round fails from another state).
        page.event(&event("keep", &ops)).expect("the callback succeeds");
        for op in &ops {
            model(&mut expected, op);
        }
    }
}

/// The whole state written through a pointer is still a JSON object: anything else is
/// refused with the same message as a replaced state, and nothing changes.
#[test]
fn the_whole_state_set_through_a_pointer_must_be_an_object() {
    let app = app();
    let mut page = TestClient::open(&app, "/ops").expect("open");
    let before = page.state().expect("state");
    for value in [json!(5), json!("v"), json!([1]), Value::Null] {
        let err = page.event(&event("keep", &[json!(["set!", "", value])])).expect_err("refused").to_string();
        assert!(err.contains("the state must be a JSON object"), "{err}");
        assert_eq!(page.state().expect("state"), before);
    }
    page.event(&event("keep", &[json!(["set!", "", {"n": 2}])])).expect("an object is fine");
    assert_eq!(page.state().expect("state"), json!({"n": 2}));
}

/// A host that writes its whole state after each callback (as the Python and Go
/// bindings do) has only what changed since the last text parsed and set: the state
/// is still exactly the text's, and a callback that fails after such a write, with
/// more writes after it, leaves the state as it was.
#[test]
fn a_state_written_whole_again_and_again_is_the_texts_state() {
    let app = app();
    let mut page = TestClient::open(&app, "/ops").expect("open");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut expected: Value = serde_json::from_str(START).expect("start");
    // The state a few writes away from `from`, as a host's next whole state.
    let next = |rng: &mut Rng, from: &Value| {
        let mut next = from.clone();
        for op in random_ops(rng) {
            model(&mut next, &op);
        }
        next
    };
    for round in 0..300 {
        let mut first = next(&mut rng, &expected);
        let mut second = next(&mut rng, &first);
        if !first.is_object() || !second.is_object() {
            continue;
        }
        // Long enough to be compared rather than parsed whole.
        for state in [&mut first, &mut second] {
            state["pad"] = json!("p".repeat(300));
        }
        page.event(&event("keep", &[json!(["replace", first])])).expect("the first text");
        assert_eq!(page.state().expect("state"), first, "round {round}");
        // Compared with the first text: only what changed is set.
        let mut ops = vec![json!(["replace", second])];
        ops.extend(random_ops(&mut rng));
        page.event(&event("fail", &ops)).expect_err("the callback fails");
        assert_eq!(page.state().expect("state"), first, "round {round}: {ops:?} was not undone");
        page.event(&event("keep", &[json!(["replace", first])])).expect("the first text again");
        page.event(&event("keep", &[json!(["replace", second])])).expect("the second text");
        assert_eq!(page.state().expect("state"), second, "round {round}");
        expected = second;
    }
}
