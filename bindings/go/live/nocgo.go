//go:build !cgo

package live

// The package calls libmizulive through cgo. Without cgo every other file is left out
// and this line is the build's one error, worded for whoever reads it.
var _ int = "mizulive needs cgo (CGO_ENABLED=1 and a C compiler)"
