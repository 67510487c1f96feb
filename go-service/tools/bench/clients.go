package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// clientsMain is `bench clients`, the fan-out stage's stream clients: it
// opens -clients streams from "latest", prints "ready", and once every
// stream has received the -records payments that `generate(-seed)` makes,
// prints "done <unix ns>" (when the last stream got its last one). It then
// waits for its standard input to close, so that the bench can read its CPU
// time first.
func clientsMain(args []string) error {
	fs := flag.NewFlagSet("bench clients", flag.ContinueOnError)
	addr := fs.String("addr", "", "the server's gRPC address")
	n := fs.Int("clients", 1, "stream clients to open")
	records := fs.Int("records", 0, "payments each client waits for")
	seed := fs.Uint64("seed", 0, "seed of the records the bench sends")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" || *records <= 0 || *n <= 0 {
		return errors.New("-addr, -clients and -records are required")
	}
	recs, err := generate(*seed, *records, 0)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(recs))
	for _, r := range recs {
		want[paymentKey(r.Gateway, r.Key)] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var last time.Time
	var left sync.WaitGroup
	left.Add(*n)
	ended := make(chan int, *n) // a stream that ended before it had all its payments
	for i := range *n {
		var count atomic.Int64 // written by the client's receive goroutine only
		c, err := openClient(ctx, *addr, func(p *pb.Payment, at time.Time) {
			if !want[paymentKey(p.GetGateway(), p.GetId())] {
				return
			}
			if count.Add(1) == int64(*records) {
				mu.Lock()
				if at.After(last) {
					last = at
				}
				mu.Unlock()
				left.Done()
			}
		})
		if err != nil {
			return err
		}
		defer c.close()
		go func() {
			<-c.done
			if count.Load() < int64(*records) {
				ended <- i
			}
		}()
	}
	fmt.Println("ready")
	all := make(chan struct{})
	go func() { left.Wait(); close(all) }()
	select {
	case <-all:
		fmt.Println("done", last.UnixNano())
	case i := <-ended:
		return fmt.Errorf("stream %d ended before it received its %d payments", i+1, *records)
	case <-ctx.Done():
		return fmt.Errorf("not every stream received its %d payments: %w", *records, ctx.Err())
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// clientProc is a running `bench clients`.
type clientProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// startClients starts `bench clients` at the lowest CPU priority and waits
// until its streams are open.
func startClients(ctx context.Context, addr string, clients, records int, seed uint64) (*clientProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("nice", "-n", "19", self, "clients", "-addr", addr,
		"-clients", strconv.Itoa(clients), "-records", strconv.Itoa(records), "-seed", strconv.FormatUint(seed, 10))
	cmd.Stderr = os.Stderr
	// Should the bench die without stopping it, the kernel does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bench clients: %w", err)
	}
	p := &clientProc{cmd: cmd, stdin: stdin, lines: make(chan string, 4)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	if _, err := p.next(ctx, time.Minute); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *clientProc) pid() int { return p.cmd.Process.Pid }

// next returns the process's next line of output.
func (p *clientProc) next(ctx context.Context, timeout time.Duration) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", errors.New("bench clients exited early (its errors are above)")
		}
		return line, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("bench clients said nothing for %v: %w", timeout, errTimeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// waitDone waits for "done" and returns when the last stream finished.
func (p *clientProc) waitDone(ctx context.Context, timeout time.Duration) (time.Time, error) {
	line, err := p.next(ctx, timeout)
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(strings.TrimPrefix(line, "done "), 10, 64)
	if !strings.HasPrefix(line, "done ") || err != nil {
		return time.Time{}, fmt.Errorf("bench clients said %q, want done <ns> (its errors are above)", line)
	}
	return time.Unix(0, ns), nil
}

// stop lets the process exit (it waits for its stdin to close) and reaps it.
func (p *clientProc) stop() {
	p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
