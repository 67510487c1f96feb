package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/merge"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Options configure the state stage.
type Options struct {
	Kafka           config.Kafka
	GroupID         string // consumer group over the events topic
	EventsTopic     string
	NormalizedTopic string
	StateTopic      string
	// Horizon is how long an event id is remembered for dedupe.
	Horizon time.Duration
	// A transaction is committed after CommitInterval or CommitRecords
	// events, whichever comes first.
	CommitInterval time.Duration
	CommitRecords  int
	// Now is the clock of the dedupe horizon; nil means time.Now.
	Now func() time.Time
	// InstanceID, if set, makes the consumer a static group member
	// (group.instance.id: it and "-state"), so that a restart after a crash
	// takes its partitions back at once, and names the transactional.id,
	// so that the restart fences the crashed transaction at once, even
	// with a lost store. Two running instances must never share it.
	InstanceID string
}

// Stats are the state stage's counters since start.
type Stats struct {
	Read      atomic.Int64 // events read
	Applied   atomic.Int64
	Dupes     atomic.Int64
	Refused   atomic.Int64
	Restored  atomic.Int64 // state records read back from the state topic
	Commits   atomic.Int64 // transactions committed
	Aborts    atomic.Int64
	Unreadabl atomic.Int64 // events that are not a payment.v1.Payment
}

// Stage is the state stage. Run it once.
type Stage struct {
	opts  Options
	store *Store
	disk  *DiskGuard
	log   *slog.Logger
	Stats Stats

	c        *ckafka.Consumer
	p        *ckafka.Producer
	assigned atomic.Bool
	rebErr   error // set by the rebalance callback, checked by the loop
	paused   bool
	owned    []ckafka.TopicPartition

	// The open transaction.
	inTx    bool
	txStart time.Time
	txCount int
	batch   *pebble.Batch
	txFirst map[int32]int64 // first offset of each partition in it: where to rewind
	txNext  map[int32]int64 // next offset of each partition: what it commits
	wg      sync.WaitGroup

	mu      sync.Mutex
	refused map[string]int64 // by merge.NotFolded.Reason
}

// NewStage returns a state stage over store.
func NewStage(opts Options, store *Store, disk *DiskGuard, log *slog.Logger) *Stage {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Stage{opts: opts, store: store, disk: disk, log: log.With("component", "STATE")}
}

// Assigned reports whether the stage has joined its group and been given
// its partitions (possibly none, when there are more instances than them).
func (s *Stage) Assigned() bool { return s.assigned.Load() }

// TransactionalID is the producer's transactional.id: the group and the
// instance id, else the store's own id (stable across restarts of one store).
func (s *Stage) TransactionalID() string {
	if s.opts.InstanceID != "" {
		return s.opts.GroupID + "-" + s.opts.InstanceID
	}
	return s.opts.GroupID + "-" + s.store.Instance()
}

// Run folds events until ctx is done, then commits the open transaction and
// leaves the group. A fatal Kafka error (a fenced producer, say) ends it with
// that error.
func (s *Stage) Run(ctx context.Context) error {
	if err := s.connect(ctx); err != nil {
		s.close()
		return err
	}
	defer s.close()
	err := s.loop(ctx)
	if s.inTx {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if cerr := s.commit(cctx); cerr != nil && err == nil {
			err = cerr
		}
		cancel()
	}
	return err
}

func (s *Stage) connect(ctx context.Context) error {
	o := s.opts
	var err error
	s.p, err = ckafka.NewProducer(kafka.ConfigMap(o.Kafka, ckafka.ConfigMap{
		"transactional.id":   s.TransactionalID(),
		"enable.idempotence": true,
		"acks":               "all",
		// A transaction is itself a batch: its records need no linger of
		// their own beyond what gathers one commit's worth of requests.
		"linger.ms":                  1,
		"compression.type":           "lz4",
		"queue.buffering.max.kbytes": kafka.ProducerQueueKB,
		// An instance whose store was lost comes back with a new id and
		// cannot fence its old transaction: the broker aborts that one
		// after this long, and read_committed readers wait for it.
		"transaction.timeout.ms": 10000,
	}))
	if err != nil {
		return fmt.Errorf("state producer: %w", err)
	}
	s.wg.Add(1)
	go s.readProducerEvents()
	ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := s.p.InitTransactions(ictx); err != nil {
		return fmt.Errorf("state producer: init transactions (transactional.id %s): %w", s.TransactionalID(), err)
	}
	cm := ckafka.ConfigMap{
		"group.id":           o.GroupID,
		"isolation.level":    "read_committed",
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
	}
	if o.InstanceID != "" {
		cm["group.instance.id"] = o.InstanceID + "-state"
	}
	s.c, err = ckafka.NewConsumer(kafka.ConfigMap(o.Kafka, cm))
	if err != nil {
		return fmt.Errorf("state consumer: %w", err)
	}
	if err := s.checkCoPartitioned(); err != nil {
		return err
	}
	if err := s.c.Subscribe(o.EventsTopic, s.rebalance); err != nil {
		return fmt.Errorf("subscribe %s: %w", o.EventsTopic, err)
	}
	s.log.Info(fmt.Sprintf("Folding %s into %s and %s (group %s, transactional.id %s)", o.EventsTopic, o.NormalizedTopic, o.StateTopic, o.GroupID, s.TransactionalID()))
	return nil
}

