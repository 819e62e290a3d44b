package main

import "time"

// phases are one deploy's measurements by name: durations in ms, CPU
// times in ms, and flags (1 when set).
type phases map[string]float64

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
