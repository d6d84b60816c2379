package snug_test

import (
	"fmt"

	"github.com/snug-go/snug"
)

// The blank import is all a program needs; Tuner gives access to what it
// decided, for a debug page or a log line.
func ExampleTuner() {
	// import _ "github.com/snug-go/snug" (this example imports it by name)
	st := snug.Tuner().Status()
	fmt.Println(st.MaxProcs.Source)
	fmt.Println(st.MemoryLimit.Source)
}
