package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
)

// queueLen is how many batches of consumed records may wait for a topic's
// goroutine. Small: the in-flight bound (Options.MaxInFlight) is what bounds
// memory, by pausing the topic's partitions; the queue only decouples the
// poll loop from the goroutines.
const queueLen = 64

// maxBatch is how many records the poll loop takes from librdkafka's queue
// (without waiting) before it hands them to their topics' goroutines. A
// hand-off per batch instead of per record wakes each goroutine once per
// batch.
const maxBatch = 256

// feed is one Kafka consumer of the ingest group and the topics it feeds:
// the one pipeline both modes run. ModePerTopic runs a feed per raw topic,
// ModeShared one feed for them all. Its poll loop hands each record to its
// topic's goroutine (topicWorker). A record is in flight from the moment
// it is polled; its offset is stored only once its outputs are
// acknowledged; before partitions are given away, and at shutdown,
// in-flight records are drained and what was delivered is committed.
type feed struct {
	in     *Ingester
	c      *ckafka.Consumer
	topics map[string]*topicWorker
	order  []*topicWorker // in the order the topics were given
	log    *slog.Logger

	// Touched only by the poll goroutine (the rebalance callback runs on it).
	paused  map[*topicWorker]bool
	flow    throttle
	pending map[*topicWorker][]*ckafka.Message // polled, in flight, not yet handed over
}

// topicWorker is one raw topic's goroutine: it normalizes and sends the
// records the poll loop queued for it, in order.
type topicWorker struct {
	*topicConsumer
	queue chan topicBatch
	// pausedParts are this topic's partitions paused for backpressure
	// (poll goroutine only).
	pausedParts map[int32]bool
}

// topicBatch is records of one topic, in the order they were polled.
type topicBatch = []*ckafka.Message

// throttle is the backpressure rule of a feed: a topic whose in-flight
// records reach max has its partitions paused (the other topics keep
// flowing), and resumed once deliveries bring it down to half.
type throttle struct{ max int }

func (t throttle) pause(inFlight int) bool  { return inFlight >= t.max }
func (t throttle) resume(inFlight int) bool { return inFlight <= t.max/2 }

// consume runs one feed of topics until ctx is done or the consumer or the
// producer fails for good, then drains and commits.
func (in *Ingester) consume(ctx context.Context, topics []string, instanceID string) error {
	c, err := in.newConsumer(instanceID)
	if err != nil {
		return fmt.Errorf("new consumer: %w", err)
	}
	f := newFeed(in, c, topics)
	if err := c.SubscribeTopics(topics, f.rebalance); err != nil {
		c.Close()
		return fmt.Errorf("subscribe: %w", err)
	}

	// The goroutines send with a context that outlives ctx until the drain
	// is over: records already polled are finished, not abandoned.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	workers := f.startWorkers(workCtx)

	loopErr := f.poll(ctx)
	f.waitInFlight(f.order, in.opts.DrainTimeout)
	if _, err := c.Commit(); err != nil && !isNoOffset(err) {
		f.log.Warn("final commit", "err", err)
	}
	if instanceID != "" {
		f.leave()
	}
	stopWork()
	f.stopWorkers(workers)
	if err := c.Close(); err != nil && loopErr == nil {
		loopErr = fmt.Errorf("close consumer: %w", err)
	}
	for _, w := range f.order {
		in.ready.Store(w.topic, false)
	}
	return loopErr
}

// leave takes a static member out of the group before it closes. Closing,
// a static member does not leave (KIP-345): its partitions would wait out
// the session timeout, as after a crash, while a stop means another
// instance should take them at once. Unsubscribing does leave; the revoke
// and the LeaveGroup request happen on Poll, so it polls until they have.
// Records polled meanwhile are dropped: nothing stored their offsets, so
// the next owner reads them.
func (f *feed) leave() {
	if err := f.c.Unsubscribe(); err != nil {
		f.log.Debug("leave group", "err", err)
		return
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		f.c.Poll(50)
		if parts, err := f.c.Assignment(); err != nil || len(parts) == 0 {
			return
		}
	}
}

