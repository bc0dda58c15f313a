package service

import (
	"context"
	"time"
)

// shutdownBudget bounds the flush at shutdown: Lambda gives a function with an
// internal extension (lambda.WithEnableSIGTERM registers one) 500 ms between
// SIGTERM and SIGKILL.
const shutdownBudget = 400 * time.Millisecond

// Shutdown writes what must not be lost when the process ends: the meter's usage
// counts not yet written. Mains call it on SIGTERM (lambda.WithEnableSIGTERM), then
// exit. A failure is logged: the counts of at most the last minute are lost.
func (d *Deps) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	if err := d.Meter.FlushAll(ctx); err != nil {
		d.Log.Warn("shutdown: usage counts not written", "err", err)
	}
}
