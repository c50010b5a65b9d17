//go:build unix && !linux

package engineio

import "syscall"

// rawSocketIO tells whether websockets read and write their socket
// through syscall.RawConn (non-blocking calls, parking, flushers).
const rawSocketIO = true

// sysRead and sysWrite are read(2) and write(2) on a non-blocking socket.
func sysRead(fd uintptr, b []byte) (int, error)  { return syscall.Read(int(fd), b) }
func sysWrite(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }
