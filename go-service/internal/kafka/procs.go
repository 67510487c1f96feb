package kafka

import (
	"os"
	"runtime"
)

// SpareProcs sets GOMAXPROCS to the number of cores plus pollers, at most
// four per core, unless the GOMAXPROCS environment variable sets it, and
// returns the value in force.
//
// pollers is how many goroutines wait inside librdkafka's poll calls (every
// consumer's poll loop, every producer's event loop). A goroutine in a C call
// keeps its P, one of the GOMAXPROCS slots for running Go code, for as long
// as the call lasts (up to 100 ms here) unless the runtime's monitor takes it
// back, which it does after 20 µs to 10 ms. With as many Ps as cores and
// more pollers than cores, every P is often parked in C, and a goroutine
// with work (a record to normalize, a payment to send) waits for the
// monitor. Spare Ps let it run at once, which shortens the end-to-end tail
// latency under load (make bench, against GOMAXPROCS set to the cores; the
// figures are in the README's Performance section). The cap keeps the garbage
// collector's workers, a quarter of GOMAXPROCS, in proportion to the cores.
// The value is fixed at start: unlike the runtime's default, it does not
// follow a container's CPU limit if that changes while the process runs.
func SpareProcs(pollers int) int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	runtime.GOMAXPROCS(min(defaultProcs+pollers, 4*defaultProcs))
	return runtime.GOMAXPROCS(0)
}

// defaultProcs is the runtime's own GOMAXPROCS: the cores, or the cgroup's
// CPU limit.
var defaultProcs = runtime.GOMAXPROCS(0)
