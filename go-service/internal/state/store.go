package state

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// SchemaVersion is the layout of the keys below. A store written with
// another is deleted and rebuilt from Kafka: it is a cache.
const SchemaVersion = "1"

// Key spaces of the one Pebble instance under STATE_DIR:
//
//	meta/schema, meta/instance           layout version; this store's instance id
//	own/<partition>/<gateway:id>         records of the events partitions this instance owns
//	ckpt/<partition>                     next events offset the own/ records include
//	view/pay/<gateway:id>                every record of the state topic (GetPayment)
//	view/off/<topic>/<partition>         next offset of the state and DLQ topics read into view/
//	view/stat/<kind>/<name>              GetStats counters over view/pay and the DLQ topic (decimal)
var (
	keySchema   = []byte("meta/schema")
	keyInstance = []byte("meta/instance")
	prefixOwn   = []byte("own/")
	prefixCkpt  = []byte("ckpt/")
	prefixView  = []byte("view/")
	prefixPay   = []byte("view/pay/")
	prefixOff   = []byte("view/off/")
	prefixStat  = []byte("view/stat/")
)

// Store is the state stage's and the view's embedded store.
type Store struct {
	db       *pebble.DB
	instance string
}

// storeOptions are Pebble's defaults but for Bloom filters on every level
// and a larger block cache: the view and the state stage look up each
// payment before they write it, and most lookups of a new payment find
// nothing, which without a filter costs a read of an index block in every
// table that might hold it; a cache that holds the tables' index and filter
// blocks keeps those reads from decompressing them again
// (BenchmarkViewApply measures it).
func storeOptions() *pebble.Options {
	o := &pebble.Options{Logger: quietLogger{pebble.DefaultLogger}, CacheSize: 32 << 20}
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return o
}

// OpenStore opens (or creates) the store in dir. A store of another schema
// version is deleted first; the state and the view then restore from Kafka.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("STATE_DIR=%s: %w", dir, err)
	}
	db, err := pebble.Open(dir, storeOptions())
	if err != nil {
		return nil, fmt.Errorf("STATE_DIR=%s: open store: %w", dir, err)
	}
	v, err := get(db, keySchema)
	if err != nil {
		db.Close()
		return nil, err
	}
	if v != nil && string(v) != SchemaVersion {
		db.Close()
		if err := wipe(dir); err != nil {
			return nil, err
		}
		return OpenStore(dir)
	}
	s := &Store{db: db}
	if v == nil {
		if err := db.Set(keySchema, []byte(SchemaVersion), pebble.Sync); err != nil {
			db.Close()
			return nil, fmt.Errorf("STATE_DIR=%s: %w", dir, err)
		}
	}
	if err := s.loadInstance(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// wipe deletes a store directory's contents (not the directory: it may be a
// mount point).
func wipe(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("STATE_DIR=%s: %w", dir, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("STATE_DIR=%s: %w", dir, err)
		}
	}
	return nil
}

// loadInstance reads this store's instance id, making one the first time.
// The state stage's transactional.id is built from it: stable across restarts
// of one store, so that a restarted instance fences its own unfinished
// transaction at once (Kafka Streams keeps its process id in its state
// directory for the same reason).
func (s *Store) loadInstance() error {
	v, err := get(s.db, keyInstance)
	if err != nil {
		return err
	}
	if v == nil {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		v = []byte(hex.EncodeToString(b))
		if err := s.db.Set(keyInstance, v, pebble.Sync); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	s.instance = string(v)
	return nil
}

// Instance is this store's id.
func (s *Store) Instance() string { return s.instance }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func get(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: get %s: %w", key, err)
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, nil
}

func getInt(r pebble.Reader, key []byte) (int64, bool, error) {
	v, err := get(r, key)
	if err != nil || len(v) != 8 {
		return 0, false, err
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

func putInt(w pebble.Writer, key []byte, n int64) error {
	return w.Set(key, binary.BigEndian.AppendUint64(nil, uint64(n)), nil)
}

func partitionBytes(p int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(p)) }

func ownKey(p int32, key string) []byte {
	return append(append(append([]byte{}, prefixOwn...), partitionBytes(p)...), "/"+key...)
}

func ownPrefix(p int32) []byte {
	return append(append(append([]byte{}, prefixOwn...), partitionBytes(p)...), '/')
}

func ckptKey(p int32) []byte { return append(append([]byte{}, prefixCkpt...), partitionBytes(p)...) }

func payKey(key string) []byte { return append(append([]byte{}, prefixPay...), key...) }

func offKey(topic string, p int32) []byte {
	return append(append(append([]byte{}, prefixOff...), topic+"/"...), partitionBytes(p)...)
}

func statKey(kind, name string) []byte {
	return append(append([]byte{}, prefixStat...), kind+"/"+name...)
}

// upperBound is the first key after every key with prefix.
func upperBound(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Checkpoint is the next events offset that partition p's own records
// include, or -1 when there is none.
func (s *Store) Checkpoint(p int32) (int64, error) {
	n, ok, err := getInt(s.db, ckptKey(p))
	if err != nil || !ok {
		return -1, err
	}
	return n, nil
}

// DropPartition deletes partition p's own records and checkpoint, before a
// restore.
func (s *Store) DropPartition(p int32) error {
	b := s.db.NewBatch()
	defer b.Close()
	pre := ownPrefix(p)
	if err := b.DeleteRange(pre, upperBound(pre), nil); err != nil {
		return err
	}
	if err := b.Delete(ckptKey(p), nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// readStats sums the counters under view/stat/.
func (s *Store) readStats() (map[string]map[string]int64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixStat, UpperBound: upperBound(prefixStat)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[string]map[string]int64{}
	for it.First(); it.Valid(); it.Next() {
		kind, name, _ := strings.Cut(string(it.Key()[len(prefixStat):]), "/")
		n, ok := new(big.Int).SetString(string(it.Value()), 10)
		if !ok {
			continue
		}
		if out[kind] == nil {
			out[kind] = map[string]int64{}
		}
		out[kind][name] = saturate(n)
	}
	return out, it.Error()
}

// saturate returns n, or the int64 bound it is past.
func saturate(n *big.Int) int64 {
	switch {
	case n.IsInt64():
		return n.Int64()
	case n.Sign() > 0:
		return math.MaxInt64
	default:
		return math.MinInt64
	}
}

// quietLogger keeps Pebble's informational lines out of the server's log;
// its errors still go to Pebble's default logger.
type quietLogger struct{ pebble.Logger }

func (quietLogger) Infof(string, ...any) {}
