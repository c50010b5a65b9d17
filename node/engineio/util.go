package engineio

import "time"

func newTimer(d time.Duration, f func()) *time.Timer { return time.AfterFunc(d, f) }
