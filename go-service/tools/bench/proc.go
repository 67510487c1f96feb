package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// procSample is what /proc says of a process at one moment.
type procSample struct {
	at       time.Time
	cpuTicks uint64 // utime + stime, in clock ticks
	threads  int
	rssKB    int64
}

var clockTicks = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100
}()

func sampleProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after "(comm)": state is field 3, utime 14, stime 15.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	s.cpuTicks = ut + st
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "Threads":
			s.threads, _ = strconv.Atoi(fields[0])
		case "VmRSS":
			s.rssKB, _ = strconv.ParseInt(fields[0], 10, 64)
		}
	}
	return s, nil
}

// cpuSeconds is the CPU time a process used between two samples.
func cpuSeconds(from, to procSample) float64 {
	return float64(to.cpuTicks-from.cpuTicks) / clockTicks
}

// serverMode says how to run a server in a given consumer mode.
type serverMode struct {
	bin         string
	honoursMode bool // cmd/server reads INGEST_CONSUMER_MODE
}

func detectServerMode(bin string) serverMode {
	cmd := exec.Command(bin, "-h")
	cmd.Env = append(os.Environ(), "ENV_FILE=/nonexistent")
	out, _ := cmd.CombinedOutput()
	return serverMode{bin: bin, honoursMode: strings.Contains(string(out), "INGEST_CONSUMER_MODE")}
}

func (m serverMode) describe() string {
	if m.honoursMode {
		return "cmd/server binary (consumer mode set with INGEST_CONSUMER_MODE)"
	}
	return "cmd/server binary, which does not read INGEST_CONSUMER_MODE: per-topic vs shared cannot be compared"
}

// serverCfg is one server to start.
type serverCfg struct {
	topics     []string
	normalized string
	dlq        string
	group      string
	mode       string // "" = the server's default (per-topic)
	partitions int    // of topics the server creates itself
	port       int    // gRPC port; 0 picks a free one
	stateDir   string // STATE_DIR; "" makes a new, empty one
	env        []string
	onLine     func(string) // called with every line the server prints
}

// serverProc is a running server process.
type serverProc struct {
	cmd       *exec.Cmd
	pid       int
	startedAt time.Time
	addr      string
	stateDir  string
	out       *tail
	done      chan error
	exited    bool
}

// tail keeps the last lines of a process's output, for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > 60 {
		t.lines = t.lines[len(t.lines)-60:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

var listening = regexp.MustCompile(`gRPC listening on :(\d+)`)

// startServer starts a server and waits until it listens (not until SERVING).
func (b *bench) startServer(ctx context.Context, cfg serverCfg) (*serverProc, error) {
	if cfg.mode != "" && !b.serverM.honoursMode {
		return nil, errors.New("cmd/server does not read INGEST_CONSUMER_MODE: rebuild it (make bench builds it)")
	}
	cmd := exec.Command(b.serverM.bin, "-host", "127.0.0.1", "-port", strconv.Itoa(cfg.port))
	partitions := cfg.partitions
	if partitions == 0 {
		partitions = 3
	}
	// The events and state topics are named after the normalized one; each
	// server gets a state store of its own.
	events, state := cfg.normalized+"-events", cfg.normalized+"-state"
	b.own(events, state)
	dir := cfg.stateDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "bench-state-"); err != nil {
			return nil, err
		}
		b.dirs = append(b.dirs, dir)
	}
	cmd.Env = append(os.Environ(),
		"KAFKA_BOOTSTRAP_SERVERS="+b.kafka.BootstrapServers,
		"KAFKA_TOPICS="+strings.Join(cfg.topics, ","),
		"KAFKA_EVENTS_TOPIC="+events,
		"KAFKA_NORMALIZED_TOPIC="+cfg.normalized,
		"KAFKA_STATE_TOPIC="+state,
		"STATE_DIR="+dir,
		"KAFKA_DLQ_TOPIC="+cfg.dlq,
		"KAFKA_GROUP_ID="+cfg.group,
		"KAFKA_PARTITIONS="+strconv.Itoa(partitions),
		"LOG_FORMAT=text", "ENV_FILE=/nonexistent", "SHUTDOWN_GRACE_SECONDS=10",
		"DASHBOARD_ADDR=", // off: the bench runs servers side by side; the dashboard's figures have a bench of their own
	)
	if cfg.mode != "" {
		cmd.Env = append(cmd.Env, "INGEST_CONSUMER_MODE="+cfg.mode)
	}
	cmd.Env = append(cmd.Env, cfg.env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	s := &serverProc{cmd: cmd, stateDir: dir, out: &tail{}, done: make(chan error, 1)}
	s.startedAt = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = cmd.Process.Pid
	b.procs.add(s)
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.out.add(line)
			if cfg.onLine != nil {
				cfg.onLine(line)
			}
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case p := <-port:
		s.addr = "127.0.0.1:" + p
		return s, nil
	case err := <-s.done:
		s.exited = true
		b.procs.remove(s)
		return nil, fmt.Errorf("server exited during start-up: %v\n%s", err, s.out)
	case <-time.After(90 * time.Second):
		b.stopServer(s)
		return nil, fmt.Errorf("server did not listen within 90s\n%s", s.out)
	case <-ctx.Done():
		b.stopServer(s)
		return nil, ctx.Err()
	}
}

