package keys

// Tick is one refresh of Watch, for tests that count what it logs.
func (a *Authenticator) Tick() { a.tick() }
