// Package cmalloc tunes the C allocator librdkafka allocates from. Kafka
// clients allocate every record they fetch or queue in C; after a burst
// glibc keeps what was freed in per-thread arenas instead of giving it back,
// so the process's memory would be set by its busiest minute, not by its
// settings.
package cmalloc

import (
	"context"
	"time"
)

// TrimEvery returns freed C memory to the system every interval until ctx
// is done (a no-op where the C library has no malloc_trim).
func TrimEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			trim()
		}
	}
}
