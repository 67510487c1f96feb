package stream

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Run feeds the hub from src until ctx is done, and lets streams that start
// before the window read src too (AttachSource). It reads only the last
// Options.Window records: each record already is a payment's merged state,
// so a restart costs a window, not the topic's history.
func (h *Hub) Run(ctx context.Context, src Source, log *slog.Logger) error {
	low, end, err := src.Bounds(ctx)
	if err != nil {
		return err
	}
	from := tail(low, end, h.opts.Window)
	h.AttachSource(ctx, src)
	h.Start(from, end)
	r, err := src.Open(from)
	if err != nil {
		return err
	}
	defer r.Close()
	topic := "the normalized topic"
	if named, ok := src.(interface{ Topic() string }); ok {
		topic = named.Topic()
	}
	log.Info(fmt.Sprintf("Serving from %s (%d partitions)", topic, len(from)), "component", "KAFKA")
	start, loaded := time.Now(), false
	for {
		rec, ok, err := r.Next(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		case !ok:
			continue
		case rec.EOF:
			h.Skip(rec.Partition, rec.Offset-1) // past the markers: caught up
			if !loaded && h.CaughtUp() {
				loaded = true
				log.Info(fmt.Sprintf("serve stage window loaded from %s in %v", topic, time.Since(start).Round(time.Millisecond)), "component", "KAFKA")
			}
			continue
		}
		if err := h.PublishValue(rec.Partition, rec.Offset, rec.Value); err != nil {
			// Only the state stage writes here; this is a foreign record.
			log.Warn("skipping a record that is not a payment.v1.Payment", "component", "KAFKA", "partition", rec.Partition, "offset", rec.Offset)
		}
	}
}

// tail is where reading starts to fill a window of n records: the last n/k
// records of each of the k partitions (all a partition holds, when less).
func tail(low, end Position, n int) Position {
	from := Position{}
	per := int64(n / max(1, len(end)))
	for p, e := range end {
		from[p] = max(low[p], e-per)
	}
	return from
}
