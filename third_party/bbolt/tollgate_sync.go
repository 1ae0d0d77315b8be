package bbolt

// This file is tollgate's patch to bbolt v1.5.0 (see ../README.md): every
// fdatasync bbolt makes goes through syncData, which calls
// Options.Fdatasync when it is set. tollgate passes one that waits for the
// disk without holding a Go processor (io_uring), keeping bbolt's order:
// data pages durable before the meta page is written, then the meta page.

// syncData makes db's written data durable.
func syncData(db *DB) error {
	if db.fdatasyncFunc != nil {
		return db.fdatasyncFunc(db.file)
	}
	return fdatasync(db)
}
