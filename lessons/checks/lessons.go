package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// lesson is one checkpoint: what it is about, the probes that name a missing
// piece before any test runs, and hints that translate build errors.
type lesson struct {
	Title  string
	Probes []probe
	Hints  []hint
}

// probe looks for a file, and optionally a pattern in it. Say is the
// plain-words problem when it is not there.
type probe struct {
	File    string
	Pattern *regexp.Regexp
	Say     string
}

type hint struct {
	Pattern *regexp.Regexp
	Say     string
}

func (p probe) check(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, p.File))
	if err != nil {
		return fmt.Sprintf("%s not found: %s", p.File, p.Say)
	}
	if p.Pattern != nil && !p.Pattern.Match(data) {
		return fmt.Sprintf("%s: %s", p.File, p.Say)
	}
	return ""
}

func file(path, say string) probe { return probe{File: path, Say: say} }

func has(path, pattern, say string) probe {
	return probe{File: path, Pattern: regexp.MustCompile(pattern), Say: say}
}

func when(pattern, say string) hint { return hint{Pattern: regexp.MustCompile(pattern), Say: say} }

var lessons = map[string]lesson{
	"02": {
		Title: "a Payment type, an error, a goroutine and a context",
		Probes: []probe{
			has("go-service/internal/payment/payment.go", `type Payment struct`, "no `type Payment struct` — write the Payment type first"),
			has("go-service/internal/payment/payment.go", `func FormatAmount\(`, "no FormatAmount function — it turns 1234, \"USD\" into \"12.34 USD\""),
			has("go-service/internal/payment/payment.go", `ErrInvalidAmount\s*=\s*errors\.New`, "no ErrInvalidAmount sentinel error (var ErrInvalidAmount = errors.New(...))"),
			has("go-service/internal/payment/payment.go", `func Generate\(ctx context\.Context`, "no Generate(ctx context.Context, count int) <-chan Payment — the goroutine and channel part of the lesson"),
			file("go-service/cmd/hello/main.go", "the first program, cmd/hello, is missing"),
		},
		Hints: []hint{
			when(`undefined: payment\.(\w+)`, "a name the lesson asks for is not in package payment (Payment, FormatAmount, ErrInvalidAmount, Generate); the compiler's message above says which"),
			when(`has no field or method String|Sprint`, "Payment needs a String() string method"),
		},
	},
}