// waitServing polls grpc.health.v1 until SERVING and returns when that was.
// The server updates its health every 500 ms: that is the resolution.
func (s *serverProc) waitServing(ctx context.Context, timeout time.Duration) (time.Time, error) {
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return time.Time{}, err
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return time.Now(), nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			return time.Time{}, fmt.Errorf("server exited: %v\n%s", err, s.out)
		case <-time.After(25 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("server not SERVING after %v: %w\n%s", timeout, errTimeout, s.out)
}

// stopServer sends SIGTERM and waits for the exit; it returns how long that took.
func (b *bench) stopServer(s *serverProc) (time.Duration, error) {
	defer b.procs.remove(s)
	if s.exited {
		return 0, nil
	}
	began := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.exited = true
		if err != nil {
			return time.Since(began), fmt.Errorf("server exited with %v after SIGTERM\n%s", err, s.out)
		}
		return time.Since(began), nil
	case <-time.After(45 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.exited = true
		return time.Since(began), fmt.Errorf("server did not stop within 45s of SIGTERM\n%s", s.out)
	}
}

// procSet holds the servers started, so an interrupted bench stops them.
type procSet struct {
	mu    sync.Mutex
	procs map[*serverProc]bool
}

func newProcSet() *procSet { return &procSet{procs: map[*serverProc]bool{}} }

func (p *procSet) add(s *serverProc) {
	p.mu.Lock()
	p.procs[s] = true
	p.mu.Unlock()
}

func (p *procSet) remove(s *serverProc) {
	p.mu.Lock()
	delete(p.procs, s)
	p.mu.Unlock()
}

func (p *procSet) stopAll() {
	p.mu.Lock()
	var left []*serverProc
	for s := range p.procs {
		left = append(left, s)
	}
	p.mu.Unlock()
	for _, s := range left {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		p.remove(s)
	}
}

// machineSample is the whole machine's CPU time from /proc/stat, in ticks.
type machineSample struct {
	at          time.Time
	busy, total uint64
}

func sampleMachine() (machineSample, error) {
	m := machineSample{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 8 || f[0] != "cpu" {
		return m, fmt.Errorf("unexpected /proc/stat: %q", line)
	}
	for i, v := range f[1:] {
		if i >= 8 { // guest time is already counted in user
			break
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		m.total += n
		if i != 3 && i != 4 { // idle, iowait
			m.busy += n
		}
	}
	return m, nil
}

// busyPercent is the share of all cores busy between two samples.
func busyPercent(a, b machineSample) float64 {
	if b.total <= a.total {
		return math.NaN()
	}
	return float64(b.busy-a.busy) / float64(b.total-a.total) * 100
}

// brokerPID is the local Kafka's process id (kafka.sh keeps it in its home).
func brokerPID(kafkaSh string) int {
	home := os.Getenv("KAFKA_HOME_DIR")
	if home == "" {
		home = filepath.Join(filepath.Dir(kafkaSh), "..", "..", "..", ".local", "kafka")
	}
	b, err := os.ReadFile(filepath.Join(home, "kafka.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if _, err := sampleProc(pid); err != nil {
		return 0
	}
	return pid
}

// usage samples the server, the broker, this process, the fan-out clients'
// process (if any) and the machine at once; done() returns their CPU over
// the interval, in % of one core (the machine: % of all cores). Figures that
// cannot be read are NaN.
type usage struct {
	pids    [4]int // server, broker, self, clients
	procs   [4]procSample
	machine machineSample
}

type cpuShares struct {
	server, broker, self, clients, machine float64
}

func startUsage(server, broker int) usage { return startUsageWith(server, broker, 0) }

func startUsageWith(server, broker, clients int) usage {
	u := usage{pids: [4]int{server, broker, os.Getpid(), clients}}
	for i, pid := range u.pids {
		if pid > 0 {
			u.procs[i], _ = sampleProc(pid)
		}
	}
	u.machine, _ = sampleMachine()
	return u
}

func (u usage) done() cpuShares {
	share := func(i int) float64 {
		if u.pids[i] <= 0 || u.procs[i].at.IsZero() {
			return math.NaN()
		}
		s, err := sampleProc(u.pids[i])
		if err != nil {
			return math.NaN()
		}
		return cpuSeconds(u.procs[i], s) / s.at.Sub(u.procs[i].at).Seconds() * 100
	}
	out := cpuShares{server: share(0), broker: share(1), self: share(2), clients: share(3)}
	if m, err := sampleMachine(); err == nil {
		out.machine = busyPercent(u.machine, m)
	} else {
		out.machine = math.NaN()
	}
	return out
}
