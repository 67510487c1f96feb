package stream

// Snapshot is the serve stage's own figures. Payment counts and totals are
// not the hub's: they come from the state (state.View), the same on every
// instance.
type Snapshot struct {
	ConnectedClients int
	// CatchUpReaders is the number of Kafka readers open for streams that
	// started before the window (shared by those streams).
	CatchUpReaders int
}

// Stats returns a snapshot of the hub's figures.
func (h *Hub) Stats() Snapshot {
	readers := h.CatchUpReaders()
	h.mu.Lock()
	defer h.mu.Unlock()
	return Snapshot{ConnectedClients: h.clients, CatchUpReaders: readers}
}
