//go:build !unix

package main

// raiseFileLimit is a no-op where RLIMIT_NOFILE does not exist.
func raiseFileLimit(need uint64) (uint64, error) { return need, nil }

// selfCPU is unknown (-1) where getrusage does not exist.
func selfCPU() float64 { return -1 }
