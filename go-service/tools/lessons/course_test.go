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

// maxCoreWords bounds a lesson's core path: everything before its
// "## Going deeper" heading, counted as wc -w counts.
const maxCoreWords = 3500

// Each lesson's core stays short enough to read in one sitting; production
// depth goes under "## Going deeper", which every lesson has, last.
func TestLessonCoresStayShort(t *testing.T) {
	for _, file := range lessonFiles(t) {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(doc)
		core, deeper, found := strings.Cut(text, "\n## Going deeper\n")
		if !found {
			t.Errorf("%s: no \"## Going deeper\" heading", filepath.Base(file))
			continue
		}
		if n := len(strings.Fields(core)); n > maxCoreWords {
			t.Errorf("%s: the core (before ## Going deeper) is %d words, at most %d", filepath.Base(file), n, maxCoreWords)
		}
		if strings.Contains(deeper, "\n## ") {
			t.Errorf("%s: \"## Going deeper\" must be the last ## heading", filepath.Base(file))
		}
	}
}
