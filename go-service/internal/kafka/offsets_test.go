package kafka

import "testing"

func TestOffsetTrackerCommitsOnlyContiguousFinishedRecords(t *testing.T) {
	type step struct {
		done       int64
		wantCommit int64
		wantMoved  bool
	}
	tests := []struct {
		name    string
		started []int64
		steps   []step
	}{
		{"in order", []int64{0, 1, 2}, []step{{0, 1, true}, {1, 2, true}, {2, 3, true}}},
		{"out of order waits for the oldest", []int64{5, 6, 7}, []step{{7, 0, false}, {6, 0, false}, {5, 8, true}}},
		{"gaps from transaction markers", []int64{10, 12, 15}, []step{{12, 0, false}, {10, 13, true}, {15, 16, true}}},
		{"unknown offset moves nothing", []int64{1}, []step{{9, 0, false}, {1, 2, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewOffsetTracker()
			for _, o := range tc.started {
				tr.Start(0, o)
			}
			for i, s := range tc.steps {
				commit, moved := tr.Done(0, s.done)
				if moved != s.wantMoved || (moved && commit != s.wantCommit) {
					t.Fatalf("step %d: Done(%d) = (%d, %v), want (%d, %v)", i, s.done, commit, moved, s.wantCommit, s.wantMoved)
				}
			}
			if n := tr.InFlight(); n != 0 {
				t.Fatalf("in flight after all done: %d", n)
			}
		})
	}
}

func TestOffsetTrackerRestartsWhenConsumerGoesBack(t *testing.T) {
	tr := NewOffsetTracker()
	tr.Start(3, 100)
	tr.Start(3, 101)
	tr.Start(3, 50) // seek back after a rebalance: 100 and 101 will come again
	if n := tr.InFlight(); n != 1 {
		t.Fatalf("in flight = %d, want 1", n)
	}
	if commit, moved := tr.Done(3, 50); !moved || commit != 51 {
		t.Fatalf("Done(50) = %d, %v", commit, moved)
	}
}
