package bulkhead_test

import (
	"context"
	"sync"

	"github.com/authcorp/libs/go/src/fault/bulkhead"
)

// held keeps the slots tests take with acquire and tryAcquire, per
// bulkhead, so that release gives back the most recent one: the tests read
// like the acquire/release protocol they exercise.
var held sync.Map // *bulkhead.Bulkhead -> *slotStack

type slotStack struct {
	mu    sync.Mutex
	slots []bulkhead.Slot
}

func stackOf(b *bulkhead.Bulkhead) *slotStack {
	s, _ := held.LoadOrStore(b, &slotStack{})
	return s.(*slotStack)
}

func acquire(ctx context.Context, b *bulkhead.Bulkhead) error {
	s, err := b.Acquire(ctx)
	if err == nil {
		st := stackOf(b)
		st.mu.Lock()
		st.slots = append(st.slots, s)
		st.mu.Unlock()
	}
	return err
}

func tryAcquire(b *bulkhead.Bulkhead) bool {
	s, ok := b.TryAcquire()
	if ok {
		st := stackOf(b)
		st.mu.Lock()
		st.slots = append(st.slots, s)
		st.mu.Unlock()
	}
	return ok
}

// release gives back the slot acquire or tryAcquire took last.
func release(b *bulkhead.Bulkhead) {
	st := stackOf(b)
	st.mu.Lock()
	s := st.slots[len(st.slots)-1]
	st.slots = st.slots[:len(st.slots)-1]
	st.mu.Unlock()
	s.Release()
}
