// Package budget bounds the retries (and hedges) that calls may add to a
// dependency: over a trailing window, at most Ratio extra attempts per first
// attempt, plus a floor of MinPerSecond per second so that a service with
// little traffic can still retry.
//
// # Why
//
// A per-call limit such as MaxAttempts does not protect an overloaded
// dependency: when it starts failing, every caller retries up to the limit,
// and the load rises to MaxAttempts times its usual level exactly when the
// dependency can take the least. A budget shared by every call to the
// dependency caps that amplification at 1 + Ratio (plus the floor): with the
// default Ratio of 0.1, retries never add more than a tenth to the load,
// however many calls fail.
//
// # The model
//
// Every call deposits its first attempt ([Budget.Deposit]); every retry
// withdraws one permit ([Budget.TryWithdraw]), and a refused withdrawal ends
// the call at once with its last error (the retry module returns a
// *fault.RetryExhaustedError whose BudgetRefused is true, matching
// fault.ErrBudgetExhausted). Over any trailing Window ending at a granted
// retry, the retries granted are at most
//
//	Ratio × first attempts + MinPerSecond × Window (in seconds)
//
// The window is divided into Buckets buckets (default 100). A first attempt
// counts once its bucket has ended, until the end of the window that began
// with it (never longer than Window after it was made); a retry counts from
// when it was granted until one bucket past the window (never shorter than
// Window). Both approximations are on the safe side: the bound above holds
// for every trailing window, exactly. Memory is fixed at New: O(Buckets),
// whatever the traffic.
//
//	b, err := budget.New(budget.Config{Ratio: 0.1, MinPerSecond: 10, Window: 10 * time.Second})
//	...
//	r, err := retry.New(retry.Config{MaxAttempts: 3, Budget: b})
//
// # Sharing
//
// A Budget is safe for concurrent use and implements fault.Budget, which
// the retry and hedge modules accept without importing this one. Share one
// Budget between every policy that calls the same dependency (the executor
// builds one per policy from PolicyConfig.Budget, and takes a shared one as
// an option), so that the bound holds for the dependency, not for each
// caller.
//
// # Cost
//
// Deposit is a striped atomic add and reads no clock (a timer closes each
// bucket while first attempts come in). TryWithdraw reads the clock once and
// takes a permit with one compare-and-swap on a striped counter. Neither
// allocates; neither contends on one shared word, so both scale with cores.
package budget