// newFeed prepares a goroutine's queue and offset tracker for each of
// topics, all fed by c.
func newFeed(in *Ingester, c *ckafka.Consumer, topics []string) *feed {
	f := &feed{in: in, c: c, topics: map[string]*topicWorker{}, log: in.log,
		paused: map[*topicWorker]bool{}, flow: throttle{max: in.opts.MaxInFlight},
		pending: map[*topicWorker][]*ckafka.Message{}}
	for _, topic := range topics {
		if f.topics[topic] != nil {
			continue
		}
		w := &topicWorker{
			topicConsumer: &topicConsumer{in: in, c: c, topic: topic, tracker: kafka.NewOffsetTracker(), log: in.log.With("topic", topic)},
			queue:         make(chan topicBatch, queueLen),
			pausedParts:   map[int32]bool{},
		}
		f.topics[topic] = w
		f.order = append(f.order, w)
	}
	return f
}

// startWorkers starts each topic's goroutine: it normalizes and sends, in
// order, the records handed to it, with ctx.
func (f *feed) startWorkers(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, w := range f.order {
		f.log.Info(fmt.Sprintf("Consuming from %s...", w.topic))
		f.in.consumers.Store(w.topic, w.topicConsumer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range w.queue {
				for _, m := range batch {
					w.process(ctx, m)
				}
			}
		}()
	}
	return &wg
}

// stopWorkers ends the goroutines once they have finished what they were
// handed.
func (f *feed) stopWorkers(wg *sync.WaitGroup) {
	for _, w := range f.order {
		close(w.queue)
	}
	wg.Wait()
	for _, w := range f.order {
		f.in.consumers.Delete(w.topic)
	}
}

// poll is the feed's loop: it waits for one event, takes whatever else is
// ready at once, and hands the records over. It stops when ctx is done, or
// with the error when the consumer or the producer has failed for good.
func (f *feed) poll(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := f.in.producer.Fatal(); err != nil {
			return fmt.Errorf("producer failed for good: %w", err)
		}
		f.resumeDrained()
		timeout := 100
		if len(f.paused) > 0 {
			timeout = 5 // come back soon to resume what deliveries freed
		}
		for n := 0; n < maxBatch; n++ {
			ev := f.c.Poll(timeout)
			if ev == nil {
				break
			}
			timeout = 0
			if err := kafka.HandleEvent(ev, f.log, f.dispatch); err != nil {
				f.handOver()
				return err
			}
		}
		f.handOver()
	}
	return nil
}

// dispatch adds m to its topic's next batch. The record is in flight from
// here: a revoke or a shutdown waits for it.
func (f *feed) dispatch(m *ckafka.Message) {
	w := f.topics[*m.TopicPartition.Topic]
	if w == nil { // cannot happen: subscribed by exact names
		f.log.Warn("record of a topic not subscribed to", "topic", *m.TopicPartition.Topic)
		return
	}
	w.start(m)
	f.pending[w] = append(f.pending[w], m)
	if f.flow.pause(w.tracker.InFlight()) && !w.pausedParts[m.TopicPartition.Partition] {
		tp := ckafka.TopicPartition{Topic: m.TopicPartition.Topic, Partition: m.TopicPartition.Partition}
		if err := f.c.Pause([]ckafka.TopicPartition{tp}); err != nil {
			w.log.Debug("pause", "partition", tp.Partition, "err", err)
			return
		}
		w.pausedParts[tp.Partition] = true
		f.paused[w] = true
	}
}

// handOver gives every topic's goroutine the records polled for it.
func (f *feed) handOver() {
	for w, batch := range f.pending {
		w.queue <- batch // waits only while the goroutine is a whole queue behind
		delete(f.pending, w)
	}
}

