// Package replay sends dead letters back to the raw topic they came from,
// once the normalizer that refused them is fixed. Selection, the loop guard
// and the dry run's prediction are pure functions here; run.go does the
// Kafka part.
package replay

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/deadletter"
)

// OffsetRange is a range of offsets of one DLQ partition, both ends included.
// To is -1 for "to the end".
type OffsetRange struct {
	Partition int32
	From, To  int64
}

func (r OffsetRange) contains(partition int32, offset int64) bool {
	return partition == r.Partition && offset >= r.From && (r.To < 0 || offset <= r.To)
}

// Filter chooses dead letters. Every condition that is set must hold; an
// empty list or a zero time does not constrain.
type Filter struct {
	Codes    []string
	Gateways []string
	Since    time.Time // record timestamp at or after
	Until    time.Time // record timestamp before
	Offsets  []OffsetRange
}

// Empty reports whether the filter chooses every dead letter.
func (f Filter) Empty() bool {
	return len(f.Codes) == 0 && len(f.Gateways) == 0 && f.Since.IsZero() && f.Until.IsZero() && len(f.Offsets) == 0
}

// Match reports whether the dead letter at partition/offset, written at ts,
// that says info about itself is chosen.
func (f Filter) Match(partition int32, offset int64, ts time.Time, info deadletter.Info) bool {
	if len(f.Codes) > 0 && !slices.Contains(f.Codes, info.Code) {
		return false
	}
	if len(f.Gateways) > 0 && !slices.Contains(f.Gateways, info.Gateway) {
		return false
	}
	if !f.Since.IsZero() && ts.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !ts.Before(f.Until) {
		return false
	}
	if len(f.Offsets) > 0 && !slices.ContainsFunc(f.Offsets, func(r OffsetRange) bool { return r.contains(partition, offset) }) {
		return false
	}
	return true
}

// Reasons a chosen dead letter is not replayed.
const (
	// SkipAlreadyReplayed: the replay log says an earlier run sent it back.
	SkipAlreadyReplayed = "already_replayed"
	// SkipCameBack: it carries replayed_from, so it is a replayed record that
	// failed again; replaying it once more would loop.
	SkipCameBack = "came_back_after_replay"
	// SkipNoSource: its source_topic header is missing, so there is nowhere to send it.
	SkipNoSource = "no_source_topic"
	// SkipTruncated: its value was cut to fit the DLQ; the original is gone.
	SkipTruncated = "truncated"
)

// Coord names a dead letter: "<dlq topic>/<partition>/<offset>", the value of
// the replayed_from header and the key of the replay log.
func Coord(topic string, partition int32, offset int64) string {
	return fmt.Sprintf("%s/%d/%d", topic, partition, offset)
}

// SkipReason returns why a chosen dead letter is not replayed, "" when it is.
// force replays what the loop guard would skip (already replayed, came back);
// a record with nowhere to go or only part of its bytes is never replayed.
func SkipReason(coord string, info deadletter.Info, raw []ckafka.Header, replayed map[string]bool, force bool) string {
	switch {
	case info.Topic == "":
		return SkipNoSource
	case info.Truncated:
		return SkipTruncated
	case force:
		return ""
	case replayed[coord]:
		return SkipAlreadyReplayed
	}
	if _, ok := deadletter.Value(raw, deadletter.HeaderReplayedFrom); ok {
		return SkipCameBack
	}
	return ""
}

// RawHeaders returns the headers a replayed record carries: the raw record's
// own, without any earlier replayed_from, plus replayed_from naming coord.
func RawHeaders(raw []ckafka.Header, coord string) []ckafka.Header {
	out := make([]ckafka.Header, 0, len(raw)+1)
	for _, h := range raw {
		if h.Key != deadletter.HeaderReplayedFrom {
			out = append(out, h)
		}
	}
	return append(out, ckafka.Header{Key: deadletter.HeaderReplayedFrom, Value: []byte(coord)})
}

// ParseOffsets reads "-offsets": comma-separated PARTITION:FROM-TO, both ends
// included; FROM or TO may be left out ("0:100-", "2:-50", "1:7" is one offset).
func ParseOffsets(s string) ([]OffsetRange, error) {
	var out []OffsetRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		r, err := parseRange(part)
		if err != nil {
			return nil, fmt.Errorf("-offsets %q: %w", part, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRange(s string) (OffsetRange, error) {
	const want = "want PARTITION:FROM-TO, such as 0:100-250 (either end may be left out)"
	p, span, ok := strings.Cut(s, ":")
	if !ok {
		return OffsetRange{}, errors.New(want)
	}
	partition, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
	if err != nil || partition < 0 {
		return OffsetRange{}, fmt.Errorf("partition %q is not a whole number from 0: %s", p, want)
	}
	r := OffsetRange{Partition: int32(partition), To: -1}
	from, to, isRange := strings.Cut(span, "-")
	if !isRange {
		to = from
	}
	if r.From, err = parseOffset(from, 0); err != nil {
		return OffsetRange{}, fmt.Errorf("%w: %s", err, want)
	}
	if r.To, err = parseOffset(to, -1); err != nil {
		return OffsetRange{}, fmt.Errorf("%w: %s", err, want)
	}
	if !isRange && from == "" {
		return OffsetRange{}, errors.New(want)
	}
	if r.To >= 0 && r.To < r.From {
		return OffsetRange{}, fmt.Errorf("the range ends (%d) before it starts (%d)", r.To, r.From)
	}
	return r, nil
}

func parseOffset(s string, blank int64) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return blank, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("offset %q is not a whole number from 0", s)
	}
	return n, nil
}

// ParseTime reads "-since" and "-until": an RFC 3339 time
// (2026-12-05T23:00:00Z) or a UTC date (2026-12-05). "" is no bound.
func ParseTime(flag, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("-%s %q: want an RFC 3339 time such as 2026-12-05T23:00:00Z, or a date such as 2026-12-05 (UTC)", flag, s)
}
