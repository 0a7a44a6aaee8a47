//go:build race

package tests

// raceEnabled builds the binary under test with -race too.
const raceEnabled = true
