// Package ui holds the dashboard served at /ui: the assets built from ui/
// (`make ui`, checked by `make ui-check`) and embedded in the binary, so the
// page needs nothing from other origins.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Files are the dashboard's assets by name: index.html, its script and
// styles, and the chart library (uPlot) with its licence.
var Files = func() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed directive above names dist
	}
	return sub
}()
