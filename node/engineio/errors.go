package engineio

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// ErrClosed is returned by Send on a closed session.
var ErrClosed = errors.New("engineio: session closed")

// ErrSlowConsumer is returned by Send when the queue bound is passed.
var ErrSlowConsumer = errors.New("engineio: slow consumer")

// ErrUnavailable, returned by Config.AllowRequest (or wrapped in its
// error), refuses the handshake as a draining server does: HTTP 503,
// {"code":3,"message":"Server is not accepting connections"}, so that a
// load balancer may try another node. Other errors answer 403.
var ErrUnavailable = errors.New(msgNotAccepting)

// msgNotAccepting is the message of a 503 refusal.
const msgNotAccepting = "Server is not accepting connections"

// errorCode is an Engine.IO error code as answered by Node's engine.io
// server (Server.errors).
type errorCode int

// The Engine.IO error codes.
const (
	codeUnknownTransport errorCode = 0
	codeUnknownSID       errorCode = 1
	codeBadHandshake     errorCode = 2
	codeBadRequest       errorCode = 3
	codeForbidden        errorCode = 4
	codeUnsupported      errorCode = 5
)

var errorMessages = [...]string{
	codeUnknownTransport: "Transport unknown",
	codeUnknownSID:       "Session ID unknown",
	codeBadHandshake:     "Bad handshake method",
	codeBadRequest:       "Bad request",
	codeForbidden:        "Forbidden",
	codeUnsupported:      "Unsupported protocol version",
}

// status returns the HTTP status Node answers for the code: 403 for
// Forbidden, 400 otherwise.
func (c errorCode) status() int {
	if c == codeForbidden {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// writeError answers an Engine.IO error as Node does: a JSON body
// {"code":N,"message":"..."} with Content-Type application/json and the
// code's HTTP status (or status, when non-zero).
func writeError(w http.ResponseWriter, code errorCode, status int) {
	writeErrorMessage(w, code, errorMessages[code], status)
}

// writeErrorMessage is writeError with a custom message.
func writeErrorMessage(w http.ResponseWriter, code errorCode, msg string, status int) {
	if status == 0 {
		status = code.status()
	}
	b := make([]byte, 0, 48+len(msg))
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// appendJSONString appends s as a JSON string, as JSON.stringify writes
// it (no HTML escaping): error messages may come from the application.
func appendJSONString(b []byte, s string) []byte {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, strings.TrimSuffix(sb.String(), "\n")...)
}
