// Command hello prints a few payments made by a goroutine, and stops early on
// Ctrl-C: the first program of the course.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"example.com/pipeline/go-service/internal/payment"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	for p := range payment.Generate(ctx, 3) {
		if err := p.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, "skip:", err)
			continue
		}
		fmt.Println("[HELLO]", p)
	}
}
