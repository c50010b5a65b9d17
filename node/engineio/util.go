package engineio

import "time"

func deadline(d time.Duration) time.Time { return time.Now().Add(d) }

func newTimer(d time.Duration, f func()) *time.Timer { return time.AfterFunc(d, f) }
