//go:build unix

package main

import "syscall"

// raiseFileLimit raises the soft RLIMIT_NOFILE towards need (up to the
// hard limit) and returns the resulting soft limit.
func raiseFileLimit(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if uint64(lim.Cur) >= need {
		return uint64(lim.Cur), nil
	}
	setRlim(&lim.Cur, min(need, uint64(lim.Max)))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return uint64(lim.Cur), nil
}

// setRlim stores v in an Rlimit field, whose type is uint64 on Linux and
// macOS but int64 on the BSDs.
func setRlim[T int64 | uint64](p *T, v uint64) { *p = T(v) }

// selfCPU returns the generator's user+system CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
