package hedge

import "context"

// recordHedge tells the recorder of a hedge about to start. It runs on the
// timer's goroutine, where a panic would end the process: a panicking
// recorder is recovered and ignored, and the hedge starts anyway.
func (h *Hedge) recordHedge(ctx context.Context) {
	defer func() { _ = recover() }()
	h.hedgeRec.RecordHedge(ctx, h.name)
}
