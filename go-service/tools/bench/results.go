package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// row is one figure: the median of its runs.
type row struct {
	Stage  string    `json:"stage"`
	Metric string    `json:"metric"`
	Value  float64   `json:"value"`
	Unit   string    `json:"unit"`
	Runs   []float64 `json:"runs"`
	Note   string    `json:"note,omitempty"`
	// Key and Col place the figure in a pivot table (topic scaling).
	Key string `json:"key,omitempty"`
	Col string `json:"col,omitempty"`
}

type results struct {
	ID              string   `json:"id"`
	Time            string   `json:"time"`
	Machine         machine  `json:"machine"`
	Params          params   `json:"params"`
	Server          string   `json:"server"`
	DurationSeconds float64  `json:"duration_seconds"`
	Rows            []row    `json:"rows"`
	Errors          []string `json:"errors,omitempty"`
	// Warnings are runs that failed while other runs of the same figure
	// succeeded: the figure is the median of fewer runs.
	Warnings []string `json:"warnings,omitempty"`
}

func newResults(p params, m machine, id string) *results {
	return &results{ID: id, Time: time.Now().UTC().Format(time.RFC3339), Machine: m, Params: p}
}

// add records a figure from its runs (NaN runs, failed ones, are dropped).
// A figure with no valid run is not recorded: the stage then counts as
// having produced no number.
func (r *results) add(stage, metric, unit string, runs []float64, note string) *row {
	var ok []float64
	for _, v := range runs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			ok = append(ok, v)
		}
	}
	if len(ok) == 0 {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: %s: no valid run", stage, metric))
		return nil
	}
	r.Rows = append(r.Rows, row{Stage: stage, Metric: metric, Value: median(ok), Unit: unit, Runs: ok, Note: note})
	return &r.Rows[len(r.Rows)-1]
}

// addIfAny is add for a figure that may not be measurable on this machine
// (the broker's CPU needs its pid): no valid run is then no error.
func (r *results) addIfAny(stage, metric, unit string, runs []float64, note string) {
	for _, v := range runs {
		if !math.IsNaN(v) {
			r.add(stage, metric, unit, runs, note)
			return
		}
	}
}

func (r *results) addPivot(stage, key, col, unit string, runs []float64) {
	if x := r.add(stage, key+" "+col, unit, runs, ""); x != nil {
		x.Key, x.Col = key, col
	}
}

func (r *results) hasStage(stage string) bool {
	for _, x := range r.Rows {
		if x.Stage == stage {
			return true
		}
	}
	return false
}

func (r *results) stages() []string {
	var out []string
	for _, x := range r.Rows {
		if !slices.Contains(out, x.Stage) {
			out = append(out, x.Stage)
		}
	}
	return out
}

var stageTitles = map[string]string{
	"normalizer": "Normalizers (Go benchmarks, synthetic realistic stream, one op = one record)",
	"ceiling":    "1. Raw Kafka ceiling (Kafka's ProducerPerformance / ConsumerPerformance)",
	"producer":   "2. Our producer (all five gateways, --rate 0 --quiet)",
	"receiver":   "2b. Webhook receiver: signed webhooks of the five gateways → verified → 200 after Kafka's ack",
	"ingest":     "3. Ingest: raw → normalized + DLQ (5 raw topics, 3 partitions each)",
	"latency":    "4. End-to-end latency: producer send → Go stream client receive",
	"fanout":     "5. Fan-out to concurrent Go stream clients",
	"scaling":    "6. Topic scaling: one idle server, per-topic vs shared consumer",
	"recovery":   "7. Crash recovery: kill -9, restart on the same port",
	"state":      "8. State: memory by configuration, restarts, stalled catch-up streams (one server, default settings, one run)",
}

func (r *results) header() []string {
	m := r.Machine
	h := []string{
		fmt.Sprintf("Run %s at %s, %.0f s. Each figure is the median of %d run(s) (topic scaling: %d); ratios are taken within a run.", r.ID, r.Time, r.DurationSeconds, r.Params.Runs, r.Params.ScalingRuns),
		fmt.Sprintf("Machine: %d CPU (%s), %.1f GiB RAM, %s; Go %s, %s, Kafka %s (one KRaft node on loopback), librdkafka %s; load average %s at start, %s at end.",
			m.NumCPU, m.CPUModel, m.MemGiB, m.Kernel, m.GoVersion, m.Java, m.Kafka, m.Librdkafka, m.LoadStart, m.LoadEnd),
		"Server: " + r.Server,
	}
	if r.Params.Smoke {
		h = append(h, "SMOKE RUN: tiny sizes and one run; the figures only show that every stage still works, they measure nothing.")
	}
	return h
}

