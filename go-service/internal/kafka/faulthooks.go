//go:build faulthooks

package kafka

import (
	"os"
	"strconv"
)

// fatalAfter reads FatalAfterEnv: in test binaries only (-tags faulthooks).
func fatalAfter() int64 {
	n, err := strconv.ParseInt(os.Getenv(FatalAfterEnv), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
