package process

// SetMaxMessage lowers the host's message limit for a test; the returned
// function restores it. The plugin process keeps its own.
func SetMaxMessage(n int) (restore func()) {
	old := maxMessage
	maxMessage = n
	return func() { maxMessage = old }
}
