//go:build race

package batch

// raceEnabled reports whether the race detector is on: sync.Pool then
// drops items at random, so allocation counts mean nothing.
const raceEnabled = true
