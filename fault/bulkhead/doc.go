// Package bulkhead isolates a dependency by bounding how many calls to it run
// at once, so that a slow dependency cannot tie up every goroutine, thread or
// connection of a service.
//
// # The model
//
// A [Bulkhead] has MaxConcurrent slots and a queue of QueueSize places. A
// call takes a free slot and runs; when every slot is busy it takes a queue
// place and waits, in arrival order, for a slot; when the queue is full too
// it is rejected at once. A queued call that waits QueueTimeout without
// getting a slot is rejected; one whose own context ends gets the context's
// error. Either way its queue place is given back. The slot is released when
// the operation returns or panics, so a panicking operation (recovered
// further up, as net/http does) never leaks capacity.
//
//	b, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 10, QueueSize: 100, QueueTimeout: time.Second})
//	...
//	err = b.Run(ctx, func(ctx context.Context) error { return query(ctx) })
//
// Rejections are *fault.BulkheadFullError values (code BULKHEAD_FULL, HTTP
// 503) whose Reason is fault.BulkheadQueueFull or fault.BulkheadQueueTimeout
// and which carry the limits.
//
// # Faces
//
// A Bulkhead is untyped: one bulkhead guards calls of every result type at
// once. [Bulkhead.Run] makes it a fault.Guard (so fault.ExecuteWithResult
// works with it); [Policy] returns a typed [View] that implements
// fault.Policy[T] for the executor. [Bulkhead.Acquire] and [Bulkhead.TryAcquire]
// hand out a [Slot] held across code the caller controls; only its first
// [Slot.Release] counts, so a stray release cannot push the bulkhead past
// MaxConcurrent.
// [Bulkhead.Running] and [Bulkhead.Queued] are live gauges.
//
// # Underneath
//
// The slots are a golang.org/x/sync/semaphore.Weighted of size MaxConcurrent
// from which every call takes weight 1, so the semaphore's traps do not
// apply: no weight can exceed the size (which would block until the context
// ends), and since all weights are equal a slot is never free while a call
// is queued, so the semaphore's strict FIFO rule (TryAcquire fails whenever
// anyone is queued) only stops newcomers from overtaking the queue. A queued
// call that gives up hands a slot it was just granted to the next in line.
//
// # API
//
// [New] builds a [Bulkhead] from a [Config] ([FromPolicy] from a policy
// section); [Policy] gives its typed view.
package bulkhead