// checkCoPartitioned refuses to start when the state topic, the events
// topic's changelog, has another number of partitions: each events partition's
// state is restored from the state partition of the same number.
func (s *Stage) checkCoPartitioned() error {
	events, err := kafka.Partitions(s.c, s.opts.EventsTopic)
	if err != nil {
		return err
	}
	state, err := kafka.Partitions(s.c, s.opts.StateTopic)
	if err != nil {
		return err
	}
	if len(events) != len(state) {
		return fmt.Errorf("KAFKA_STATE_TOPIC %s has %d partitions and KAFKA_EVENTS_TOPIC %s has %d: the state topic is the events topic's changelog, partition for partition; make them match",
			s.opts.StateTopic, len(state), s.opts.EventsTopic, len(events))
	}
	return nil
}

func (s *Stage) close() {
	if s.c != nil {
		// Unsubscribe first: a static member's Close alone would not leave
		// the group, and its partitions would wait out its session.
		_ = s.c.Unsubscribe()
		s.c.Close() // the revoke callback has nothing open to commit
	}
	if s.p != nil {
		s.p.Close()
		s.wg.Wait()
	}
	if s.batch != nil {
		s.batch.Close()
	}
}

// readProducerEvents drains the producer's reports: a failed delivery fails
// the transaction's commit, which is where it is handled.
func (s *Stage) readProducerEvents() {
	defer s.wg.Done()
	for ev := range s.p.Events() {
		if e, ok := ev.(ckafka.Error); ok {
			s.log.Warn("state producer: " + e.Error())
		}
	}
}

