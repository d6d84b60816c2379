//go:build race

package health

// raceEnabled: the race detector slows code down several times; the load
// test scales its rate down under it.
const raceEnabled = true
