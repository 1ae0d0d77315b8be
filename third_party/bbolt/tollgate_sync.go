package bbolt

// This file is tollgate's patch to bbolt v1.5.0 (see ../README.md): every
// sync bbolt makes goes through syncData or syncGrown, which call
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

// syncGrown makes the file's new size durable after DB.grow truncates it
// larger. bbolt calls fsync there; fdatasync is enough, since it flushes a
// change of size (the metadata a later read needs), so the hook serves.
func syncGrown(db *DB) error {
	if db.fdatasyncFunc != nil {
		return db.fdatasyncFunc(db.file)
	}
	return db.file.Sync()
}