func (s *Stage) loop(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := s.followDisk(); err != nil {
			return err
		}
		wait := 100
		if s.inTx {
			wait = max(1, int(time.Until(s.txStart.Add(s.opts.CommitInterval)).Milliseconds()))
		}
		ev := s.c.Poll(min(wait, 100))
		if s.rebErr != nil {
			return s.rebErr
		}
		switch e := ev.(type) {
		case *ckafka.Message:
			if err := s.process(e); err != nil {
				return err
			}
		case ckafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("state consumer: %w", e)
			}
			s.log.Warn("state consumer: " + e.Error())
		}
		if s.inTx && (s.txCount >= s.opts.CommitRecords || time.Since(s.txStart) >= s.opts.CommitInterval) {
			if err := s.commit(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// followDisk pauses the owned partitions while the store's disk is short of
// space (health says why) and resumes them when it has room again.
func (s *Stage) followDisk() error {
	low := s.disk != nil && s.disk.Low() != ""
	if low == s.paused || len(s.owned) == 0 {
		return nil
	}
	s.paused = low
	if low {
		s.log.Warn("pausing: " + s.disk.Low())
		return s.c.Pause(s.owned)
	}
	s.log.Info("disk has room again: resuming")
	return s.c.Resume(s.owned)
}

// process folds one event into the open transaction.
func (s *Stage) process(m *ckafka.Message) error {
	s.Stats.Read.Add(1)
	part, off := m.TopicPartition.Partition, int64(m.TopicPartition.Offset)
	if err := s.begin(); err != nil {
		return err
	}
	if _, ok := s.txFirst[part]; !ok {
		s.txFirst[part] = off
	}
	s.txNext[part] = off + 1
	s.txCount++
	var ev pb.Payment
	if err := proto.Unmarshal(m.Value, &ev); err != nil || ev.GetId() == "" {
		// Only the ingest stage writes here; this is a foreign record.
		s.Stats.Unreadabl.Add(1)
		s.log.Warn("skipping a record that is not a payment.v1.Payment", "partition", part, "offset", off)
		return nil
	}
	key := Key(ev.GetGateway(), ev.GetId())
	cur, err := s.ownRecord(part, key)
	if err != nil {
		return err
	}
	next, outcome, err := Fold(cur, &ev, s.opts.Now(), s.opts.Horizon)
	switch outcome {
	case Duplicate:
		s.Stats.Dupes.Add(1)
	case Refused:
		if next == nil {
			return err
		}
		s.Stats.Refused.Add(1)
		s.countRefused(err)
		src := ev.GetSource()
		s.log.Warn(err.Error(), "gateway", normalizer.GatewayName(ev.GetGateway()), "id", ev.GetId(), "event_id", ev.GetEventId(),
			"partition", part, "offset", off, "source_topic", src.GetTopic(), "source_partition", src.GetPartition(), "source_offset", src.GetOffset())
	case Applied:
		s.Stats.Applied.Add(1)
	}
	value, err := next.Encode()
	if err != nil {
		return err
	}
	if err := s.batch.Set(ownKey(part, key), value, nil); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	// The state record goes to the events record's partition number: the
	// changelog is co-partitioned with the events topic, so restoring one
	// owned partition reads one state partition.
	if err := s.produce(&ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &s.opts.StateTopic, Partition: part},
		Key:            []byte(key), Value: value,
	}); err != nil {
		return err
	}
	if outcome != Applied {
		return nil
	}
	payment, err := proto.Marshal(next.Payment)
	if err != nil {
		return fmt.Errorf("encode payment %s: %w", key, err)
	}
	return s.produce(&ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &s.opts.NormalizedTopic, Partition: ckafka.PartitionAny},
		Key:            []byte(key), Value: payment,
		Timestamp: m.Timestamp, // the event's own time, as ingest set it: `since` finds it by Kafka's time index
		Headers:   m.Headers,
	})
}

func (s *Stage) countRefused(err error) {
	var nf *merge.NotFolded
	if !errors.As(err, &nf) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]int64{}
	}
	s.refused[nf.Reason]++
}

// NotFolded counts the events merge refused since start, by reason
// (merge.NotFolded.Reason).
func (s *Stage) NotFolded() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.refused))
	for k, v := range s.refused {
		out[k] = v
	}
	return out
}

// Key is a payment's key in the topics and the store: "<gateway>:<id>".
func Key(g pb.Gateway, id string) string { return normalizer.GatewayName(g) + ":" + id }

func (s *Stage) ownRecord(part int32, key string) (*Record, error) {
	v, err := get(s.batch, ownKey(part, key))
	if err != nil || v == nil {
		return nil, err
	}
	return DecodeRecord(v)
}

func (s *Stage) begin() error {
	if s.inTx {
		return nil
	}
	if err := s.p.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	s.inTx, s.txStart, s.txCount = true, time.Now(), 0
	s.batch = s.store.db.NewIndexedBatch()
	s.txFirst, s.txNext = map[int32]int64{}, map[int32]int64{}
	return nil
}

