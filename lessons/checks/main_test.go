package main

import (
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
