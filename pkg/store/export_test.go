package store

// Table is the table name, for tests that read or shape raw items.
func (d *Dynamo) Table() string { return d.table }

// DB is the client, for tests that read or shape raw items.
func (d *Dynamo) DB() API { return d.db }
