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

// sharedConsumer is ModeShared: one consumer, subscribed to every raw topic,
// whose poll loop hands each record to its topic's goroutine (topicWorker).
// The guarantees are those of ModePerTopic: a record is in flight from the
// moment it is polled; its offset is stored only once its outputs are
// acknowledged; before partitions are given away, and at shutdown, in-flight
// records are drained and what was delivered is committed.
type sharedConsumer struct {
	in     *Ingester
	c      *ckafka.Consumer
	topics map[string]*topicWorker
	order  []*topicWorker // in Options.Topics order
	log    *slog.Logger

	// Touched only by the poll goroutine (the rebalance callback runs on it).
	paused  map[*topicWorker]bool
	flow    throttle
	pending map[*topicWorker][]*ckafka.Message // polled, in flight, not yet handed over
}

// topicWorker is one raw topic's goroutine in ModeShared: it normalizes and
// sends the records the poll loop queued for it, in order.
type topicWorker struct {
	*topicConsumer
	queue chan topicBatch
	// pausedParts are this topic's partitions paused for backpressure
	// (poll goroutine only).
	pausedParts map[int32]bool
}

// topicBatch is records of one topic, in the order they were polled.
type topicBatch = []*ckafka.Message

// throttle is the backpressure rule of a shared consumer: a topic whose
// in-flight records reach max has its partitions paused (the other topics
// keep flowing), and resumed once deliveries bring it down to half.
type throttle struct{ max int }

func (t throttle) pause(inFlight int) bool  { return inFlight >= t.max }
func (t throttle) resume(inFlight int) bool { return inFlight <= t.max/2 }

func (in *Ingester) runShared(ctx context.Context) error {
	c, err := in.newConsumer()
	if err != nil {
		return fmt.Errorf("new consumer: %w", err)
	}
	sc := newSharedConsumer(in, c)
	names := make([]string, 0, len(sc.order))
	for _, w := range sc.order {
		names = append(names, w.topic)
	}
	if err := c.SubscribeTopics(names, sc.rebalance); err != nil {
		c.Close()
		return fmt.Errorf("subscribe: %w", err)
	}
	in.log.Info(fmt.Sprintf("One consumer for %d raw topic(s), a goroutine per topic (shared mode)", len(names)))

	// The goroutines send with a context that outlives ctx until the drain
	// is over: records already polled are finished, not abandoned.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	workers := sc.startWorkers(workCtx)

	loopErr := sc.poll(ctx)
	sc.waitInFlight(sc.order, in.opts.DrainTimeout)
	if _, err := c.Commit(); err != nil && !isNoOffset(err) {
		sc.log.Warn("final commit", "err", err)
	}
	stopWork()
	sc.stopWorkers(workers)
	if err := c.Close(); err != nil && loopErr == nil {
		loopErr = fmt.Errorf("close consumer: %w", err)
	}
	for _, w := range sc.order {
		in.ready.Store(w.topic, false)
	}
	return loopErr
}

// newSharedConsumer prepares a goroutine's queue and offset tracker for
// each of in's raw topics, all fed by c.
func newSharedConsumer(in *Ingester, c *ckafka.Consumer) *sharedConsumer {
	sc := &sharedConsumer{in: in, c: c, topics: map[string]*topicWorker{}, log: in.log,
		paused: map[*topicWorker]bool{}, flow: throttle{max: in.opts.MaxInFlight},
		pending: map[*topicWorker][]*ckafka.Message{}}
	for _, topic := range in.opts.Topics {
		if sc.topics[topic] != nil {
			continue
		}
		w := &topicWorker{
			topicConsumer: &topicConsumer{in: in, c: c, topic: topic, tracker: kafka.NewOffsetTracker(), log: in.log.With("topic", topic)},
			queue:         make(chan topicBatch, queueLen),
			pausedParts:   map[int32]bool{},
		}
		sc.topics[topic] = w
		sc.order = append(sc.order, w)
	}
	return sc
}

