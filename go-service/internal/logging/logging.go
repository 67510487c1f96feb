// Package logging sets up log/slog for the binaries: the course's human lines
// by default ("[SERVER] gRPC listening on :50051"), JSON with LOG_FORMAT=json.
package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// Component names a log line's prefix in human mode: [SERVER], [KAFKA], …
const componentKey = "component"

// Component returns the attribute that picks a line's prefix.
func Component(name string) slog.Attr { return slog.String(componentKey, name) }

// Setup installs the default logger. format is "text" (human) or "json".
func Setup(format string, w io.Writer) error {
	var h slog.Handler
	switch strings.ToLower(format) {
	case "", "text", "human":
		h = &humanHandler{w: w, mu: &sync.Mutex{}}
	case "json":
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	default:
		return fmt.Errorf("LOG_FORMAT=%q: want text or json", format)
	}
	slog.SetDefault(slog.New(h))
	return nil
}

// For returns a logger whose lines carry the component's prefix.
func For(component string) *slog.Logger {
	return slog.Default().With(Component(component))
}

// humanHandler prints "[COMPONENT] message key=value ..." lines: what a
// learner reads in the course's three terminals.
type humanHandler struct {
	w         io.Writer
	mu        *sync.Mutex
	component string
	attrs     []slog.Attr
}

func (h *humanHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *humanHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	comp := h.component
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == componentKey {
			comp = a.Value.String()
		}
		return true
	})
	if comp == "" {
		comp = "APP"
	}
	b.WriteString("[" + comp + "] ")
	if r.Level >= slog.LevelWarn {
		b.WriteString(r.Level.String() + ": ")
	}
	b.WriteString(r.Message)
	write := func(a slog.Attr) {
		if a.Key == componentKey {
			return
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Any())
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(func(a slog.Attr) bool { write(a); return true })
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *humanHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr{}, h.attrs...), nil...)
	for _, a := range attrs {
		if a.Key == componentKey {
			n.component = a.Value.String()
			continue
		}
		n.attrs = append(n.attrs, a)
	}
	return &n
}

func (h *humanHandler) WithGroup(string) slog.Handler { return h }

// Main runs a binary: run gets the command-line arguments; the help flag
// (an error that is errors.Is(err, help)) exits 0 after the help text, any
// other error is one line for the user and exit 1.
func Main(binary string, help error, run func(args []string) error) {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, help) {
			return
		}
		Fatal(binary, err)
	}
}

// Fatal prints a one-line error for the user and exits 1.
func Fatal(binary string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", binary, err)
	os.Exit(1)
}
