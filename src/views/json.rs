//! A page's JSON state as templates see it: read where a template reads it, never
//! converted as a whole before a render.
//!
//! Converting the state into template values cost every render the size of the whole
//! state, though a region usually reads a few fields of it. Here a map or a list of
//! the state is a template object that looks its entries up in the JSON itself; only
//! the scalars a template actually reads become template values. To a template it is
//! the same as a converted value: maps iterate their keys in the same (sorted) order,
//! lists index from either end, they print alike, and two maps or lists
//! compare equal when their contents do.

use minijinja::value::{Enumerator, Object, ObjectExt, ObjectRepr, Value as TplValue};
use serde_json::Value;
use std::sync::Arc;

/// The template value of `root`, which must not change while templates hold it: a
/// state is shared behind an `Arc` and copied before it is written, so it never does.
pub fn value(root: &Arc<Value>) -> TplValue {
    node_value(root, root)
}

/// `node`, a part of `root`: a scalar as a template scalar, a map or list as a
/// [`Node`] that keeps `root` alive.
fn node_value(root: &Arc<Value>, node: &Value) -> TplValue {
    match node {
        Value::Null => TplValue::from(()),
        Value::Bool(b) => TplValue::from(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => TplValue::from(i),
            (None, Some(u)) => TplValue::from(u),
            _ => TplValue::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => TplValue::from(s.as_str()),
        Value::Array(_) | Value::Object(_) => {
            TplValue::from_object(Node { root: Arc::clone(root), node: std::ptr::from_ref(node) })
        }
    }
}

/// A map or list inside a JSON document.
struct Node {
    root: Arc<Value>,
    /// Points into `*root`, which `root` keeps alive and which nobody changes while
    /// it is shared (see [`value`]).
    node: *const Value,
}

// SAFETY: `node` is only read, and points into the `Value` that `root` owns; a
// `Value` is `Send + Sync`, and the pointer is never handed out with a longer life
// than the `Node` that holds `root`.
unsafe impl Send for Node {}
unsafe impl Sync for Node {}

impl Node {
    fn json(&self) -> &Value {
        // SAFETY: see the field's and the impls' comments: `root` outlives `&self`
        // and its value is not written while shared.
        unsafe { &*self.node }
    }

    fn len(&self) -> usize {
        match self.json() {
            Value::Array(items) => items.len(),
            Value::Object(map) => map.len(),
            _ => 0,
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&TplValue::from_serialize(self.json()), f)
    }
}

impl Object for Node {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.json() {
            Value::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &TplValue) -> Option<TplValue> {
        let found = match self.json() {
            Value::Array(items) => items.get(key.as_usize()?),
            Value::Object(map) => map.get(key.as_str()?),
            _ => None,
        };
        found.map(|node| node_value(&self.root, node))
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<TplValue> {
        match self.json() {
            Value::Object(map) => map.get(key).map(|node| node_value(&self.root, node)),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.json() {
            Value::Array(items) => Enumerator::Seq(items.len()),
            _ => self.mapped_enumerator(|this| match this.json() {
                Value::Object(map) => Box::new(map.keys().map(|k| TplValue::from(k.as_str()))),
                _ => Box::new(std::iter::empty()),
            }),
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Environment;
    use serde_json::json;

    /// Renders `template` against `state` both ways: as a [`Node`] and converted.
    fn both(template: &str, state: &Value) -> (String, String) {
        let env = Environment::new();
        let shared = Arc::new(state.clone());
        let render = |state: TplValue| {
            env.render_str(template, minijinja::context! { state => state })
                .unwrap_or_else(|e| format!("error: {e}"))
        };
        (render(value(&shared)), render(TplValue::from_serialize(state)))
    }

    #[test]
    fn reads_like_the_converted_state() {
        let state = json!({
            "count": 3, "big": u64::MAX, "ratio": 0.5, "name": "a <b>", "none": null, "yes": true,
            "rows": [{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": []}],
            "by": {"b": 2, "a": 1, "c": {"d": [1, 2, 3]}}, "empty": [], "nothing": {},
        });
        for template in [
            "{{ state.count + 1 }} {{ state.big }} {{ state.ratio }} {{ state.name }} {{ state.none }} {{ state.yes }}",
            "{% for r in state.rows %}{{ loop.index }}:{{ r.id }}={{ r.tags|join(',') }};{% endfor %}",
            "{% for k in state.by %}{{ k }}{% endfor %} {% for k, v in state.by|items %}{{ k }}{{ v }}{% endfor %}",
            "{{ state.rows[-1].id }} {{ state.rows[0]['tags'][1] }} {{ state.by.c.d[1:] }} {{ state.rows|length }}",
            "{{ state }} {{ state.by.c }}",
            "{{ state.by }} {{ state.rows[0] }} {{ state.empty }} {{ state.nothing }}",
            "{{ 'yes' if state.empty else 'no' }} {{ 'yes' if state.rows else 'no' }} {{ 'yes' if state.nothing else 'no' }}",
            "{{ state.missing is undefined }} {{ state.rows[9] is undefined }} {{ state.by.zz is defined }}",
            "{{ state.by is mapping }} {{ state.rows is sequence }} {{ state.rows[0].tags == ['x', 'y'] }}",
            "{{ state.by.c == {'d': [1, 2, 3]} }} {{ 'count' in state }} {{ 2 in state.by.c.d }}",
            "{{ state.rows|map(attribute='id')|list }} {{ state.by.c.d|reverse|list }} {{ state.by|dictsort }}",
        ] {
            let (node, converted) = both(template, &state);
            assert_eq!(node, converted, "{template}");
            assert!(!node.starts_with("error"), "{template}: {node}");
        }
    }

    #[test]
    fn a_node_keeps_its_document_alive() {
        let env = Environment::new();
        let state = Arc::new(json!({"rows": [{"id": 7}]}));
        let row = value(&state).get_attr("rows").unwrap().get_item(&TplValue::from(0)).unwrap();
        drop(state);
        assert_eq!(env.render_str("{{ row.id }}", minijinja::context! { row }).unwrap(), "7");
    }
}
