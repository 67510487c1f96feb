package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/deadletter"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
)

// Options configure one replay run.
type Options struct {
	Kafka    config.Kafka
	DLQTopic string
	// LogTopic is the replay log: a compacted topic keyed by the Coord of
	// every dead letter sent back, written once its raw record is
	// acknowledged. A later run skips what it names, unless Force.
	LogTopic string
	Filter   Filter
	DryRun   bool
	Force    bool
	// IdleTimeout bounds the wait for the next record while a partition is
	// still short of the end it had at start: the run never waits forever.
	IdleTimeout time.Duration
	// Progress is how often a progress line is logged.
	Progress time.Duration
	Log      *slog.Logger
}

// Summary counts what a run did.
type Summary struct {
	Read, Chosen, Replayed, Failed int
	Skipped                        map[string]int // by Skip* reason
	Outcomes                       map[string]int // dry run: by Outcome* or DLQ code
}

// String is the run's last line.
func (s Summary) String() string {
	skipped := 0
	for _, n := range s.Skipped {
		skipped += n
	}
	line := fmt.Sprintf("read %d, chosen %d, replayed %d, failed %d, skipped %d%s", s.Read, s.Chosen, s.Replayed, s.Failed, skipped, counts(s.Skipped))
	if s.Outcomes != nil {
		would := 0
		for _, n := range s.Outcomes {
			would += n
		}
		line = fmt.Sprintf("read %d, chosen %d, would replay %d%s, skipped %d%s (dry run: nothing written)", s.Read, s.Chosen, would, counts(s.Outcomes), skipped, counts(s.Skipped))
	}
	return line
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// runner is one run's state.
type runner struct {
	opts     Options
	log      *slog.Logger
	replayed map[string]bool
	producer *kafka.Producer
	sends    sync.WaitGroup
	sum      Summary
	ok       atomic.Int64
	failed   atomic.Int64
}

// Run reads the DLQ up to the ends its partitions had at start, chooses
// dead letters by the filter and replays them (or, in a dry run, says what
// today's normalizer would do with each). The error is set when a write
// failed or the DLQ could not be read to its end.
func Run(ctx context.Context, opts Options) (Summary, error) {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	if opts.Progress <= 0 {
		opts.Progress = 2 * time.Second
	}
	if opts.Log == nil {
		opts.Log = logging.For("REPLAY")
	}
	r := &runner{opts: opts, log: opts.Log, sum: Summary{Skipped: map[string]int{}}}
	if opts.DryRun {
		r.sum.Outcomes = map[string]int{}
	}
	c, err := ckafka.NewConsumer(kafka.ConfigMap(opts.Kafka, ckafka.ConfigMap{
		// Partitions are assigned by hand and nothing is committed: the
		// group only satisfies librdkafka and keeps no state.
		"group.id":             fmt.Sprintf("replay-%d", time.Now().UnixNano()),
		"enable.auto.commit":   false,
		"enable.partition.eof": true,
	}))
	if err != nil {
		return r.sum, fmt.Errorf("kafka consumer: %w", err)
	}
	defer c.Close()
	if !opts.DryRun {
		if err := kafka.EnsureTopicsWithConfig(ctx, opts.Kafka, []string{opts.LogTopic}, map[string]string{"cleanup.policy": "compact"}); err != nil {
			return r.sum, fmt.Errorf("replay log: %w", err)
		}
		if r.producer, err = kafka.NewProducer(opts.Kafka, logging.For("KAFKA"), nil); err != nil {
			return r.sum, err
		}
	}
	if r.replayed, err = r.readLog(ctx, c); err != nil {
		r.close()
		return r.sum, err
	}
	readErr := r.readDLQ(ctx, c)
	r.close()
	r.sum.Replayed, r.sum.Failed = int(r.ok.Load()), int(r.failed.Load())
	if readErr != nil {
		return r.sum, readErr
	}
	if r.sum.Failed > 0 {
		return r.sum, fmt.Errorf("%d write(s) failed; run again to replay them (the replay log keeps those that succeeded from going twice)", r.sum.Failed)
	}
	return r.sum, nil
}

// close waits for every write's delivery report (librdkafka reports each
// within message.timeout.ms), then closes the producer.
func (r *runner) close() {
	if r.producer == nil {
		return
	}
	done := make(chan struct{})
	go func() { r.sends.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		default:
			r.producer.Flush(100 * time.Millisecond)
		}
	}
	r.producer.Close(10 * time.Second)
}

