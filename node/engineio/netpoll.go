package engineio

// Parking idle websockets: a websocket's reader goroutine exits after
// wsReadLinger without data and the server's poller watches the socket
// instead, starting a reader again when data arrives (see wsConn.run). The
// poller exists where the platform has one (Linux epoll, netpoll_linux.go);
// elsewhere readers never park. Like the heartbeat scheduler, the poller
// and its goroutine exist only while some connection is registered with
// it: the last one closing stops it.

// parkWS registers w with the poller, starting one if needed, and reports
// whether w is parked. It fails when there is no poller on this platform,
// the server is closing or the socket is closed.
func (s *Server) parkWS(w *wsConn) bool {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if w.closed.Load() {
		// close has run or runs now: its forgetWS, under pollMu too,
		// must not find w registered after it looked.
		return false
	}
	if s.pl == nil {
		if s.pollOff {
			return false
		}
		p, err := newPoller()
		if err != nil {
			s.pollOff = true
			s.debug("engineio: idle websockets will not park", "err", err)
			return false
		}
		s.pl = p
		s.wg.Add(1)
		go p.run(s)
	}
	return s.pl.park(w)
}

// forgetWS unregisters w (being closed) from its poller, stopping the
// poller when w was the last connection registered with it.
//
// It always takes pollMu, even for a websocket that never parked: a
// reader parking for the first time at the same moment registers w under
// pollMu, and parkWS refuses a closed websocket, so either forgetWS sees
// the registration or parkWS sees the close.
func (s *Server) forgetWS(w *wsConn) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	p := w.pl.Load()
	if p == nil {
		return // never parked
	}
	if p.forget(w) == 0 && s.pl == p {
		p.close()
		s.pl = nil
	}
}

// stopPoller stops the poller for good (Server.Close). Parked connections
// stay parked: their sessions are being closed, and closing a socket
// unregisters it.
func (s *Server) stopPoller() {
	s.pollMu.Lock()
	p := s.pl
	s.pl = nil
	s.pollOff = true
	s.pollMu.Unlock()
	if p != nil {
		p.close()
	}
}
