/*
 * mizulive._speedups: the binding's per-event path in C, optional.
 *
 * Every event of a Python page crosses the library three or four times: the
 * callback itself, then the state's read and write and a mark from inside it.
 * Through ctypes each crossing converts its arguments by their declared types and
 * goes through libffi, which costs more than the library's own work for the call.
 * This module does the same crossings directly:
 *
 *   - the page callbacks the library calls (mount, event, info) and its host
 *     thread's exit hook, as C functions that hold the GIL, keep the thread's
 *     Python thread state between callbacks and call the page's binding;
 *   - load_state and store_state, the state's read and write-back: lv_get_state
 *     and its JSON decoded as json.loads does, and dumps (below) into lv_set_state;
 *     set_state, mark and info_topic; all calling the library's functions through the addresses
 *     ctypes resolved (so this module links to nothing but Python);
 *   - read_event, the Event of the library's event JSON in its usual shape;
 *   - SessionCore and BindingCore, the bases of page.Session and
 *     _callbacks.PageBinding: the state's read and write-back, mark, and the event
 *     and info callbacks from the handler's lookup to the write-back, without a
 *     Python frame of the binding's between the library and the page's handler;
 *   - loads, the JSON decoder of load_state, for the binding's other JSON;
 *   - dumps, compact JSON for a value made only of dict, list, tuple, str, int,
 *     float, bool and None, exactly as json.dumps writes it with the binding's
 *     options. Anything else is declined (None), and the pure-Python encoder, which
 *     checks and explains, takes it.
 *
 * The modules that use it (_lib.py, _callbacks.py, page.py) do the same in Python
 * when it is absent: a failed build, or MIZULIVE_PURE_PYTHON=1. (SessionCore and
 * BindingCore hand what they do not do themselves to those Python classes.)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* An object slot of a class with __slots__, as its member descriptor says. */
#if PY_VERSION_HEX >= 0x030C0000
#define SLOT_OBJECT Py_T_OBJECT_EX
#define SLOT_BOOL Py_T_BOOL
#else
#include <structmember.h>
#define SLOT_OBJECT T_OBJECT_EX
#define SLOT_BOOL T_BOOL
#endif

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o) {
    Py_INCREF(o);
    return o;
}
#endif

/* LV_ERR_CALLBACK in mizulive.h: what a callback that failed answers. */
#define LV_ERR_CALLBACK 10

/* Nesting beyond this is declined: json's encoder then handles it (and names a
 * circular reference). */
#define MAX_DEPTH 100

typedef int (*lv_callback_fn)(void *ctx, const char *json, void *user_data);
typedef const char *(*lv_get_state_fn)(void *ctx);
/* lv_set_state and lv_mark: a status for a context and a text. */
typedef int (*lv_text_fn)(void *ctx, const char *text);
typedef const char *(*lv_info_topic_fn)(void *ctx);
typedef void *(*lv_state_cache_fn)(void *ctx, int *fresh);
typedef int (*lv_set_state_cache_fn)(void *ctx, void *value, void (*drop)(void *));

static lv_get_state_fn lv_get_state;
static lv_text_fn lv_set_state;
static lv_text_fn lv_mark;
static lv_info_topic_fn lv_info_topic;
static lv_state_cache_fn lv_state_cache;
static lv_set_state_cache_fn lv_set_state_cache;

/* key -> binding (_callbacks._objects), and the function that logs an exception
 * that escaped a binding (_callbacks._last_resort). Set by bind(). */
static PyObject *bindings;
static PyObject *last_resort;
static PyObject *name_mount, *name_event, *name_info;

/* This thread holds one extra PyGILState_Ensure, so its thread state outlives each
 * callback (creating one per callback costs more than most callbacks). Released by
 * the library's thread-exit hook, on_thread_exit. */
static _Thread_local int kept;
/* This thread is inside a callback (in_callback()). */
static _Thread_local int busy;

static void keep(void) {
    if (!kept) {
        /* The GIL is held here, so this returns PyGILState_LOCKED. */
        (void)PyGILState_Ensure();
        kept = 1;
    }
}

/* Kept states (see "the kept state" below) the library let go of: a session left this
 * node, or another value took the place of one. The library may do that on any
 * thread, without the GIL, so the state waits here for the next callback, which
 * holds the GIL, to release it. */
typedef struct dropped {
    PyObject *state;
    struct dropped *next;
} dropped;

static _Atomic(dropped *) to_release;

static void drop_state(void *state) {
    dropped *d = malloc(sizeof *d);
    if (d == NULL) {
        return; /* the state stays: nothing can free it without the GIL */
    }
    d->state = state;
    d->next = atomic_load_explicit(&to_release, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&to_release, &d->next, d, memory_order_release,
                                                  memory_order_relaxed)) {
    }
}

/* Releases the states dropped so far; the GIL is held. They hold only dicts, lists,
 * str, int, bool and None: releasing them runs no Python code. */
static void release_dropped(void) {
    dropped *d = atomic_exchange_explicit(&to_release, NULL, memory_order_acquire);
    while (d != NULL) {
        dropped *next = d->next;
        Py_DECREF(d->state);
        free(d);
        d = next;
    }
}

/* The exception being raised, with its traceback, as `except BaseException as e`
 * sees it (a new reference; NULL when none is); no exception is left set. */
static PyObject *take_exception(void) {
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *trace;
    PyErr_Fetch(&type, &value, &trace);
    PyErr_NormalizeException(&type, &value, &trace);
    if (value != NULL && trace != NULL) {
        PyException_SetTraceback(value, trace);
    }
    Py_XDECREF(type);
    Py_XDECREF(trace);
    return value;
#endif
}

/* Hands the exception being raised to _callbacks._last_resort(where, exc), which
 * logs it; when that fails too, nothing is left to tell. */
static void report(const char *where) {
    PyObject *value = take_exception();
    if (last_resort != NULL && value != NULL) {
        PyObject *result = PyObject_CallFunction(last_resort, "sO", where, value);
        Py_XDECREF(result);
    }
    Py_XDECREF(value);
    PyErr_Clear();
}

typedef struct BindingCore BindingCore;
static PyTypeObject binding_core_type;
static int binding_event(BindingCore *self, void *ctx, const char *text);
static int binding_info(BindingCore *self, void *ctx, const char *text);

/* An int result as a status (>= 0), or -1 with an exception set. Takes result. */
static int status_of_result(PyObject *result) {
    if (result == NULL) {
        return -1;
    }
    long value = PyLong_AsLong(result);
    Py_DECREF(result);
    if (value < 0 || value > INT_MAX) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_ValueError, "a callback's status is >= 0, not %ld", value);
        }
        return -1;
    }
    return (int)value;
}

/* fn(self, ctx, json), or self.<fn>(ctx, json) when fn is a str: its status, or -1
 * with an exception set. */
static int call_binding(PyObject *fn, PyObject *self, void *ctx, const char *json) {
    /* args[0] is the callee's to use (PY_VECTORCALL_ARGUMENTS_OFFSET): the call
     * takes args + 1, and may write the slot before it. */
    PyObject *args[4] = {NULL, self, PyLong_FromVoidPtr(ctx), NULL};
    args[3] = json == NULL ? Py_NewRef(Py_None) : PyBytes_FromString(json);
    PyObject *result = NULL;
    if (args[2] != NULL && args[3] != NULL) {
        size_t n = 3 | PY_VECTORCALL_ARGUMENTS_OFFSET;
        result = PyUnicode_Check(fn) ? PyObject_VectorcallMethod(fn, args + 1, n, NULL)
                                     : PyObject_Vectorcall(fn, args + 1, n, NULL);
    }
    Py_XDECREF(args[2]);
    Py_XDECREF(args[3]);
    return status_of_result(result);
}

/* binding.<method>(ctx, json) for the binding registered under user_data; its int
 * result is the callback's. No exception leaves: one is logged and the callback
 * answers LV_ERR_CALLBACK, so the session keeps its previous state. */
static int dispatch(void *ctx, const char *json, void *user_data, PyObject *method, const char *where) {
    PyGILState_STATE gil = PyGILState_Ensure();
    int rc = LV_ERR_CALLBACK;
    int was_busy = busy;
    keep();
    busy = 1;
    if (atomic_load_explicit(&to_release, memory_order_relaxed) != NULL) {
        release_dropped();
    }
    PyObject *key = PyLong_FromVoidPtr(user_data);
    PyObject *binding = key == NULL ? NULL : PyDict_GetItemWithError(bindings, key);
    Py_XDECREF(key);
    if (binding == NULL && !PyErr_Occurred()) {
        PyErr_Format(PyExc_KeyError, "no page is registered under %p", user_data);
    }
    if (binding != NULL) {
        Py_INCREF(binding); /* the dict's reference is borrowed */
        int status = method == name_mount || !PyObject_TypeCheck(binding, &binding_core_type)
                         ? call_binding(method, binding, ctx, json)
                     : method == name_event ? binding_event((BindingCore *)binding, ctx, json)
                                            : binding_info((BindingCore *)binding, ctx, json);
        if (status >= 0) {
            rc = status;
        }
        Py_DECREF(binding);
    }
    busy = was_busy;
    if (PyErr_Occurred()) {
        report(where);
        rc = LV_ERR_CALLBACK;
    }
    PyGILState_Release(gil);
    return rc;
}

