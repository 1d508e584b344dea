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
 *   - loads, the JSON decoder of load_state, for the binding's other JSON;
 *   - dumps, compact JSON for a value made only of dict, list, tuple, str, int,
 *     float, bool and None, exactly as json.dumps writes it with the binding's
 *     options. Anything else is declined (None), and the pure-Python encoder, which
 *     checks and explains, takes it.
 *
 * The modules that use it (_lib.py, _callbacks.py, page.py) do the same in Python
 * when it is absent: a failed build, or MIZULIVE_PURE_PYTHON=1.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

/* An object slot of a class with __slots__, as its member descriptor says. */
#if PY_VERSION_HEX >= 0x030C0000
#define SLOT_OBJECT Py_T_OBJECT_EX
#else
#include <structmember.h>
#define SLOT_OBJECT T_OBJECT_EX
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

static lv_get_state_fn lv_get_state;
static lv_text_fn lv_set_state;
static lv_text_fn lv_mark;
static lv_info_topic_fn lv_info_topic;

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

/* Hands the exception being raised to _callbacks._last_resort(where, exc), which
 * logs it; when that fails too, nothing is left to tell. */
static void report(const char *where) {
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *value = PyErr_GetRaisedException();
#else
    PyObject *type, *value, *trace;
    PyErr_Fetch(&type, &value, &trace);
    PyErr_NormalizeException(&type, &value, &trace);
    if (value != NULL && trace != NULL) {
        PyException_SetTraceback(value, trace);
    }
    Py_XDECREF(type);
    Py_XDECREF(trace);
#endif
    if (last_resort != NULL && value != NULL) {
        PyObject *result = PyObject_CallFunction(last_resort, "sO", where, value);
        Py_XDECREF(result);
    }
    Py_XDECREF(value);
    PyErr_Clear();
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
    PyObject *key = PyLong_FromVoidPtr(user_data);
    PyObject *binding = key == NULL ? NULL : PyDict_GetItemWithError(bindings, key);
    Py_XDECREF(key);
    if (binding == NULL && !PyErr_Occurred()) {
        PyErr_Format(PyExc_KeyError, "no page is registered under %p", user_data);
    }
    if (binding != NULL) {
        Py_INCREF(binding); /* the dict's reference is borrowed */
        /* args[0] is the callee's to use (PY_VECTORCALL_ARGUMENTS_OFFSET): the call
         * takes args + 1, and may write the slot before it. */
        PyObject *args[4] = {NULL, binding, PyLong_FromVoidPtr(ctx), NULL};
        args[3] = json == NULL ? Py_NewRef(Py_None) : PyBytes_FromString(json);
        if (args[2] != NULL && args[3] != NULL) {
            PyObject *result = PyObject_VectorcallMethod(method, args + 1, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            if (result != NULL) {
                long value = PyLong_AsLong(result);
                if (!(value == -1 && PyErr_Occurred())) {
                    rc = (int)value;
                }
                Py_DECREF(result);
            }
        }
        Py_XDECREF(args[2]);
        Py_XDECREF(args[3]);
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
             "setup(get_state, set_state, mark, info_topic)\n--\n\n"
             "Takes the addresses of lv_get_state, lv_set_state, lv_mark and lv_info_topic.");

static PyObject *setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    void *get, *set, *mark, *topic;
    if (arity("setup", nargs, 4) < 0 || address(args[0], &get, "lv_get_state") < 0 ||
        address(args[1], &set, "lv_set_state") < 0 || address(args[2], &mark, "lv_mark") < 0 ||
        address(args[3], &topic, "lv_info_topic") < 0) {
        return NULL;
    }
    lv_get_state = (lv_get_state_fn)(uintptr_t)get;
    lv_set_state = (lv_text_fn)(uintptr_t)set;
    lv_mark = (lv_text_fn)(uintptr_t)mark;
    lv_info_topic = (lv_info_topic_fn)(uintptr_t)topic;
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

static int encode(buffer *b, PyObject *v, int depth);

static int encode_items(buffer *b, PyObject *const *items, Py_ssize_t n, int depth) {
    if (put_char(b, '[') < 0) {
        return FAILED;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i > 0 && put_char(b, ',') < 0) {
            return FAILED;
        }
        int r = encode(b, items[i], depth + 1);
        if (r != WRITTEN) {
            return r;
        }
    }
    return put_char(b, ']');
}

static int encode_dict(buffer *b, PyObject *d, int depth) {
    Py_ssize_t pos = 0;
    PyObject *key, *value;
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
        int r = encode_str(b, key);
        if (r != WRITTEN) {
            return r;
        }
        if (put_char(b, ':') < 0) {
            return FAILED;
        }
        r = encode(b, value, depth + 1);
        if (r != WRITTEN) {
            return r;
        }
    }
    return put_char(b, '}');
}

static int encode(buffer *b, PyObject *v, int depth) {
    if (depth > MAX_DEPTH) {
        return DECLINED;
    }
    PyTypeObject *type = Py_TYPE(v);
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
        return encode_dict(b, v, depth);
    }
    if (type == &PyList_Type) {
        return encode_items(b, PySequence_Fast_ITEMS(v), PyList_GET_SIZE(v), depth);
    }
    if (type == &PyTuple_Type) {
        return encode_items(b, PySequence_Fast_ITEMS(v), PyTuple_GET_SIZE(v), depth);
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
    int r = encode(&b, value, 0);
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

static PyObject *store_state(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    void *ctx;
    if (arity("store_state", nargs, 2) < 0 || ready() < 0 || ctx_of(args[0], &ctx) < 0) {
        return NULL;
    }
    buffer b;
    buffer_init(&b);
    int r = encode(&b, args[1], 0);
    PyObject *result = NULL;
    if (r == WRITTEN && put_char(&b, '\0') == 0) {
        result = PyLong_FromLong(lv_set_state(ctx, b.data));
    } else if (r == DECLINED) {
        result = Py_NewRef(Py_None);
    }
    buffer_free(&b);
    return result;
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
    reader r = {PyBytes_AS_STRING(raw), PyBytes_AS_STRING(raw) + PyBytes_GET_SIZE(raw)};
    /* type, name, target, values, form, field, key, meta: Event's arguments. */
    PyObject *fields[8] = {NULL};
    int shift, ctrl, alt, meta;
    int read = literal(&r, "{\"type\":") && plain(&r, &fields[0]) && literal(&r, ",\"name\":") &&
               plain(&r, &fields[1]) && literal(&r, ",\"target\":") && plain_or_null(&r, &fields[2]) &&
               literal(&r, ",\"values\":") && flat_object(&r, plain, &fields[3]) && literal(&r, ",\"form\":") &&
               flat_object(&r, plain_list, &fields[4]) && literal(&r, ",\"field\":") &&
               plain_or_null(&r, &fields[5]) && literal(&r, ",\"key\":") && plain_or_null(&r, &fields[6]) &&
               flag(&r, ",\"meta\":{\"shift\":", &shift) && flag(&r, ",\"ctrl\":", &ctrl) &&
               flag(&r, ",\"alt\":", &alt) && flag(&r, ",\"meta\":", &meta) && literal(&r, "}}") &&
               r.at == r.end;
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
    if (name_mount == NULL || name_event == NULL || name_info == NULL) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
