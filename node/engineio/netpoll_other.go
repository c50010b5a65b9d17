//go:build !linux

package engineio

import "errors"

// poller is not available on this platform: websocket readers never park.
type poller struct{}

func newPoller() (*poller, error) {
	return nil, errors.New("engineio: no poller on this platform")
}

func (p *poller) park(*wsConn) bool  { return false }
func (p *poller) forget(*wsConn) int { return 0 }
func (p *poller) close()             {}
func (p *poller) run(s *Server)      { s.wg.Done() }