static int on_mount(void *ctx, const char *params, void *user_data) {
    return dispatch(ctx, params, user_data, name_mount, "on_mount");
}

static int on_event(void *ctx, const char *event, void *user_data) {
    return dispatch(ctx, event, user_data, name_event, "on_event");
}

static int on_info(void *ctx, const char *msg, void *user_data) {
    return dispatch(ctx, msg, user_data, name_info, "on_info");
}

/* The library's hook as a host thread ends: drops the thread state kept for it. */
static void on_thread_exit(void *user_data) {
    (void)user_data;
    if (!kept) {
        return;
    }
    /* The thread holds no GIL here: this takes it and returns UNLOCKED. Releasing
     * the kept Ensure first leaves this one, whose release frees the thread state. */
    PyGILState_STATE gil = PyGILState_Ensure();
    kept = 0;
    PyGILState_Release(PyGILState_LOCKED);
    PyGILState_Release(gil);
}

static int address(PyObject *arg, void **out, const char *what) {
    void *p = PyLong_AsVoidPtr(arg);
    if (p == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_ValueError, "%s is a NULL address", what);
        }
        return -1;
    }
    *out = p;
    return 0;
}

static int arity(const char *name, Py_ssize_t nargs, Py_ssize_t want) {
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, want, nargs);
        return -1;
    }
    return 0;
}

static PyObject *address_of(lv_callback_fn fn) {
    return PyLong_FromVoidPtr((void *)(uintptr_t)fn);
}

PyDoc_STRVAR(setup_doc,
             "setup(get_state, set_state, mark, info_topic, state_cache, set_state_cache)\n--\n\n"
             "Takes the addresses of lv_get_state, lv_set_state, lv_mark, lv_info_topic,\n"
             "lv_state_cache and lv_set_state_cache.");

static PyObject *setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    void *get, *set, *mark, *topic, *cache, *set_cache;
    if (arity("setup", nargs, 6) < 0 || address(args[0], &get, "lv_get_state") < 0 ||
        address(args[1], &set, "lv_set_state") < 0 || address(args[2], &mark, "lv_mark") < 0 ||
        address(args[3], &topic, "lv_info_topic") < 0 || address(args[4], &cache, "lv_state_cache") < 0 ||
        address(args[5], &set_cache, "lv_set_state_cache") < 0) {
        return NULL;
    }
    lv_get_state = (lv_get_state_fn)(uintptr_t)get;
    lv_set_state = (lv_text_fn)(uintptr_t)set;
    lv_mark = (lv_text_fn)(uintptr_t)mark;
    lv_info_topic = (lv_info_topic_fn)(uintptr_t)topic;
    lv_state_cache = (lv_state_cache_fn)(uintptr_t)cache;
    lv_set_state_cache = (lv_set_state_cache_fn)(uintptr_t)set_cache;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(bind_doc,
             "bind(bindings, last_resort)\n--\n\n"
             "Takes the dict of page bindings by key and the function that logs what escapes\n"
             "one; returns the addresses of on_mount, on_event, on_info and on_thread_exit.");

static PyObject *bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (arity("bind", nargs, 2) < 0) {
        return NULL;
    }
    if (!PyDict_CheckExact(args[0]) || !PyCallable_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "bind() takes a dict and a callable");
        return NULL;
    }
    Py_XDECREF(bindings);
    bindings = Py_NewRef(args[0]);
    Py_XDECREF(last_resort);
    last_resort = Py_NewRef(args[1]);
    PyObject *exit_address = PyLong_FromVoidPtr((void *)(uintptr_t)on_thread_exit);
    if (exit_address == NULL) {
        return NULL;
    }
    return Py_BuildValue("NNNN", address_of(on_mount), address_of(on_event), address_of(on_info), exit_address);
}

static int ctx_of(PyObject *arg, void **ctx) {
    *ctx = PyLong_AsVoidPtr(arg);
    return *ctx == NULL && PyErr_Occurred() ? -1 : 0;
}

static int ready(void) {
    if (lv_get_state == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "mizulive._speedups.setup() was not called");
        return -1;
    }
    return 0;
}

/* (ctx, bytes) for set_state and mark. */
static int ctx_and_bytes(const char *name, PyObject *const *args, Py_ssize_t nargs, void **ctx, const char **text) {
    if (arity(name, nargs, 2) < 0 || ready() < 0 || ctx_of(args[0], ctx) < 0) {
        return -1;
    }
    if (!PyBytes_Check(args[1])) {
        PyErr_Format(PyExc_TypeError, "%s() takes bytes, not %.100s", name, Py_TYPE(args[1])->tp_name);
        return -1;
    }
    *text = PyBytes_AS_STRING(args[1]);
    if (strlen(*text) != (size_t)PyBytes_GET_SIZE(args[1])) {
        PyErr_Format(PyExc_ValueError, "%s() takes bytes without NUL", name);
        return -1;
    }
    return 0;
}

/* fn(ctx, text) for the (ctx, bytes) arguments of `name`: its status. */
static PyObject *status_of(const char *name, lv_text_fn fn, PyObject *const *args, Py_ssize_t nargs) {
    void *ctx;
    const char *text;
    if (ctx_and_bytes(name, args, nargs, &ctx, &text) < 0) {
        return NULL;
    }
    return PyLong_FromLong(fn(ctx, text));
}

PyDoc_STRVAR(set_state_doc,
             "set_state(ctx, json)\n--\n\n"
             "lv_set_state(ctx, json): its status.");

static PyObject *set_state(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    return status_of("set_state", lv_set_state, args, nargs);
}

PyDoc_STRVAR(mark_doc,
             "mark(ctx, id)\n--\n\n"
             "lv_mark(ctx, id): its status.");

static PyObject *mark(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    return status_of("mark", lv_mark, args, nargs);
}

PyDoc_STRVAR(info_topic_doc,
             "info_topic(ctx)\n--\n\n"
             "lv_info_topic(ctx) as str (invalid UTF-8 replaced), or None.");

