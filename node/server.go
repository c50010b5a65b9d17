package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/node/engineio"
)

// Server is a Socket.IO v4 server: an http.Handler to mount at Config.Path.
// All methods are goroutine-safe.
type Server struct {
	cfg     Config
	engine  *engineio.Server
	metrics *Metrics

	mu        sync.RWMutex
	nsps      map[string]*Namespace
	creating  map[string]chan struct{} // names being created, closed when done
	parents   []*ParentNamespace
	onNewNsp  []func(*Namespace)
	closing   atomic.Bool
	closeOnce sync.Once
}

// NewServer returns a server with the main namespace "/" created.
func NewServer(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, nsps: make(map[string]*Namespace), creating: make(map[string]chan struct{})}
	s.metrics = newMetrics(cfg.Registerer)
	ecfg := engineio.Config{
		PingInterval:      cfg.PingInterval,
		PingTimeout:       cfg.PingTimeout,
		UpgradeTimeout:    cfg.UpgradeTimeout,
		MaxHTTPBufferSize: cfg.MaxHTTPBufferSize,
		Transports:        cfg.Transports,
		MaxQueueBytes:     cfg.MaxQueueBytes,
		WriteTimeout:      cfg.WriteTimeout,
		CORS:              cfg.CORS,
		AllowRequest:      s.allowRequest,
		Logger:            cfg.Logger,
		Hooks:             s.metrics.engineHooks(),
	}
	s.engine = engineio.NewServer(ecfg, s.onEngineConnection)
	if _, err := s.of("/"); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) allowRequest(r *http.Request) error {
	if s.cfg.MaxConnections > 0 && s.engine.Count() >= s.cfg.MaxConnections {
		s.metrics.connectionsRefused.Inc()
		return engineio.ErrUnavailable // 503: a load balancer tries another node
	}
	if s.cfg.AllowRequest != nil {
		return s.cfg.AllowRequest(r)
	}
	return nil
}

// ServeHTTP serves the Engine.IO transports.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.engine.ServeHTTP(w, r)
}

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Engine returns the underlying Engine.IO server.
func (s *Server) Engine() *engineio.Server { return s.engine }

// Of returns the namespace name, creating it if needed. A name without a
// leading "/" gets one.
func (s *Server) Of(name string) *Namespace {
	ns, err := s.of(name)
	if err != nil {
		// An invalid name or an adapter factory error: a programming or
		// configuration error, reported loudly rather than hidden.
		panic(fmt.Sprintf("sio: creating namespace %q: %v", name, err))
	}
	return ns
}

func (s *Server) of(name string) (*Namespace, error) {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if strings.Contains(name, ",") {
		// The wire format ends a namespace at the first comma.
		return nil, fmt.Errorf("sio: invalid namespace name %q: contains a comma", name)
	}
	s.mu.RLock()
	ns := s.nsps[name]
	s.mu.RUnlock()
	if ns != nil {
		return ns, nil
	}
	return s.create(name, nil)
}

// create returns the namespace name, creating it if it does not exist.
// The adapter is built and initialised (the Redis adapter waits for its
// subscriptions) with no lock held, so CONNECTs to other namespaces go on
// meanwhile; concurrent calls for one name wait for the first. setup, if
// not nil, runs on a namespace this call creates before anyone can find
// it. The OnNewNamespace listeners run last, with no lock held.
func (s *Server) create(name string, setup func(*Namespace)) (*Namespace, error) {
	for {
		s.mu.Lock()
		if ns := s.nsps[name]; ns != nil {
			s.mu.Unlock()
			return ns, nil
		}
		done, busy := s.creating[name]
		if !busy {
			done = make(chan struct{})
			s.creating[name] = done
		}
		s.mu.Unlock()
		if busy {
			<-done
			continue // created, or failed: try again
		}
		ns, err := newNamespace(s, name)
		if err == nil && setup != nil {
			setup(ns)
		}
		s.mu.Lock()
		delete(s.creating, name)
		close(done)
		// Shutdown sets closing before it collects the namespaces to
		// close (under s.mu): either it finds this one, or this sees it
		// shutting down and closes the adapter itself.
		closing := s.closing.Load()
		if err == nil && !closing {
			s.nsps[name] = ns
		}
		listeners := append([]func(*Namespace){}, s.onNewNsp...)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if closing {
			_ = ns.adapter.Close(context.Background())
			return ns, nil // unpublished, its adapter closed
		}
		for _, fn := range listeners {
			fn(ns)
		}
		return ns, nil
	}
}

// OfRegexp registers a dynamic namespace: a client connecting to an
// unknown name matching re creates a child namespace of that name.
func (s *Server) OfRegexp(re *regexp.Regexp) *ParentNamespace {
	return s.addParent(func(name string, _ json.RawMessage) bool { return re.MatchString(name) })
}

