// Package faultsim is the library behind the faultsim command: it measures,
// on a real loopback service, what fault does for callers of a dependency
// that browns out, goes down and gets overloaded, compared with no
// protection and with a hand-rolled retry loop.
//
// # The model
//
// A Scenario (JSON, read with fault's policy rules: ParseScenario,
// LoadScenario, DefaultScenario) describes:
//
//   - a dependency: an HTTP server on 127.0.0.1 with Server.Capacity workers
//     and a queue of Server.Queue places, whose behaviour follows a timeline
//     of phases. Each phase sets the service time (log-normal, by p50 and p99),
//     an error rate, the capacity, or a full outage (503 at once). A request
//     beyond the workers waits in the queue, so latency climbs with the
//     excess; beyond the queue it is answered 503 at once. Queued requests are
//     served even after their clients gave up, which is how retries turn an
//     overload into a storm;
//   - the load: open-loop Poisson arrivals at Rate per second (a phase may
//     change it), each request with a client Deadline, at most MaxInFlight
//     at once (more are dropped and counted);
//   - the fault policy (the same JSON as fault.ParsePolicy reads);
//   - expectations, checked after the run.
//
// Run plays the timeline once per strategy, one after the other, each
// against a fresh server and with the same arrivals: StrategyNone sends each
// request once, StrategyNaive retries failures at once (the loop fault
// replaces), StrategyFault sends requests through fault/executor's executor
// behind a fault/faulthttp Transport. It measures, per strategy and per phase
// and overall (Stats): requests, successes, failures by cause (rejections
// by pattern, timeouts, deadline, 5xx, drops), goodput, client-observed
// p50/p95/p99, load amplification (attempts the server received per request
// sent), the server's peak concurrency, the time to recover after an outage;
// per chart bucket (Point) the same over time, and the breaker's transitions.
//
// WriteTable prints the comparison, WriteHTML writes a self-contained page
// with SVG charts, WriteJSON the Report for machines.
//
// # Expectations
//
// An expectation reads
//
//	<strategy>.[<phase>.]<metric> <op> <value>
//
// with op one of <=, >=, <, >, and value a number (95% for 0.95), a duration
// ("800ms"), the word deadline, or another metric, optionally scaled
// ("0.9 * none.goodput"). Leaving the phase out means the whole run. The
// metrics are listed by MetricNames; only metrics of the same unit compare,
// and a mistake is reported when the scenario is parsed, naming the
// expectation and the rule.
//
// # The jitter experiment
//
// RunJitter reproduces the experiment of Marc Brooker's "Exponential Backoff
// And Jitter" (AWS Architecture Blog, 2015) in simulated time, with the
// waits drawn from fault/retry itself: many clients updating one row with
// optimistic concurrency, and the calls and completion time of no backoff,
// exponential backoff without jitter, and full, equal and decorrelated jitter.
package faultsim
