package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Handler receives a connection's events. Methods are called from one
// goroutine at a time per connection, in order.
type Handler interface {
	// OnMessage receives one message packet's payload. data is only valid
	// during the call. binary tells a binary message from a text one. For
	// polling, the POST that carried it is answered only after OnMessage
	// returns for all its packets.
	OnMessage(data []byte, binary bool)
	// OnClose is called once when the session ends, with Node's reason
	// ("transport close", "transport error", "ping timeout",
	// "forced close", "parse error", "slow consumer",
	// "server shutting down").
	OnClose(reason string)
}

// Server is an Engine.IO v4 server. It is an http.Handler for the path it
// is mounted at.
type Server struct {
	cfg          Config
	cors         corsPolicy
	allowPolling bool
	allowWS      bool
	onConnection func(c *Conn)
	sched        *scheduler
	flusher      *flusher

	// openPrefix is `,"upgrades":[...],"pingInterval":N,...}` for polling
	// handshakes; wsOpenSuffix the same for websocket-only sessions.
	pollOpenSuffix string
	wsOpenSuffix   string

	accepting atomic.Bool
	// closePollWait is serverClosePollWait (a field so tests can shorten it).
	closePollWait time.Duration
	// readLinger is wsReadLinger (a field so tests can shorten it).
	readLinger time.Duration

	// pollMu guards pl (the poller parking idle websockets, started on
	// first use) and pollOff (no poller: unavailable or stopped).
	pollMu  sync.Mutex
	pl      *poller
	pollOff bool

	mu       sync.RWMutex
	sessions map[string]*Conn
	closed   bool

	// wg counts live sessions (until OnClose returned) and the reader and
	// writer goroutines.
	wg sync.WaitGroup
}

// NewServer returns a Server. onConnection is called for every new session
// before any of its packets is handled; it must call Conn.SetHandler.
func NewServer(cfg Config, onConnection func(c *Conn)) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:           cfg,
		cors:          newCORSPolicy(cfg.CORS),
		onConnection:  onConnection,
		sched:         newScheduler(),
		flusher:       newFlusher(),
		sessions:      make(map[string]*Conn),
		closePollWait: serverClosePollWait,
		readLinger:    wsReadLinger,
	}
	s.allowPolling, s.allowWS = cfg.allowedTransports()
	s.accepting.Store(true)
	upgrades := `[]`
	if s.allowWS && s.allowPolling {
		upgrades = `["websocket"]`
	}
	tail := `,"pingInterval":` + strconv.FormatInt(cfg.PingInterval.Milliseconds(), 10) +
		`,"pingTimeout":` + strconv.FormatInt(cfg.PingTimeout.Milliseconds(), 10) +
		`,"maxPayload":` + strconv.FormatInt(cfg.MaxHTTPBufferSize, 10) + `}`
	s.pollOpenSuffix = `","upgrades":` + upgrades + tail
	s.wsOpenSuffix = `","upgrades":[]` + tail
	return s
}

// SetAccepting(false) makes new handshakes fail with 503 (draining);
// existing sessions keep working.
func (s *Server) SetAccepting(ok bool) { s.accepting.Store(ok) }

// Count returns the number of open sessions.
func (s *Server) Count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}

// Close closes every session with the given reason, flushing what is
// queued, and returns once every session has ended (OnClose returned) and
// every goroutine of the server has exited. New handshakes are refused
// from the start. A polling session without a pending GET waits at most
// one second for the client's next GET.
func (s *Server) Close(reason string) {
	s.mu.Lock()
	s.closed = true
	conns := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.accepting.Store(false)
	for _, c := range conns {
		c.closeGraceful(reason, s.closePollWait)
	}
	s.stopPoller()
	s.wg.Wait()
	s.flusher.wait()
	s.sched.wait()
}

func (s *Server) get(sid string) *Conn {
	s.mu.RLock()
	c := s.sessions[sid]
	s.mu.RUnlock()
	return c
}

func (s *Server) remove(c *Conn) {
	s.mu.Lock()
	if s.sessions[c.id] == c {
		delete(s.sessions, c.id)
	}
	s.mu.Unlock()
}

// register publishes a new session, unless the server is closed. It
// counts the session in wg.
func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if _, dup := s.sessions[c.id]; dup {
		return false
	}
	s.sessions[c.id] = c
	s.wg.Add(1)
	return true
}

// newID returns a 20-character base64url session id (15 random bytes, as
// Node's base64id).
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.URLEncoding.EncodeToString(b[:])
}

