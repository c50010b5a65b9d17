//go:build !linux

package main

import "errors"

// poller is only implemented on Linux; elsewhere every connection has a
// reader goroutine.
type poller struct{}

// pollConn is the per-connection state of a poller.
type pollConn struct{}

// disablePoller makes every connection use a reader goroutine (tests).
var disablePoller bool

// rawWrites is false: writes go through net.Conn.
const rawWrites = false

func (c *client) writeRaw(*frameBuf) error { panic("unreachable") }

func newPoller(*bench) (*poller, error) { return nil, errors.ErrUnsupported }

func (*poller) add(*client, handler) {}

func (*poller) close() {}
