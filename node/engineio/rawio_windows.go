//go:build windows

package engineio

import "errors"

// rawSocketIO is false on Windows, whose sockets are not read and written
// with read(2)/write(2): websockets use blocking Read and Write calls on
// goroutines of their own, as TLS connections do elsewhere.
const rawSocketIO = false

var errNoRawIO = errors.New("engineio: no raw socket I/O on this platform")

func sysRead(uintptr, []byte) (int, error)  { return 0, errNoRawIO }
func sysWrite(uintptr, []byte) (int, error) { return 0, errNoRawIO }
