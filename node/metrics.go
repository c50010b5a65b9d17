package node

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sio-go/sio/node/engineio"
	"github.com/sio-go/sio/node/parser"
)

// Metrics are the server's Prometheus collectors, all prefixed "sio_". No
// metric has a per-socket or per-room label.
type Metrics struct {
	sessions           *prometheus.GaugeVec   // transport
	upgrades           prometheus.Counter     //
	sockets            *prometheus.GaugeVec   // namespace
	rooms              *prometheus.GaugeVec   // namespace
	enginePacketsIn    *prometheus.CounterVec // type
	engineBytesIn      *prometheus.CounterVec // type
	enginePacketsOut   *prometheus.CounterVec // type
	engineBytesOut     *prometheus.CounterVec // type
	packetsIn          *prometheus.CounterVec // socket.io type
	packetsOut         *prometheus.CounterVec // socket.io type
	broadcasts         *prometheus.CounterVec // scope: local|cluster
	deliveries         prometheus.Counter
	volatileDrops      prometheus.Counter
	slowConsumers      prometheus.Counter
	disconnects        *prometheus.CounterVec // reason
	ackTimeouts        prometheus.Counter
	connectErrors      prometheus.Counter
	invalidPackets     prometheus.Counter
	rateLimited        prometheus.Counter
	connectionsRefused prometheus.Counter
	queueBytes         prometheus.GaugeFunc // reads queued
	redisPublishes     prometheus.Counter
	redisPublishErrors prometheus.Counter
	redisReceived      prometheus.Counter
	redisDropped       prometheus.Counter
	redisRequest       *prometheus.HistogramVec // kind

	// Children of the per-type vectors, looked up once: WithLabelValues on
	// every packet was a measurable share of the hot path.
	engIn, engOut typeCounters
	sioIn, sioOut [len(typeNames)]prometheus.Counter
	// queued is the value of the writer_queue_bytes gauge, changed twice
	// per message (queued, written): one atomic add where a Gauge's Add
	// is a compare-and-swap loop on a float.
	queued atomic.Int64
}

// engineTypes are the Engine.IO packet type names the engine reports.
var engineTypes = []string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// typeCounters holds the packets and bytes counters of each packet type.
type typeCounters struct {
	packets, bytes *prometheus.CounterVec
	cached         map[string][2]prometheus.Counter
	message        [2]prometheus.Counter // cached["message"], nearly every packet's
}

func newTypeCounters(packets, bytes *prometheus.CounterVec) typeCounters {
	tc := typeCounters{packets: packets, bytes: bytes, cached: make(map[string][2]prometheus.Counter, len(engineTypes))}
	for _, t := range engineTypes {
		tc.cached[t] = [2]prometheus.Counter{packets.WithLabelValues(t), bytes.WithLabelValues(t)}
	}
	tc.message = tc.cached["message"]
	return tc
}

