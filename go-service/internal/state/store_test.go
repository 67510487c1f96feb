package state

import (
	"math"
	"math/big"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// A store keeps its instance id and checkpoints across opens; one written
// with another schema version is emptied (and restores from Kafka).
func TestStoreSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := s.Instance()
	if err := putInt(s.db, ckptKey(2), 42); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck, _ := s.Checkpoint(2); ck != 42 || s.Instance() != id {
		t.Errorf("reopened: checkpoint %d, instance %s; want 42, %s", ck, s.Instance(), id)
	}
	if err := s.db.Set(keySchema, []byte("0"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ck, _ := s.Checkpoint(2); ck != -1 {
		t.Errorf("a store of another schema kept checkpoint %d", ck)
	}
	if s.Instance() == id {
		t.Error("a store of another schema kept its instance id")
	}
}

func TestDropPartitionKeepsOtherPartitions(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for p := int32(0); p < 3; p++ {
		if err := s.db.Set(ownKey(p, "stripe:pi_1"), []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
		if err := putInt(s.db, ckptKey(p), 7); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DropPartition(1); err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		v, _ := get(s.db, ownKey(p, "stripe:pi_1"))
		ck, _ := s.Checkpoint(p)
		if gone := v == nil && ck == -1; gone != (p == 1) {
			t.Errorf("partition %d: record %q, checkpoint %d after dropping partition 1", p, v, ck)
		}
	}
}

// A currency's total past int64 is kept exactly and reported saturated,
// never wrapped; coming back under the bound it is exact again.
func TestCounterSaturates(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := &View{store: s}
	add := func(n int64) {
		b := s.db.NewBatch()
		defer b.Close()
		if err := addCounter(s.db, b, statKey(StatCurrency, "USD"), big.NewInt(n)); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	add(math.MaxInt64)
	add(10)
	if tot, _ := v.Totals(); tot.TotalsByCurrency["USD"] != math.MaxInt64 {
		t.Errorf("past int64: total %d, want %d", tot.TotalsByCurrency["USD"], int64(math.MaxInt64))
	}
	add(-20)
	if tot, _ := v.Totals(); tot.TotalsByCurrency["USD"] != math.MaxInt64-10 {
		t.Errorf("back under: total %d, want %d", tot.TotalsByCurrency["USD"], int64(math.MaxInt64-10))
	}
}
