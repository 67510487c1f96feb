package stream

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// memLog is a Source in memory: the normalized topic as a slice per
// partition, for tests of the hub without a broker.
type memLog struct {
	mu     sync.Mutex
	parts  map[int32][][]byte
	grew   chan struct{}
	opened int // readers opened in all
	open   int // readers open now
}

func newMemLog(partitions int) *memLog {
	l := &memLog{parts: map[int32][][]byte{}, grew: make(chan struct{})}
	for p := range partitions {
		l.parts[int32(p)] = nil
	}
	return l
}

// add appends a payment to partition p and returns its offset.
func (l *memLog) add(t *testing.T, p int32, payment *pb.Payment) int64 {
	t.Helper()
	b, err := proto.Marshal(payment)
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.parts[p] = append(l.parts[p], b)
	close(l.grew)
	l.grew = make(chan struct{})
	return int64(len(l.parts[p]) - 1)
}

func (l *memLog) Bounds(context.Context) (low, end Position, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	low, end = Position{}, Position{}
	for p, recs := range l.parts {
		low[p], end[p] = 0, int64(len(recs))
	}
	return low, end, nil
}

func (l *memLog) OffsetsForTime(ctx context.Context, t time.Time) (Position, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pos := Position{}
	for p, recs := range l.parts {
		pos[p] = int64(len(recs))
		for i, b := range recs {
			var m pb.Payment
			if proto.Unmarshal(b, &m) == nil && !m.GetUpdatedAt().AsTime().Before(t) {
				pos[p] = int64(i)
				break
			}
		}
	}
	return pos, nil
}

func (l *memLog) Open(from Position) (Reader, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.opened++
	l.open++
	return &memReader{l: l, pos: from.clone()}, nil
}

func (l *memLog) readers() (open, opened int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.opened
}

type memReader struct {
	l      *memLog
	pos    Position
	turn   int32
	closed bool
}

// Next takes partitions in turn, as a consumer of several partitions does.
func (r *memReader) Next(ctx context.Context) (Record, bool, error) {
	r.l.mu.Lock()
	n := int32(len(r.l.parts))
	for i := range n {
		p := (r.turn + i) % n
		if o := r.pos[p]; o < int64(len(r.l.parts[p])) {
			r.pos[p] = o + 1
			r.turn = p + 1
			v := r.l.parts[p][o]
			r.l.mu.Unlock()
			return Record{Partition: p, Offset: o, Value: v}, true, nil
		}
	}
	grew := r.l.grew
	r.l.mu.Unlock()
	select {
	case <-grew:
	case <-ctx.Done():
		return Record{}, false, ctx.Err()
	case <-time.After(10 * time.Millisecond):
	}
	return Record{}, false, nil
}

func (r *memReader) Close() {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.l.open--
	}
}

// payment is the merged state of payment n: every tenth is completed, the
// others pending.
func payment(n int) *pb.Payment {
	status := pb.PaymentStatus_PAYMENT_STATUS_PENDING
	if n%10 == 0 {
		status = pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
	}
	return &pb.Payment{Id: fmt.Sprintf("pi_%04d", n), EventId: fmt.Sprintf("evt_%04d", n), Gateway: pb.Gateway_GATEWAY_STRIPE,
		Status: status, Amount: &pb.Money{AmountMinor: int64(n), Currency: "USD"}}
}
