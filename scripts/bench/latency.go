package main

import (
	"context"
	"slices"
	"sync"
	"time"
)

// latencies are the durations of repeated requests.
type latencies []time.Duration

// percentile is the nearest-rank percentile p (0 < p <= 100), or 0 for no
// samples.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// sequential times op n times in a row. On an error (ctx ending included)
// it returns what it measured so far with the error.
func sequential(ctx context.Context, n int, op func(context.Context) error) (latencies, error) {
	out := make(latencies, 0, n)
	for range n {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		start := time.Now()
		if err := op(ctx); err != nil {
			return out, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

// concurrent times op from clients goroutines at once, each n times in a
// row, and returns every latency. op learns which client it runs for (a
// connection each). The first error stops every client.
func concurrent(ctx context.Context, clients, n int, op func(ctx context.Context, client int) error) (latencies, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu  sync.Mutex
		out = make(latencies, 0, clients*n)
		wg  sync.WaitGroup
	)
	for c := range clients {
		wg.Go(func() {
			mine, err := sequential(ctx, n, func(ctx context.Context) error { return op(ctx, c) })
			mu.Lock()
			out = append(out, mine...)
			mu.Unlock()
			if err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return out, context.Cause(ctx)
}