// partitionEnds returns, per partition of topic, the offsets [start, end)
// to read: from the low watermark to the high one it has now. ok is false
// when the topic does not exist.
func partitionEnds(c *ckafka.Consumer, topic string) (map[int32][2]int64, bool, error) {
	md, err := c.GetMetadata(&topic, false, 10000)
	if err != nil {
		return nil, false, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	t, found := md.Topics[topic]
	if !found || t.Error.Code() == ckafka.ErrUnknownTopicOrPart || len(t.Partitions) == 0 {
		return nil, false, nil
	}
	out := map[int32][2]int64{}
	for _, p := range t.Partitions {
		low, high, err := watermarks(c, topic, p.ID)
		if err != nil {
			return nil, false, fmt.Errorf("watermarks of %s/%d: %w", topic, p.ID, err)
		}
		out[p.ID] = [2]int64{low, high}
	}
	return out, true, nil
}

// watermarks asks for a partition's watermarks, again for a while when its
// leader is not known yet (a topic just created, a broker restarting).
func watermarks(c *ckafka.Consumer, topic string, partition int32) (low, high int64, err error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		low, high, err = c.QueryWatermarkOffsets(topic, partition, 10000)
		var kerr ckafka.Error
		if err == nil || !errors.As(err, &kerr) || time.Now().After(deadline) {
			return low, high, err
		}
		switch kerr.Code() {
		case ckafka.ErrNotLeaderForPartition, ckafka.ErrLeaderNotAvailable, ckafka.ErrUnknownTopicOrPart:
		default:
			if !kerr.IsRetriable() {
				return low, high, err
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readLog returns the Coords the replay log names. A missing log (a dry
// run before any replay) names none.
func (r *runner) readLog(ctx context.Context, c *ckafka.Consumer) (map[string]bool, error) {
	seen := map[string]bool{}
	ends, ok, err := partitionEnds(c, r.opts.LogTopic)
	if err != nil || !ok {
		return seen, err
	}
	err = r.readTo(ctx, c, r.opts.LogTopic, ends, func(m *ckafka.Message) { seen[string(m.Key)] = true })
	if err != nil {
		return nil, fmt.Errorf("replay log: %w", err)
	}
	return seen, nil
}

func (r *runner) readDLQ(ctx context.Context, c *ckafka.Consumer) error {
	ends, ok, err := partitionEnds(c, r.opts.DLQTopic)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("dead-letter topic %s does not exist", r.opts.DLQTopic)
	}
	ends = narrow(ends, r.opts.Filter.Offsets)
	total := int64(0)
	for _, e := range ends {
		total += e[1] - e[0]
	}
	mode := "replay"
	if r.opts.DryRun {
		mode = "dry run"
	}
	r.log.Info(fmt.Sprintf("Reading %s up to its end: %d record(s) in %d partition(s) (%s)", r.opts.DLQTopic, total, len(ends), mode))
	lastProgress := time.Now()
	return r.readTo(ctx, c, r.opts.DLQTopic, ends, func(m *ckafka.Message) {
		r.handle(ctx, m)
		if time.Since(lastProgress) >= r.opts.Progress {
			lastProgress = time.Now()
			r.log.Info(fmt.Sprintf("Progress: read %d of %d, chosen %d, sent %d", r.sum.Read, total, r.sum.Chosen, r.ok.Load()))
		}
	})
}

// narrow cuts each partition's [start, end) to the offset ranges asked for;
// partitions no range names are dropped. No ranges: all of it.
func narrow(ends map[int32][2]int64, ranges []OffsetRange) map[int32][2]int64 {
	if len(ranges) == 0 {
		return ends
	}
	out := map[int32][2]int64{}
	for p, e := range ends {
		start, end := int64(-1), int64(-1)
		for _, rg := range ranges {
			if rg.Partition != p {
				continue
			}
			to := e[1]
			if rg.To >= 0 {
				to = min(rg.To+1, e[1])
			}
			from := max(rg.From, e[0])
			if from >= to {
				continue
			}
			if start < 0 || from < start {
				start = from
			}
			end = max(end, to)
		}
		if start >= 0 {
			out[p] = [2]int64{start, end}
		}
	}
	return out
}

// readTo reads every partition of topic from its start to its end, calling
// each for every record, and fails when nothing arrives for IdleTimeout.
func (r *runner) readTo(ctx context.Context, c *ckafka.Consumer, topic string, ends map[int32][2]int64, each func(*ckafka.Message)) error {
	var assign []ckafka.TopicPartition
	left := map[int32]int64{}
	for p, e := range ends {
		if e[0] < e[1] {
			assign = append(assign, ckafka.TopicPartition{Topic: &topic, Partition: p, Offset: ckafka.Offset(e[0])})
			left[p] = e[1]
		}
	}
	if len(assign) == 0 {
		return nil
	}
	if err := c.Assign(assign); err != nil {
		return fmt.Errorf("assign %s: %w", topic, err)
	}
	defer c.Unassign()
	lastEvent := time.Now()
	for len(left) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted while reading %s: %w", topic, err)
		}
		if time.Since(lastEvent) > r.opts.IdleTimeout {
			return fmt.Errorf("read of %s stalled: nothing arrived for %v with %d partition(s) short of their end", topic, r.opts.IdleTimeout, len(left))
		}
		switch e := c.Poll(100).(type) {
		case *ckafka.Message:
			lastEvent = time.Now()
			if e.TopicPartition.Error != nil {
				return fmt.Errorf("read %s: %w", topic, e.TopicPartition.Error)
			}
			p, off := e.TopicPartition.Partition, int64(e.TopicPartition.Offset)
			end, open := left[p]
			if !open || off >= end || *e.TopicPartition.Topic != topic { // or left over from the last read
				continue
			}
			each(e)
			if off+1 >= end {
				delete(left, p)
			}
		case ckafka.PartitionEOF:
			lastEvent = time.Now()
			if end, open := left[e.Partition]; open && int64(e.Offset) >= end && *e.Topic == topic {
				delete(left, e.Partition)
			}
		case ckafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("read %s: %w", topic, e)
			}
			r.log.Warn("consumer: " + e.Error())
		}
	}
	return nil
}

// handle decides about one dead letter and replays it, or says what would
// become of it.
func (r *runner) handle(ctx context.Context, m *ckafka.Message) {
	r.sum.Read++
	tp := m.TopicPartition
	info, raw := deadletter.Split(m.Headers)
	if !r.opts.Filter.Match(tp.Partition, int64(tp.Offset), m.Timestamp, info) {
		return
	}
	r.sum.Chosen++
	coord := Coord(r.opts.DLQTopic, tp.Partition, int64(tp.Offset))
	if reason := SkipReason(coord, info, raw, r.replayed, r.opts.Force); reason != "" {
		r.sum.Skipped[reason]++
		r.log.Info(fmt.Sprintf("Skipped %s: %s", coord, reason))
		return
	}
	if r.opts.DryRun {
		pred := Predict(m.Value, info, raw)
		r.sum.Outcomes[pred.Outcome]++
		switch pred.Outcome {
		case OutcomePayment:
			r.log.Info(fmt.Sprintf("Would replay %s → %s: payment %s", coord, info.Topic, pred.Detail))
		case OutcomeIgnored:
			r.log.Info(fmt.Sprintf("Would replay %s → %s: ignored, %s", coord, info.Topic, pred.Detail))
		default:
			r.log.Info(fmt.Sprintf("Would replay %s → %s: dead-lettered again, %s: %s", coord, info.Topic, pred.Outcome, pred.Detail))
		}
		return
	}
	r.send(ctx, coord, info.Topic, m.Key, m.Value, RawHeaders(raw, coord))
}

// send writes the original bytes to their raw topic and, once Kafka has
// them, the coord to the replay log.
func (r *runner) send(ctx context.Context, coord, topic string, key, value []byte, headers []ckafka.Header) {
	out := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny}, Key: key, Value: value, Headers: headers}
	r.sends.Add(1)
	err := r.producer.Send(ctx, out, func(m *ckafka.Message, err error) {
		if err != nil {
			r.fail(coord, fmt.Errorf("to %s: %w", topic, err))
			r.sends.Done()
			return
		}
		to := fmt.Sprintf("%s/%d/%d", topic, m.TopicPartition.Partition, m.TopicPartition.Offset)
		// Not on the producer's event goroutine: Send may wait for room.
		go r.logReplay(ctx, coord, to)
	})
	if err != nil {
		r.fail(coord, err)
		r.sends.Done()
	}
}

// logReplay writes coord to the replay log and counts the replay once Kafka
// has it.
func (r *runner) logReplay(ctx context.Context, coord, to string) {
	defer r.sends.Done()
	entry := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &r.opts.LogTopic, Partition: ckafka.PartitionAny}, Key: []byte(coord), Value: []byte(to)}
	err := r.producer.SendSync(ctx, entry)
	if err != nil {
		r.fail(coord, fmt.Errorf("replayed to %s, but the replay log write failed (a later run may send it again): %w", to, err))
		return
	}
	r.ok.Add(1)
	r.log.Info(fmt.Sprintf("Replayed %s → %s", coord, to))
}

func (r *runner) fail(coord string, err error) {
	r.failed.Add(1)
	r.log.Error(fmt.Sprintf("Failed %s: %v", coord, err))
}

// errNoSelection is returned by CheckSelection.
var errNoSelection = errors.New("choose dead letters with -code, -gateway, -since, -until or -offsets, or pass -all to take every one")

// CheckSelection refuses a run that would take the whole DLQ by accident.
func CheckSelection(f Filter, all bool) error {
	if f.Empty() && !all {
		return errNoSelection
	}
	return nil
}
