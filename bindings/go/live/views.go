//go:build cgo

package live

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode/utf8"
)

// viewFolders are the folders of a views tree, in the order they are read.
var viewFolders = []string{"layouts", "pages", "partials"}

// readViews reads every file under layouts/, pages/ and partials/ of fsys into a
// map of template name ("pages/counter/index.html") to source, which the library
// takes as the "views" option. Other files at the root (a README, Go files) are
// left out.
func readViews(fsys fs.FS) (map[string]string, error) {
	views := map[string]string{}
	found := false
	for _, folder := range viewFolders {
		err := fs.WalkDir(fsys, folder, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				if name == folder && errors.Is(err, fs.ErrNotExist) {
					return fs.SkipDir
				}
				return err
			}
			if name == folder {
				found = found || d.IsDir()
			}
			if d.IsDir() {
				return nil
			}
			text, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			if !utf8.Valid(text) {
				return fmt.Errorf("%s is not UTF-8 text", name)
			}
			views[name] = string(text)
			return nil
		})
		if err != nil {
			return nil, &Error{Code: ErrConfig, Message: "ViewsFS: " + err.Error()}
		}
	}
	if !found {
		hint := ""
		if entries, err := fs.ReadDir(fsys, "."); err == nil && len(entries) == 1 && entries[0].IsDir() {
			hint = fmt.Sprintf(` (it holds only %[1]s/: with //go:embed %[1]s, pass fs.Sub(files, %[1]q))`, entries[0].Name())
		}
		return nil, &Error{Code: ErrConfig, Message: "ViewsFS has no " +
			strings.Join(viewFolders, "/, ") + "/ folder at its root" + hint}
	}
	return views, nil
}
