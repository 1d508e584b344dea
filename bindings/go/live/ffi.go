package live

// The cgo flags live here, once for the package, and come from pkg-config:
// mizulive-static.pc names libmizulive.a, so a Go binary links the library statically
// and needs no LD_LIBRARY_PATH. `make install` puts the .pc files in PREFIX/lib/pkgconfig;
// in a checkout, `cargo build --release` writes them to target/release/pkgconfig
// (PKG_CONFIG_PATH=$PWD/target/release/pkgconfig at the repository root).

/*
#cgo pkg-config: mizulive-static
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// ABIVersion is the C ABI this package was written against; New refuses a
// library that reports another.
const ABIVersion = 4

// Fails to compile when include/mizulive.h declares another ABI than ABIVersion.
const _ = uint(ABIVersion-C.LV_ABI_VERSION) + uint(C.LV_ABI_VERSION-ABIVersion)

// Each fails to compile when a Code differs from the header's lv_status value.
const (
	_ = uint(int(ErrNull)-C.LV_ERR_NULL) + uint(C.LV_ERR_NULL-int(ErrNull))
	_ = uint(int(ErrUTF8)-C.LV_ERR_UTF8) + uint(C.LV_ERR_UTF8-int(ErrUTF8))
	_ = uint(int(ErrJSON)-C.LV_ERR_JSON) + uint(C.LV_ERR_JSON-int(ErrJSON))
	_ = uint(int(ErrConfig)-C.LV_ERR_CONFIG) + uint(C.LV_ERR_CONFIG-int(ErrConfig))
	_ = uint(int(ErrPage)-C.LV_ERR_PAGE) + uint(C.LV_ERR_PAGE-int(ErrPage))
	_ = uint(int(ErrTemplate)-C.LV_ERR_TEMPLATE) + uint(C.LV_ERR_TEMPLATE-int(ErrTemplate))
	_ = uint(int(ErrIO)-C.LV_ERR_IO) + uint(C.LV_ERR_IO-int(ErrIO))
	_ = uint(int(ErrState)-C.LV_ERR_STATE) + uint(C.LV_ERR_STATE-int(ErrState))
	_ = uint(int(ErrNotFound)-C.LV_ERR_NOT_FOUND) + uint(C.LV_ERR_NOT_FOUND-int(ErrNotFound))
	_ = uint(int(ErrCallback)-C.LV_ERR_CALLBACK) + uint(C.LV_ERR_CALLBACK-int(ErrCallback))
	_ = uint(int(ErrReentrant)-C.LV_ERR_REENTRANT) + uint(C.LV_ERR_REENTRANT-int(ErrReentrant))
	_ = uint(int(ErrTimeout)-C.LV_ERR_TIMEOUT) + uint(C.LV_ERR_TIMEOUT-int(ErrTimeout))
	_ = uint(int(ErrBuffer)-C.LV_ERR_BUFFER) + uint(C.LV_ERR_BUFFER-int(ErrBuffer))
	_ = uint(int(ErrBusy)-C.LV_ERR_BUSY) + uint(C.LV_ERR_BUSY-int(ErrBusy))
	_ = uint(int(ErrRequest)-C.LV_ERR_REQUEST) + uint(C.LV_ERR_REQUEST-int(ErrRequest))
	_ = uint(int(ErrPanic)-C.LV_ERR_PANIC) + uint(C.LV_ERR_PANIC-int(ErrPanic))
)

// Version is the version of the linked libmizulive, e.g. "0.1.0".
func Version() string {
	return C.GoString(C.lv_version())
}

func checkABI() error {
	if got := uint32(C.lv_abi_version()); got != uint32(ABIVersion) {
		return fmt.Errorf("live: libmizulive has ABI %d, this package needs %d: "+
			"build the library and this package from the same checkout (cargo build --release)", got, ABIVersion)
	}
	return nil
}

// callC runs one fallible C call and turns its status into an error. The library's
// last-error message is per OS thread, so the goroutine stays on its thread from the
// call until the message is read. Inside a callback the goroutine is already locked
// to the library's thread; LockOSThread nests.
func callC(f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return lastError(f())
}

// lastError turns a status into an error, reading lv_last_error on the calling
// thread. Call it on the thread that made the failing call.
func lastError(rc C.int) error {
	if rc == C.LV_OK {
		return nil
	}
	return &Error{Code: Code(rc), Message: C.GoString(C.lv_last_error())}
}

// cString copies s into C memory for one call; the caller frees it with freeC. A
// NUL byte would silently cut the string short in C, so it is refused.
func cString(what, s string) (*C.char, error) {
	if err := checkNUL(what, s); err != nil {
		return nil, err
	}
	return C.CString(s), nil
}

// borrowedCString is s with a NUL, in Go memory, for a call that only reads it
// during the call (every lv_* function copies what it keeps): no C allocation and
// no cgo calls to make and free one. Pass it with bytesPtr and keep the slice alive
// across the call. A NUL byte in s is refused, as by cString.
func borrowedCString(what, s string) ([]byte, error) {
	if err := checkNUL(what, s); err != nil {
		return nil, err
	}
	return append(append(make([]byte, 0, len(s)+1), s...), 0), nil
}

// cStringOrNil is cString with "" meaning NULL.
func cStringOrNil(what, s string) (*C.char, error) {
	if s == "" {
		return nil, nil
	}
	return cString(what, s)
}

func freeC(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

// nulTerminated appends a NUL to JSON text so C can read it in place: the bytes
// hold no Go pointers and the library copies them during the call (cgo's pointer
// rules allow that). Keep the slice alive across the call.
func nulTerminated(b []byte) []byte {
	return append(b, 0)
}

func bytesPtr(b []byte) *C.char {
	return (*C.char)(unsafe.Pointer(&b[0]))
}
