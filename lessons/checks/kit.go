package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// kitDir holds the checkpoints' shared test kit: small files of helpers
// (checkkitKafka, checkkitNodeBin, …) that several checkpoints need. Each file
// says `package checkkit`; lessoncheck lays it into a package only where that
// package's checkpoint tests use one of its names, with the package clause of
// the tests it joins, so a kit file never brings an import (confluent-kafka,
// grpc) to a package that does not need it.
const kitDir = "testdata/kit"

// kitFile is one file of the kit: its name, its text, and the top-level names
// it declares.
type kitFile struct {
	Name  string
	Data  []byte
	Names []string
}

func loadKit(dir string) ([]kitFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var kit []kitFile
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, data, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("reading the checkpoints' kit: %w", err)
		}
		k := kitFile{Name: filepath.Base(path), Data: data}
		for _, d := range f.Decls {
			k.Names = append(k.Names, declNames(d)...)
		}
		kit = append(kit, k)
	}
	return kit, nil
}

// kitFor returns the kit files a package's checkpoint tests use, directly or
// through another kit file, each with its package clause set to pkg.
func kitFor(kit []kitFile, tests [][]byte, pkg string) []kitFile {
	text := bytes.Join(tests, []byte("\n"))
	used := map[string]bool{}
	for grew := true; grew; {
		grew = false
		for _, k := range kit {
			if !used[k.Name] && mentionsAny(text, k.Names) {
				used[k.Name] = true
				text = append(append(text, '\n'), k.Data...)
				grew = true
			}
		}
	}
	var out []kitFile
	for _, k := range kit {
		if used[k.Name] {
			k.Data = kitPackageClause.ReplaceAll(k.Data, []byte("package "+pkg))
			out = append(out, k)
		}
	}
	return out
}

var kitPackageClause = regexp.MustCompile(`(?m)^package checkkit$`)

func mentionsAny(text []byte, names []string) bool {
	for _, name := range names {
		if regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).Match(text) {
			return true
		}
	}
	return false
}

// packageName reads the package clause of a checkpoint's test file.
func packageName(path string, data []byte) (string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, data, parser.PackageClauseOnly)
	if err != nil {
		return "", fmt.Errorf("check file %s: %w", path, err)
	}
	return f.Name.Name, nil
}

// declNames lists what a top-level declaration names: a function (not a
// method: it comes with its type), or the types, constants and variables of
// a declaration block.
func declNames(d ast.Decl) []string {
	var names []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			names = append(names, d.Name.Name)
		}
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				names = append(names, s.Name.Name)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}

// kitPrefix is how every kit name begins, so that none can clash with a name
// in the learner's own tests of the same package.
const kitPrefix = "checkkit"

func checkKitNames(kit []kitFile) error {
	for _, k := range kit {
		for _, name := range k.Names {
			if !strings.HasPrefix(name, kitPrefix) {
				return fmt.Errorf("kit file %s declares %s: kit names begin with %q, so they cannot clash with the learner's tests", k.Name, name, kitPrefix)
			}
		}
	}
	return nil
}
