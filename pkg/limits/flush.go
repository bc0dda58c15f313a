package limits

import (
	"context"
	"errors"
	"time"
)

// CountStore stores usage counts.
type CountStore interface {
	// PutUsageCount stores w, replacing the writer's earlier count of that key and
	// day, unless the stored one has a higher or equal Seq (then it is a no-op).
	PutUsageCount(ctx context.Context, w CountWrite) error
}

// Flush writes c's counts to s: those due at now, or, with all (at shutdown), every
// one not yet written. A write that fails stays unwritten and is due again at the
// key's next turn; the errors are joined. It is inline I/O: call it from the request
// path (after the answer is known) or at shutdown, since Lambda freezes background work.
func Flush(ctx context.Context, c *Counter, s CountStore, now time.Time, all bool) error {
	ws := c.Due(now)
	if all {
		ws = c.All(now)
	}
	var errs []error
	for _, w := range ws {
		if err := s.PutUsageCount(ctx, w); err != nil {
			errs = append(errs, err)
			continue
		}
		c.Written(w, now)
	}
	return errors.Join(errs...)
}