// OfFunc registers a dynamic namespace decided by fn (name, CONNECT auth).
func (s *Server) OfFunc(fn func(name string, auth json.RawMessage) bool) *ParentNamespace {
	return s.addParent(fn)
}

func (s *Server) addParent(match func(string, json.RawMessage) bool) *ParentNamespace {
	p := &ParentNamespace{srv: s, match: match, children: make(map[string]*Namespace)}
	s.mu.Lock()
	s.parents = append(s.parents, p)
	s.mu.Unlock()
	return p
}

// OnNewNamespace registers fn for every namespace created from now on
// (socket.io's "new_namespace" event).
func (s *Server) OnNewNamespace(fn func(*Namespace)) {
	s.mu.Lock()
	s.onNewNsp = append(s.onNewNsp, fn)
	s.mu.Unlock()
}

// lookup finds the namespace for a CONNECT, creating a dynamic child when
// a parent matches. It returns nil for an invalid namespace.
func (s *Server) lookup(name string, auth json.RawMessage) *Namespace {
	s.mu.RLock()
	ns := s.nsps[name]
	parents := s.parents
	s.mu.RUnlock()
	if ns != nil {
		return ns
	}
	for _, p := range parents {
		if p.match(name, auth) {
			child, err := p.child(name)
			if err != nil {
				s.cfg.Logger.Error("creating dynamic namespace", "nsp", name, "err", err)
				return nil
			}
			return child
		}
	}
	return nil
}

// Namespaces returns the names of the existing namespaces.
func (s *Server) Namespaces() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.nsps))
	for n := range s.nsps {
		out = append(out, n)
	}
	return out
}

// Sockets returns the main namespace.
func (s *Server) Sockets() *Namespace { return s.Of("/") }

// Use adds a connection middleware to the main namespace.
func (s *Server) Use(mw Middleware) { s.Of("/").Use(mw) }

// OnConnection registers a connection handler on the main namespace.
func (s *Server) OnConnection(fn func(*Socket)) { s.Of("/").OnConnection(fn) }

// To selects rooms of the main namespace for a broadcast.
func (s *Server) To(rooms ...string) *BroadcastOperator { return s.Of("/").To(rooms...) }

// In is To.
func (s *Server) In(rooms ...string) *BroadcastOperator { return s.Of("/").In(rooms...) }

// Except excludes rooms of the main namespace from a broadcast.
func (s *Server) Except(rooms ...string) *BroadcastOperator { return s.Of("/").Except(rooms...) }

// Local restricts a broadcast of the main namespace to this node.
func (s *Server) Local() *BroadcastOperator { return s.Of("/").Local() }

// Volatile marks a broadcast of the main namespace as droppable.
func (s *Server) Volatile() *BroadcastOperator { return s.Of("/").Volatile() }

// Timeout sets the ack timeout of a broadcast of the main namespace.
func (s *Server) Timeout(d time.Duration) *BroadcastOperator { return s.Of("/").Timeout(d) }

// Emit broadcasts to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.Of("/").Emit(event, args...) }

// ServerSideEmit emits to the main namespace of every other node.
func (s *Server) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	return s.Of("/").ServerSideEmit(ctx, event, args...)
}

// FetchSockets describes the sockets of the main namespace across the cluster.
func (s *Server) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return s.Of("/").FetchSockets(ctx)
}

// Ready returns nil when every namespace's adapter is ready (for example
// subscribed to Redis), and the server is not closing.
func (s *Server) Ready() error {
	if s.closing.Load() {
		return ErrClosed
	}
	s.mu.RLock()
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, ns := range s.nsps {
		nsps = append(nsps, ns)
	}
	s.mu.RUnlock()
	for _, ns := range nsps {
		if rc, ok := ns.adapter.(adapter.ReadyChecker); ok {
			if err := rc.Ready(); err != nil {
				return fmt.Errorf("namespace %s: %w", ns.name, err)
			}
		}
	}
	return nil
}

// Shutdown drains the server: readiness goes false, new connections are
// refused, every socket is disconnected with reason "server shutting
// down" (clients reconnect elsewhere), and the adapters are closed. It
// returns when done or when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.engine.SetAccepting(false)
		s.engine.Close(ReasonServerShuttingDown)
		s.mu.RLock()
		nsps := make([]*Namespace, 0, len(s.nsps))
		for _, ns := range s.nsps {
			nsps = append(nsps, ns)
		}
		s.mu.RUnlock()
		for _, ns := range nsps {
			if e := ns.adapter.Close(ctx); e != nil && err == nil {
				err = e
			}
		}
	})
	return err
}

// Close is Shutdown with no deadline.
func (s *Server) Close() error { return s.Shutdown(context.Background()) }

func (s *Server) onEngineConnection(c *engineio.Conn) {
	newClient(s, c)
}
