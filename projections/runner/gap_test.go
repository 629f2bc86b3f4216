package runner_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// Events lost in delivery are fetched again. On a cluster, when the node
// leading the projector's replicated consumer fails, what it had in flight
// is lost while the consumer counts it delivered, and the consumer goes on
// after it (TestClusterNodeDownAndBack met this). Here a second client
// takes messages from the projector's consumer and acknowledges them, so
// the projector sees the same thing: sequences skipped. It must notice the
// gap and refetch from its position, ending with every event and a model
// equal to a full replay's.
func TestGapInDeliveryIsRefetched(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	r, err := runner.Start(ctx, srv.JS, runner.Config{Stream: eventlog.EventsStream, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()

	var stolen atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the thief
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := srv.JS.Consumer(ctx, eventlog.EventsStream, runner.ConsumerName("test"))
			if err != nil {
				continue // being recreated
			}
			batch, err := c.Fetch(5, jetstream.FetchMaxWait(50*time.Millisecond))
			if err != nil {
				continue
			}
			for m := range batch.Messages() {
				_ = m.Ack()
				stolen.Add(1)
			}
		}
	}()
	for i := 0; i < 3000 && stolen.Load() < 50; i += 100 {
		publish(t, srv.JS, i, 100)
	}
	close(stop)
	wg.Wait()
	if stolen.Load() == 0 {
		t.Fatal("no message was taken from the projector's consumer: the test did not make a gap")
	}
	wait(t, r)
	if got, want := modelOf(r).Digest(), replayDigest(t, srv.JS); got != want {
		t.Fatalf("after %d events were taken in delivery, the model differs from a full replay", stolen.Load())
	}
}
