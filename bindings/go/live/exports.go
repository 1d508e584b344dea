package live

// The Go functions libmizulive calls, through the trampolines in shim.c. Those of
// a session's callbacks after its mount get the session's kept state (`kept`, as
// state_cache in shim.c gives it), read by the trampoline: a cgo call less. Each one
// recovers: a Go panic must never unwind into the library's frames (it would take
// the process down). A panic in a page callback becomes that callback's failure,
// so the browser gets an error reply and the session lives on.

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// goexited explains the crash that follows when a callback calls runtime.Goexit
// (t.Fatal, t.FailNow or t.SkipNow in a test): recover cannot stop it, and Go
// aborts when it ends a goroutine on a thread the library created.
func goexited(user C.uintptr_t, what string) {
	loggerOf(user).Error("mizulive: " + what + " called runtime.Goexit (t.Fatal, t.FailNow, t.SkipNow?) " +
		"on a library thread; Go will abort the process. Return an error (or use t.Error) instead.")
}

//export goLvMount
func goLvMount(c *C.lv_ctx, params *C.char, user C.uintptr_t, yield C.int) (rc C.int) {
	yieldIf(yield)
	returned := false
	defer func() {
		if r := recover(); r != nil {
			rc = panicked(c, user, "Mount", r)
		} else if !returned {
			goexited(user, "Mount")
		}
	}()
	err := handle(user).value().(callbacks).mount(c)
	if errors.Is(err, ErrNotFound) {
		// Mount returned ErrNotFound (or wraps it): the page GET answers 404.
		C.lv_set_status(c, 404)
	}
	rc = finish(c, err)
	returned = true
	return rc
}

//export goLvEvent
func goLvEvent(c *C.lv_ctx, event *C.char, user, kept C.uintptr_t, yield C.int) (rc C.int) {
	yieldIf(yield)
	returned := false
	defer func() {
		if r := recover(); r != nil {
			rc = panicked(c, user, "Handle", r)
		} else if !returned {
			goexited(user, "Handle")
		}
	}()
	rc = finish(c, handle(user).value().(callbacks).event(c, C.GoString(event), uintptr(kept)))
	returned = true
	return rc
}

//export goLvInfo
func goLvInfo(c *C.lv_ctx, msg *C.char, user, kept C.uintptr_t, yield C.int) (rc C.int) {
	yieldIf(yield)
	returned := false
	defer func() {
		if r := recover(); r != nil {
			rc = panicked(c, user, "Info", r)
		} else if !returned {
			goexited(user, "Info")
		}
	}()
	rc = finish(c, handle(user).value().(callbacks).info(c, C.GoString(msg), uintptr(kept)))
	returned = true
	return rc
}

//export goLvClose
func goLvClose(c *C.lv_ctx, reason *C.char, user, kept C.uintptr_t) {
	defer func() {
		if r := recover(); r != nil {
			loggerOf(user).Error("mizulive: Terminate panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	handle(user).value().(callbacks).terminate(c, C.GoString(reason), uintptr(kept))
}

//export goLvAuth
func goLvAuth(req *C.lv_auth, request *C.char, user C.uintptr_t) (rc C.int) {
	defer func() {
		if r := recover(); r != nil {
			loggerOf(user).Error("mizulive: the auth hook panicked; refusing the request",
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			rc = C.LV_ERR_CALLBACK
		}
	}()
	return handle(user).value().(*authHook).run(req, C.GoString(request))
}

//export goLvLog
func goLvLog(level C.int, target, message *C.char, user C.uintptr_t) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "mizulive: the Go log handler panicked: %v\n", r)
		}
	}()
	handle(user).value().(*logSink).log(int(level), C.GoString(target), C.GoString(message))
}

//export goLvDrop
func goLvDrop(user C.uintptr_t) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "mizulive: dropping a handle panicked: %v\n", r)
		}
	}()
	deleteHandle(handle(user))
}

// yieldIf lets Go's scheduler run once when the trampoline says it is due (see
// yield_due in shim.c): Go then counts the processor the library's thread holds as
// in use, and leaves it with the thread between callbacks.
func yieldIf(due C.int) {
	if due != 0 {
		runtime.Gosched()
	}
}

// finish turns a callback's error into the library's failure status, with the
// error's text as the message.
func finish(c *C.lv_ctx, err error) C.int {
	if err == nil {
		return C.LV_OK
	}
	return fail(c, err.Error())
}

func fail(c *C.lv_ctx, msg string) C.int {
	cs := C.CString(stripNUL(msg))
	defer freeC(cs)
	C.lv_error(c, cs)
	return C.LV_ERR_CALLBACK
}

// panicked logs a recovered panic with its stack and fails the callback.
func panicked(c *C.lv_ctx, user C.uintptr_t, method string, r any) C.int {
	loggerOf(user).Error("mizulive: page callback panicked", "method", method, "panic", fmt.Sprint(r),
		"stack", string(debug.Stack()))
	return fail(c, fmt.Sprintf("panic in %s: %v", method, r))
}

// loggerOf finds the app's logger behind a handle, even when the handle itself is
// what went wrong.
func loggerOf(user C.uintptr_t) (l *slog.Logger) {
	l = slog.Default()
	defer func() { _ = recover() }()
	switch v := handle(user).value().(type) {
	case callbacks:
		l = v.logger()
	case *authHook:
		l = v.app.logger
	}
	return l
}

func stripNUL(s string) string {
	return strings.ReplaceAll(s, "\x00", `\0`)
}