// startWorkers starts each topic's goroutine: it normalizes and sends, in
// order, the records handed to it, with ctx.
func (sc *sharedConsumer) startWorkers(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, w := range sc.order {
		sc.log.Info(fmt.Sprintf("Consuming from %s...", w.topic))
		sc.in.consumers.Store(w.topic, w.topicConsumer)
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
func (sc *sharedConsumer) stopWorkers(wg *sync.WaitGroup) {
	for _, w := range sc.order {
		close(w.queue)
	}
	wg.Wait()
	for _, w := range sc.order {
		sc.in.consumers.Delete(w.topic)
	}
}

func (sc *sharedConsumer) poll(ctx context.Context) error {
	for ctx.Err() == nil {
		sc.resumeDrained()
		timeout := 100
		if len(sc.paused) > 0 {
			timeout = 5 // come back soon to resume what deliveries freed
		}
		// Wait for one event, then take whatever else is ready at once.
		for n := 0; n < maxBatch; n++ {
			ev := sc.c.Poll(timeout)
			if ev == nil {
				break
			}
			timeout = 0
			if err := sc.handleEvent(ev); err != nil {
				sc.handOver()
				return err
			}
		}
		sc.handOver()
	}
	return nil
}

func (sc *sharedConsumer) handleEvent(ev ckafka.Event) error {
	switch e := ev.(type) {
	case *ckafka.Message:
		if e.TopicPartition.Error != nil {
			sc.log.Warn("consume error", "err", e.TopicPartition.Error)
			return nil
		}
		sc.dispatch(e)
	case ckafka.Error:
		if e.IsFatal() {
			return e
		}
		// Broker down, coordinator moving: librdkafka reconnects itself.
		sc.log.Warn("consumer: "+e.Error(), "code", e.Code().String())
	}
	return nil
}

// dispatch adds m to its topic's next batch. The record is in flight from
// here: a revoke or a shutdown waits for it.
func (sc *sharedConsumer) dispatch(m *ckafka.Message) {
	w := sc.topics[*m.TopicPartition.Topic]
	if w == nil { // cannot happen: subscribed by exact names
		sc.log.Warn("record of a topic not subscribed to", "topic", *m.TopicPartition.Topic)
		return
	}
	w.start(m)
	sc.pending[w] = append(sc.pending[w], m)
	if sc.flow.pause(w.tracker.InFlight()) && !w.pausedParts[m.TopicPartition.Partition] {
		tp := ckafka.TopicPartition{Topic: m.TopicPartition.Topic, Partition: m.TopicPartition.Partition}
		if err := sc.c.Pause([]ckafka.TopicPartition{tp}); err != nil {
			w.log.Debug("pause", "partition", tp.Partition, "err", err)
			return
		}
		w.pausedParts[tp.Partition] = true
		sc.paused[w] = true
	}
}

// handOver gives every topic's goroutine the records polled for it.
func (sc *sharedConsumer) handOver() {
	for w, batch := range sc.pending {
		w.queue <- batch // waits only while the goroutine is a whole queue behind
		delete(sc.pending, w)
	}
}

// resumeDrained resumes the paused topics whose deliveries caught up.
func (sc *sharedConsumer) resumeDrained() {
	for w := range sc.paused {
		if !sc.flow.resume(w.tracker.InFlight()) {
			continue
		}
		sc.resume(w, w.pausedParts)
		delete(sc.paused, w)
	}
}

// resume resumes the given paused partitions of w (a subset of pausedParts).
func (sc *sharedConsumer) resume(w *topicWorker, parts map[int32]bool) {
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
	if err := sc.c.Resume(tps); err != nil {
		w.log.Debug("resume", "err", err)
	}
}

// rebalance is the shared consumer's version of topicConsumer.rebalance:
// before partitions are given away, the records in flight in their topics
// are delivered and their offsets committed.
func (sc *sharedConsumer) rebalance(c *ckafka.Consumer, ev ckafka.Event) error {
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		byTopic := partitionsByTopic(e.Partitions)
		for _, w := range sc.order {
			if n := len(byTopic[w.topic]); n > 0 {
				w.log.Info(fmt.Sprintf("Assigned %d partition(s) of %s", n, w.topic))
			}
			// The consumer is in the group: every topic is served, even if
			// another instance holds all of this topic's partitions.
			sc.in.ready.Store(w.topic, true)
		}
	case ckafka.RevokedPartitions:
		// Records polled before the revoke are in flight: their goroutines
		// must have them to finish them.
		sc.handOver()
		byTopic := partitionsByTopic(e.Partitions)
		var affected []*topicWorker
		for topic, parts := range byTopic {
			w := sc.topics[topic]
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
			sc.resume(w, revoked)
			if len(w.pausedParts) == 0 {
				delete(sc.paused, w)
			}
		}
		sc.waitInFlight(affected, sc.in.opts.DrainTimeout)
		if _, err := c.Commit(); err != nil && !isNoOffset(err) {
			sc.log.Warn("commit on revoke", "err", err)
		}
		for _, w := range affected {
			for _, p := range byTopic[w.topic] {
				w.tracker.Forget(p)
			}
		}
		if c.AssignmentLost() {
			sc.log.Warn("partitions lost (session timed out); their records will be consumed again")
		}
	}
	return nil
}

// waitInFlight waits, up to timeout in all, until the given topics have no
// record in flight. Their goroutines keep working meanwhile; the poll loop
// does not hand them anything new (it is the caller).
func (sc *sharedConsumer) waitInFlight(ws []*topicWorker, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for inFlight(ws) > 0 && time.Now().Before(deadline) {
		if sc.in.producer.Flush(100*time.Millisecond) == 0 {
			time.Sleep(time.Millisecond) // records still queued or being normalized
		}
	}
	for _, w := range ws {
		if n := w.tracker.InFlight(); n > 0 {
			w.log.Warn(fmt.Sprintf("%d record(s) still unacknowledged after %v; they will be consumed again", n, timeout))
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
