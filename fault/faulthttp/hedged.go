package faulthttp

import (
	"context"
	"errors"
	"net/http"
)

// hedging is a call's state for attempts that overlap: a hedging policy
// (fault.IsHedgedAttempt) runs several attempts of one round at once, the
// first success winning. Such attempts neither supersede nor cancel one
// another (the policy cancels the losers through their contexts): the first
// success is kept, later ones are discarded; failures are all kept until
// finish, which keeps the one the policy returned and discards the rest. A
// new round (an attempt beginning while none of the call's is running) drops
// the previous round's failures.
type hedging struct {
	hedgedAny bool      // some attempt was hedged
	running   int       // hedged attempts begun and not yet settled
	fails     []outcome // hedged failures of the current round, besides kept
}

// beginHedged is begin for a hedged attempt; c.mu is held and released.
func (c *call) beginHedged(reqCtx context.Context, n int) (int, *http.Request, error) {
	c.hedgedAny = true
	var stale []outcome
	if c.running == 0 {
		// A new round: the previous round's outcomes are over.
		stale = append(c.fails, c.kept) //nolint:gocritic // c.fails is dropped: its array is reused for stale
		c.fails, c.kept = nil, outcome{}
	}
	c.running++
	hasBody := c.req.Body != nil && c.req.Body != http.NoBody
	fresh := hasBody && c.bodySent
	c.bodySent = c.bodySent || hasBody
	c.mu.Unlock()
	for _, o := range stale {
		o.discard(c.t.errorBodyLimit)
	}
	req := c.req.WithContext(reqCtx)
	if fresh {
		body, err := c.req.GetBody() // c.repeat: GetBody is set
		if err != nil {
			c.mu.Lock()
			c.running--
			c.mu.Unlock()
			return n, nil, err
		}
		req.Body = body
	}
	return n, req, nil
}

// deliveredHedged is delivered for a hedged attempt; c.mu is held and
// released. The first success is kept; a later one is discarded.
func (c *call) deliveredHedged(resp *http.Response) (*http.Response, error) {
	c.running--
	if c.done || (c.kept.resp != nil && c.kept.err == nil) {
		c.mu.Unlock()
		drainClose(resp.Body, c.t.errorBodyLimit)
		return nil, errSuperseded
	}
	if c.kept.err != nil {
		c.fails = append(c.fails, c.kept)
	}
	c.kept = outcome{resp: resp}
	c.mu.Unlock()
	return resp, nil
}

// failedHedged is failed for a hedged attempt; c.mu is held and released.
func (c *call) failedHedged(o outcome) {
	c.running--
	if c.done {
		c.mu.Unlock()
		o.discard(c.t.errorBodyLimit)
		return
	}
	switch {
	case c.kept.resp != nil && c.kept.err == nil:
		c.fails = append(c.fails, o) // a success is kept: it stays
	case c.kept.err != nil:
		c.fails = append(c.fails, c.kept)
		c.kept = o
	default:
		c.kept = o
	}
	c.mu.Unlock()
}

// pickHedged makes kept the outcome the policy returned (resp, or the
// failure whose error err is) and returns every other, for finish to
// discard; c.mu is held.
func (c *call) pickHedged(resp *http.Response, err error) []outcome {
	all := append(c.fails, c.kept) //nolint:gocritic // c.fails is dropped: its array is reused for all
	c.fails = nil
	pick := -1
	for i, o := range all {
		switch {
		case err == nil && resp != nil && o.resp == resp:
			pick = i
		case err != nil && o.err != nil && (err == o.err || errors.Is(err, o.err)): //nolint:errorlint // identity first, then through wrappers
			pick = i
		}
		if pick >= 0 {
			break
		}
	}
	c.kept = outcome{}
	if pick < 0 {
		return all
	}
	c.kept = all[pick]
	return append(all[:pick], all[pick+1:]...)
}
