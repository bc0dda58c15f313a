package service

import (
	"context"
	"sync"
)

// Prefetch reads the secrets a function's first request needs (the pepper and, where
// configured, the root credential; the signing keys too with signing, for the function
// that signs on every grant), all in parallel, so that a cold start pays one round
// trip for them, during init, beside whatever else init does. It returns at once; wait
// blocks until the reads are done. A failed read is logged and left to the first
// request, which reads again (the caches keep no error).
func (d *Deps) Prefetch(ctx context.Context, signing bool) (wait func()) {
	var reads []func(context.Context) error
	reads = append(reads, func(ctx context.Context) error { _, _, err := d.Peppers.Versions(ctx); return err })
	if d.Root != nil {
		reads = append(reads, d.Root.Load)
	}
	if signing && d.SigningKeys != nil {
		reads = append(reads, func(ctx context.Context) error { _, err := d.SigningKeys.Set(ctx); return err })
	}
	var wg sync.WaitGroup
	for _, read := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := read(ctx); err != nil {
				d.Log.WarnContext(ctx, "cold start: prefetch a secret", "err", err)
			}
		}()
	}
	return wg.Wait
}
