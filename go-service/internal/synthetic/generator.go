package synthetic

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Mix says what kind of stream to invent.
type Mix string

const (
	// MixSimple: every record is a new, completed payment (the course's stream).
	MixSimple Mix = "simple"
	// MixRealistic: payments go through their life cycles, interleaved; a share
	// fail, are refunded or canceled; some events arrive out of order or twice.
	MixRealistic Mix = "realistic"
)

// Options configure a Generator.
type Options struct {
	Seed     uint64
	Gateways []pb.Gateway // empty: every gateway the generator knows
	Mix      Mix
	// InvalidRate is the share of records (0..1) made malformed on purpose.
	InvalidRate float64
	// Start is the clock of the first event; zero means now.
	Start time.Time
}

// Generator emits records one at a time. It is not safe for concurrent use.
type Generator struct {
	r        *rand.Rand
	opts     Options
	gateways []gateway
	now      time.Time
	inFlight []*life
	last     *Record
}

// life is a payment with the steps it has still to send.
type life struct {
	g       gateway
	p       Payment
	pending []Step
}

// New returns a generator; it fails on a gateway it cannot render.
func New(opts Options) (*Generator, error) {
	if opts.Mix == "" {
		opts.Mix = MixSimple
	}
	if opts.Mix != MixSimple && opts.Mix != MixRealistic {
		return nil, fmt.Errorf("mix %q: want %q or %q", opts.Mix, MixSimple, MixRealistic)
	}
	if opts.InvalidRate < 0 || opts.InvalidRate > 1 {
		return nil, fmt.Errorf("invalid rate %v: want a share from 0 to 1", opts.InvalidRate)
	}
	if len(opts.Gateways) == 0 {
		opts.Gateways = Gateways()
	}
	g := &Generator{r: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), opts: opts, now: opts.Start}
	if g.now.IsZero() {
		g.now = time.Now().UTC().Truncate(time.Second)
	}
	for _, id := range opts.Gateways {
		gw, ok := gateways[id]
		if !ok {
			return nil, fmt.Errorf("gateway %v: no synthetic events for it", id)
		}
		g.gateways = append(g.gateways, gw)
	}
	return g, nil
}

// Next returns the next record.
func (g *Generator) Next() (Record, error) {
	g.now = g.now.Add(time.Duration(1+g.r.IntN(1000)) * time.Millisecond)
	if g.opts.Mix == MixRealistic && g.last != nil && g.r.Float64() < 0.03 {
		dup := *g.last
		dup.Duplicate = true
		return dup, nil
	}
	rec, err := g.nextValid()
	if err != nil {
		return Record{}, err
	}
	if g.opts.InvalidRate > 0 && g.r.Float64() < g.opts.InvalidRate {
		return g.corrupt(rec), nil
	}
	g.last = &rec // only a record sent valid can be sent again as a duplicate
	return rec, nil
}

func (g *Generator) nextValid() (Record, error) {
	l := g.pickLife()
	step := l.pending[0]
	// Out of order: now and then the step after this one is sent first.
	if g.opts.Mix == MixRealistic && len(l.pending) > 1 && g.r.Float64() < 0.05 {
		l.pending[0], l.pending[1] = l.pending[1], l.pending[0]
		step = l.pending[0]
	}
	l.pending = l.pending[1:]
	step.At = g.now
	value, err := l.g.render(l.p, step)
	if err != nil {
		return Record{}, fmtErr(l.g, err)
	}
	return Record{Gateway: l.g.pb, Header: l.g.name, Key: l.p.ID, Value: value, Payment: l.p, Step: step}, nil
}

// pickLife returns a payment with a step to send, starting new ones as needed.
func (g *Generator) pickLife() *life {
	// Drop finished lives.
	live := g.inFlight[:0]
	for _, l := range g.inFlight {
		if len(l.pending) > 0 {
			live = append(live, l)
		}
	}
	g.inFlight = live
	if g.opts.Mix == MixSimple || len(g.inFlight) < 8 || g.r.IntN(3) == 0 {
		l := g.newLife()
		if g.opts.Mix == MixSimple {
			return l
		}
		g.inFlight = append(g.inFlight, l)
		return l
	}
	return g.inFlight[g.r.IntN(len(g.inFlight))]
}

func (g *Generator) newLife() *life {
	gw := g.gateways[g.r.IntN(len(g.gateways))]
	currency := gw.currencies[g.r.IntN(len(gw.currencies))]
	p := Payment{
		ID:       gw.newID(g.r),
		Amount:   amountFor(g.r, currency),
		Currency: currency,
		Email:    fmt.Sprintf("customer%d@example.com", g.r.IntN(100000)),
		Method:   gw.methods[g.r.IntN(len(gw.methods))],
		Created:  g.now,
	}
	outcome := pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
	if g.opts.Mix == MixRealistic {
		outcome = g.pickOutcome()
	}
	l := &life{g: gw, p: p}
	statuses := gw.lifecycle(outcome)
	if g.opts.Mix == MixSimple {
		statuses = statuses[len(statuses)-1:] // just the completion event
	}
	for _, st := range statuses {
		s := Step{Status: st, EventID: gw.newEventID(g.r)}
		switch st {
		case pb.PaymentStatus_PAYMENT_STATUS_FAILED:
			s.FailureReason = "Your card was declined."
		case pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:
			s.Refunded = p.Amount
		case pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED:
			s.Refunded = partialRefund(p.Amount, currency)
		}
		l.pending = append(l.pending, s)
	}
	return l
}

func (g *Generator) pickOutcome() pb.PaymentStatus {
	switch n := g.r.IntN(100); {
	case n < 70:
		return pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
	case n < 80:
		return pb.PaymentStatus_PAYMENT_STATUS_FAILED
	case n < 87:
		return pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
	case n < 92:
		return pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
	case n < 96:
		return pb.PaymentStatus_PAYMENT_STATUS_CANCELED
	default:
		return pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED
	}
}

// corrupt turns a valid record into one the server must dead-letter, and
// says with which code.
func (g *Generator) corrupt(rec Record) Record {
	rec.Step = Step{}
	switch g.r.IntN(3) {
	case 0:
		rec.Value = rec.Value[:len(rec.Value)/2]
		rec.Invalid = "malformed_json"
	case 1:
		rec.Value = []byte("this is not json")
		rec.Invalid = "malformed_json"
	default:
		rec.Header = "bitcoinpay"
		rec.Invalid = "unknown_gateway"
	}
	return rec
}
