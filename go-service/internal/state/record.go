// Package state is the server's state stage, in the Kafka Streams model: a
// consumer group over the events topic (one owner per payment) folds each
// payment's events — dedupe by event id within a time horizon, then
// merge.Merge — with the latest state in an embedded Pebble store, and
// writes, in one Kafka transaction with the consumed offsets, the merged
// payment to the normalized topic and the state record to the compacted
// state topic (its changelog). Every instance also materializes the whole
// state topic, and the dead-letter topic's counts, into its store: GetPayment
// and GetStats read them (View).
//
// This file is the pure core: the state record and how an event folds into it.
package state

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/merge"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Record is a payment's state: its latest merged Payment, the events folded
// into it within the dedupe horizon, and how many duplicates were dropped. It
// is the value of the state topic, so a lost store loses no dedupe key.
type Record struct {
	Payment    *pb.Payment
	Seen       []Seen // oldest first
	Duplicates int64
}

// Seen is one event folded in, and when (the state stage's clock).
type Seen struct {
	EventID string
	At      time.Time
}

// Outcome is what folding one event did.
type Outcome int

const (
	// Applied: the event was merged; the payment at that event goes to the
	// normalized topic.
	Applied Outcome = iota
	// Duplicate: the event was folded in before, within the horizon; dropped.
	Duplicate
	// Refused: merge.Merge refused it (*merge.NotFolded): the payment keeps
	// its last correct state, and the event counts as seen.
	Refused
)

// Fold applies event, folded at time at, to cur (nil for a payment not seen
// before) and returns the new record; cur is not modified. Seen pairs older
// than horizon before at are forgotten. The error is merge's *NotFolded when
// the outcome is Refused.
func Fold(cur *Record, event *pb.Payment, at time.Time, horizon time.Duration) (*Record, Outcome, error) {
	next := &Record{}
	if cur != nil {
		next.Payment, next.Duplicates = cur.Payment, cur.Duplicates
		next.Seen = pruned(cur.Seen, at.Add(-horizon))
	}
	id := event.GetEventId()
	if id != "" && seen(next.Seen, id) {
		next.Duplicates++
		return next, Duplicate, nil
	}
	if id != "" {
		next.Seen = append(next.Seen, Seen{EventID: id, At: at})
	}
	merged, err := merge.Merge(next.Payment, event)
	var nf *merge.NotFolded
	if errors.As(err, &nf) {
		return next, Refused, err
	}
	if err != nil {
		return nil, Refused, err
	}
	next.Payment = merged
	return next, Applied, nil
}

// pruned returns the pairs folded at or after oldest, in a new slice.
func pruned(s []Seen, oldest time.Time) []Seen {
	out := make([]Seen, 0, len(s)+1)
	for _, e := range s {
		if !e.At.Before(oldest) {
			out = append(out, e)
		}
	}
	return out
}

func seen(s []Seen, id string) bool {
	for _, e := range s {
		if e.EventID == id {
			return true
		}
	}
	return false
}

// The record's encoding is protobuf wire format, written by hand so that no
// second .proto (and code generator run) is needed for a private value:
//
//	message Record {
//	  payment.v1.Payment payment = 1;
//	  repeated Seen seen = 2;      // message Seen { string event_id = 1; int64 at_unix_ms = 2; }
//	  int64 duplicates = 3;
//	}
const (
	fieldPayment    = 1
	fieldSeen       = 2
	fieldDuplicates = 3
	fieldSeenID     = 1
	fieldSeenAt     = 2
)

// Encode returns the record's bytes.
func (r *Record) Encode() ([]byte, error) {
	p, err := proto.Marshal(r.Payment)
	if err != nil {
		return nil, fmt.Errorf("encode payment: %w", err)
	}
	b := protowire.AppendTag(nil, fieldPayment, protowire.BytesType)
	b = protowire.AppendBytes(b, p)
	for _, s := range r.Seen {
		var e []byte
		e = protowire.AppendTag(e, fieldSeenID, protowire.BytesType)
		e = protowire.AppendString(e, s.EventID)
		e = protowire.AppendTag(e, fieldSeenAt, protowire.VarintType)
		e = protowire.AppendVarint(e, uint64(s.At.UnixMilli()))
		b = protowire.AppendTag(b, fieldSeen, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	if r.Duplicates != 0 {
		b = protowire.AppendTag(b, fieldDuplicates, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(r.Duplicates))
	}
	return b, nil
}

// DecodeRecord parses bytes written by Encode; unknown fields are skipped, so
// a later version may add some.
func DecodeRecord(b []byte) (*Record, error) {
	r := &Record{}
	err := eachField(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case fieldPayment:
			r.Payment = &pb.Payment{}
			return proto.Unmarshal(v, r.Payment)
		case fieldSeen:
			var s Seen
			err := eachField(v, func(num protowire.Number, v []byte, x uint64) error {
				switch num {
				case fieldSeenID:
					s.EventID = string(v)
				case fieldSeenAt:
					s.At = time.UnixMilli(int64(x)).UTC()
				}
				return nil
			})
			r.Seen = append(r.Seen, s)
			return err
		case fieldDuplicates:
			r.Duplicates = int64(x)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state record: %w", err)
	}
	if r.Payment == nil || r.Payment.GetId() == "" {
		return nil, errors.New("state record: no payment")
	}
	return r, nil
}

// eachField calls f with each field of a protobuf message: v for bytes
// fields, x for varints; other wire types are skipped.
func eachField(b []byte, f func(num protowire.Number, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType && typ != protowire.VarintType {
			continue
		}
		if err := f(num, v, x); err != nil {
			return err
		}
	}
	return nil
}
