package budget_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault/budget"
)

// The benchmarks measure a budget that always grants (a floor too large to
// run out), against two baselines in the same run:
//
//   - impl=atomic: one atomic counter shared by every goroutine, the least
//     any shared count can cost (and what scales worst in parallel);
//
//   - impl=mutex: a budget guarded by one mutex, the obvious design.
//
//     go test -run '^$' -bench . -benchmem -count 6 > new.txt
//     benchstat -col /impl new.txt
type benchCase struct {
	name string
	op   func()
}

// mutexBudget is the baseline: the same windowed rule under one mutex.
type mutexBudget struct {
	mu             sync.Mutex
	start          time.Time
	firsts, grants int64
	limit          int64
}

func (m *mutexBudget) Deposit() {
	m.mu.Lock()
	_ = time.Since(m.start)
	m.firsts++
	m.mu.Unlock()
}

func (m *mutexBudget) TryWithdraw() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = time.Since(m.start)
	if m.grants >= m.limit+m.firsts/10 {
		return false
	}
	m.grants++
	return true
}

func benchCases(b *testing.B) []benchCase {
	bd, err := budget.New(budget.Config{MinPerSecond: 1e9, Window: 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var shared atomic.Int64
	mb := &mutexBudget{start: time.Now(), limit: 1 << 62}
	return []benchCase{
		{"impl=atomic", func() { shared.Add(1) }},
		{"impl=mutexDeposit", mb.Deposit},
		{"impl=mutexTryWithdraw", func() { mb.TryWithdraw() }},
		{"impl=Deposit", bd.Deposit},
		{"impl=TryWithdraw", func() { bd.TryWithdraw() }},
	}
}

func reportCPU(b *testing.B) func() {
	start, ok := cpuTime()
	return func() {
		if end, ok2 := cpuTime(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func BenchmarkSerial(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			stop := reportCPU(b)
			defer stop()
			for b.Loop() {
				c.op()
			}
		})
	}
}

func BenchmarkParallel(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			stop := reportCPU(b)
			defer stop()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.op()
				}
			})
		})
	}
}