// resumeDrained resumes the paused topics whose deliveries caught up.
func (f *feed) resumeDrained() {
	for w := range f.paused {
		if !f.flow.resume(w.tracker.InFlight()) {
			continue
		}
		f.resume(w, w.pausedParts)
		delete(f.paused, w)
	}
}

// resume resumes the given paused partitions of w (a subset of pausedParts).
func (f *feed) resume(w *topicWorker, parts map[int32]bool) {
	var tps []ckafka.TopicPartition
	for p := range parts {
		tps = append(tps, ckafka.TopicPartition{Topic: &w.topic, Partition: p})
	}
	for _, tp := range tps {
		delete(w.pausedParts, tp.Partition)
	}
	if len(tps) == 0 {
		return
	}
	if err := f.c.Resume(tps); err != nil {
		w.log.Debug("resume", "err", err)
	}
}

// rebalance keeps "commit only what was delivered" true across rebalances:
// before partitions are given away, the records in flight in their topics
// are delivered and their offsets committed, so the next owner starts
// exactly after them.
func (f *feed) rebalance(c *ckafka.Consumer, ev ckafka.Event) error {
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		byTopic := partitionsByTopic(e.Partitions)
		for _, w := range f.order {
			if n := len(byTopic[w.topic]); n > 0 {
				w.log.Info(fmt.Sprintf("Assigned %d partition(s) of %s", n, w.topic))
			}
			// The consumer is in the group: every topic is served, even if
			// another instance holds all of this topic's partitions.
			f.in.ready.Store(w.topic, true)
		}
	case ckafka.RevokedPartitions:
		// Records polled before the revoke are in flight: their goroutines
		// must have them to finish them.
		f.handOver()
		byTopic := partitionsByTopic(e.Partitions)
		var affected []*topicWorker
		for topic, parts := range byTopic {
			w := f.topics[topic]
			if w == nil {
				continue
			}
			affected = append(affected, w)
			revoked := map[int32]bool{}
			for _, p := range parts {
				if w.pausedParts[p] {
					revoked[p] = true
				}
			}
			// A partition comes back unpaused if it is ever reassigned.
			f.resume(w, revoked)
			if len(w.pausedParts) == 0 {
				delete(f.paused, w)
			}
		}
		f.waitInFlight(affected, f.in.opts.DrainTimeout)
		if _, err := c.Commit(); err != nil && !isNoOffset(err) {
			f.log.Warn("commit on revoke", "err", err)
		}
		for _, w := range affected {
			for _, p := range byTopic[w.topic] {
				w.tracker.Forget(p)
			}
		}
		if c.AssignmentLost() {
			f.log.Warn("partitions lost (session timed out); their records will be consumed again")
		}
	}
	return nil
}

// waitInFlight waits, up to timeout in all, until the given topics have no
// record in flight. Their goroutines keep working meanwhile; the poll loop
// does not hand them anything new (it is the caller). A producer that
// failed for good acknowledges nothing more: no use waiting for it.
func (f *feed) waitInFlight(ws []*topicWorker, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for inFlight(ws) > 0 && time.Now().Before(deadline) && f.in.producer.Fatal() == nil {
		if f.in.producer.Flush(100*time.Millisecond) == 0 {
			time.Sleep(time.Millisecond) // records still queued or being normalized
		}
	}
	for _, w := range ws {
		if n := w.tracker.InFlight(); n > 0 {
			w.log.Warn(fmt.Sprintf("%d record(s) still unacknowledged at the end of the drain; they will be consumed again", n))
		}
	}
}

func inFlight(ws []*topicWorker) int {
	n := 0
	for _, w := range ws {
		n += w.tracker.InFlight()
	}
	return n
}

// partitionsByTopic groups partition numbers by topic name.
func partitionsByTopic(tps []ckafka.TopicPartition) map[string][]int32 {
	out := map[string][]int32{}
	for _, tp := range tps {
		if tp.Topic == nil {
			continue
		}
		out[*tp.Topic] = append(out[*tp.Topic], tp.Partition)
	}
	return out
}
