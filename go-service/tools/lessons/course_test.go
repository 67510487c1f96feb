package lessons

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	lessonTitle = regexp.MustCompile(`(?m)\A# Lesson (\d\d) — (.+)$`)
	courseRow   = regexp.MustCompile(`(?m)^\| (\d+) \| \[([^\]]+)\]\(lessons/([^)]+)\) \|$`)
)

// The README's course table names each lesson by its own title and links
// to it, in order, so that renaming a lesson cannot leave the table behind.
func TestReadmeCourseTableMatchesTheLessons(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, file := range lessonFiles(t) {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := lessonTitle.FindSubmatch(doc)
		if m == nil {
			t.Errorf("%s: the first line must be \"# Lesson NN — <title>\"", filepath.Base(file))
			continue
		}
		want = append(want, fmt.Sprintf("%s %s %s", strings.TrimLeft(string(m[1]), "0"), m[2], filepath.Base(file)))
	}
	var got []string
	for _, m := range courseRow.FindAllSubmatch(readme, -1) {
		got = append(got, fmt.Sprintf("%s %s %s", m[1], m[2], m[3]))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README's course table:\n%s\nthe lessons' own titles:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
