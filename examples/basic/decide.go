package main

import (
	"fmt"
	"io"
	"math"

	"github.com/snug-go/snug"
)

// decide prints what the Tuner that the blank import of snug started
// decided for each knob, who owns it and why.
func decide(w io.Writer) {
	t := snug.Tuner()
	if t == nil {
		fmt.Fprintln(w, "\nsnug\tdid not start (see the log line above)")
		return
	}
	st := t.Status()
	fmt.Fprintln(w, "\nSNUG DECIDES\tVALUE\tOWNER\tWHY")
	for _, d := range []struct {
		name  string
		value string
		owner string
		why   string
	}{
		{"GOMAXPROCS", fmt.Sprint(st.MaxProcs.Value), string(st.MaxProcs.Owner), why(st.MaxProcs.Reason, st.MaxProcs.Source)},
		{"GOMEMLIMIT", memlimit(st.MemoryLimit.Value), string(st.MemoryLimit.Owner), why(st.MemoryLimit.Reason, st.MemoryLimit.Source)},
	} {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", d.name, d.value, d.owner, d.why)
	}
	if st.Err != nil {
		fmt.Fprintf(w, "warning\t%v\n", st.Err)
	}
}

func why(reason, source string) string {
	if source == "" {
		return reason
	}
	return source
}

func memlimit(v int64) string {
	if v == math.MaxInt64 {
		return "no limit"
	}
	return limit(v)
}
