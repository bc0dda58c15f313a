package sweeper

// SetBeforeItem makes s call f before each due item (tests slow a run down with it).
func SetBeforeItem(s *Sweeper, f func()) { s.beforeItem = f }