// ServeHTTP handles Engine.IO polling and websocket requests.
//
// Requests are checked in Node's order: CORS preflight, transport (code 0),
// Origin (code 3), then for a known session its id (code 1) and transport
// (code 3), and for a handshake the method (code 2), the websocket upgrade
// (code 3), the protocol version (code 5), draining (503) and
// AllowRequest (code 4, HTTP 403). A websocket is upgraded only after
// every check passed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	origin := r.Header.Get("Origin")
	allowed := s.cors.allowed(r, origin)
	if allowed {
		s.cors.setHeaders(w.Header(), origin)
	}
	if r.Method == http.MethodOptions && s.cors.enabled {
		if !allowed {
			writeError(w, codeBadRequest, 0)
			return
		}
		s.cors.writePreflight(w, r)
		return
	}

	transport := q.Get("transport")
	if !(transport == transportPolling && s.allowPolling) && !(transport == transportWebSocket && s.allowWS) {
		writeError(w, codeUnknownTransport, 0)
		return
	}
	isUpgrade := isWebSocketUpgrade(r)
	if !validHeaderValue(origin) {
		writeError(w, codeBadRequest, 0)
		return
	}
	if !allowed {
		if isUpgrade {
			writeError(w, codeForbidden, 0)
		} else {
			writeError(w, codeBadRequest, 0)
		}
		return
	}

	if sid := q.Get("sid"); sid != "" {
		c := s.get(sid)
		if c == nil || c.expireIfLate() {
			writeError(w, codeUnknownSID, 0)
			return
		}
		if isUpgrade {
			if transport != transportWebSocket {
				writeError(w, codeBadRequest, 0)
				return
			}
			s.serveUpgrade(c, w, r)
			return
		}
		if c.Transport() != transport {
			writeError(w, codeBadRequest, 0)
			return
		}
		switch r.Method {
		case http.MethodGet:
			c.servePollGET(w, r)
		case http.MethodPost:
			c.servePollPOST(w, r)
		default:
			writeError(w, codeBadRequest, 0)
		}
		return
	}

	// Handshake.
	if r.Method != http.MethodGet {
		writeError(w, codeBadHandshake, 0)
		return
	}
	if (transport == transportWebSocket) != isUpgrade {
		writeError(w, codeBadRequest, 0)
		return
	}
	if q.Get("EIO") != "4" {
		writeError(w, codeUnsupported, 0)
		return
	}
	if !s.accepting.Load() {
		writeErrorMessage(w, codeBadRequest, msgNotAccepting, http.StatusServiceUnavailable)
		return
	}
	if s.cfg.AllowRequest != nil {
		if err := s.cfg.AllowRequest(r); err != nil {
			s.debug("engineio: handshake refused", "remote", r.RemoteAddr, "err", err)
			if errors.Is(err, ErrUnavailable) {
				writeErrorMessage(w, codeBadRequest, msgNotAccepting, http.StatusServiceUnavailable)
				return
			}
			// Node answers allowRequest's message (its default: "Forbidden").
			msg := err.Error()
			if msg == "" {
				msg = errorMessages[codeForbidden]
			}
			writeErrorMessage(w, codeForbidden, msg, 0)
			return
		}
	}
	if isUpgrade {
		s.handshakeWS(w, r)
	} else {
		s.handshakePolling(w, r)
	}
}

func (s *Server) debug(msg string, args ...any) {
	if l := s.cfg.Logger; l.Enabled(context.Background(), slog.LevelDebug) {
		l.Debug(msg, args...)
	}
}

// newSession creates and registers a session; nil when the server closed.
func (s *Server) newSession(r *http.Request) *Conn {
	for range 3 {
		c := newConn(s, newID(), newReqInfo(r))
		if s.register(c) {
			return c
		}
		s.mu.RLock()
		closed := s.closed
		s.mu.RUnlock()
		if closed {
			return nil
		}
	}
	return nil
}

// handshakePolling opens a long-polling session and answers the open
// packet.
func (s *Server) handshakePolling(w http.ResponseWriter, r *http.Request) {
	c := s.newSession(r)
	if c == nil {
		writeErrorMessage(w, codeBadRequest, "Server is not accepting connections", http.StatusServiceUnavailable)
		return
	}
	s.cfg.Hooks.sessionOpened(transportPolling)
	c.mu.Lock()
	c.scheduleLocked(s.cfg.PingInterval)
	c.mu.Unlock()
	if s.onConnection != nil {
		s.onConnection(c)
	}
	open := `{"sid":"` + c.id + s.pollOpenSuffix
	s.cfg.Hooks.packetOut(ptOpen, len(open))
	writePollBody(w, append([]byte{'0'}, open...))
}

// handshakeWS opens a websocket-only session: upgrade, then the open packet
// as the first frame.
func (s *Server) handshakeWS(w http.ResponseWriter, r *http.Request) {
	nc, err := s.upgradeWS(w, r)
	if err != nil {
		s.debug("engineio: websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	ws := newWSConn(s, nc)
	c := s.newSession(r)
	if c == nil {
		ws.refuse(closeTryAgainLater)
		return
	}
	ws.c = c
	s.cfg.Hooks.sessionOpened(transportWebSocket)
	open := newControlMessage(ptOpen, `{"sid":"`+c.id+s.wsOpenSuffix)
	c.mu.Lock()
	c.ws = ws
	c.websocket = true
	c.enqueueLocked([]*Message{open}, open.size())
	c.scheduleLocked(s.cfg.PingInterval)
	c.mu.Unlock()
	if s.onConnection != nil {
		s.onConnection(c)
	}
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		ws.close()
		return
	}
	ws.start()
	c.mu.Unlock()
}

// serveUpgrade handles a websocket request for an existing session: the
// start of a polling→websocket upgrade. A session that already upgraded or
// is upgrading gets its extra websocket closed.
func (s *Server) serveUpgrade(c *Conn, w http.ResponseWriter, r *http.Request) {
	// The client may poll as soon as it reads the 101 answer, before the
	// websocket below becomes the probe: upgrading makes such a GET wait
	// for the upgrade as one during the probe does (servePollGET).
	c.mu.Lock()
	mine := !c.upgrading
	c.upgrading = true
	c.mu.Unlock()
	nc, err := s.upgradeWS(w, r)
	if err != nil {
		c.mu.Lock()
		if mine {
			c.upgrading = false
		}
		c.mu.Unlock()
		s.debug("engineio: websocket upgrade failed", "sid", c.id, "err", err)
		return
	}
	ws := newWSConn(s, nc)
	ws.c = c
	c.mu.Lock()
	if mine {
		c.upgrading = false // in the same critical section as the probe
	}
	if c.state != stateOpen || c.websocket || c.probe != nil {
		c.mu.Unlock()
		ws.refuse(closeNormal)
		return
	}
	c.probe = ws
	c.probed = false
	c.upgradeTimer = newTimer(s.cfg.UpgradeTimeout, func() { c.abortProbe(ws) })
	ws.start()
	c.mu.Unlock()
}
