package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// View is this instance's copy of the whole state topic (every payment ever
// ingested, whichever instance owns it) and of the dead-letter topic's counts,
// in the store: GetPayment and GetStats read it. Every instance reads the same
// topics to the same offsets, so every instance gives the same answers, and
// a restarted one goes on from the offsets it stored.
type View struct {
	k          config.Kafka
	stateTopic string
	dlqTopic   string
	store      *Store
	disk       *DiskGuard
	log        *slog.Logger

	caughtUp    atomic.Bool
	ReadAtStart atomic.Int64 // records read before catching up
	Read        atomic.Int64 // records read since start
}

// NewView returns a view of stateTopic and dlqTopic in store.
func NewView(k config.Kafka, stateTopic, dlqTopic string, store *Store, disk *DiskGuard, log *slog.Logger) *View {
	return &View{k: k, stateTopic: stateTopic, dlqTopic: dlqTopic, store: store, disk: disk, log: log.With("component", "STATE")}
}

// CaughtUp reports whether the view has read both topics to where they ended
// when it started.
func (v *View) CaughtUp() bool { return v.caughtUp.Load() }

// Run reads the topics into the store until ctx is done.
func (v *View) Run(ctx context.Context) error {
	c, err := ckafka.NewConsumer(kafka.ConfigMap(v.k, ckafka.ConfigMap{
		// Required by the client, never joined: every instance reads every partition.
		"group.id":             "payment-aggregator-view",
		"isolation.level":      "read_committed",
		"enable.auto.commit":   false,
		"enable.partition.eof": true,
	}))
	if err != nil {
		return fmt.Errorf("view consumer: %w", err)
	}
	defer c.Close()
	assign, pending, err := v.positions(c)
	if err != nil {
		return err
	}
	if err := c.Assign(assign); err != nil {
		return fmt.Errorf("assign %s, %s: %w", v.stateTopic, v.dlqTopic, err)
	}
	start := time.Now()
	v.markCaughtUp(pending, start)
	b := newViewBatch(v.store.db)
	defer func() { b.close() }()
	flush := func() error {
		if b.n == 0 {
			return nil
		}
		if err := v.disk.Wait(ctx); err != nil {
			return nil
		}
		return b.commit()
	}
	for ctx.Err() == nil {
		switch e := c.Poll(100).(type) {
		case *ckafka.Message:
			if err := v.apply(b, e); err != nil {
				return err
			}
			v.Read.Add(1)
			if !v.caughtUp.Load() {
				v.ReadAtStart.Add(1)
			}
			if b.n++; b.n >= 5000 {
				if err := flush(); err != nil {
					return err
				}
			}
		case ckafka.PartitionEOF:
			delete(pending, key2(*e.Topic, e.Partition))
			if !v.caughtUp.Load() && len(pending) == 0 {
				if err := flush(); err != nil {
					return err
				}
				v.markCaughtUp(pending, start)
			}
		case ckafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("view consumer: %w", e)
			}
			v.log.Warn("view consumer: " + e.Error())
		case nil:
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (v *View) markCaughtUp(pending map[string]bool, start time.Time) {
	if len(pending) > 0 || v.caughtUp.Load() {
		return
	}
	v.caughtUp.Store(true)
	v.log.Info(fmt.Sprintf("view caught up: read %d record(s) of %s and %s at start, in %v",
		v.ReadAtStart.Load(), v.stateTopic, v.dlqTopic, time.Since(start).Round(time.Millisecond)))
}

func key2(topic string, p int32) string { return fmt.Sprintf("%s/%d", topic, p) }

// positions returns where to read each partition of both topics from (the
// stored offsets) and which ones hold more than that (to read before the
// view is caught up). A stored offset past a partition's end means the
// topic was made again: the view starts over.
func (v *View) positions(c *ckafka.Consumer) ([]ckafka.TopicPartition, map[string]bool, error) {
	var assign []ckafka.TopicPartition
	pending := map[string]bool{}
	for _, topic := range []string{v.stateTopic, v.dlqTopic} {
		ids, err := kafka.Partitions(c, topic)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range ids {
			low, high, err := kafka.Watermarks(c, topic, id)
			if err != nil {
				return nil, nil, err
			}
			from, ok, err := getInt(v.store.db, offKey(topic, id))
			if err != nil {
				return nil, nil, err
			}
			if ok && from > high {
				v.log.Warn(fmt.Sprintf("%s/%d ends at %d, before the view's offset %d: the topic was made again; reading everything again", topic, id, high, from))
				if err := v.reset(); err != nil {
					return nil, nil, err
				}
				return v.positions(c)
			}
			if !ok || from < low {
				from = low
			}
			if high > from {
				pending[key2(topic, id)] = true
			}
			assign = append(assign, ckafka.TopicPartition{Topic: &topic, Partition: id, Offset: ckafka.Offset(from)})
		}
	}
	return assign, pending, nil
}

func (v *View) reset() error {
	b := v.store.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(prefixView, upperBound(prefixView), nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// apply folds one record of either topic into the batch.
func (v *View) apply(b *viewBatch, m *ckafka.Message) error {
	topic, p := *m.TopicPartition.Topic, m.TopicPartition.Partition
	if err := putInt(b.b, offKey(topic, p), int64(m.TopicPartition.Offset)+1); err != nil {
		return err
	}
	var deltas []Delta
	if topic == v.dlqTopic {
		code := kafka.Header(m, "error_code")
		if code == "" {
			code = "unknown"
		}
		deltas = []Delta{{StatDLQ, code, 1}}
	} else {
		key := string(m.Key)
		prevBytes, err := b.payment(key)
		if err != nil {
			return err
		}
		var prev, next *Record
		if prevBytes != nil {
			prev, _ = DecodeRecord(prevBytes)
		}
		if m.Value != nil {
			if next, err = DecodeRecord(m.Value); err != nil {
				v.log.Warn("skipping a state record that does not decode: "+err.Error(), "partition", p, "offset", m.TopicPartition.Offset)
				return nil
			}
		}
		value := m.Value
		if next == nil {
			value = nil
		}
		if err := b.setPayment(key, value); err != nil {
			return err
		}
		deltas = StatDeltas(prev, next)
	}
	for _, d := range deltas {
		b.add(statKey(d.Kind, d.Name), d.N)
	}
	return nil
}

// viewBatch is one write of the view: the records read since the last one.
// The payments it sets and the changes to each counter are kept beside it in
// memory, so a payment seen twice within a batch, and each counter, cost
// one store read per batch instead of one per record.
type viewBatch struct {
	db       *pebble.DB
	b        *pebble.Batch
	payments map[string][]byte   // by payment key: the value set in this batch (nil: deleted)
	counters map[string]*big.Int // by counter key: what to add
	n        int                 // records in the batch
}

func newViewBatch(db *pebble.DB) *viewBatch {
	return &viewBatch{db: db, b: db.NewBatch(), payments: map[string][]byte{}, counters: map[string]*big.Int{}}
}

// payment returns a payment's latest record: set in this batch, or stored.
func (b *viewBatch) payment(key string) ([]byte, error) {
	if v, ok := b.payments[key]; ok {
		return v, nil
	}
	return get(b.db, payKey(key))
}

// setPayment writes a payment's record; nil deletes it.
func (b *viewBatch) setPayment(key string, value []byte) error {
	b.payments[key] = value
	if value == nil {
		return b.b.Delete(payKey(key), nil)
	}
	return b.b.Set(payKey(key), value, nil)
}

func (b *viewBatch) add(key []byte, n int64) {
	sum, ok := b.counters[string(key)]
	if !ok {
		sum = new(big.Int)
		b.counters[string(key)] = sum
	}
	sum.Add(sum, big.NewInt(n))
}

// commit adds the counters' changes to the stored counters and writes the
// batch at once, then starts the next one.
func (b *viewBatch) commit() error {
	for key, n := range b.counters {
		if err := addCounter(b.db, b.b, []byte(key), n); err != nil {
			return err
		}
	}
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	b.b.Close()
	b.b, b.n = b.db.NewBatch(), 0
	clear(b.payments)
	clear(b.counters)
	return nil
}

func (b *viewBatch) close() { b.b.Close() }

// addCounter adds n to a counter. Counters are stored as decimal integers
// of any size, so a currency's total never wraps; Totals saturates it at the
// int64 the contract carries.
func addCounter(r pebble.Reader, w pebble.Writer, key []byte, n *big.Int) error {
	v, err := get(r, key)
	if err != nil {
		return err
	}
	sum := new(big.Int)
	if v != nil {
		sum.SetString(string(v), 10)
	}
	sum.Add(sum, n)
	return w.Set(key, []byte(sum.String()), nil)
}

// ErrNotFound is Get's answer for a payment the state topic has never held.
var ErrNotFound = errors.New("payment not found")

// Get returns the latest state of a payment.
func (v *View) Get(g pb.Gateway, id string) (*pb.Payment, error) {
	b, err := get(v.store.db, payKey(Key(g, id)))
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, ErrNotFound
	}
	r, err := DecodeRecord(b)
	if err != nil {
		return nil, err
	}
	return r.Payment, nil
}

// Totals are GetStats' counters over the view.
type Totals struct {
	Payments         int64
	Duplicates       int64
	ByGateway        map[string]int64
	ByStatus         map[string]int64
	TotalsByCurrency map[string]int64
	DLQByCode        map[string]int64
}

// Totals reads the counters.
func (v *View) Totals() (Totals, error) {
	m, err := v.store.readStats()
	if err != nil {
		return Totals{}, err
	}
	t := Totals{ByGateway: nonZero(m[StatGateway]), ByStatus: nonZero(m[StatStatus]),
		TotalsByCurrency: nonZero(m[StatCurrency]), DLQByCode: nonZero(m[StatDLQ])}
	t.Payments = m[StatTotal][nameAll]
	t.Duplicates = m[StatDuplicates][nameAll]
	return t, nil
}

func nonZero(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// Kinds of counters.
const (
	StatGateway    = "gateway"
	StatStatus     = "status"
	StatCurrency   = "currency" // sum of amount_minor
	StatTotal      = "total"    // distinct payments
	StatDuplicates = "dup"      // duplicate events dropped
	StatDLQ        = "dlq"      // dead letters by error code
	nameAll        = "all"
)

// Delta is a change of one counter.
type Delta struct {
	Kind, Name string
	N          int64
}

// StatDeltas is how the counters move when a payment's record goes from prev
// to next (either may be nil): a payment counts once for its gateway, once
// for its current status, and its amount once in its currency's total.
func StatDeltas(prev, next *Record) []Delta {
	var d []Delta
	add := func(r *Record, sign int64) {
		p := r.Payment
		d = append(d,
			Delta{StatTotal, nameAll, sign},
			Delta{StatGateway, p.GetGateway().String(), sign},
			Delta{StatStatus, p.GetStatus().String(), sign},
			Delta{StatDuplicates, nameAll, sign * r.Duplicates})
		if c := p.GetAmount().GetCurrency(); c != "" {
			d = append(d, Delta{StatCurrency, c, sign * p.GetAmount().GetAmountMinor()})
		}
	}
	if prev != nil {
		add(prev, -1)
	}
	if next != nil {
		add(next, 1)
	}
	return compact(d)
}

// compact sums deltas of the same counter and drops zeros.
func compact(in []Delta) []Delta {
	sum := map[[2]string]int64{}
	var order [][2]string
	for _, d := range in {
		k := [2]string{d.Kind, d.Name}
		if _, ok := sum[k]; !ok {
			order = append(order, k)
		}
		sum[k] += d.N
	}
	var out []Delta
	for _, k := range order {
		if sum[k] != 0 {
			out = append(out, Delta{k[0], k[1], sum[k]})
		}
	}
	return out
}
