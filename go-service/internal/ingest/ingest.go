// Package ingest is the server's first stage: it consumes the raw gateway
// topics in a consumer group, normalizes every record, writes the result to
// the events topic (or the original bytes to the dead-letter topic), and
// commits a raw offset only after Kafka has acknowledged what it produced.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/deadletter"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Consumer modes (Options.ConsumerMode).
const (
	// ModePerTopic runs one Kafka consumer per raw topic, each in its own
	// goroutine: the course's model. Every confluent-kafka-go consumer is a
	// librdkafka client with OS threads of its own (a main thread and one per
	// broker it knows of; make bench's topic-scaling stage counts them).
	ModePerTopic = "per-topic"
	// ModeShared runs one Kafka consumer subscribed to every raw topic; it
	// hands each record to its topic's goroutine. Same guarantees, a
	// fraction of the threads when there are many topics.
	ModeShared = "shared"
)

// CheckConsumerMode returns an error naming the valid modes when mode is not
// one of them ("" means ModePerTopic).
func CheckConsumerMode(mode string) error {
	switch mode {
	case "", ModePerTopic, ModeShared:
		return nil
	}
	return fmt.Errorf("consumer mode %q: want %q or %q", mode, ModePerTopic, ModeShared)
}

// Consumers returns how many Kafka consumers, each with its own poll loop,
// the stage runs in mode for topics raw topics.
func Consumers(mode string, topics int) int {
	if mode == ModeShared {
		return min(topics, 1)
	}
	return topics
}

// Outcome is what became of a raw record.
type Outcome string

const (
	OutcomePayment Outcome = "payment" // one or more payments
	OutcomeSkipped Outcome = "skipped" // an event that carries no payment change
	OutcomeDLQ     Outcome = "dlq"     // dead-lettered, with a normalizer.Code
)

// Options configure the ingest stage.
type Options struct {
	Kafka   config.Kafka
	GroupID string
	Topics  []string // raw topics, one goroutine each
	// ConsumerMode is "per-topic" (default: one consumer per raw topic, the
	// course's model) or "shared" (one consumer subscribed to every raw
	// topic, feeding a goroutine per topic: far fewer librdkafka threads).
	ConsumerMode string
	EventsTopic  string
	DLQTopic     string
	// MaxInFlight bounds records consumed but not yet acknowledged downstream,
	// per topic: memory stays bounded when Kafka is slow to acknowledge.
	MaxInFlight int
	// DrainTimeout bounds how long shutdown waits for in-flight records.
	DrainTimeout time.Duration
	// MaxPaymentBytes bounds an encoded payment: a larger one is
	// dead-lettered as too_large instead of sent. 0 means: the events
	// topic's max.message.bytes, less room for the batch around it, asked
	// of Kafka when Run starts.
	MaxPaymentBytes int
	// InstanceID, if set, makes each consumer a static group member
	// (group.instance.id): it and, in per-topic mode, "-<topic>". Two
	// running instances must never share it (they would fence each other).
	InstanceID string
	// OnDeliveryFailure, if set, learns every failed delivery: the topic
	// and the Kafka error code. Like OnRecord, it must be fast.
	OnDeliveryFailure func(topic, code string)
	// OnRecord, if set, learns the outcome of every raw record: its gateway
	// ("" if unknown), what became of it, its DLQ code if it was
	// dead-lettered, and how long normalizing took. Metrics hang here; it
	// must be fast and safe for concurrent use.
	OnRecord func(gateway string, outcome Outcome, code normalizer.Code, took time.Duration)
}

// Ingester runs the ingest stage.
type Ingester struct {
	opts     Options
	producer *kafka.Producer
	log      *slog.Logger
	Stats    Stats
	// undeliverable counts records being retried after a failed delivery
	// (topic deleted, not authorized, Kafka out of reach for longer than
	// the message timeout): while there are any, Problem says so.
	undeliverable atomic.Int64
	ready         sync.Map // topic → bool: has partitions assigned
	consumers     sync.Map // topic → *topicConsumer, while it runs
}

// New returns an Ingester that writes through producer.
func New(opts Options, producer *kafka.Producer, log *slog.Logger) *Ingester {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 20000
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 20 * time.Second
	}
	return &Ingester{opts: opts, producer: producer, log: log.With("component", "KAFKA"), Stats: newStats()}
}

