package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []string
	}{
		{
			name: "a package the lesson creates",
			out: "# example.com/p/go-service/internal/normalizer\n" +
				"internal/normalizer/check03_test.go:10:2: no required module provides package example.com/p/go-service/pb; to add it:\n" +
				"FAIL\texample.com/p/go-service/internal/normalizer [setup failed]\n",
			want: []string{"package pb does not exist yet: the lesson creates it"},
		},
		{
			name: "a module go.mod lacks",
			out: "internal/grpc/check04_test.go:9:2: no required module provides package google.golang.org/grpc; to add it:\n" +
				"FAIL\texample.com/p/go-service/internal/grpc [setup failed]\n",
			want: []string{"go.mod does not require google.golang.org/grpc yet"},
		},
		{
			name: "generated code without the rpc, named once",
			out: "# example.com/p/go-service/internal/grpc_test\n" +
				"x_test.go:33:23: client.GetStats undefined (type pb.PaymentServiceClient has no field or method GetStats)\n" +
				"x_test.go:58:10: client.GetStats undefined (type pb.PaymentServiceClient has no field or method GetStats)\n" +
				"x_test.go:33:58: undefined: pb.GetStatsRequest\n" +
				"FAIL\texample.com/p/go-service/internal/grpc [build failed]\n",
			want: []string{
				"pb.GetStatsRequest does not exist yet: the lesson adds it (package pb is generated",
				"pb.PaymentServiceClient has no GetStats yet: the lesson adds it (package pb is generated",
			},
		},
		{
			name: "a method on the learner's own type",
			out: `x_test.go:70:24: producer.DeadLetter undefined (type *"example.com/p/go-service/internal/kafka".Producer has no field or method DeadLetter)` + "\n" +
				"FAIL\texample.com/p/go-service/internal/kafka [build failed]\n",
			want: []string{"*kafka.Producer has no DeadLetter yet: the lesson adds it"},
		},
		{
			name: "a failed test quotes its message, continuation lines included",
			out: "--- FAIL: TestCheck06ClientPrintsLogLines (2.10s)\n" +
				"    check06_test.go:150: the client printed\n" +
				"        \t[LOG] Payment: a\n" +
				"        want\n" +
				"        \t[LOG] Payment: b\n" +
				"FAIL\n",
			want: []string{"06ClientPrintsLogLines: the client printed / [LOG] Payment: a / want / [LOG] Payment: b"},
		},
		{
			name: "a panic in the learner's code",
			out: "--- FAIL: TestCheck02FormatAmount (0.00s)\n" +
				"panic: runtime error: slice bounds out of range [:-1] [recovered, repanicked]\n" +
				"FAIL\n",
			want: []string{"your code panicked (runtime error: slice bounds out of range [:-1])", "02FormatAmount: see its output above"},
		},
		{
			name: "a time-out names the test that hung",
			out:  "panic: test timed out after 3m0s\n\trunning tests:\n\t\tTestCheck08StripeHandlerWithoutKafkaIsNot2xx (3m0s)\n",
			want: []string{"08StripeHandlerWithoutKafkaIsNot2xx timed out"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := explain("0", lesson{}, tt.out)
			if len(got) != len(tt.want) {
				t.Fatalf("explain said %d thing(s), want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, got[i], want)
				}
			}
		})
	}
}

func TestReferenceFolder(t *testing.T) {
	for id, want := range map[string]string{"04": "04", "03x": "03-solution"} {
		if got := referenceFolder(id); got != want {
			t.Errorf("referenceFolder(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestEveryLessonHasTests(t *testing.T) {
	for id, l := range lessons {
		if l.Title == "" || len(l.Probes) == 0 {
			t.Errorf("lesson %s: a title and at least one probe, please", id)
		}
		_, pkgs, cleanup, err := buildOverlay(id, t.TempDir(), "example.com/m/go-service")
		cleanup()
		if err != nil || len(pkgs) == 0 {
			t.Errorf("lesson %s: no checkpoint tests under testdata/%s (%v)", id, id, err)
		}
	}
}

func TestKitGoesWhereItIsUsed(t *testing.T) {
	kit := []kitFile{
		{Name: "checkkit_a_test.go", Data: []byte("package checkkit\n\nfunc checkkitA() { checkkitB() }\n"), Names: []string{"checkkitA"}},
		{Name: "checkkit_b_test.go", Data: []byte("package checkkit\n\nfunc checkkitB() {}\n"), Names: []string{"checkkitB"}},
		{Name: "checkkit_c_test.go", Data: []byte("package checkkit\n\nfunc checkkitC() {}\n"), Names: []string{"checkkitC"}},
	}
	for _, tt := range []struct {
		name  string
		tests string
		want  []string
	}{
		{"a name and what it uses in turn", "func TestCheck07(t *testing.T) { checkkitA() }", []string{"checkkit_a_test.go", "checkkit_b_test.go"}},
		{"only what is used", "func TestCheck07(t *testing.T) { checkkitC() }", []string{"checkkit_c_test.go"}},
		{"a longer name is another name", "func TestCheck02(t *testing.T) { checkkitCount() }", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, k := range kitFor(kit, [][]byte{[]byte(tt.tests)}, "main_test") {
				got = append(got, k.Name)
				if !strings.HasPrefix(string(k.Data), "package main_test\n") {
					t.Errorf("%s begins %q; want the package clause of the tests it joins", k.Name, firstLine(string(k.Data)))
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("kitFor chose %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKitNamesBeginWithCheckkit(t *testing.T) {
	kit, err := loadKit(kitDir)
	if err != nil || len(kit) == 0 {
		t.Fatalf("loadKit(%s): %d files, %v", kitDir, len(kit), err)
	}
	if err := checkKitNames(kit); err != nil {
		t.Error(err)
	}
	bad := []kitFile{{Name: "checkkit_x_test.go", Names: []string{"waitForLine"}}}
	if checkKitNames(bad) == nil {
		t.Error("checkKitNames accepted waitForLine, a name a learner's test may have")
	}
}

func TestOverlayLaysTheKitBesideTheTests(t *testing.T) {
	dir := t.TempDir()
	overlay, _, cleanup, err := buildOverlay("07", dir, "example.com/m/go-service")
	defer cleanup()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(overlay)
	if err != nil {
		t.Fatal(err)
	}
	var o struct{ Replace map[string]string }
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(dir, "go-service", "cmd", "server")
	for _, name := range []string{"checkkit_kafka_test.go", "checkkit_process_test.go", "checkkit_node_test.go"} {
		src, ok := o.Replace[filepath.Join(pkg, name)]
		if !ok {
			t.Errorf("no %s in cmd/server, beside check07_test.go", name)
			continue
		}
		text, _ := os.ReadFile(src)
		if !strings.HasPrefix(string(text), "package main_test\n") {
			t.Errorf("%s begins %q; want package main_test", name, firstLine(string(text)))
		}
	}
	if _, ok := o.Replace[filepath.Join(pkg, "checkkit_grpc_test.go")]; ok {
		t.Error("checkkit_grpc_test.go was laid into cmd/server, which does not use it")
	}
}
