package checkkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// checkkitNodeDir returns the learner's node-service folder.
func checkkitNodeDir(t *testing.T, lesson string) string {
	t.Helper()
	return filepath.Join(checkkitLessonDir(t, lesson), "node-service")
}

// checkkitNodeBin finds a program of node_modules/.bin in the learner's
// node-service or a folder above it (the course's snapshots share one).
func checkkitNodeBin(t *testing.T, nodeDir, name string) string {
	t.Helper()
	for dir := nodeDir; ; dir = filepath.Dir(dir) {
		bin := filepath.Join(dir, "node_modules", ".bin", name)
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("no node_modules/.bin/%s in node-service or above: run `npm install` in node-service", name)
		}
	}
}

// checkkitClient returns the command that runs the learner's client,
// src/index.ts, with args. It is `node --import tsx`, one process: the tsx
// command is a second one that relays signals to node, and on a busy machine
// turns a Ctrl-C that node does not acknowledge within a few milliseconds
// into a kill (exit 130).
func checkkitClient(t *testing.T, ctx context.Context, nodeDir string, args ...string) *exec.Cmd {
	t.Helper()
	checkkitNodeBin(t, nodeDir, "tsx") // installed, so that node finds it
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: %v", err)
	}
	client := exec.CommandContext(ctx, node, append([]string{"--import", "tsx", "src/index.ts"}, args...)...)
	client.Dir = nodeDir
	return client
}

// checkkitTypeScriptCompiles fails unless `tsc --noEmit` finds no type errors
// in the learner's node-service.
func checkkitTypeScriptCompiles(t *testing.T, lesson string) {
	t.Helper()
	nodeDir := checkkitNodeDir(t, lesson)
	out, err := exec.Command(checkkitNodeBin(t, nodeDir, "tsc"), "--noEmit", "-p", nodeDir).CombinedOutput()
	if err != nil {
		t.Fatalf("tsc --noEmit in node-service found type errors:\n%s", out)
	}
}