// Run consumes every raw topic until ctx is done, then drains and commits.
// It returns the first error of a consumer, or the producer's fatal error:
// with it nothing more can be delivered, so ingest stops.
func (in *Ingester) Run(ctx context.Context) error {
	if err := CheckConsumerMode(in.opts.ConsumerMode); err != nil {
		return err
	}
	if in.opts.MaxPaymentBytes <= 0 {
		in.opts.MaxPaymentBytes = in.maxPaymentBytes(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feeds := in.feeds()
	if in.opts.ConsumerMode == ModeShared {
		in.log.Info(fmt.Sprintf("One consumer for %d raw topic(s), a goroutine per topic (shared mode)", len(in.opts.Topics)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(feeds))
	for _, fd := range feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.consume(ctx, fd.topics, fd.instanceID); err != nil {
				errs <- fmt.Errorf("consume %s: %w", strings.Join(fd.topics, ","), err)
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// batchOverhead is room left under a topic's max.message.bytes for the
// record batch around a single record and its headers.
const batchOverhead = 1 << 10

// defaultMaxMessageBytes is the broker's default max.message.bytes, for
// when the topic's own cannot be read.
const defaultMaxMessageBytes = 1048588

// maxPaymentBytes is the largest encoded payment the events topic takes
// for sure: the broker checks a whole batch, so a payment near the limit
// would also take the payments batched with it down.
func (in *Ingester) maxPaymentBytes(ctx context.Context) int {
	limit, err := kafka.TopicMaxMessageBytes(ctx, in.opts.Kafka, in.opts.EventsTopic)
	if err != nil {
		in.log.Warn("cannot read the events topic's max.message.bytes; assuming the broker's default", "err", err)
		limit = defaultMaxMessageBytes
	}
	return max(limit-batchOverhead, 1)
}

// feedSpec is one consumer's topics and its static group member id.
type feedSpec struct {
	topics     []string
	instanceID string
}

// feeds is how the mode feeds the pipeline: one consumer per raw topic,
// or one for them all. Each consumer is a member of the group of its own,
// so in per-topic mode each gets an instance id of its own.
func (in *Ingester) feeds() []feedSpec {
	if in.opts.ConsumerMode == ModeShared {
		return []feedSpec{{topics: in.opts.Topics, instanceID: in.opts.InstanceID}}
	}
	out := make([]feedSpec, 0, len(in.opts.Topics))
	for _, t := range in.opts.Topics {
		id := ""
		if in.opts.InstanceID != "" {
			id = in.opts.InstanceID + "-" + t
		}
		out = append(out, feedSpec{topics: []string{t}, instanceID: id})
	}
	return out
}

// Assigned reports whether every raw topic's consumer has joined the group
// with partitions assigned (readiness).
func (in *Ingester) Assigned() bool {
	for _, t := range in.opts.Topics {
		if v, ok := in.ready.Load(t); !ok || !v.(bool) {
			return false
		}
	}
	return true
}

// newConsumer returns a consumer of the ingest group; both modes use it.
// With an instanceID it is a static member (KIP-345): restarted with the
// same id, it takes its partitions back at once instead of waiting for the
// session of the member it replaces to time out.
func (in *Ingester) newConsumer(instanceID string) (*ckafka.Consumer, error) {
	cm := ckafka.ConfigMap{
		"group.id":           in.opts.GroupID,
		"auto.offset.reset":  "earliest",
		"enable.auto.commit": true,
		// Offsets are stored by hand, only once a record's outputs are
		// acknowledged; the auto-committer then commits what was stored.
		"enable.auto.offset.store":      false,
		"auto.commit.interval.ms":       1000,
		"partition.assignment.strategy": "cooperative-sticky",
	}
	if instanceID != "" {
		cm["group.instance.id"] = instanceID
	}
	return ckafka.NewConsumer(kafka.ConfigMap(in.opts.Kafka, cm))
}

// topicConsumer is one raw topic's part of the pipeline: its offset
// tracker and the consumer (feed) its records come from.
type topicConsumer struct {
	in      *Ingester
	c       *ckafka.Consumer
	topic   string
	tracker *kafka.OffsetTracker
	log     *slog.Logger
}

// start marks a consumed record in flight: from here on its offset (and any
// after it in its partition) is not committed until process has finished it.
func (tc *topicConsumer) start(m *ckafka.Message) {
	tc.tracker.Start(m.TopicPartition.Partition, int64(m.TopicPartition.Offset))
	tc.in.Stats.In.Add(1)
}

// process normalizes a started record and sends its outputs.
func (tc *topicConsumer) process(ctx context.Context, m *ckafka.Message) {
	tp := m.TopicPartition
	outputs := tc.in.route(m)
	if len(outputs) == 0 {
		tc.finished(tp)
		return
	}
	remaining := atomic.Int32{}
	remaining.Store(int32(len(outputs)))
	for _, out := range outputs {
		tc.send(ctx, m, out, func() {
			if remaining.Add(-1) == 0 {
				tc.finished(tp)
			}
		})
	}
}

// send produces out, an output of the raw record m, and calls acked once
// Kafka has it. An output too large for Kafka can never be delivered: it
// is replaced (see refusedForSize), so that it does not hold its partition
// forever. Any other failed delivery is retried: dropping it would lose a
// payment, and m's offset is never committed until it succeeds. Meanwhile
// the failure is counted and the stage is not ready.
func (tc *topicConsumer) send(ctx context.Context, m, out *ckafka.Message, acked func()) {
	var deliver kafka.DeliveryFunc
	attempt := 0
	failing := false
	deliver = func(d *ckafka.Message, err error) {
		if err == nil {
			if failing {
				tc.in.undeliverable.Add(-1)
			}
			acked()
			return
		}
		attempt++
		tc.in.deliveryFailed(*d.TopicPartition.Topic, err)
		// The broker refuses a whole batch for its size: a payment (never
		// larger than MaxPaymentBytes) refused so was batched with a larger
		// record, and goes again. A dead letter refused so is cut.
		shrink := isTooLarge(err) && *d.TopicPartition.Topic == tc.in.opts.DLQTopic
		if !shrink && !failing {
			failing = true
			tc.in.undeliverable.Add(1)
		}
		tc.log.Warn("delivery failed, retrying", "to", *d.TopicPartition.Topic, "attempt", attempt, "err", err)
		go func() { // not on the producer's event goroutine: Send may wait for room
			retry := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: d.TopicPartition.Topic, Partition: ckafka.PartitionAny}, Key: d.Key, Value: d.Value, Headers: d.Headers, Timestamp: d.Timestamp}
			if shrink {
				retry = tc.in.refusedForSize(m, retry)
			} else {
				time.Sleep(min(time.Duration(attempt)*200*time.Millisecond, 5*time.Second))
			}
			if err := tc.in.producer.Send(ctx, retry, deliver); err != nil {
				tc.log.Error("giving up on a record at shutdown; its raw offset stays uncommitted and it will be consumed again", "err", err)
			}
		}()
	}
	err := tc.in.producer.Send(ctx, out, deliver)
	for tries := 0; isTooLarge(err) && tries < 2; tries++ { // refused before it left
		err = tc.in.producer.Send(ctx, tc.in.refusedForSize(m, out), deliver)
	}
	if err != nil {
		tc.log.Warn("not sent; its raw offset stays uncommitted and it will be consumed again", "err", err)
	}
}

func isTooLarge(err error) bool {
	var kerr ckafka.Error
	return errors.As(err, &kerr) && (kerr.Code() == ckafka.ErrMsgSizeTooLarge || kerr.Code() == ckafka.ErrRecordListTooLarge)
}

// deadLetterKeep is how much of a record too large for the dead-letter
// topic is kept: better a marked, truncated copy than a partition that can
// never move past it.
const deadLetterKeep = 64 << 10

// refusedForSize returns what to send instead of out, an output of the raw
// record m too large for Kafka. A payment (larger than the producer's
// message.max.bytes: route keeps them under the topic's limit, so only a
// MaxPaymentBytes set above it lets one through) becomes a too_large
// dead-letter record of m. A dead-letter record keeps the first
// deadLetterKeep bytes of its value, marked truncated.
func (in *Ingester) refusedForSize(m, out *ckafka.Message) *ckafka.Message {
	if *out.TopicPartition.Topic != in.opts.DLQTopic {
		in.Stats.Payments.Add(-1)
		rec := recordOf(m)
		err := &normalizer.Error{Code: normalizer.CodeTooLarge, Msg: fmt.Sprintf("its payment, %d bytes, is larger than Kafka accepts", len(out.Value))}
		return in.deadLetter(m, rec, err)
	}
	if len(out.Value) <= deadLetterKeep {
		return out // nothing left to cut: the next refusal is retried like any failure
	}
	headers := append([]ckafka.Header{}, out.Headers...)
	headers = append(headers,
		ckafka.Header{Key: "truncated", Value: []byte("true")},
		ckafka.Header{Key: "original_size", Value: []byte(strconv.Itoa(len(out.Value)))})
	in.log.Warn("dead-letter record too large for the DLQ topic: keeping its first 64 KiB", "size", len(out.Value))
	return &ckafka.Message{TopicPartition: out.TopicPartition, Key: out.Key, Value: out.Value[:deadLetterKeep], Headers: headers}
}

// deliveryFailed counts a failed delivery (Kafka refused a record, or its
// message timeout passed).
func (in *Ingester) deliveryFailed(topic string, err error) {
	in.Stats.DeliveryFailures.Add(1)
	if in.opts.OnDeliveryFailure != nil {
		code := "unknown"
		var kerr ckafka.Error
		if errors.As(err, &kerr) {
			code = kerr.Code().String()
		}
		in.opts.OnDeliveryFailure(topic, code)
	}
}

// Problem says why the stage cannot do its work, "" if it can: the
// producer failed for good, or records are failing to be delivered.
// Readiness includes it.
func (in *Ingester) Problem() string {
	if err := in.producer.Fatal(); err != nil {
		return "producer failed for good: " + err.Error()
	}
	if n := in.undeliverable.Load(); n > 0 {
		return fmt.Sprintf("%d record(s) failed delivery and are being retried", n)
	}
	return ""
}

// finished stores the offset that is now safe to commit.
func (tc *topicConsumer) finished(tp ckafka.TopicPartition) {
	commit, moved := tc.tracker.Done(tp.Partition, int64(tp.Offset))
	if !moved {
		return
	}
	_, err := tc.c.StoreOffsets([]ckafka.TopicPartition{{Topic: tp.Topic, Partition: tp.Partition, Offset: ckafka.Offset(commit)}})
	if err != nil {
		// The partition was revoked meanwhile; its new owner re-reads from the
		// last commit, so the record is delivered again (at-least-once).
		tc.log.Debug("store offset", "partition", tp.Partition, "err", err)
	}
}

func isNoOffset(err error) bool {
	var kerr ckafka.Error
	return errors.As(err, &kerr) && kerr.Code() == ckafka.ErrNoOffset
}

// route turns a raw record into the records to produce: one per Payment, one
// DLQ record, or none for an event that carries no payment change.
func (in *Ingester) route(m *ckafka.Message) []*ckafka.Message {
	rec := recordOf(m)
	began := time.Now()
	payments, err := normalizer.Normalize(rec)
	took := time.Since(began)
	var out []*ckafka.Message
	if err == nil {
		out, err = in.encode(payments)
	}
	in.observe(rec, payments, err, took)
	switch {
	case errors.Is(err, normalizer.ErrIgnored):
		in.Stats.Skipped.Add(1)
		return nil
	case err != nil:
		return []*ckafka.Message{in.deadLetter(m, rec, err)}
	}
	in.Stats.Payments.Add(int64(len(out)))
	return out
}

// encode turns payments into records of the events topic, or says why
// one of them cannot be sent.
func (in *Ingester) encode(payments []*pb.Payment) ([]*ckafka.Message, error) {
	out := make([]*ckafka.Message, 0, len(payments))
	for _, p := range payments {
		value, err := proto.Marshal(p)
		if err != nil { // only an invalid UTF-8 string can do this
			return nil, &normalizer.Error{Code: normalizer.CodeMalformedJSON, Msg: "payment cannot be encoded: " + err.Error()}
		}
		if in.opts.MaxPaymentBytes > 0 && len(value) > in.opts.MaxPaymentBytes {
			// Invalid UTF-8 in a record's text can do this: each bad byte
			// becomes U+FFFD, three bytes. Sent, it would be refused.
			return nil, &normalizer.Error{Code: normalizer.CodeTooLarge,
				Msg: fmt.Sprintf("its payment is %d bytes, more than the %d the events topic takes", len(value), in.opts.MaxPaymentBytes)}
		}
		gw := normalizer.GatewayName(p.GetGateway())
		out = append(out, &ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: &in.opts.EventsTopic, Partition: ckafka.PartitionAny},
			Key:            []byte(gw + ":" + p.GetId()),
			Value:          value,
			// The event's own time, so that a `since` request finds its
			// start by Kafka's time index (OffsetsForTimes) exactly.
			Timestamp: eventTime(p),
			Headers: []ckafka.Header{
				{Key: "gateway", Value: []byte(gw)},
				{Key: "event_id", Value: []byte(p.GetEventId())},
				{Key: "content-type", Value: []byte("application/x-protobuf; messageType=payment.v1.Payment")},
			},
		})
	}
	return out, nil
}

func recordOf(m *ckafka.Message) normalizer.Record {
	return normalizer.Record{
		Topic:         *m.TopicPartition.Topic,
		Partition:     m.TopicPartition.Partition,
		Offset:        int64(m.TopicPartition.Offset),
		GatewayHeader: kafka.Header(m, "gateway"),
		Value:         m.Value,
	}
}

// eventTime is the record timestamp of a normalized payment: when the event
// happened, but never in the future (brokers refuse timestamps too far
// ahead, and a gateway's clock may be).
func eventTime(p *pb.Payment) time.Time {
	now := time.Now()
	if p.GetUpdatedAt() == nil || p.GetUpdatedAt().AsTime().After(now) {
		return now
	}
	return p.GetUpdatedAt().AsTime()
}

// deadLetter keeps the original bytes and headers untouched and says in
// headers why and where from. Where a raw header has the name of one of
// those, the dead letter's wins and the raw one is kept as "raw.<name>"
// (deadletter.Headers): the replay command gives back the raw headers as
// they were.
func (in *Ingester) deadLetter(m *ckafka.Message, rec normalizer.Record, err error) *ckafka.Message {
	code := normalizer.CodeOf(err)
	if code == "" {
		code = normalizer.CodeMalformedJSON
	}
	in.Stats.countDLQ(code)
	gw := rec.GatewayHeader
	if g, derr := normalizer.DetectGateway(rec); derr == nil {
		gw = normalizer.GatewayName(g)
	}
	why := boundText(err.Error(), maxErrorHeader) // it may quote the record
	in.log.Info("dead-lettered", "code", string(code), "gateway", gw, "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", why)
	return &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &in.opts.DLQTopic, Partition: ckafka.PartitionAny},
		Key:            m.Key,
		Value:          m.Value,
		Headers: deadletter.Headers(m.Headers, deadletter.Info{
			Error: why, Code: string(code), Gateway: gw,
			Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		}),
	}
}