// text is the table printed at the end of a run.
func (r *results) text() string {
	var b strings.Builder
	for _, h := range r.header() {
		b.WriteString(h + "\n")
	}
	for _, st := range r.stages() {
		fmt.Fprintf(&b, "\n%s\n", stageTitles[st])
		rows := r.stageRows(st)
		if keys, cols := pivot(rows); keys != nil {
			fmt.Fprintf(&b, "  %-26s", "")
			for _, c := range cols {
				fmt.Fprintf(&b, " %16s", c)
			}
			b.WriteString("\n")
			for _, k := range keys {
				fmt.Fprintf(&b, "  %-26s", k)
				for _, c := range cols {
					fmt.Fprintf(&b, " %16s", cell(rows, k, c, false))
				}
				b.WriteString("\n")
			}
			continue
		}
		for _, x := range rows {
			fmt.Fprintf(&b, "  %-58s %14s %-12s %s\n", x.Metric, format(x.Value), x.Unit, note(x))
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "\nWARNING %s", w)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\nERROR %s", e)
	}
	if len(r.Errors)+len(r.Warnings) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

// markdown is the same, for bench/results/*.md and the README.
func (r *results) markdown() string {
	var b strings.Builder
	b.WriteString("# Benchmark results\n\n")
	for _, h := range r.header() {
		b.WriteString(h + "\n")
	}
	for _, st := range r.stages() {
		fmt.Fprintf(&b, "\n**%s**\n\n", stageTitles[st])
		rows := r.stageRows(st)
		if keys, cols := pivot(rows); keys != nil {
			b.WriteString("| |")
			for _, c := range cols {
				b.WriteString(" " + c + " |")
			}
			b.WriteString("\n|---|" + strings.Repeat("---:|", len(cols)) + "\n")
			for _, k := range keys {
				b.WriteString("| " + k + " |")
				for _, c := range cols {
					b.WriteString(" " + cell(rows, k, c, true) + " |")
				}
				b.WriteString("\n")
			}
			continue
		}
		b.WriteString("| metric | median | unit | runs |\n|---|---:|---|---|\n")
		for _, x := range rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", x.Metric, format(x.Value), x.Unit, note(x))
		}
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\nWarnings (a run failed; the figure is the median of the others):\n\n")
		for _, w := range r.Warnings {
			b.WriteString("- " + w + "\n")
		}
	}
	if len(r.Errors) > 0 {
		b.WriteString("\nErrors:\n\n")
		for _, e := range r.Errors {
			b.WriteString("- " + e + "\n")
		}
	}
	return b.String()
}

func (r *results) stageRows(stage string) []row {
	var out []row
	for _, x := range r.Rows {
		if x.Stage == stage {
			out = append(out, x)
		}
	}
	return out
}

// pivot returns the keys and columns when every row has them.
func pivot(rows []row) (keys, cols []string) {
	for _, x := range rows {
		if x.Key == "" {
			return nil, nil
		}
		if !slices.Contains(keys, x.Key) {
			keys = append(keys, x.Key)
		}
		if !slices.Contains(cols, x.Col) {
			cols = append(cols, x.Col)
		}
	}
	return keys, cols
}

func cell(rows []row, key, col string, md bool) string {
	for _, x := range rows {
		if x.Key == key && x.Col == col {
			return format(x.Value)
		}
	}
	if md {
		return "–"
	}
	return "-"
}

func note(x row) string {
	s := ""
	if len(x.Runs) > 1 {
		parts := make([]string, len(x.Runs))
		for i, v := range x.Runs {
			parts[i] = format(v)
		}
		s = "runs " + strings.Join(parts, ", ")
	}
	if x.Note != "" {
		if s != "" {
			s += "; "
		}
		s += x.Note
	}
	return s
}

// format prints a figure with about three significant digits.
func format(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a == 0:
		return "0"
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// write saves results as <out>/<id>.json and .md plus bench-latest.json and
// .md; a smoke run writes only smoke-latest.json and .md.
func (r *results) write(out string) ([]string, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	md := []byte(r.markdown())
	names := []string{r.ID, "bench-latest"}
	if r.Params.Smoke {
		names = []string{"smoke-latest"}
	}
	var paths []string
	for _, name := range names {
		for ext, data := range map[string][]byte{".json": js, ".md": md} {
			p := filepath.Join(out, name+ext)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return nil, err
			}
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
