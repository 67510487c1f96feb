package e2e

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every environment variable the server knows is in `server -h` (each in
// brackets), and README's "## Configuration" table lists exactly those: the
// table cannot drift from the binary.
func TestConfigurationTableMatchesHelp(t *testing.T) {
	help, stderr, code := runServerOnce(t, nil, "-h")
	if code != 0 {
		t.Fatalf("server -h: exit %d\n%s", code, stderr)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`\[([A-Z][A-Z0-9]*_[A-Z0-9_]+)\]`).FindAllStringSubmatch(help, -1) {
		known[m[1]] = true
	}
	if len(known) < 10 {
		t.Fatalf("server -h names only %d environment variables:\n%s", len(known), help)
	}

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Configuration\n")
	if !ok {
		t.Fatal(`README.md has no "## Configuration" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	listed := map[string]bool{}
	row := regexp.MustCompile("^\\|\\s*`([A-Z][A-Z0-9_]+)`")
	for _, line := range strings.Split(section, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			if listed[m[1]] {
				t.Errorf("README lists %s twice", m[1])
			}
			listed[m[1]] = true
		}
	}
	for _, name := range slices.Sorted(mapKeys(known)) {
		if !listed[name] {
			t.Errorf("server -h documents %s; README's Configuration table does not", name)
		}
	}
	for _, name := range slices.Sorted(mapKeys(listed)) {
		if !known[name] {
			t.Errorf("README's Configuration table lists %s; the server does not know it (server -h)", name)
		}
	}
}
