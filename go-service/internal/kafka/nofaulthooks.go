//go:build !faulthooks

package kafka

// fatalAfter is 0: the binaries users run have no fault hooks.
func fatalAfter() int64 { return 0 }
