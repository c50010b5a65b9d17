//go:build linux

package engineio

import (
	"syscall"
	"unsafe"
)

// rawSocketIO tells whether websockets read and write their socket
// through syscall.RawConn (non-blocking calls, parking, flushers).
const rawSocketIO = true

// sysRead and sysWrite are recvfrom(2) and sendto(2) without an address
// on a non-blocking socket, issued as raw system calls: they never block,
// so they skip the runtime's entersyscall/exitsyscall bookkeeping, whose
// cost (and the wake-ups of the runtime's monitor thread it causes) is a
// measurable share of a small message's round trip. The socket calls
// also skip read(2) and write(2)'s file layer (file position lock,
// permission and notification hooks), a tenth of a small write's kernel
// time; MSG_NOSIGNAL makes a write to a reset connection return EPIPE
// without raising SIGPIPE. A descriptor that is not a socket falls back
// to read(2) and write(2).
func sysRead(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if e == syscall.ENOTSOCK {
		n, _, e = syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	}
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sysWrite(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		syscall.MSG_NOSIGNAL, 0, 0)
	if e == syscall.ENOTSOCK {
		n, _, e = syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	}
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
