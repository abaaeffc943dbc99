package mcp

// IdleWorkers is the number of handler workers waiting on s's connections.
func IdleWorkers(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sc := range s.conns {
		n += int(sc.idle.Load())
	}
	return n
}

// ReapedWorkers is the number of workers s ended because their connection
// was idle.
func ReapedWorkers(s *Server) uint64 { return s.reapedWorkers.Load() }