func (tc *typeCounters) add(typ string, packets, bytes int) {
	c := tc.message
	if typ != "message" {
		var ok bool
		if c, ok = tc.cached[typ]; !ok {
			c = [2]prometheus.Counter{tc.packets.WithLabelValues(typ), tc.bytes.WithLabelValues(typ)}
		}
	}
	c[0].Add(float64(packets))
	c[1].Add(float64(bytes))
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sessions:           gaugeVec("engine_sessions", "Open Engine.IO sessions by current transport.", "transport"),
		upgrades:           counter("engine_upgrades_total", "Polling sessions upgraded to websocket."),
		sockets:            gaugeVec("sockets", "Connected sockets by namespace.", "namespace"),
		rooms:              gaugeVec("rooms", "Local rooms by namespace (socket-id rooms included).", "namespace"),
		enginePacketsIn:    counterVec("engine_packets_in_total", "Engine.IO packets received by type.", "type"),
		engineBytesIn:      counterVec("engine_bytes_in_total", "Engine.IO payload bytes received by packet type.", "type"),
		enginePacketsOut:   counterVec("engine_packets_out_total", "Engine.IO packets written by type.", "type"),
		engineBytesOut:     counterVec("engine_bytes_out_total", "Engine.IO payload bytes written by packet type.", "type"),
		packetsIn:          counterVec("packets_in_total", "Socket.IO packets received by type.", "type"),
		packetsOut:         counterVec("packets_out_total", "Socket.IO packets queued to clients by type (one per recipient).", "type"),
		broadcasts:         counterVec("broadcasts_total", "Broadcasts sent from this node: scope local (Local flag) or cluster.", "scope"),
		deliveries:         counter("broadcast_deliveries_total", "Broadcast packets queued to local sockets (one per recipient)."),
		volatileDrops:      counter("volatile_drops_total", "Volatile packets dropped for a client not ready to write."),
		slowConsumers:      counter("slow_consumer_disconnects_total", "Connections closed because their write queue passed its bound."),
		disconnects:        counterVec("disconnects_total", "Socket disconnections by reason.", "reason"),
		ackTimeouts:        counter("ack_timeouts_total", "Acknowledgement waits that timed out."),
		connectErrors:      counter("connect_errors_total", "Connections rejected by a middleware."),
		invalidPackets:     counter("invalid_packets_total", "Connections closed for a malformed Socket.IO packet."),
		rateLimited:        counter("rate_limited_total", "Connections closed for exceeding the packet rate limit."),
		connectionsRefused: counter("connections_refused_total", "Handshakes refused by the connection limit."),
		redisPublishes:     counter("redis_publishes_total", "Messages published to Redis."),
		redisPublishErrors: counter("redis_errors_total", "Redis publish and subscription errors."),
		redisReceived:      counter("redis_messages_received_total", "Messages received from Redis."),
		redisDropped:       counter("redis_messages_dropped_total", "Messages from Redis dropped because a worker queue was full."),
		redisRequest: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "sio", Name: "redis_request_duration_seconds",
			Help:    "Round trip of cluster requests through Redis, by kind.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"kind"}),
	}
	m.queueBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "sio", Name: "writer_queue_bytes", Help: "Bytes queued in connection writers, not yet written.",
	}, func() float64 { return float64(m.queued.Load()) })
	m.engIn = newTypeCounters(m.enginePacketsIn, m.engineBytesIn)
	m.engOut = newTypeCounters(m.enginePacketsOut, m.engineBytesOut)
	for i, name := range typeNames {
		m.sioIn[i] = m.packetsIn.WithLabelValues(name)
		m.sioOut[i] = m.packetsOut.WithLabelValues(name)
	}
	if reg != nil {
		for _, c := range m.collectors() {
			reg.MustRegister(c)
		}
	}
	return m
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.sessions, m.upgrades, m.sockets, m.rooms, m.enginePacketsIn, m.engineBytesIn,
		m.enginePacketsOut, m.engineBytesOut, m.packetsIn, m.packetsOut, m.broadcasts, m.deliveries, m.volatileDrops,
		m.slowConsumers, m.disconnects, m.ackTimeouts, m.connectErrors, m.invalidPackets, m.rateLimited,
		m.connectionsRefused, m.queueBytes, m.redisPublishes, m.redisPublishErrors, m.redisReceived, m.redisDropped,
		m.redisRequest}
}

func (m *Metrics) engineHooks() engineio.Hooks {
	return engineio.Hooks{
		SessionOpened: func(t string) { m.sessions.WithLabelValues(t).Inc() },
		SessionClosed: func(t, _ string) { m.sessions.WithLabelValues(t).Dec() },
		Upgraded: func() {
			m.upgrades.Inc()
			m.sessions.WithLabelValues("polling").Dec()
			m.sessions.WithLabelValues("websocket").Inc()
		},
		PacketIn:        func(t string, n int) { m.engIn.add(t, 1, n) },
		PacketOut:       func(t string, n int) { m.engOut.add(t, 1, n) },
		PacketsOut:      func(t string, packets, n int) { m.engOut.add(t, packets, n) },
		QueueBytes:      func(d int) { m.queued.Add(int64(d)) },
		VolatileDropped: func() { m.volatileDrops.Inc() },
	}
}

// ObserveRedisPublish counts a publish to Redis, failed when err != nil.
func (m *Metrics) ObserveRedisPublish(err error) {
	if err != nil {
		m.redisPublishErrors.Inc()
		return
	}
	m.redisPublishes.Inc()
}

// ObserveRedisError counts a Redis error other than a publish.
func (m *Metrics) ObserveRedisError() { m.redisPublishErrors.Inc() }

// ObserveRedisReceived counts a message received from Redis.
func (m *Metrics) ObserveRedisReceived() { m.redisReceived.Inc() }

// ObserveRedisDropped counts a message from Redis dropped on overflow.
func (m *Metrics) ObserveRedisDropped() { m.redisDropped.Inc() }

// ObserveRedisRequest records the round trip of a cluster request.
func (m *Metrics) ObserveRedisRequest(kind string, d time.Duration) {
	m.redisRequest.WithLabelValues(kind).Observe(d.Seconds())
}

func (m *Metrics) packetIn(t parser.Type) {
	if int(t) < len(m.sioIn) {
		m.sioIn[t].Inc()
	}
}

// packetOut counts n Socket.IO packets of type t queued to clients.
func (m *Metrics) packetOut(t parser.Type, n int) {
	if int(t) < len(m.sioOut) {
		if n == 1 {
			m.sioOut[t].Inc() // an integer add, where Add converts and checks a float
			return
		}
		m.sioOut[t].Add(float64(n))
	}
}

var typeNames = [...]string{"connect", "disconnect", "event", "ack", "connect_error", "binary_event", "binary_ack"}

func typeName(t parser.Type) string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sio", Name: name, Help: help})
}

func counterVec(name, help, label string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sio", Name: name, Help: help}, []string{label})
}

func gaugeVec(name, help, label string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "sio", Name: name, Help: help}, []string{label})
}