// maxErrorHeader bounds the dead-letter `error` header and its log line:
// an error message may echo a field of the record, which can be large.
const maxErrorHeader = 1024

// boundText returns s cut to at most limit bytes, at a character boundary,
// saying how long it was.
func boundText(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	suffix := fmt.Sprintf("… (%d bytes)", len(s))
	cut := max(0, limit-len(suffix))
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
}

// ConsumerLag returns, per raw topic, how many records are in Kafka but not
// yet ingested by this instance (over the partitions it owns).
func (in *Ingester) ConsumerLag() map[string]int64 {
	out := map[string]int64{}
	in.consumers.Range(func(k, v any) bool {
		out[k.(string)] = v.(*topicConsumer).lag()
		return true
	})
	return out
}

func (tc *topicConsumer) lag() int64 {
	assigned, err := tc.c.Assignment()
	if err != nil {
		return 0
	}
	// A shared consumer owns partitions of every raw topic: keep this one's.
	var parts []ckafka.TopicPartition
	for _, p := range assigned {
		if p.Topic != nil && *p.Topic == tc.topic {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return 0
	}
	pos, err := tc.c.Position(parts)
	if err != nil {
		return 0
	}
	var lag int64
	for _, p := range pos {
		_, high, err := tc.c.GetWatermarkOffsets(tc.topic, p.Partition)
		if err != nil || p.Offset < 0 {
			continue
		}
		lag += max(0, high-int64(p.Offset))
	}
	return lag
}

func (in *Ingester) observe(rec normalizer.Record, payments []*pb.Payment, err error, took time.Duration) {
	if in.opts.OnRecord == nil {
		return
	}
	gateway := rec.GatewayHeader
	if len(payments) > 0 {
		gateway = normalizer.GatewayName(payments[0].GetGateway())
	}
	switch {
	case err == nil:
		in.opts.OnRecord(gateway, OutcomePayment, "", took)
	case errors.Is(err, normalizer.ErrIgnored):
		in.opts.OnRecord(gateway, OutcomeSkipped, "", took)
	default:
		in.opts.OnRecord(gateway, OutcomeDLQ, normalizer.CodeOf(err), took)
	}
}

// instanceIDChars are the characters Kafka allows in a group.instance.id.
var instanceIDChars = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// CheckInstanceID returns an error when Kafka would refuse id as a
// group.instance.id ("" is fine: the default is used).
func CheckInstanceID(id string) error {
	if id == "" || (instanceIDChars.MatchString(id) && len(id) <= 200) {
		return nil
	}
	return fmt.Errorf("%q: use at most 200 letters, digits, '.', '_' and '-'", id)
}

// DefaultInstanceID is the instance id of a server listening on port of
// host: stable across restarts of one instance, and never the same for two
// instances running at once (two cannot listen on one port of one host).
func DefaultInstanceID(host string, port int) string {
	safe := strings.Map(func(r rune) rune {
		if r < 0x80 && instanceIDChars.MatchString(string(r)) {
			return r
		}
		return '-'
	}, host)
	return fmt.Sprintf("%s-%d", safe, port)
}
