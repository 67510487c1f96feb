package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// stageScaling starts one server per (topic count, consumer mode, run) on
// idle raw topics and reads what it costs from /proc: OS threads, resident
// memory, CPU while idle, and the time from exec to health SERVING.
func (b *bench) stageScaling(ctx context.Context) error {
	normalized, dlq := b.name("scale", "normalized"), b.name("scale", "dlq")
	if err := b.createTopics(ctx, 1, normalized, dlq); err != nil {
		return err
	}
	for _, n := range b.o.ScalingTopics {
		topics := make([]string, n)
		for i := range topics {
			// Idle topics: no record ever needs a gateway from the name.
			topics[i] = b.name("scale"+strconv.Itoa(n), fmt.Sprintf("payments.raw.t%04d", i))
		}
		began := time.Now()
		if err := b.createTopics(ctx, 1, topics...); err != nil {
			return err
		}
		say("   created %d topic(s) in %.1fs", n, time.Since(began).Seconds())
		type figures struct{ threads, rss, idle, startup, shutdown []float64 }
		per := map[string]*figures{}
		for _, m := range modes {
			per[m] = &figures{}
		}
		for run := range b.o.ScalingRuns {
			order := slices.Clone(modes)
			if run%2 == 1 {
				slices.Reverse(order)
			}
			for _, mode := range order {
				f, err := b.scalingRun(ctx, topics, normalized, dlq, mode, run)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					b.warn("scaling %d topics, %s, run %d: %v", n, mode, run+1, err)
					continue
				}
				say("   %4d topics %-9s run %d: %3d threads, %4.0f MiB, idle CPU %5.2f%%, SERVING after %5.1fs, stopped in %4.1fs",
					n, mode, run+1, int(f.threads), f.rssMiB, f.idleCPU, f.startup, f.shutdown)
				p := per[mode]
				p.threads = append(p.threads, f.threads)
				p.rss = append(p.rss, f.rssMiB)
				p.idle = append(p.idle, f.idleCPU)
				p.startup = append(p.startup, f.startup)
				p.shutdown = append(p.shutdown, f.shutdown)
			}
		}
		for _, mode := range modes {
			key := fmt.Sprintf("%d topic(s), %s", n, mode)
			p := per[mode]
			b.res.addPivot("scaling", key, "OS threads", "threads", p.threads)
			b.res.addPivot("scaling", key, "RSS MiB", "MiB", p.rss)
			b.res.addPivot("scaling", key, "idle CPU %", "% of a core", p.idle)
			b.res.addPivot("scaling", key, "start → SERVING s", "s", p.startup)
			b.res.addPivot("scaling", key, "SIGTERM → exit s", "s", p.shutdown)
		}
	}
	return nil
}

type scalingFigures struct {
	threads, rssMiB, idleCPU, startup, shutdown float64
}

func (b *bench) scalingRun(ctx context.Context, topics []string, normalized, dlq, mode string, run int) (scalingFigures, error) {
	var f scalingFigures
	group := b.name("scale"+strconv.Itoa(len(topics)), mode, strconv.Itoa(run), "group")
	srv, err := b.startServer(ctx, serverCfg{topics: topics, normalized: normalized, dlq: dlq, group: group, mode: mode, partitions: 1})
	if err != nil {
		return f, err
	}
	stopped := false
	defer func() {
		if !stopped {
			b.stopServer(srv)
		}
	}()
	serving, err := srv.waitServing(ctx, 3*time.Minute+time.Duration(len(topics))*time.Second)
	if err != nil {
		return f, err
	}
	f.startup = serving.Sub(srv.startedAt).Seconds()
	time.Sleep(time.Second) // let the last rebalance settle
	s0, err := sampleProc(srv.pid)
	if err != nil {
		return f, err
	}
	select {
	case <-time.After(time.Duration(b.o.IdleSeconds * float64(time.Second))):
	case <-ctx.Done():
		return f, ctx.Err()
	}
	s1, err := sampleProc(srv.pid)
	if err != nil {
		return f, err
	}
	f.threads = float64(s1.threads)
	f.rssMiB = float64(s1.rssKB) / 1024
	f.idleCPU = cpuSeconds(s0, s1) / s1.at.Sub(s0.at).Seconds() * 100
	took, err := b.stopServer(srv)
	stopped = true
	if err != nil {
		return f, err
	}
	f.shutdown = took.Seconds()
	return f, nil
}
