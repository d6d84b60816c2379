package cgroup

import (
	"testing"
	"unsafe"
)

// sched_getaffinity copies the mask in whole longs of the kernel and
// returns how many bytes it copied: on a 32-bit kernel built for at most
// 32 CPUs (armv7 boards) that is 4, half of one of the Group's uint64
// words. The mask is counted by bytes, as the Go runtime counts it for
// runtime.NumCPU; counted by whole words, such a mask was 0 CPUs and a
// narrower affinity (taskset, systemd's CPUAffinity) was ignored.
func TestMaskCount(t *testing.T) {
	mask := make([]uint64, 16)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&mask[0])), len(mask)*8)
	b[0] = 0b1011 // CPUs 0, 1 and 3
	b[5] = 0xff   // beyond what a 32-bit kernel copied
	for _, c := range []struct{ size, want int }{
		{4, 3},  // 32-bit kernel, NR_CPUS <= 32
		{8, 11}, // 64-bit kernel
		{12, 11},
		{0, 0},
	} {
		if got := maskCount(mask, c.size); got != c.want {
			t.Errorf("maskCount(size %d) = %d, want %d", c.size, got, c.want)
		}
	}
}
