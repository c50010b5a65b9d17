package node

import (
	"errors"
	"fmt"
)

// Disconnect reasons, as socket.io reports them to disconnect handlers.
const (
	ReasonServerNamespaceDisconnect = "server namespace disconnect"
	ReasonClientNamespaceDisconnect = "client namespace disconnect"
	ReasonServerShuttingDown        = "server shutting down"
	ReasonPingTimeout               = "ping timeout"
	ReasonTransportClose            = "transport close"
	ReasonTransportError            = "transport error"
	ReasonParseError                = "parse error"
	ReasonForcedClose               = "forced close"
	ReasonForcedServerClose         = "forced server close"
	// ReasonSlowConsumer is sio's own: the client fell further behind than
	// Config.MaxQueueBytes.
	ReasonSlowConsumer = "slow consumer"
	// ReasonRateLimited is sio's own: the client sent more packets than
	// Config.MaxPacketsPerSecond.
	ReasonRateLimited = "rate limited"
)

var (
	// ErrReservedEvent is returned when emitting a reserved event name.
	ErrReservedEvent = errors.New("sio: reserved event name")
	// ErrTimeout is returned when acknowledgements did not all arrive in
	// time. Its text is socket.io's.
	ErrTimeout = errors.New("operation has timed out")
	// ErrDisconnected is returned for an emit or a pending ack on a
	// disconnected socket.
	ErrDisconnected = errors.New("sio: socket disconnected")
	// ErrAckAlreadySent is returned by an AckFunc called twice.
	ErrAckAlreadySent = errors.New("sio: ack already sent")
	// ErrTooManyAcks is returned by EmitWithAck when the socket already
	// owes too many acknowledgements (4096).
	ErrTooManyAcks = errors.New("sio: too many pending acknowledgements")
	// ErrClosed is returned after Server.Close.
	ErrClosed = errors.New("sio: server closed")
)

// ConnectError rejects a connection from a middleware: the client receives
// CONNECT_ERROR {message, data} and its connect_error event.
type ConnectError struct {
	Message string
	Data    any
}

// Error returns the message.
func (e *ConnectError) Error() string { return e.Message }

// NewConnectError returns a ConnectError with message and optional data.
func NewConnectError(message string, data any) *ConnectError {
	return &ConnectError{Message: message, Data: data}
}

func reservedErr(event string) error {
	return fmt.Errorf("%w: %q", ErrReservedEvent, event)
}