static PyObject *info_topic(PyObject *module, PyObject *arg) {
    (void)module;
    void *ctx;
    if (ready() < 0 || ctx_of(arg, &ctx) < 0) {
        return NULL;
    }
    const char *topic = lv_info_topic(ctx);
    if (topic == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_DecodeUTF8(topic, (Py_ssize_t)strlen(topic), "replace");
}

PyDoc_STRVAR(keep_thread_state_doc,
             "keep_thread_state()\n--\n\n"
             "Keeps this thread's Python thread state until the library's thread-exit hook\n"
             "(for the callbacks that still go through ctypes).");

static PyObject *keep_thread_state(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    keep();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(in_callback_doc,
             "in_callback()\n--\n\n"
             "True on a library thread while it runs one of this module's callbacks.");

static PyObject *in_callback(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyBool_FromLong(busy);
}

/* -- dumps */

/* A growing byte buffer that starts in itself: a small state needs no allocation.
 * Not to be copied once initialized (data may point into it). */
typedef struct {
    char *data;
    size_t len, cap;
    char first[256];
} buffer;

static void buffer_init(buffer *b) {
    b->data = b->first;
    b->len = 0;
    b->cap = sizeof b->first;
}

static void buffer_free(buffer *b) {
    if (b->data != b->first) {
        PyMem_Free(b->data);
    }
}

static int grow(buffer *b, size_t more) {
    if (b->cap - b->len >= more) {
        return 0;
    }
    size_t cap = b->cap * 2;
    while (cap - b->len < more) {
        cap *= 2;
    }
    char *data = b->data == b->first ? PyMem_Malloc(cap) : PyMem_Realloc(b->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (b->data == b->first) {
        memcpy(data, b->first, b->len);
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int put(buffer *b, const char *s, size_t n) {
    if (grow(b, n) < 0) {
        return -1;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static int put_char(buffer *b, char c) {
    if (b->len == b->cap && grow(b, 1) < 0) {
        return -1;
    }
    b->data[b->len++] = c;
    return 0;
}

/* What encode() does with a value. */
enum { WRITTEN = 0, DECLINED = 1, FAILED = -1 };

/* A JSON string as json's encoder with ensure_ascii=False writes it: quotes,
 * backslashes and control characters escaped, everything else as UTF-8. A string
 * with a lone surrogate has no UTF-8 and is declined. */
static int encode_str(buffer *b, PyObject *s) {
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(s, &n);
    if (utf8 == NULL) {
        PyErr_Clear();
        return DECLINED;
    }
    /* Worst case: every byte a \u00XX. */
    if (grow(b, (size_t)n * 6 + 2) < 0) {
        return FAILED;
    }
    char *out = b->data + b->len;
    *out++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)utf8[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *out++ = (char)c;
            continue;
        }
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = "0123456789abcdef"[c >> 4];
            *out++ = "0123456789abcdef"[c & 0xf];
        }
    }
    *out++ = '"';
    b->len = (size_t)(out - b->data);
    return WRITTEN;
}

/* encode()'s `exact`, when not NULL, starts at 1 and ends at 0 unless the library,
 * which keeps the JSON, would give back a value equal to the one written, with every
 * dict's keys in the same order, and nothing outside it could change any of its
 * containers: no tuple (it comes back a list), every dict's keys in ascending order
 * (the library's objects are sorted), and every dict and list below the top held
 * once, by its container (the top's holders are the caller's to count). A float
 * comes back as it is: repr writes the shortest text that reads back as it, and the
 * library reads and writes floats exactly. See keep_state(). */
static int encode(buffer *b, PyObject *v, int depth, int *exact);

static int encode_items(buffer *b, PyObject *const *items, Py_ssize_t n, int depth, int *exact) {
    if (put_char(b, '[') < 0) {
        return FAILED;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i > 0 && put_char(b, ',') < 0) {
            return FAILED;
        }
        int r = encode(b, items[i], depth + 1, exact);
        if (r != WRITTEN) {
            return r;
        }
    }
    return put_char(b, ']');
}

static int encode_dict(buffer *b, PyObject *d, int depth, int *exact) {
    Py_ssize_t pos = 0;
    PyObject *key, *value, *last = NULL;
    int first = 1;
    if (put_char(b, '{') < 0) {
        return FAILED;
    }
    /* Nothing below runs Python code, so the dict cannot change meanwhile. */
    while (PyDict_Next(d, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) {
            return DECLINED;
        }
        if (!first && put_char(b, ',') < 0) {
            return FAILED;
        }
        first = 0;
        if (exact != NULL && *exact && last != NULL) {
            int order = PyUnicode_Compare(last, key);
            if (order == -1 && PyErr_Occurred()) {
                return FAILED;
            }
            *exact = order < 0;
        }
        last = key;
        int r = encode_str(b, key);
        if (r != WRITTEN) {
            return r;
        }
        if (put_char(b, ':') < 0) {
            return FAILED;
        }
        r = encode(b, value, depth + 1, exact);
        if (r != WRITTEN) {
            return r;
        }
    }
    return put_char(b, '}');
}

static int encode(buffer *b, PyObject *v, int depth, int *exact) {
    if (depth > MAX_DEPTH) {
        return DECLINED;
    }
    PyTypeObject *type = Py_TYPE(v);
    if (exact != NULL && depth > 0 && (type == &PyDict_Type || type == &PyList_Type) && Py_REFCNT(v) != 1) {
        *exact = 0;
    }
    if (type == &PyUnicode_Type) {
        return encode_str(b, v);
    }
    if (type == &PyLong_Type) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow != 0) {
            return DECLINED; /* json's path writes [2**63, 2**64) and refuses the rest */
        }
        char digits[24];
        char *end = digits + sizeof digits, *at = end;
        unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
        do {
            *--at = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (n < 0) {
            *--at = '-';
        }
        return put(b, at, (size_t)(end - at)) < 0 ? FAILED : WRITTEN;
    }
    if (v == Py_None) {
        return put(b, "null", 4) < 0 ? FAILED : WRITTEN;
    }
    if (v == Py_True) {
        return put(b, "true", 4) < 0 ? FAILED : WRITTEN;
    }
    if (v == Py_False) {
        return put(b, "false", 5) < 0 ? FAILED : WRITTEN;
    }
    if (type == &PyFloat_Type) {
        double d = PyFloat_AS_DOUBLE(v);
        if (!isfinite(d)) {
            return DECLINED; /* json's path refuses it, and says so */
        }
        /* float.__repr__, which json writes floats with. */
        char *repr = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (repr == NULL) {
            return FAILED;
        }
        int r = put(b, repr, strlen(repr)) < 0 ? FAILED : WRITTEN;
        PyMem_Free(repr);
        return r;
    }
    if (type == &PyDict_Type) {
        return encode_dict(b, v, depth, exact);
    }
    if (type == &PyList_Type) {
        return encode_items(b, PySequence_Fast_ITEMS(v), PyList_GET_SIZE(v), depth, exact);
    }
    if (type == &PyTuple_Type) {
        if (exact != NULL) {
            *exact = 0;
        }
        return encode_items(b, PySequence_Fast_ITEMS(v), PyTuple_GET_SIZE(v), depth, exact);
    }
    return DECLINED;
}

PyDoc_STRVAR(dumps_doc,
             "dumps(value)\n--\n\n"
             "Compact UTF-8 JSON of a value made of dict (str keys), list, tuple, str, int\n"
             "(64-bit), finite float, bool and None, as json.dumps(value, separators=(',', ':'),\n"
             "ensure_ascii=False) writes it; None for anything else.");

static PyObject *dumps(PyObject *module, PyObject *value) {
    (void)module;
    buffer b;
    buffer_init(&b);
    int r = encode(&b, value, 0, NULL);
    PyObject *result = NULL;
    if (r == WRITTEN) {
        result = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    } else if (r == DECLINED) {
        result = Py_NewRef(Py_None);
    }
    buffer_free(&b);
    return result;
}

PyDoc_STRVAR(store_state_doc,
             "store_state(ctx, state)\n--\n\n"
             "lv_set_state(ctx, dumps(state)): its status, or None when dumps declines the\n"
             "state (and nothing was written).");

/* lv_set_state(ctx, dumps(state)), its status in *status: WRITTEN, or DECLINED
 * (nothing written) or FAILED (an exception set). `exact` as encode() has it. */
static int store(void *ctx, PyObject *state, int *status, int *exact) {
    buffer b;
    buffer_init(&b);
    int r = encode(&b, state, 0, exact);
    if (r == WRITTEN) {
        if (put_char(&b, '\0') == 0) {
            *status = lv_set_state(ctx, b.data);
        } else {
            r = FAILED;
        }
    }
    buffer_free(&b);
    return r;
}

static PyObject *store_state(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    void *ctx;
    if (arity("store_state", nargs, 2) < 0 || ready() < 0 || ctx_of(args[0], &ctx) < 0) {
        return NULL;
    }
    int status;
    switch (store(ctx, args[1], &status, NULL)) {
    case WRITTEN:
        return PyLong_FromLong(status);
    case DECLINED:
        Py_RETURN_NONE;
    default:
        return NULL;
    }
}

/* -- load_state: the state's JSON as json.loads reads it */

/* How many object keys a parse remembers, to make a key it meets again (the fields
 * of a list of records) the same str without decoding or hashing it again. */
#define SEEN_KEYS 16

typedef struct {
    const char *at, *end;
    /* Keys without escapes read so far: their text in the input, and their str. */
    struct {
        const char *text;
        Py_ssize_t len;
        PyObject *str;
    } seen[SEEN_KEYS];
    int n_seen;
    /* A scratch buffer for strings with escapes. */
    buffer text;
} parser;

/* Raises the ValueError that makes load_state's caller read the text with json. */
static PyObject *unreadable(const char *why) {
    PyErr_SetString(PyExc_ValueError, why);
    return NULL;
}

static void skip_space(parser *p) {
    while (p->at < p->end && (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r')) {
        p->at++;
    }
}

static int hex4(const char *at, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = at[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* A string whose opening quote p->at is past; escapes through the scratch buffer. */
static PyObject *parse_string(parser *p) {
    const char *start = p->at;
    int ascii = 1;
    while (p->at < p->end) {
        unsigned char c = (unsigned char)*p->at;
        if (c == '"') {
            Py_ssize_t n = p->at - start;
            p->at++;
            if (ascii) {
                PyObject *s = PyUnicode_New(n, 127);
                if (s != NULL) {
                    memcpy(PyUnicode_DATA(s), start, (size_t)n);
                }
                return s;
            }
            return PyUnicode_DecodeUTF8(start, n, "strict");
        }
        if (c == '\\') {
            break;
        }
        if (c < 0x20) {
            return unreadable("a control character in a string");
        }
        ascii &= c < 0x80;
        p->at++;
    }
    /* With escapes: the plain run so far, then the rest decoded into the buffer. */
    buffer *b = &p->text;
    b->len = 0;
    if (put(b, start, (size_t)(p->at - start)) < 0) {
        return NULL;
    }
    while (p->at < p->end) {
        char c = *p->at++;
        if (c == '"') {
            return PyUnicode_DecodeUTF8(b->data, (Py_ssize_t)b->len, "strict");
        }
        if ((unsigned char)c < 0x20) {
            return unreadable("a control character in a string");
        }
        if (c != '\\') {
            if (put_char(b, c) < 0) {
                return NULL;
            }
            continue;
        }
        if (p->at >= p->end) {
            break;
        }
        char e = *p->at++;
        char simple;
        switch (e) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        default: simple = 0;
        }
        if (simple != 0) {
            if (put_char(b, simple) < 0) {
                return NULL;
            }
            continue;
        }
        unsigned cp;
        if (e != 'u' || p->end - p->at < 4 || hex4(p->at, &cp) < 0) {
            return unreadable("a bad escape in a string");
        }
        p->at += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {
            unsigned low;
            if (p->end - p->at < 6 || p->at[0] != '\\' || p->at[1] != 'u' || hex4(p->at + 2, &low) < 0 ||
                low < 0xDC00 || low >= 0xE000) {
                return unreadable("a lone surrogate in a string"); /* json keeps it; UTF-8 cannot */
            }
            p->at += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            return unreadable("a lone surrogate in a string");
        }
        char utf8[4];
        size_t n;
        if (cp < 0x80) {
            utf8[0] = (char)cp;
            n = 1;
        } else if (cp < 0x800) {
            utf8[0] = (char)(0xC0 | (cp >> 6));
            utf8[1] = (char)(0x80 | (cp & 0x3F));
            n = 2;
        } else if (cp < 0x10000) {
            utf8[0] = (char)(0xE0 | (cp >> 12));
            utf8[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            utf8[2] = (char)(0x80 | (cp & 0x3F));
            n = 3;
        } else {
            utf8[0] = (char)(0xF0 | (cp >> 18));
            utf8[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            utf8[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
            utf8[3] = (char)(0x80 | (cp & 0x3F));
            n = 4;
        }
        if (put(b, utf8, n) < 0) {
            return NULL;
        }
    }
    return unreadable("an unterminated string");
}

static int digits(parser *p) {
    const char *start = p->at;
    while (p->at < p->end && *p->at >= '0' && *p->at <= '9') {
        p->at++;
    }
    return p->at > start;
}

/* A number as json reads it: an int without fraction or exponent, else a float. */
static PyObject *parse_number(parser *p) {
    const char *start = p->at;
    if (*p->at == '-') {
        p->at++;
    }
    const char *first = p->at;
    if (!digits(p) || (*first == '0' && p->at - first > 1)) {
        return unreadable("a bad number");
    }
    int integer = 1;
    if (p->at < p->end && *p->at == '.') {
        p->at++;
        integer = 0;
        if (!digits(p)) {
            return unreadable("a bad number");
        }
    }
    if (p->at < p->end && (*p->at == 'e' || *p->at == 'E')) {
        p->at++;
        integer = 0;
        if (p->at < p->end && (*p->at == '+' || *p->at == '-')) {
            p->at++;
        }
        if (!digits(p)) {
            return unreadable("a bad number");
        }
    }
    size_t n = (size_t)(p->at - start);
    if (integer && p->at - first <= 18) {
        long long v = 0;
        for (const char *d = first; d < p->at; d++) {
            v = v * 10 + (*d - '0');
        }
        return PyLong_FromLongLong(*start == '-' ? -v : v);
    }
    char small[64];
    char *text = n < sizeof small ? small : PyMem_Malloc(n + 1);
    if (text == NULL) {
        return PyErr_NoMemory();
    }
    memcpy(text, start, n);
    text[n] = '\0';
    PyObject *result;
    if (integer) {
        result = PyLong_FromString(text, NULL, 10);
    } else {
        double d = PyOS_string_to_double(text, NULL, NULL);
        result = d == -1.0 && PyErr_Occurred() ? NULL : PyFloat_FromDouble(d);
    }
    if (text != small) {
        PyMem_Free(text);
    }
    return result;
}

static PyObject *parse_value(parser *p, int depth);

static PyObject *parse_array(parser *p, int depth) {
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    skip_space(p);
    if (p->at < p->end && *p->at == ']') {
        p->at++;
        return list;
    }
    for (;;) {
        PyObject *item = parse_value(p, depth + 1);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
        skip_space(p);
        if (p->at < p->end && *p->at == ',') {
            p->at++;
            continue;
        }
        if (p->at < p->end && *p->at == ']') {
            p->at++;
            return list;
        }
        Py_DECREF(list);
        return unreadable("a bad array");
    }
}

/* An object key, whose opening quote p->at is past: one met before is the str read
 * then, the rest are read as strings (and remembered while there is room). */
static PyObject *parse_key(parser *p) {
    const char *start = p->at;
    const char *quote = memchr(start, '"', (size_t)(p->end - start));
    if (quote == NULL || memchr(start, '\\', (size_t)(quote - start)) != NULL) {
        return parse_string(p); /* escapes: not remembered */
    }
    Py_ssize_t len = quote - start;
    for (int i = 0; i < p->n_seen; i++) {
        if (p->seen[i].len == len && memcmp(p->seen[i].text, start, (size_t)len) == 0) {
            p->at = quote + 1;
            return Py_NewRef(p->seen[i].str);
        }
    }
    PyObject *key = parse_string(p);
    if (key != NULL && p->n_seen < SEEN_KEYS) {
        p->seen[p->n_seen].text = start;
        p->seen[p->n_seen].len = len;
        p->seen[p->n_seen].str = Py_NewRef(key);
        p->n_seen++;
    }
    return key;
}

static PyObject *parse_object(parser *p, int depth) {
    PyObject *dict = PyDict_New();
    if (dict == NULL) {
        return NULL;
    }
    skip_space(p);
    if (p->at < p->end && *p->at == '}') {
        p->at++;
        return dict;
    }
    for (;;) {
        skip_space(p);
        if (p->at >= p->end || *p->at != '"') {
            Py_DECREF(dict);
            return unreadable("a bad object key");
        }
        p->at++;
        PyObject *key = parse_key(p);
        if (key == NULL) {
            Py_DECREF(dict);
            return NULL;
        }
        skip_space(p);
        if (p->at >= p->end || *p->at != ':') {
            Py_DECREF(key);
            Py_DECREF(dict);
            return unreadable("a bad object");
        }
        p->at++;
        PyObject *value = parse_value(p, depth + 1);
        int failed = value == NULL || PyDict_SetItem(dict, key, value) < 0;
        Py_DECREF(key);
        Py_XDECREF(value);
        if (failed) {
            Py_DECREF(dict);
            return NULL;
        }
        skip_space(p);
        if (p->at < p->end && *p->at == ',') {
            p->at++;
            continue;
        }
        if (p->at < p->end && *p->at == '}') {
            p->at++;
            return dict;
        }
        Py_DECREF(dict);
        return unreadable("a bad object");
    }
}

static PyObject *parse_value(parser *p, int depth) {
    if (depth > MAX_DEPTH) {
        return unreadable("nested too deep");
    }
    skip_space(p);
    if (p->at >= p->end) {
        return unreadable("the text ends early");
    }
    switch (*p->at) {
    case '{': p->at++; return parse_object(p, depth);
    case '[': p->at++; return parse_array(p, depth);
    case '"': p->at++; return parse_string(p);
    case 't':
        if (p->end - p->at >= 4 && memcmp(p->at, "true", 4) == 0) {
            p->at += 4;
            Py_RETURN_TRUE;
        }
        break;
    case 'f':
        if (p->end - p->at >= 5 && memcmp(p->at, "false", 5) == 0) {
            p->at += 5;
            Py_RETURN_FALSE;
        }
        break;
    case 'n':
        if (p->end - p->at >= 4 && memcmp(p->at, "null", 4) == 0) {
            p->at += 4;
            Py_RETURN_NONE;
        }
        break;
    default:
        if (*p->at == '-' || (*p->at >= '0' && *p->at <= '9')) {
            return parse_number(p);
        }
    }
    return unreadable("not JSON");
}

/* The value of the JSON text [text, text + n), which must hold exactly one. */
static PyObject *parse(const char *text, size_t n) {
    parser p;
    p.at = text;
    p.end = text + n;
    p.n_seen = 0;
    buffer_init(&p.text);
    PyObject *value = parse_value(&p, 0);
    if (value != NULL) {
        skip_space(&p);
        if (p.at != p.end) {
            Py_SETREF(value, unreadable("text after the value"));
        }
    }
    for (int i = 0; i < p.n_seen; i++) {
        Py_DECREF(p.seen[i].str);
    }
    buffer_free(&p.text);
    return value;
}

PyDoc_STRVAR(loads_doc,
             "loads(text)\n--\n\n"
             "The value of the JSON bytes, as json.loads reads it; ValueError for what is not\n"
             "JSON, or strings with a lone surrogate escape or nesting deeper than it reads\n"
             "(which json.loads reads).");

static PyObject *loads(PyObject *module, PyObject *text) {
    (void)module;
    if (!PyBytes_Check(text)) {
        PyErr_Format(PyExc_TypeError, "loads() takes bytes, not %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    return parse(PyBytes_AS_STRING(text), (size_t)PyBytes_GET_SIZE(text));
}

PyDoc_STRVAR(load_state_doc,
             "load_state(ctx)\n--\n\n"
             "loads(lv_get_state(ctx)), or None when lv_get_state fails.");

static PyObject *load_state(PyObject *module, PyObject *arg) {
    (void)module;
    void *ctx;
    if (ready() < 0 || ctx_of(arg, &ctx) < 0) {
        return NULL;
    }
    const char *json = lv_get_state(ctx);
    if (json == NULL) {
        Py_RETURN_NONE;
    }
    return parse(json, strlen(json));
}

/* -- read_event */

/* The page's Event and KeyMeta classes (set_event_types). */
static PyObject *event_type, *key_meta_type;

/* Event's slots, in the order of its arguments, and where each sits in an instance
 * (read from the class's slot descriptors by set_event_types). */
static const char *const event_slot_names[8] = {"type", "name", "target", "values", "form", "field", "key", "_meta"};
static Py_ssize_t event_slot_offsets[8];

/* A reader over the event JSON as the library writes it (src/protocol:
 * Event::write_json): fields in one order, no whitespace. */
typedef struct {
    const char *at, *end;
} reader;

static int literal(reader *r, const char *text) {
    size_t n = strlen(text);
    if ((size_t)(r->end - r->at) < n || memcmp(r->at, text, n) != 0) {
        return 0;
    }
    r->at += n;
    return 1;
}

/* A string without escapes, as a str in *out (a new reference). 0 for anything else,
 * with no Python error set. */
static int plain(reader *r, PyObject **out) {
    if (r->at >= r->end || *r->at != '"') {
        return 0;
    }
    const char *start = ++r->at;
    while (r->at < r->end && *r->at != '"') {
        unsigned char c = (unsigned char)*r->at;
        if (c == '\\' || c < 0x20) {
            return 0;
        }
        r->at++;
    }
    if (r->at >= r->end) {
        return 0;
    }
    *out = PyUnicode_DecodeUTF8(start, r->at - start, "strict");
    r->at++;
    if (*out == NULL) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* null, or a string without escapes. */
static int plain_or_null(reader *r, PyObject **out) {
    if (literal(r, "null")) {
        *out = Py_NewRef(Py_None);
        return 1;
    }
    return plain(r, out);
}

/* [] or ["...",...] of strings without escapes, as a list. */
static int plain_list(reader *r, PyObject **out) {
    if (!literal(r, "[")) {
        return 0;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (!literal(r, "]")) {
        do {
            PyObject *item;
            if (!plain(r, &item)) {
                Py_DECREF(list);
                return 0;
            }
            int failed = PyList_Append(list, item);
            Py_DECREF(item);
            if (failed) {
                PyErr_Clear();
                Py_DECREF(list);
                return 0;
            }
        } while (literal(r, ","));
        if (!literal(r, "]")) {
            Py_DECREF(list);
            return 0;
        }
    }
    *out = list;
    return 1;
}

/* {} or {"key":value,...}, each value read by `value`, as a dict. */
static int flat_object(reader *r, int (*value)(reader *, PyObject **), PyObject **out) {
    if (!literal(r, "{")) {
        return 0;
    }
    PyObject *dict = PyDict_New();
    if (dict == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (!literal(r, "}")) {
        do {
            PyObject *key, *item;
            if (!plain(r, &key)) {
                Py_DECREF(dict);
                return 0;
            }
            if (!literal(r, ":") || !value(r, &item)) {
                Py_DECREF(key);
                Py_DECREF(dict);
                return 0;
            }
            int failed = PyDict_SetItem(dict, key, item);
            Py_DECREF(key);
            Py_DECREF(item);
            if (failed) {
                PyErr_Clear();
                Py_DECREF(dict);
                return 0;
            }
        } while (literal(r, ","));
        if (!literal(r, "}")) {
            Py_DECREF(dict);
            return 0;
        }
    }
    *out = dict;
    return 1;
}

static int flag(reader *r, const char *name, int *on) {
    if (!literal(r, name)) {
        return 0;
    }
    if (literal(r, "true")) {
        *on = 1;
        return 1;
    }
    *on = 0;
    return literal(r, "false");
}

PyDoc_STRVAR(set_event_types_doc,
             "set_event_types(Event, KeyMeta)\n--\n\n"
             "The classes read_event builds.");

static PyObject *set_event_types(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (arity("set_event_types", nargs, 2) < 0) {
        return NULL;
    }
    if (!PyType_Check(args[0]) || !PyType_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "set_event_types() takes two classes");
        return NULL;
    }
    /* Each field a slot of the class itself (a member holding an object), so that
     * make_event can fill it in place. */
    Py_ssize_t offsets[8];
    for (int i = 0; i < 8; i++) {
        PyObject *slot = PyObject_GetAttrString(args[0], event_slot_names[i]);
        int member = slot != NULL && Py_IS_TYPE(slot, &PyMemberDescr_Type) &&
                     ((PyMemberDescrObject *)slot)->d_member->type == SLOT_OBJECT;
        if (member) {
            offsets[i] = ((PyMemberDescrObject *)slot)->d_member->offset;
        }
        Py_XDECREF(slot);
        if (!member) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%.100s has no slot %s", ((PyTypeObject *)args[0])->tp_name,
                         event_slot_names[i]);
            return NULL;
        }
    }
    memcpy(event_slot_offsets, offsets, sizeof offsets);
    Py_XDECREF(event_type);
    event_type = Py_NewRef(args[0]);
    Py_XDECREF(key_meta_type);
    key_meta_type = Py_NewRef(args[1]);
    Py_RETURN_NONE;
}

/* An Event with its slots set, as Event(*fields) makes it but without running
 * __init__ in the interpreter. Takes the references in fields. */
static PyObject *make_event(PyObject **fields) {
    PyTypeObject *type = (PyTypeObject *)event_type;
    PyObject *event = type->tp_alloc(type, 0);
    if (event == NULL) {
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        *(PyObject **)((char *)event + event_slot_offsets[i]) = fields[i];
        fields[i] = NULL;
    }
    return event;
}

PyDoc_STRVAR(read_event_doc,
             "read_event(raw)\n--\n\n"
             "The Event of the library's event JSON when it is in the shape the library\n"
             "writes, its strings need no unescaping and its values and form fields are\n"
             "strings and lists of strings; None for anything else.");

/* What follows the name in the library's text of an event that carries nothing but
 * its type and name (no target, values, form fields, field, key or modifier): a click
 * on a button without data-lv-value-*, the most common event. */
static const char plain_tail[] = ",\"target\":null,\"values\":{},\"form\":{},\"field\":null,\"key\":null,"
                                 "\"meta\":{\"shift\":false,\"ctrl\":false,\"alt\":false,\"meta\":false}}";

/* read_event() of the n bytes at text; set_event_types() must have been called. */
static PyObject *read_event_text(const char *text, size_t n) {
    reader r = {text, text + n};
    /* type, name, target, values, form, field, key, meta: Event's arguments. */
    PyObject *fields[8] = {NULL};
    int shift = 0, ctrl = 0, alt = 0, meta = 0;
    int read = literal(&r, "{\"type\":") && plain(&r, &fields[0]) && literal(&r, ",\"name\":") &&
               plain(&r, &fields[1]);
    size_t tail = sizeof plain_tail - 1;
    if (read && (size_t)(r.end - r.at) == tail && memcmp(r.at, plain_tail, tail) == 0) {
        /* Everything after the name in one comparison. */
        fields[2] = Py_NewRef(Py_None);
        fields[3] = PyDict_New();
        fields[4] = PyDict_New();
        fields[5] = Py_NewRef(Py_None);
        fields[6] = Py_NewRef(Py_None);
        read = fields[3] != NULL && fields[4] != NULL;
        if (!read) {
            PyErr_Clear();
        }
    } else {
        read = read && literal(&r, ",\"target\":") && plain_or_null(&r, &fields[2]) &&
               literal(&r, ",\"values\":") && flat_object(&r, plain, &fields[3]) && literal(&r, ",\"form\":") &&
               flat_object(&r, plain_list, &fields[4]) && literal(&r, ",\"field\":") &&
               plain_or_null(&r, &fields[5]) && literal(&r, ",\"key\":") && plain_or_null(&r, &fields[6]) &&
               flag(&r, ",\"meta\":{\"shift\":", &shift) && flag(&r, ",\"ctrl\":", &ctrl) &&
               flag(&r, ",\"alt\":", &alt) && flag(&r, ",\"meta\":", &meta) && literal(&r, "}}") &&
               r.at == r.end;
    }
    PyObject *event = NULL;
    if (read) {
        fields[7] = shift || ctrl || alt || meta
                        ? PyObject_CallFunction(key_meta_type, "OOOO", shift ? Py_True : Py_False,
                                                ctrl ? Py_True : Py_False, alt ? Py_True : Py_False,
                                                meta ? Py_True : Py_False)
                        : Py_NewRef(Py_None);
        if (fields[7] != NULL) {
            event = make_event(fields);
        }
    } else {
        event = Py_NewRef(Py_None);
    }
    for (int i = 0; i < 8; i++) {
        Py_XDECREF(fields[i]);
    }
    return event;
}

static PyObject *read_event(PyObject *module, PyObject *raw) {
    (void)module;
    if (event_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "mizulive._speedups.set_event_types() was not called");
        return NULL;
    }
    if (!PyBytes_Check(raw)) {
        PyErr_Format(PyExc_TypeError, "read_event() takes bytes, not %.100s", Py_TYPE(raw)->tp_name);
        return NULL;
    }
    return read_event_text(PyBytes_AS_STRING(raw), (size_t)PyBytes_GET_SIZE(raw));
}

/* -- SessionCore and BindingCore: Session's and PageBinding's per-event parts
 *
 * page.Session and _callbacks.PageBinding derive from these types when the module is
 * there (from page._SessionCore and _callbacks._PyBindingCore when it is not). Each
 * does the usual case in C: a dict state, a region id seen before, an event or
 * message its readers take. Anything else (a dataclass state, an error to explain,
 * a text the readers decline) goes to the Python class's function of the same name,
 * called on the same object, so the two paths share everything but the usual case.
 */

/* page.Session, and page._names (region id -> its bytes): set_session_class(). */
static PyTypeObject *session_class;
static PyObject *region_names;
/* page._SessionCore's functions: the state's getter and setter, mark, _live and
 * _write_back. */
static PyObject *py_state_get, *py_state_set, *py_mark, *py_live, *py_write_back;
/* _callbacks._PyBindingCore's event and info: set_binding_class(). */
static PyObject *py_event, *py_info;
static PyObject *name_fail, *text_handle, *text_info;

typedef struct {
    PyObject_HEAD
    /* NULL once the callback it was made for returned. */
    void *ctx;
    PyObject *app, *codec, *state, *topic;
    char dirty;
} SessionCore;

struct BindingCore {
    PyObject_HEAD
    PyObject *app, *codec, *events, *handle, *info_fn, *topics;
};

static PyTypeObject session_core_type;

/* fn(self, *args): the Python path's answer. */
static PyObject *call_python(PyObject *fn, PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (fn == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "mizulive._speedups: set_session_class() was not called");
        return NULL;
    }
    PyObject *small[4];
    PyObject **all = nargs < 3 ? small : PyMem_New(PyObject *, (size_t)nargs + 2);
    if (all == NULL) {
        return PyErr_NoMemory();
    }
    all[1] = self;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        all[i + 2] = args[i];
    }
    PyObject *result = PyObject_Vectorcall(fn, all + 1, (size_t)(nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (all != small) {
        PyMem_Free(all);
    }
    return result;
}

/* 0 when the Python path's answer is None-or-anything (a setter's, a write-back's),
 * -1 with its exception. Takes result. */
static int done(PyObject *result) {
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

static PyObject *session_core_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)args;
    (void)kwds;
    SessionCore *self = (SessionCore *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->app = Py_NewRef(Py_None);
        self->codec = Py_NewRef(Py_None);
        self->state = Py_NewRef(Py_None);
        self->topic = Py_NewRef(Py_None);
    }
    return (PyObject *)self;
}

/* ctx as a context: an int, or None for none. */
static int ctx_or_none(PyObject *arg, void **ctx) {
    if (arg == Py_None) {
        *ctx = NULL;
        return 0;
    }
    return ctx_of(arg, ctx);
}

static int session_core_init(SessionCore *self, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"app", "ctx", "topic", "codec", NULL};
    PyObject *app, *ctx, *topic = Py_None, *codec = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OO:Session", keywords, &app, &ctx, &topic, &codec) ||
        ctx_or_none(ctx, &self->ctx) < 0) {
        return -1;
    }
    Py_SETREF(self->app, Py_NewRef(app));
    Py_SETREF(self->codec, Py_NewRef(codec));
    Py_SETREF(self->state, Py_NewRef(Py_None));
    Py_SETREF(self->topic, Py_NewRef(topic));
    self->dirty = 0;
    return 0;
}

static int session_core_traverse(SessionCore *self, visitproc visit, void *arg) {
    Py_VISIT(self->app);
    Py_VISIT(self->codec);
    Py_VISIT(self->state);
    Py_VISIT(self->topic);
    return 0;
}

static int session_core_clear(SessionCore *self) {
    Py_CLEAR(self->app);
    Py_CLEAR(self->codec);
    Py_CLEAR(self->state);
    Py_CLEAR(self->topic);
    return 0;
}

static void session_core_dealloc(SessionCore *self) {
    PyObject_GC_UnTrack(self);
    session_core_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(state_doc,
             "The session state, written back after the callback: a JSON-compatible\n"
             "dict, or an instance of the page's state dataclass.");

/* The state: read from the library the first time it is touched. */
static PyObject *session_get_state(SessionCore *self, void *closure) {
    (void)closure;
    if (self->dirty && self->state != NULL) {
        return Py_NewRef(self->state);
    }
    if (!self->dirty && self->ctx != NULL && self->codec == Py_None && lv_get_state != NULL) {
        int fresh;
        PyObject *kept = lv_state_cache(self->ctx, &fresh);
        if (kept != NULL && fresh) {
            Py_XSETREF(self->state, Py_NewRef(kept));
            self->dirty = 1;
            return Py_NewRef(kept);
        }
        const char *json = lv_get_state(self->ctx);
        if (json != NULL) {
            PyObject *state = parse(json, strlen(json));
            if (state != NULL) {
                Py_XSETREF(self->state, state);
                self->dirty = 1;
                return Py_NewRef(state);
            }
            if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
                return NULL;
            }
            PyErr_Clear();
        }
    }
    return call_python(py_state_get, (PyObject *)self, NULL, 0);
}

static int session_set_state(SessionCore *self, PyObject *value, void *closure) {
    (void)closure;
    if (value != NULL && self->ctx != NULL && self->codec == Py_None) {
        Py_XSETREF(self->state, Py_NewRef(value));
        self->dirty = 1;
        return 0;
    }
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a Session's state cannot be deleted");
        return -1;
    }
    return done(call_python(py_state_set, (PyObject *)self, &value, 1));
}

static PyObject *session_get_ctx(SessionCore *self, void *closure) {
    (void)closure;
    if (self->ctx == NULL) {
        Py_RETURN_NONE;
    }
    return PyLong_FromVoidPtr(self->ctx);
}

static int session_set_ctx(SessionCore *self, PyObject *value, void *closure) {
    (void)closure;
    if (value == NULL) {
        value = Py_None;
    }
    return ctx_or_none(value, &self->ctx);
}

PyDoc_STRVAR(mark_regions_doc,
             "mark(*regions)\n--\n\n"
             "Marks regions (DOM ids) for re-rendering after the callback; the root id\n"
             "(``\"lv-root\"``) re-renders the page body. An unknown id raises.");

static PyObject *session_mark(SessionCore *self, PyObject *const *args, Py_ssize_t nargs) {
    for (Py_ssize_t i = 0; i < nargs || self->ctx == NULL; i++) {
        /* A region id encoded before, marked without a fault: anything else, from
         * this region on (or a retired session's call), is the Python path's. */
        PyObject *name = self->ctx != NULL && region_names != NULL && PyUnicode_CheckExact(args[i])
                             ? PyDict_GetItemWithError(region_names, args[i])
                             : NULL;
        if (name != NULL && PyBytes_Check(name) && lv_mark(self->ctx, PyBytes_AS_STRING(name)) == 0) {
            continue;
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
        return call_python(py_mark, (PyObject *)self, i < nargs ? args + i : NULL, nargs - i);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(live_doc, "_live()\n--\n\nThe session's context; raises once its callback returned.");

static PyObject *session_live(SessionCore *self, PyObject *unused) {
    (void)unused;
    if (self->ctx != NULL) {
        return PyLong_FromVoidPtr(self->ctx);
    }
    return call_python(py_live, (PyObject *)self, NULL, 0);
}

/* -- the kept state
 *
 * A state the library gives back as it is (encode()'s `exact`) stays with its
 * session after the write-back (lv_set_state_cache), and the session's next callback
 * takes it instead of reading and decoding the state, while the library says it is
 * still the state (lv_state_cache's `fresh`: no write since, no failed callback's
 * rollback). Nothing else can reach it to change it meanwhile: encode() found no
 * other holder of any of its dicts and lists, and a session lets go of its state as
 * its callback returns (retire()).
 */

/* Keeps the state just written with the session; `kept` is the one kept so far. */
static void keep_state(void *ctx, PyObject *state, void *kept) {
    if (kept == (void *)state) {
        (void)lv_set_state_cache(ctx, state, drop_state); /* the same: fresh again */
        return;
    }
    Py_INCREF(state);
    if (lv_set_state_cache(ctx, state, drop_state) != 0) {
        Py_DECREF(state);
    }
    release_dropped(); /* the one it replaced */
}

PyDoc_STRVAR(release_dropped_doc,
             "release_dropped()\n--\n\n"
             "Releases the kept states the library let go of since the last callback (the\n"
             "app's close calls it: no callback may follow).");

static PyObject *release_dropped_now(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    release_dropped();
    Py_RETURN_NONE;
}

/* The callback is over: the session no longer reaches the library, nor its state. */
static void retire(SessionCore *self) {
    self->ctx = NULL;
    self->dirty = 0;
    Py_XSETREF(self->state, Py_NewRef(Py_None));
}

PyDoc_STRVAR(retire_doc, "_retire()\n--\n\nEnds the session's use: its context and its state go.");

static PyObject *session_retire(SessionCore *self, PyObject *unused) {
    (void)unused;
    retire(self);
    Py_RETURN_NONE;
}

/* Writes the state, which the callback touched, back through ctx: 0, or -1 with the
 * exception that explains why not. */
static int write_back(SessionCore *self, void *ctx) {
    PyObject *state = self->state;
    if (self->codec == Py_None && state != NULL) {
        /* The state's holders: this session, and the library when it keeps it. */
        void *kept = lv_state_cache(ctx, NULL);
        int exact = Py_REFCNT(state) == 1 + (kept == (void *)state);
        int status;
        switch (store(ctx, state, &status, &exact)) {
        case WRITTEN:
            if (status == 0) {
                if (exact) {
                    keep_state(ctx, state, kept);
                }
                return 0;
            }
            break; /* refused: the Python path writes it again and raises */
        case DECLINED:
            break;
        default:
            return -1;
        }
    }
    PyObject *arg = PyLong_FromVoidPtr(ctx);
    if (arg == NULL) {
        return -1;
    }
    int r = done(call_python(py_write_back, (PyObject *)self, &arg, 1));
    Py_DECREF(arg);
    return r;
}

PyDoc_STRVAR(write_back_doc, "_write_back(ctx)\n--\n\nWrites the state, which the callback touched, back through ctx.");

static PyObject *session_write_back(SessionCore *self, PyObject *arg) {
    void *ctx;
    if (ready() < 0 || ctx_of(arg, &ctx) < 0 || write_back(self, ctx) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMemberDef session_members[] = {
    {"_app", SLOT_OBJECT, offsetof(SessionCore, app), 0, NULL},
    {"_codec", SLOT_OBJECT, offsetof(SessionCore, codec), 0, NULL},
    {"_state", SLOT_OBJECT, offsetof(SessionCore, state), 0, NULL},
    {"_topic", SLOT_OBJECT, offsetof(SessionCore, topic), 0, NULL},
    {"_dirty", SLOT_BOOL, offsetof(SessionCore, dirty), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef session_getset[] = {
    {"state", (getter)session_get_state, (setter)session_set_state, state_doc, NULL},
    {"_ctx", (getter)session_get_ctx, (setter)session_set_ctx, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef session_methods[] = {
    {"mark", (PyCFunction)(void (*)(void))session_mark, METH_FASTCALL, mark_regions_doc},
    {"_live", (PyCFunction)session_live, METH_NOARGS, live_doc},
    {"_write_back", (PyCFunction)session_write_back, METH_O, write_back_doc},
    {"_retire", (PyCFunction)session_retire, METH_NOARGS, retire_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject session_core_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mizulive._speedups.SessionCore",
    .tp_doc = PyDoc_STR("Session's per-event part in C (page._SessionCore without the module)."),
    .tp_basicsize = sizeof(SessionCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = session_core_new,
    .tp_init = (initproc)session_core_init,
    .tp_traverse = (traverseproc)session_core_traverse,
    .tp_clear = (inquiry)session_core_clear,
    .tp_dealloc = (destructor)session_core_dealloc,
    .tp_members = session_members,
    .tp_getset = session_getset,
    .tp_methods = session_methods,
};

/* -- BindingCore */

static int binding_core_traverse(BindingCore *self, visitproc visit, void *arg) {
    Py_VISIT(self->app);
    Py_VISIT(self->codec);
    Py_VISIT(self->events);
    Py_VISIT(self->handle);
    Py_VISIT(self->info_fn);
    Py_VISIT(self->topics);
    return 0;
}

static int binding_core_clear(BindingCore *self) {
    Py_CLEAR(self->app);
    Py_CLEAR(self->codec);
    Py_CLEAR(self->events);
    Py_CLEAR(self->handle);
    Py_CLEAR(self->info_fn);
    Py_CLEAR(self->topics);
    return 0;
}

static void binding_core_dealloc(BindingCore *self) {
    PyObject_GC_UnTrack(self);
    binding_core_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A Session for one callback on ctx, as Session(app, ctx, topic, codec) makes it. */
static SessionCore *new_session(BindingCore *self, void *ctx, PyObject *topic) {
    SessionCore *s = (SessionCore *)session_class->tp_alloc(session_class, 0);
    if (s != NULL) {
        s->ctx = ctx;
        s->app = Py_NewRef(self->app);
        s->codec = Py_NewRef(self->codec);
        s->state = Py_NewRef(Py_None);
        s->topic = Py_NewRef(topic);
    }
    return s;
}

/* self._fail(ctx, what, exc) for the exception being raised: its status, or -1 with
 * an exception set when that failed too. */
static int fail(BindingCore *self, void *ctx, PyObject *what) {
    PyObject *exc = take_exception();
    PyObject *ctx_arg = PyLong_FromVoidPtr(ctx);
    PyObject *result = NULL;
    if (exc != NULL && ctx_arg != NULL) {
        result = PyObject_CallMethodObjArgs((PyObject *)self, name_fail, ctx_arg, what, exc, NULL);
    }
    Py_XDECREF(exc);
    Py_XDECREF(ctx_arg);
    return status_of_result(result);
}

/* fn(s, arg), then the state's write-back when the callback touched it: LV_OK (0),
 * or self._fail's status for what it raised. The session is retired either way. */
static int run(BindingCore *self, SessionCore *s, void *ctx, PyObject *fn, PyObject *arg, PyObject *what) {
    PyObject *args[3] = {NULL, (PyObject *)s, arg};
    PyObject *result = PyObject_Vectorcall(fn, args + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    int ok = result != NULL && (!s->dirty || write_back(s, ctx) == 0);
    Py_XDECREF(result);
    int status = ok ? 0 : fail(self, ctx, what);
    retire(s);
    return status;
}

/* Whether the fields the C path reads are set as PageBinding sets them. */
static int binding_ready(BindingCore *self) {
    return session_class != NULL && event_type != NULL && self->app != NULL && self->codec != NULL &&
           self->handle != NULL && self->info_fn != NULL && self->events != NULL && PyDict_CheckExact(self->events) &&
           self->topics != NULL && PyDict_CheckExact(self->topics);
}

/* The page's handler for the event text: on_event's work. */
static int binding_event(BindingCore *self, void *ctx, const char *text) {
    PyObject *event = text != NULL && binding_ready(self) ? read_event_text(text, strlen(text)) : Py_NewRef(Py_None);
    if (event == Py_None) {
        Py_DECREF(event);
        return call_binding(py_event, (PyObject *)self, ctx, text);
    }
    if (event == NULL) {
        return fail(self, ctx, text_handle);
    }
    SessionCore *s = new_session(self, ctx, Py_None);
    if (s == NULL) {
        Py_DECREF(event);
        return -1;
    }
    PyObject *name = *(PyObject **)((char *)event + event_slot_offsets[1]);
    PyObject *fn = PyDict_GetItemWithError(self->events, name);
    int status = fn == NULL && PyErr_Occurred() ? fail(self, ctx, event)
                                                 : run(self, s, ctx, fn != NULL ? fn : self->handle, event, event);
    retire(s);
    Py_DECREF(s);
    Py_DECREF(event);
    return status;
}

/* The page's handler for the message text on ctx's topic: on_info's work. */
static int binding_info(BindingCore *self, void *ctx, const char *text) {
    if (!binding_ready(self)) {
        return call_binding(py_info, (PyObject *)self, ctx, text);
    }
    const char *topic_text = lv_info_topic(ctx);
    PyObject *topic = topic_text == NULL ? Py_NewRef(Py_None)
                                         : PyUnicode_DecodeUTF8(topic_text, (Py_ssize_t)strlen(topic_text), "replace");
    if (topic == NULL) {
        return -1;
    }
    PyObject *msg = text == NULL ? Py_NewRef(Py_None) : parse(text, strlen(text));
    if (msg == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        /* json reads what this reader declines (or explains why not). */
        PyErr_Clear();
        Py_DECREF(topic);
        return call_binding(py_info, (PyObject *)self, ctx, text);
    }
    SessionCore *s = new_session(self, ctx, topic);
    int status = -1;
    if (s != NULL) {
        PyObject *fn = topic == Py_None ? NULL : PyDict_GetItemWithError(self->topics, topic);
        status = msg == NULL || (fn == NULL && PyErr_Occurred())
                     ? fail(self, ctx, text_info)
                     : run(self, s, ctx, fn != NULL ? fn : self->info_fn, msg, text_info);
        retire(s);
        Py_DECREF(s);
    }
    Py_XDECREF(msg);
    Py_DECREF(topic);
    return status;
}

/* (ctx, json bytes or None) for event() and info(). */
static int ctx_and_text(const char *name, PyObject *const *args, Py_ssize_t nargs, void **ctx, const char **text) {
    if (arity(name, nargs, 2) < 0 || ready() < 0 || address(args[0], ctx, "ctx") < 0) {
        return -1;
    }
    if (args[1] == Py_None) {
        *text = NULL;
        return 0;
    }
    if (!PyBytes_Check(args[1]) || strlen(PyBytes_AS_STRING(args[1])) != (size_t)PyBytes_GET_SIZE(args[1])) {
        PyErr_Format(PyExc_TypeError, "%s() takes bytes without NUL or None", name);
        return -1;
    }
    *text = PyBytes_AS_STRING(args[1]);
    return 0;
}

PyDoc_STRVAR(binding_event_doc, "event(ctx, raw)\n--\n\nRuns the page's handler for the event JSON raw: a status.");

static PyObject *binding_event_method(BindingCore *self, PyObject *const *args, Py_ssize_t nargs) {
    void *ctx;
    const char *text;
    if (ctx_and_text("event", args, nargs, &ctx, &text) < 0) {
        return NULL;
    }
    int status = binding_event(self, ctx, text);
    return status < 0 ? NULL : PyLong_FromLong(status);
}

PyDoc_STRVAR(binding_info_doc, "info(ctx, raw)\n--\n\nRuns the page's handler for the message JSON raw: a status.");

static PyObject *binding_info_method(BindingCore *self, PyObject *const *args, Py_ssize_t nargs) {
    void *ctx;
    const char *text;
    if (ctx_and_text("info", args, nargs, &ctx, &text) < 0) {
        return NULL;
    }
    int status = binding_info(self, ctx, text);
    return status < 0 ? NULL : PyLong_FromLong(status);
}

static PyMemberDef binding_members[] = {
    {"app", SLOT_OBJECT, offsetof(BindingCore, app), 0, NULL},
    {"codec", SLOT_OBJECT, offsetof(BindingCore, codec), 0, NULL},
    {"events", SLOT_OBJECT, offsetof(BindingCore, events), 0, NULL},
    {"handle", SLOT_OBJECT, offsetof(BindingCore, handle), 0, NULL},
    {"info_fn", SLOT_OBJECT, offsetof(BindingCore, info_fn), 0, NULL},
    {"topics", SLOT_OBJECT, offsetof(BindingCore, topics), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef binding_methods[] = {
    {"event", (PyCFunction)(void (*)(void))binding_event_method, METH_FASTCALL, binding_event_doc},
    {"info", (PyCFunction)(void (*)(void))binding_info_method, METH_FASTCALL, binding_info_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject binding_core_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mizulive._speedups.BindingCore",
    .tp_doc = PyDoc_STR("PageBinding's per-event part in C (_callbacks._PyBindingCore without the module)."),
    .tp_basicsize = sizeof(BindingCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_traverse = (traverseproc)binding_core_traverse,
    .tp_clear = (inquiry)binding_core_clear,
    .tp_dealloc = (destructor)binding_core_dealloc,
    .tp_members = binding_members,
    .tp_methods = binding_methods,
};

/* cls.<name> (a new reference), or NULL with a TypeError naming it. */
static PyObject *own(PyObject *cls, const char *name) {
    PyObject *value = PyObject_GetAttrString(cls, name);
    if (value == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%.100s defines no %s", ((PyTypeObject *)cls)->tp_name, name);
    }
    return value;
}

PyDoc_STRVAR(set_session_class_doc,
             "set_session_class(Session, _SessionCore, names)\n--\n\n"
             "page.Session (derived from SessionCore), the Python class whose functions take\n"
             "what SessionCore leaves to them, and page._names (region id -> bytes).");

static PyObject *set_session_class(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (arity("set_session_class", nargs, 3) < 0) {
        return NULL;
    }
    if (!PyType_Check(args[0]) || !PyType_IsSubtype((PyTypeObject *)args[0], &session_core_type) ||
        !PyType_Check(args[1]) || !PyDict_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "set_session_class() takes a SessionCore class, a class and a dict");
        return NULL;
    }
    PyObject *state = own(args[1], "state");
    PyObject *get = state == NULL ? NULL : PyObject_GetAttrString(state, "fget");
    PyObject *set = state == NULL ? NULL : PyObject_GetAttrString(state, "fset");
    PyObject *mark = own(args[1], "mark"), *live = own(args[1], "_live"), *write = own(args[1], "_write_back");
    Py_XDECREF(state);
    if (get == NULL || set == NULL || mark == NULL || live == NULL || write == NULL) {
        Py_XDECREF(get);
        Py_XDECREF(set);
        Py_XDECREF(mark);
        Py_XDECREF(live);
        Py_XDECREF(write);
        return NULL;
    }
    Py_XSETREF(py_state_get, get);
    Py_XSETREF(py_state_set, set);
    Py_XSETREF(py_mark, mark);
    Py_XSETREF(py_live, live);
    Py_XSETREF(py_write_back, write);
    Py_XSETREF(session_class, (PyTypeObject *)Py_NewRef(args[0]));
    Py_XSETREF(region_names, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(set_binding_class_doc,
             "set_binding_class(_PyBindingCore)\n--\n\n"
             "The Python class whose event and info take what BindingCore leaves to them.");

static PyObject *set_binding_class(PyObject *module, PyObject *cls) {
    (void)module;
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "set_binding_class() takes a class");
        return NULL;
    }
    PyObject *event = own(cls, "event");
    PyObject *info = event == NULL ? NULL : own(cls, "info");
    if (info == NULL) {
        Py_XDECREF(event);
        return NULL;
    }
    Py_XSETREF(py_event, event);
    Py_XSETREF(py_info, info);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL, setup_doc},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL, bind_doc},
    {"set_state", (PyCFunction)(void (*)(void))set_state, METH_FASTCALL, set_state_doc},
    {"mark", (PyCFunction)(void (*)(void))mark, METH_FASTCALL, mark_doc},
    {"info_topic", info_topic, METH_O, info_topic_doc},
    {"dumps", dumps, METH_O, dumps_doc},
    {"store_state", (PyCFunction)(void (*)(void))store_state, METH_FASTCALL, store_state_doc},
    {"loads", loads, METH_O, loads_doc},
    {"load_state", load_state, METH_O, load_state_doc},
    {"set_event_types", (PyCFunction)(void (*)(void))set_event_types, METH_FASTCALL, set_event_types_doc},
    {"read_event", read_event, METH_O, read_event_doc},
    {"set_session_class", (PyCFunction)(void (*)(void))set_session_class, METH_FASTCALL, set_session_class_doc},
    {"set_binding_class", set_binding_class, METH_O, set_binding_class_doc},
    {"release_dropped", release_dropped_now, METH_NOARGS, release_dropped_doc},
    {"keep_thread_state", keep_thread_state, METH_NOARGS, keep_thread_state_doc},
    {"in_callback", in_callback, METH_NOARGS, in_callback_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "mizulive._speedups",
    .m_doc = "The mizulive binding's per-event path in C (optional; see _speedups.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    name_mount = PyUnicode_InternFromString("mount");
    name_event = PyUnicode_InternFromString("event");
    name_info = PyUnicode_InternFromString("info");
    name_fail = PyUnicode_InternFromString("_fail");
    text_handle = PyUnicode_InternFromString("handle");
    text_info = PyUnicode_InternFromString("info");
    if (name_mount == NULL || name_event == NULL || name_info == NULL || name_fail == NULL || text_handle == NULL ||
        text_info == NULL || PyType_Ready(&session_core_type) < 0 || PyType_Ready(&binding_core_type) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObject(module, "SessionCore", Py_NewRef((PyObject *)&session_core_type)) < 0 ||
        PyModule_AddObject(module, "BindingCore", Py_NewRef((PyObject *)&binding_core_type)) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
