//go:build !linux || !cgo

package cmalloc

func trim() {}
