package state

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
)

// DiskGuard watches the free space of the store's file system. Below the
// minimum the stages stop writing (the state stage pauses its partitions,
// the view stops reading) and health says NOT_SERVING with the reason, rather
// than the store failing a write half-way; with room again they go on.
type DiskGuard struct {
	dir     string
	minFree uint64 // bytes
	low     atomic.Pointer[string]
}

// NewDiskGuard watches dir's file system for at least minFree bytes free.
func NewDiskGuard(dir string, minFree uint64) *DiskGuard {
	d := &DiskGuard{dir: dir, minFree: minFree}
	d.Check()
	return d
}

// Run checks every interval until ctx is done.
func (d *DiskGuard) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.Check()
		}
	}
}

// Check measures the free space now.
func (d *DiskGuard) Check() {
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &st); err != nil {
		msg := fmt.Sprintf("STATE_DIR=%s: %v", d.dir, err)
		d.low.Store(&msg)
		return
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < d.minFree {
		msg := fmt.Sprintf("STATE_DIR=%s has %d MB free, under STATE_MIN_FREE_MB=%d", d.dir, free>>20, d.minFree>>20)
		d.low.Store(&msg)
		return
	}
	d.low.Store(nil)
}

// Low says why the store must not grow now, or "" when it may.
func (d *DiskGuard) Low() string {
	if d == nil {
		return ""
	}
	if m := d.low.Load(); m != nil {
		return *m
	}
	return ""
}

// Wait blocks while the disk is low, until ctx is done (then it returns ctx's error).
func (d *DiskGuard) Wait(ctx context.Context) error {
	for d.Low() != "" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return ctx.Err()
}