func (s *Stage) produce(m *ckafka.Message) error {
	for {
		err := s.p.Produce(m, nil)
		var kerr ckafka.Error
		if err == nil {
			return nil
		}
		if !errors.As(err, &kerr) || kerr.Code() != ckafka.ErrQueueFull {
			return fmt.Errorf("produce to %s: %w", *m.TopicPartition.Topic, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// commit commits the open transaction: the outputs and the consumed offsets
// together, then the store with its checkpoints. A transaction that cannot
// commit is aborted and the consumer rewound to its first records: they are
// folded again, from the state before it. Only a fatal error (this producer
// fenced by a newer one) ends the stage.
func (s *Stage) commit(ctx context.Context) error {
	offsets := make([]ckafka.TopicPartition, 0, len(s.txNext))
	for p, o := range s.txNext {
		offsets = append(offsets, ckafka.TopicPartition{Topic: &s.opts.EventsTopic, Partition: p, Offset: ckafka.Offset(o)})
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.commitOnce(ctx, offsets)
		var kerr ckafka.Error
		if err == nil || !errors.As(err, &kerr) || !kerr.IsRetriable() || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return s.abort(ctx, err)
	}
	for p, o := range s.txNext {
		if err := putInt(s.batch, ckptKey(p), o); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	// Not synced: a store that loses its last writes has a checkpoint behind
	// the group's offsets, and restores from the state topic.
	if err := s.batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("store: commit (the partitions restore from %s at the next start): %w", s.opts.StateTopic, err)
	}
	s.Stats.Commits.Add(1)
	s.endTx()
	return nil
}

func (s *Stage) commitOnce(ctx context.Context, offsets []ckafka.TopicPartition) error {
	md, err := s.c.GetConsumerGroupMetadata()
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.p.SendOffsetsToTransaction(tctx, offsets, md); err != nil {
		return err
	}
	return s.p.CommitTransaction(tctx)
}

func (s *Stage) abort(ctx context.Context, cause error) error {
	var kerr ckafka.Error
	if errors.As(cause, &kerr) && kerr.IsFatal() {
		return fmt.Errorf("commit transaction: %w", cause)
	}
	s.log.Warn("aborting the transaction and folding its events again: " + cause.Error())
	actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.p.AbortTransaction(actx); err != nil {
		return fmt.Errorf("abort transaction after %v: %w", cause, err)
	}
	s.Stats.Aborts.Add(1)
	first := s.txFirst
	s.endTx()
	for p, o := range first {
		if err := s.c.Seek(ckafka.TopicPartition{Topic: &s.opts.EventsTopic, Partition: p, Offset: ckafka.Offset(o)}, 0); err != nil {
			// Not assigned any more: its next owner starts from the group's offset.
			s.log.Debug("rewind", "partition", p, "err", err)
		}
	}
	return ctx.Err()
}

func (s *Stage) endTx() {
	s.inTx = false
	if s.batch != nil {
		s.batch.Close()
		s.batch = nil
	}
}

// rebalance runs inside Poll. Before partitions go, the open transaction is
// committed (their next owner starts where it ends). New partitions are
// checked: a store whose checkpoint equals the group's committed offset holds
// exactly the state those offsets imply; any other (a crash between the
// Kafka commit and the store's, a lost or new store, a partition another
// instance owned meanwhile) is restored from the state topic first.
func (s *Stage) rebalance(c *ckafka.Consumer, ev ckafka.Event) error {
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		if err := s.assign(c, e.Partitions); err != nil {
			s.rebErr = err
			return err
		}
	case ckafka.RevokedPartitions:
		if s.inTx {
			if err := s.commit(context.Background()); err != nil {
				s.rebErr = err
			}
		}
		s.owned, s.paused = nil, false
		if err := c.Unassign(); err != nil {
			s.rebErr = err
			return err
		}
	}
	return nil
}

func (s *Stage) assign(c *ckafka.Consumer, parts []ckafka.TopicPartition) error {
	committed, err := c.Committed(parts, 60000)
	if err != nil {
		return fmt.Errorf("committed offsets of %s: %w", s.opts.EventsTopic, err)
	}
	var stale []int32
	want := map[int32]int64{}
	for _, tp := range committed {
		group := int64(-1)
		if tp.Offset >= 0 {
			group = int64(tp.Offset)
		}
		ckpt, err := s.store.Checkpoint(tp.Partition)
		if err != nil {
			return err
		}
		if plan := PlanPartition(ckpt, group); plan == Restore {
			stale = append(stale, tp.Partition)
			want[tp.Partition] = group
		} else {
			s.log.Info(fmt.Sprintf("partition %d: store checkpoint matches the group's offset %d: no restore", tp.Partition, group))
		}
	}
	if len(stale) > 0 {
		n, err := restore(s.opts.Kafka, s.opts.StateTopic, s.store, want, s.log)
		if err != nil {
			return err
		}
		s.Stats.Restored.Add(n)
	}
	if err := c.Assign(committed); err != nil {
		return fmt.Errorf("assign %s: %w", s.opts.EventsTopic, err)
	}
	s.owned, s.paused = committed, false
	s.assigned.Store(true)
	return nil
}

// Plan is what to do with a newly assigned partition's own records.
type Plan int

const (
	UseStore Plan = iota // the checkpoint matches: fold on from the store
	Restore              // read the partition's state back from the state topic first
)

// PlanPartition compares the store's checkpoint of a partition with the
// group's committed offset (each -1 when absent).
func PlanPartition(checkpoint, committed int64) Plan {
	if checkpoint == committed {
		return UseStore
	}
	return Restore
}
