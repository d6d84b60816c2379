package tune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// These tests drive the watchdog in this process: over the fixture cgroup
// tree (fixture_test.go), whose memory counters the tests write, with the
// real runtime; or on synthetic samples for the decisions that need a
// state no test can bring a process into quickly. watchdog_host_test.go
// runs it for real in separate programs under real cgroups.

// withWatchdog adjusts the watchdog's configuration, limits included.
func withWatchdog(f func(*watchdogConfig)) Option { return func(c *config) { f(&c.watch) } }

// events collects the events an OnEvent function receives.
type events struct {
	mu   sync.Mutex
	list []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.list = append(e.list, ev); e.mu.Unlock() }

func (e *events) of(k EventKind) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.list {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// goHeld is what the runtime holds now, as the watchdog reads it.
func goHeld() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
}

// memoryStat writes a v2 memory.stat and memory.current for the fixture's
// container cgroup.
func (f *fixture) memoryStat(current, anon, file, inactiveFile, shmem, kernel int64) {
	f.set("pod/ctr", "memory.stat", fmt.Sprintf("anon %d\nfile %d\nkernel %d\nshmem %d\ninactive_file %d\n",
		anon, file, kernel, shmem, inactiveFile))
	f.set("pod/ctr", "memory.current", fmt.Sprint(current))
}

// outsideGo writes memory.stat and memory.current for n bytes of anonymous
// memory outside Go beside what the runtime holds now.
func (f *fixture) outsideGo(n int64) {
	held := goHeld()
	f.memoryStat(held+n, held+n, 0, 0, 0, 0)
}

func TestWatchdogLowersForMemoryOutsideGo(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	// outside writes memory.stat with the runtime's held memory as anon
	// plus the given memory outside Go, at each poll: what the runtime
	// holds moves as the test runs (and a lower GOMEMLIMIT makes it
	// return memory), so the file follows it; values sit mid-step.
	outside := func(anon, file, shmem, kernel int64) func() bool {
		return func() bool {
			held := goHeld()
			f.memoryStat(held+anon+file+shmem+kernel, held+anon, file+shmem, file/4, shmem, kernel)
			return true
		}
	}
	outside(102*mib, 0, 0, 0)()
	var evs events
	tu := f.start(nil, OnEvent(evs.add))
	// The deduction moves in 4 MiB steps, and the values sit mid-step; but
	// what the runtime holds moves between the test's write and the
	// Tuner's read (a GC, the scavenger), and on a loaded machine by more
	// than half a step now and then, after which the hysteresis rightly
	// keeps the step it landed on. A step either way is the same answer.
	const step = 4 * mib
	until := func(what string, write func() bool, want int64) int64 {
		t.Helper()
		var got int64
		eventually(t, what, func() bool {
			write()
			got = memLimit()
			return got >= want-step && got <= want+step && tu.Status().MemoryLimit.Value == got
		})
		return got
	}

	// 102 MiB outside Go, in 4 MiB steps: 100 MiB off the 224 MiB the
	// limit alone gives.
	deducted := 224*mib - until("GOMEMLIMIT lowered by 100 MiB", outside(102*mib, 0, 0, 0), 124*mib)
	eventually(t, "the status", func() bool { return tu.Status().Watchdog.OutsideDeducted == deducted })
	st := tu.Status()
	if want := "lowered: " + formatBytes(deducted) + " used outside the Go runtime"; !strings.Contains(st.MemoryLimit.Source, want) || st.MemoryLimit.Owner != OwnerSnug {
		t.Errorf("decision %+v, want its source to say %q", st.MemoryLimit, want)
	}
	eventually(t, "the event", func() bool { return len(evs.of(EventMemoryOutsideGo)) >= 1 })
	all := evs.of(EventMemoryOutsideGo)
	ev := all[len(all)-1]
	if v, ok := ev.Field("deducted"); !ok || v.Int64() != deducted {
		t.Errorf("event %v: deducted field, want %d", ev, deducted)
	}

	// Page cache, however large, is not memory outside Go: it gives the
	// limit back.
	until("GOMEMLIMIT raised back for page cache", outside(0, 400*mib, 0, 0), 224*mib)
	if st := tu.Status(); strings.Contains(st.MemoryLimit.Source, "lowered") {
		t.Errorf("page cache lowered the limit: %+v", st.MemoryLimit)
	}

	// Shared memory (counted as file pages on v2) and kernel memory are.
	until("GOMEMLIMIT lowered for shmem and kernel memory", outside(0, 0, 40*mib, 42*mib), 144*mib)

	// Never below the floor: a quarter of 224 MiB.
	until("GOMEMLIMIT at the floor", outside(1024*mib, 0, 0, 0), 56*mib)
	if st := tu.Status(); !strings.Contains(st.MemoryLimit.Source, "floor") {
		t.Errorf("source %q does not say the floor stopped it", st.MemoryLimit.Source)
	}

	// Small wobbles move nothing: 80 MiB deducted stays while the measure
	// stays from 76 MiB (a step under) to 84 MiB (the next step); here it
	// wobbles a MiB either side of the deduction it came back to.
	back := until("back to 144 MiB", outside(0, 0, 40*mib, 42*mib), 144*mib)
	deducted = 224*mib - back
	changes := tu.Status().Changes
	for i := 0; i < 10; i++ {
		outside(0, 0, 40*mib, deducted-40*mib+int64(2*(i%2)-1)*mib)()
		time.Sleep(20 * time.Millisecond)
	}
	if memLimit() != back || tu.Status().Changes != changes {
		t.Errorf("a 2 MiB wobble around %s changed GOMEMLIMIT from %s to %s; events %v", formatBytes(deducted), formatBytes(back), formatBytes(memLimit()), evs.list)
	}
	tu.Stop()
	if got := tu.Status().Watchdog.Running; got {
		t.Error("watchdog running after Stop")
	}
}

// Reclaimable slab is kernel memory the kernel drops under pressure, like
// page cache: a service that walks many files grows dentry and inode
// caches, and its heap must not shrink for them.
func TestWatchdogReclaimableSlabNotOutside(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	write := func() bool {
		held := goHeld()
		// 100 MiB of kernel memory, 90 MiB of it reclaimable slab.
		f.set("pod/ctr", "memory.stat", fmt.Sprintf("anon %d\nfile 0\nkernel %d\nslab %d\nslab_reclaimable %d\nshmem 0\ninactive_file 0\n",
			held, 100*mib, 95*mib, 90*mib))
		f.set("pod/ctr", "memory.current", fmt.Sprint(held+100*mib))
		return true
	}
	write()
	tu := f.start(nil)
	// 10 MiB outside Go, in 4 MiB steps: 8 MiB off the 224 MiB the limit
	// alone gives (a step either way: see TestWatchdogLowersForMemoryOutsideGo),
	// not the 100 MiB the whole kernel figure would take.
	eventually(t, "GOMEMLIMIT lowered by 8 MiB", func() bool {
		write()
		got := memLimit()
		return got >= 212*mib && got <= 220*mib
	})
	if st := tu.Status().Watchdog; st.OutsideGo > 12*mib {
		t.Errorf("memory outside Go %s with 90 of 100 MiB of kernel memory reclaimable slab", formatBytes(st.OutsideGo))
	}
}

func TestWatchdogOutsideOffAndOwners(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	held := goHeld()
	f.memoryStat(held+120*mib, held+102*mib, 0, 0, 0, 0)

	// Switched off: the limit stays at what the cgroup alone gives.
	tu := f.start(map[string]string{"SNUG_WATCHDOG_OUTSIDE": "off"})
	time.Sleep(150 * time.Millisecond)
	if memLimit() != 224*mib || tu.Status().Watchdog.Samples < 3 {
		t.Errorf("SNUG_WATCHDOG_OUTSIDE=off: GOMEMLIMIT %s, %d samples", formatBytes(memLimit()), tu.Status().Watchdog.Samples)
	}
	tu.Stop()

	// GOMEMLIMIT is the operator's: nobody lowers it, and the watchdog
	// still runs although neither knob is snug's.
	debug.SetMemoryLimit(300 * mib)
	tu = f.start(map[string]string{"GOMEMLIMIT": "300MiB", "GOMAXPROCS": "1"})
	time.Sleep(150 * time.Millisecond)
	st := tu.Status()
	if memLimit() != 300*mib || st.MemoryLimit.Owner != OwnerEnv {
		t.Errorf("GOMEMLIMIT=300MiB: %s, %+v", formatBytes(memLimit()), st.MemoryLimit)
	}
	if st.Running || !st.Watchdog.Running || st.Watchdog.Samples < 3 {
		t.Errorf("with both knobs the environment's: Running %v, watchdog %+v", st.Running, st.Watchdog)
	}
	tu.Stop()
}

// sinkBytes holds memory the tests allocate and drop.
var sinkBytes [][]byte

func allocate(n int64) {
	for i := int64(0); i < n; i += 1 << 20 {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		sinkBytes = append(sinkBytes, b)
	}
}

func TestWatchdogFreeOSMemoryNearLimit(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	// 97% of the limit, none of it outside Go or page cache as far as the
	// lowering is concerned.
	f.memoryStat(260*mib, 0, 0, 0, 0, 0)
	allocate(96 * mib)
	runtime.GC() // the 96 MiB is live at this GC: only staleness can tell it went
	sinkBytes = nil

	var evs events
	fast := withWatchdog(func(c *watchdogConfig) { c.freeCooldown = 100 * time.Millisecond })
	tu := f.start(nil, OnEvent(evs.add), fast)
	eventually(t, "a FreeOSMemory call", func() bool { return len(evs.of(EventFreeOSMemory)) == 1 })
	ev := evs.of(EventFreeOSMemory)[0]
	freed, _ := ev.Field("freed")
	took, _ := ev.Field("took")
	if freed.Int64() < 64*mib || took.Duration() <= 0 {
		t.Errorf("FreeOSMemory freed %s in %v, want most of the 96 MiB dropped: %v", formatBytes(freed.Int64()), took.Duration(), ev)
	}
	// Still near the limit (the fixture says so), but the runtime has
	// nothing left to give: no second call, one near-limit report.
	eventually(t, "a near-limit report", func() bool { return len(evs.of(EventNearLimit)) == 1 })
	time.Sleep(300 * time.Millisecond) // three cooldowns, fifteen samples
	st := tu.Status().Watchdog
	if st.FreeOSMemoryCalls != 1 || len(evs.of(EventFreeOSMemory)) != 1 {
		t.Errorf("%d FreeOSMemory calls with nothing to free", st.FreeOSMemoryCalls)
	}
	if n := len(evs.of(EventNearLimit)); n != 1 || st.Suppressed[EventNearLimit] == 0 {
		t.Errorf("%d near-limit events (%d suppressed), want 1 and the rest suppressed", n, st.Suppressed[EventNearLimit])
	}
	near := evs.of(EventNearLimit)[0]
	if !strings.Contains(near.Message, "holds little it could give back") {
		t.Errorf("near-limit message: %q", near.Message)
	}
	if st.Events[EventFreeOSMemory] != 1 || st.FreedBytes != freed.Int64() {
		t.Errorf("status %+v", st)
	}
}

// Under a pod-level limit the pod's working set is what the kernel holds
// against it: sibling containers filling the pod bring this process near
// the limit although its own cgroup holds little, or has no memory files
// at all (a leaf whose parent did not enable the memory controller, whose
// memory the kernel charges to the parent).
func TestWatchdogFreeOSMemoryNearPodLimit(t *testing.T) {
	for _, leafFiles := range []bool{true, false} {
		t.Run(fmt.Sprint("leaf-memory-files=", leafFiles), func(t *testing.T) {
			f := newFixture(t)
			if leafFiles {
				f.memoryStat(40*mib, 0, 0, 0, 0, 0)
			} else {
				for _, name := range []string{"memory.max", "memory.high", "memory.swap.max"} {
					if err := os.Remove(filepath.Join(f.root, "sys/fs/cgroup/pod/ctr", name)); err != nil {
						t.Fatal(err)
					}
				}
			}
			f.set("pod", "memory.max", "268435456")
			f.set("pod", "memory.current", fmt.Sprint(260*mib))
			f.set("pod", "memory.stat", "anon 250000000\ninactive_file 0\n")
			allocate(96 * mib)
			runtime.GC()
			sinkBytes = nil

			var evs events
			tu := f.start(nil, OnEvent(evs.add))
			eventually(t, "a FreeOSMemory call", func() bool { return len(evs.of(EventFreeOSMemory)) == 1 })
			ev := evs.of(EventFreeOSMemory)[0]
			if before, _ := ev.Field("working_set_before"); before.Int64() != 260*mib {
				t.Errorf("working set before the call %s, want the pod's 260 MiB: %v", formatBytes(before.Int64()), ev)
			}
			if st := tu.Status().Watchdog; st.WorkingSet != 260*mib || st.MemoryLimit != 256*mib {
				t.Errorf("status working set %s of %s, want the pod's 260 MiB of 256 MiB", formatBytes(st.WorkingSet), formatBytes(st.MemoryLimit))
			}
		})
	}
}

// The Tuner samples before it re-reads the limits: after an in-place
// resize gives the container a limit tighter than the pod's, the sample
// still holds the pod's working set (the limit that bound at the last
// Limits call), which must not be compared with the container's new limit.
func TestWatchdogLimitMovedSinceSample(t *testing.T) {
	f := newFixture(t)
	f.set("pod", "memory.max", fmt.Sprint(1024*mib))
	f.set("pod", "memory.current", fmt.Sprint(700*mib))
	f.set("pod", "memory.stat", "anon 600000000\ninactive_file 0\n")
	f.memoryStat(40*mib, 0, 0, 0, 0, 0)
	g := f.group()
	w := newWatchdog(defaultWatchdogConfig(), g, time.Second)
	if _, err := g.Limits(); err != nil { // the Tuner's Start
		t.Fatal(err)
	}
	now := time.Now()
	step := func() cgroup.Limits { // one turn of the Tuner's loop
		t.Helper()
		now = now.Add(time.Second)
		w.sample(now)
		l, err := g.Limits()
		if err != nil {
			t.Fatal(err)
		}
		w.decide(now, l, true)
		return l
	}
	step()
	if ws := w.cur.stats.MemoryLimitWorkingSet; len(w.pending) != 0 || w.cur.stats.MemoryLimitCgroup != "/pod" {
		t.Fatalf("under the pod's limit: events %v, working set %s from %q", w.pending, formatBytes(ws), w.cur.stats.MemoryLimitCgroup)
	}
	f.set("pod/ctr", "memory.max", fmt.Sprint(128*mib)) // the resize
	l := step()
	if lim, _ := l.MemoryLimit(); lim != 128*mib {
		t.Fatalf("limit %s after the resize", formatBytes(lim))
	}
	if len(w.pending) != 0 || w.freeN != 0 {
		t.Errorf("40 MiB used of the container's new 128 MiB limit: %d FreeOSMemory calls, events %v", w.freeN, w.pending)
	}
	var st WatchdogStatus
	w.publish(&st, l, 0)
	if st.WorkingSet != 40*mib || st.MemoryLimit != 128*mib {
		t.Errorf("status working set %s of %s, want the container's 40 MiB of 128 MiB", formatBytes(st.WorkingSet), formatBytes(st.MemoryLimit))
	}
}

// Near the limit the watchdog looks between samples: memory that grows by a
// hundred MiB in a second crosses the threshold and reaches the limit
// between two samples a second apart. The checks read the usage alone until
// it reaches the threshold, leave the samples the other parts compare
// untouched, and act as a sample would.
func TestWatchdogChecksNearLimit(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", fmt.Sprint(256*mib))
	f.memoryStat(100*mib, 90*mib, 0, 0, 0, 0) // 39% of the limit
	g := f.group()
	l, err := g.Limits()
	if err != nil {
		t.Fatal(err)
	}
	w := newWatchdog(defaultWatchdogConfig(), g, time.Second)
	now := time.Now()
	step := func() { // a sample, as the Tuner's loop takes one each interval
		now = now.Add(time.Second)
		w.sample(now)
		w.decide(now, l, true)
	}
	step()
	if w.checkingNear() {
		t.Errorf("checking between samples at 100 MiB of 256 MiB")
	}
	// A cgroup full of page cache the kernel can drop is not near: a
	// usage of 250 MiB, of which 200 MiB inactive cache.
	f.memoryStat(250*mib, 40*mib, 205*mib, 200*mib, 0, 0)
	step()
	if w.checkingNear() {
		t.Errorf("checking between samples at a working set of 50 MiB (usage 250 MiB with cache) of 256 MiB")
	}
	f.memoryStat(190*mib, 90*mib, 80*mib, 10*mib, 0, 0) // working set 70%, active page cache included
	step()
	if !w.checkingNear() {
		t.Fatalf("not checking between samples at a working set of 180 MiB of 256 MiB (threshold %v)", DefaultFreeOSMemoryAt)
	}
	sampled, prevTotal := w.cur, append([]uint64(nil), w.sampler.prevTotal...)

	// Under the threshold a check reads memory.current alone, and takes
	// off the inactive cache the sample found: 240 MiB less 10 MiB is
	// under 92% of 256 MiB (235.5 MiB).
	f.set("pod/ctr", "memory.current", fmt.Sprint(240*mib))
	now = now.Add(nearCheckEvery)
	w.check(now, l)
	if !w.quick.at.IsZero() || !w.checkingNear() || w.nearChecks != 1 {
		t.Errorf("check at 240 MiB with 10 MiB of cache: full read at %v, near %v, %d checks; want no full read, still near", w.quick.at, w.checkingNear(), w.nearChecks)
	}
	if n := testing.AllocsPerRun(100, func() { w.check(now, l) }); n != 0 {
		t.Errorf("%v allocations per check under the threshold, want 0", n)
	}

	// The usage crosses the threshold with garbage the runtime holds and
	// no GC since: the check reads everything and, once no GC has run in
	// two checks (the first sees the test's GC), calls FreeOSMemory.
	allocate(96 * mib)
	runtime.GC() // the 96 MiB is live at this GC: only staleness can tell it went
	sinkBytes = nil
	f.memoryStat(250*mib, 240*mib, 0, 0, 0, 0)
	for i := 0; i < 3 && w.freeN == 0; i++ {
		now = now.Add(nearCheckEvery)
		w.check(now, l)
	}
	if w.freeN != 1 || w.pending[len(w.pending)-1].Kind != EventFreeOSMemory {
		t.Fatalf("250 MiB of 256 MiB, 96 MiB of garbage: %d FreeOSMemory calls, events %v", w.freeN, w.pending)
	}
	if !w.quick.at.Equal(now) {
		t.Errorf("the call's sample is from %v, want the check's %v", w.quick.at, now)
	}
	// The sample the pause and spiral parts compare is the last
	// interval's, and the pause histograms' baseline is untouched.
	if w.cur != sampled || !slicesEqual(w.sampler.prevTotal, prevTotal) {
		t.Errorf("a check changed the interval's sample")
	}

	w.pending = w.pending[:0]
	n := testing.AllocsPerRun(100, func() { // over the threshold: full reads, suppressed reports
		w.check(now, l)
		w.pending = w.pending[:0]
	})
	if n != 0 {
		t.Errorf("%v allocations per check over the threshold, want 0", n)
	}

	// A failed read of the one file falls back to the full read.
	f.set("pod/ctr", "memory.current", "many")
	now = now.Add(nearCheckEvery)
	w.check(now, l)
	if !w.quick.at.Equal(now) {
		t.Errorf("check with an unreadable memory.current: no full read")
	}
}

// The inactive page cache a check takes off the usage is that of the
// cgroup the last full read measured. An evaluation without a sample (the
// Tuner confirming a GOMAXPROCS change 200 ms after one) can find that an
// in-place resize moved the limit to another cgroup: the pod's cache must
// not be taken off the container's usage, which would hide the container
// at 96% of its new limit until the next sample.
func TestWatchdogCheckCacheOfAnotherCgroup(t *testing.T) {
	f := newFixture(t)
	f.set("pod", "memory.max", fmt.Sprint(1024*mib))
	f.set("pod", "memory.current", fmt.Sprint(1000*mib))
	f.set("pod", "memory.stat", fmt.Sprintf("anon %d\ninactive_file %d\n", 700*mib, 250*mib))
	f.memoryStat(230*mib, 230*mib, 0, 0, 0, 0)
	g := f.group()
	l, err := g.Limits()
	if err != nil {
		t.Fatal(err)
	}
	w := newWatchdog(defaultWatchdogConfig(), g, time.Second)
	now := time.Now().Add(time.Second)
	w.sample(now)
	w.decide(now, l, true)
	if !w.checkingNear() {
		t.Fatalf("not checking between samples at the pod's working set of 750 MiB of 1 GiB")
	}

	f.set("pod/ctr", "memory.max", fmt.Sprint(240*mib)) // the resize
	if l, err = g.Limits(); err != nil {                // an evaluation without a sample
		t.Fatal(err)
	}
	if lim, src := l.MemoryLimit(); lim != 240*mib || src.Cgroup != "/pod/ctr" {
		t.Fatalf("limit %s on %q after the resize", formatBytes(lim), src.Cgroup)
	}
	now = now.Add(nearCheckEvery)
	w.check(now, l)
	if !w.quick.at.Equal(now) || !w.checkingNear() {
		t.Errorf("check at the container's 230 MiB of its new 240 MiB limit, with the pod's 250 MiB of cache: full read at %v, near %v; want a full read, still near",
			w.quick.at, w.checkingNear())
	}
}

func slicesEqual(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The Tuner's loop wakes for the checks between its samples while the
// usage is near the limit, and only then.
func TestTunerChecksNearLimit(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", fmt.Sprint(256*mib))
	f.memoryStat(100*mib, 90*mib, 0, 0, 0, 0)
	tu := f.start(nil, WithInterval(300*time.Millisecond))
	eventually(t, "two samples", func() bool { return tu.Status().Watchdog.Samples >= 2 })
	if n := tu.Status().Watchdog.NearChecks; n != 0 {
		t.Errorf("%d checks between samples at 100 MiB of 256 MiB", n)
	}
	f.memoryStat(200*mib, 190*mib, 0, 0, 0, 0)
	eventually(t, "checks between samples", func() bool { return tu.Status().Watchdog.NearChecks >= 10 })
	if st := tu.Status().Watchdog; st.Samples > st.NearChecks {
		t.Errorf("%d samples for %d checks, want about one for five", st.Samples, st.NearChecks)
	}
	tu.Stop()
	// With FreeOSMemory off there is nothing to do in time.
	off := newFixture(t)
	off.set("pod/ctr", "memory.max", fmt.Sprint(256*mib))
	off.memoryStat(250*mib, 240*mib, 0, 0, 0, 0)
	tu2 := off.start(nil, WithInterval(100*time.Millisecond), WithoutFreeOSMemory())
	eventually(t, "three samples", func() bool { return tu2.Status().Watchdog.Samples >= 3 })
	if n := tu2.Status().Watchdog.NearChecks; n != 0 {
		t.Errorf("%d checks with FreeOSMemory off", n)
	}
}

// Memory that is live does not come back: after one call that frees
// little, the watchdog stops calling and reports.
func TestWatchdogFreeOSMemoryThatCannotHelp(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	f.memoryStat(260*mib, 0, 0, 0, 0, 0)
	allocate(64 * mib)
	defer func() { sinkBytes = nil }()
	debug.FreeOSMemory() // what other tests left is gone: only the live 64 MiB remains
	var evs events
	fast := withWatchdog(func(c *watchdogConfig) { c.freeCooldown = 50 * time.Millisecond })
	tu := f.start(nil, OnEvent(evs.add), fast)
	// The heap was not collected since it grew: a GC might free it, so
	// the watchdog tries once, once the last GC is two intervals old.
	eventually(t, "one call", func() bool { return tu.Status().Watchdog.FreeOSMemoryCalls == 1 })
	eventually(t, "a near-limit report", func() bool { return len(evs.of(EventNearLimit)) == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := tu.Status().Watchdog.FreeOSMemoryCalls; n != 1 {
		t.Errorf("%d FreeOSMemory calls on a live heap, want 1", n)
	}
	// The call freed next to nothing: the watchdog took it as a sign and
	// did not call again, although the heap looks reclaimable each time
	// no GC has run for two intervals.
	if freed, _ := evs.of(EventFreeOSMemory)[0].Field("freed"); freed.Int64() > 4*mib {
		t.Errorf("FreeOSMemory freed %s of a live heap", formatBytes(freed.Int64()))
	}
	runtime.KeepAlive(sinkBytes)
}

func TestWatchdogFreeOSMemoryOff(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	f.memoryStat(260*mib, 0, 0, 0, 0, 0)
	allocate(32 * mib)
	sinkBytes = nil
	var evs events
	tu := f.start(nil, OnEvent(evs.add), WithoutFreeOSMemory())
	eventually(t, "a near-limit report", func() bool { return len(evs.of(EventNearLimit)) == 1 })
	if n := tu.Status().Watchdog.FreeOSMemoryCalls; n != 0 {
		t.Errorf("%d calls with FreeOSMemory off", n)
	}
	if m := evs.of(EventNearLimit)[0].Message; !strings.Contains(m, "FreeOSMemory is off") {
		t.Errorf("message %q", m)
	}
}

// The rate limits: a cooldown and a most per window, whatever happens.
func TestWatchdogFreeOSMemoryRateLimit(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	f.memoryStat(260*mib, 0, 0, 0, 0, 0)
	g := f.group()
	l, err := g.Limits()
	if err != nil {
		t.Fatal(err)
	}
	c := defaultWatchdogConfig()
	c.freeMaxCalls, c.freeCooldown, c.freeWindow = 2, time.Second, time.Minute
	w := newWatchdog(c, g, 100*time.Millisecond)
	now := time.Now()
	calls := 0
	for i := 0; i < 40; i++ { // 40 samples 100 ms apart, 4 s
		allocate(16 * mib)
		sinkBytes = nil
		now = now.Add(100 * time.Millisecond)
		w.sample(now)
		w.lastGC = now.Add(-time.Hour) // stale: every sample could help
		w.decide(now, l, true)
		calls = int(w.freeN)
	}
	if calls != 2 {
		t.Errorf("%d calls in 4 s with a 1 s cooldown and at most 2 a minute", calls)
	}
}

func TestHistDelta(t *testing.T) {
	h := &metrics.Float64Histogram{
		Buckets: []float64{math.Inf(-1), 0.001, 0.002, 0.004, 0.008, 0.016, math.Inf(1)},
		Counts:  []uint64{5, 7, 3, 2, 1, 4},
	}
	prev := []uint64{5, 6, 3, 0, 1, 3}
	count, over, lo, hi := histDelta(h, prev, 0.004)
	// New: one in [1ms,2ms), two in [4ms,8ms), one in [16ms,+Inf).
	if count != 4 || over != 3 || lo != 0.016 || hi != 0.016 {
		t.Errorf("histDelta = %d %d %v %v", count, over, lo, hi)
	}
	count, over, lo, hi = histDelta(h, h.Counts, 0.004)
	if count != 0 || over != 0 || lo != 0 || hi != 0 {
		t.Errorf("no change: %d %d %v %v", count, over, lo, hi)
	}
	prev = []uint64{4, 7, 3, 2, 1, 4}
	if count, over, lo, _ := histDelta(h, prev, 0.004); count != 1 || over != 0 || lo != 0 {
		t.Errorf("one in (-Inf, 1ms): %d %d %v", count, over, lo)
	}
}

func TestPauseCause(t *testing.T) {
	p := pauseWindow{count: 3, long: 1, max: 50 * time.Millisecond, maxHi: 60 * time.Millisecond, stopping: 40 * time.Millisecond}
	psi := cgroup.Pressure{Valid: true, Some: cgroup.PressureLine{Avg10: 35}}
	cases := []struct {
		procs     int
		quota     float64
		throttled uint64
		psi       cgroup.Pressure
		p         pauseWindow
		want      string
	}{
		{4, 1.5, 7, cgroup.Pressure{}, p, "pause overlapped CPU throttling: GOMAXPROCS 4 > quota 1.5 (7 of 10 periods throttled)"},
		{1, 1.5, 7, cgroup.Pressure{}, p, "pause overlapped CPU throttling: the 1.5-CPU quota ran out in 7 of 10 periods"},
		{2, 0, 0, psi, p, "spent stopping goroutines: the CPU was contended (cpu.pressure some 35%)"},
		{2, 0, 0, cgroup.Pressure{}, p, "spent stopping goroutines: a thread was descheduled"},
		{2, 0, 0, cgroup.Pressure{}, pauseWindow{max: 50 * time.Millisecond, stopping: time.Millisecond},
			"no throttling or contention seen: stop-the-world work with a 1 MiB live heap and 42 goroutines"},
	}
	for _, c := range cases {
		got := pauseCause(&c.p, c.procs, c.quota, c.throttled, 10, c.psi, 1<<20, 42)
		if !strings.Contains(got, c.want) {
			t.Errorf("GOMAXPROCS %d quota %v throttled %d: %q, want %q", c.procs, c.quota, c.throttled, got, c.want)
		}
	}
}

// spiralWatchdog is a watchdog fed synthetic samples one interval apart.
type spiralWatchdog struct {
	*watchdog
	now time.Time
	rt  runtimeStats
}

func newSpiralWatchdog(window time.Duration) *spiralWatchdog {
	c := defaultWatchdogConfig()
	c.spiralWindow = window
	w := newWatchdog(c, nil, time.Second)
	s := &spiralWatchdog{watchdog: w, now: time.Unix(1000, 0),
		rt: runtimeStats{memLimit: 224 * mib, gogc: 100, gomaxprocs: 2}}
	w.cur = sample{at: s.now, rt: s.rt}
	w.sampled = true
	return s
}

// step adds one second in which the GC took gc CPU seconds of used, with
// the live heap at live.
func (s *spiralWatchdog) step(gc, used float64, live uint64) {
	s.now = s.now.Add(time.Second)
	s.rt.gcCPU += gc
	s.rt.totalCPU += 2
	s.rt.idleCPU += 2 - used
	s.rt.heapLive = live
	s.rt.cycles += 10
	s.prev, s.cur = s.cur, sample{at: s.now, rt: s.rt}
	s.decideSpiral(s.now)
}

func TestDeathSpiralDetector(t *testing.T) {
	near, far := uint64(210*mib), uint64(100*mib)

	s := newSpiralWatchdog(10 * time.Second)
	for i := 0; i < 9; i++ {
		s.step(0.6, 1, near)
		if s.spiraling {
			t.Fatalf("spiral after %d s of a 10 s window", i+1)
		}
	}
	s.step(0.6, 1, near)
	s.step(0.6, 1, near)
	if !s.spiraling || !strings.Contains(s.spiralReason, "the GC took 60% of the CPU for the last 10s") ||
		!strings.Contains(s.spiralReason, "94% of GOMEMLIMIT 224 MiB") {
		t.Fatalf("after 11 s at 60%%: spiraling %v %q", s.spiraling, s.spiralReason)
	}
	if len(s.pending) != 1 || s.pending[0].Kind != EventDeathSpiral {
		t.Errorf("events %v", s.pending)
	}
	// The heap leaves its limit: over at once.
	s.step(0.6, 1, far)
	if s.spiraling || len(s.pending) != 2 || s.pending[1].Kind != EventDeathSpiralEnded {
		t.Errorf("heap off its limit: spiraling %v, events %v", s.spiraling, s.pending)
	}

	// Busy but the GC cheap, or the GC costly but the heap not at its
	// limit, or an idle program: never a spiral.
	for _, c := range []struct {
		name     string
		gc, used float64
		live     uint64
	}{{"cheap GC", 0.2, 1, near}, {"heap below its limit", 0.6, 1, far}, {"idle", 0.004, 0.005, near}} {
		s := newSpiralWatchdog(5 * time.Second)
		for i := 0; i < 20; i++ {
			s.step(c.gc, c.used, c.live)
		}
		if s.spiraling {
			t.Errorf("%s: spiral %q", c.name, s.spiralReason)
		}
	}

	// One sample off the limit within the window resets the count.
	s = newSpiralWatchdog(5 * time.Second)
	for i := 0; i < 4; i++ {
		s.step(0.6, 1, near)
	}
	s.step(0.6, 1, far)
	for i := 0; i < 4; i++ {
		s.step(0.6, 1, near)
	}
	if s.spiraling {
		t.Error("spiral although the heap left its limit 4 s ago, in a 5 s window")
	}
	// The share falls: the spiral ends once the window's share is under
	// 80% of the threshold.
	s = newSpiralWatchdog(5 * time.Second)
	for i := 0; i < 8; i++ {
		s.step(0.6, 1, near)
	}
	if !s.spiraling {
		t.Fatal("no spiral after 8 s at 60%")
	}
	for i := 0; i < 10 && s.spiraling; i++ {
		s.step(0.1, 1, near)
	}
	if s.spiraling {
		t.Error("spiral still on after 10 s at 10%")
	}
}

func TestEventGate(t *testing.T) {
	g := newEventGate(time.Minute)
	t0 := time.Unix(1000, 0)
	if !g.allow(EventLongPause, t0) || g.allow(EventLongPause, t0.Add(30*time.Second)) ||
		!g.allow(EventLongPause, t0.Add(61*time.Second)) {
		t.Error("long pauses: want the first, not one 30 s later, the one after a minute")
	}
	for i := 0; i < 3; i++ {
		if !g.allow(EventFreeOSMemory, t0.Add(time.Duration(i)*time.Second)) {
			t.Error("an action event was suppressed")
		}
	}
	if g.delivered[EventLongPause] != 2 || g.suppressed[EventLongPause] != 1 || g.delivered[EventFreeOSMemory] != 3 {
		t.Errorf("counts %v %v", g.delivered, g.suppressed)
	}
}

// One sampling pass allocates nothing once warm: the metrics.Sample
// slice, the histograms and the cgroup's buffers are reused.
func TestWatchdogSampleDoesNotAllocate(t *testing.T) {
	g, err := cgroup.Open()
	if err != nil {
		t.Skip(err)
	}
	l, _ := g.Limits()
	w := newWatchdog(defaultWatchdogConfig(), g, time.Second)
	now := time.Now()
	w.sample(now)
	n := testing.AllocsPerRun(100, func() {
		now = now.Add(time.Second)
		w.sample(now)
		w.decide(now, l, true)
		w.pending = w.pending[:0]
	})
	if n != 0 {
		t.Errorf("%v allocations per sampling pass, want 0", n)
	}
	// The lowering's question too, asked at each evaluation.
	n = testing.AllocsPerRun(100, func() { w.lowerMemoryLimit(224*mib, l) })
	if n != 0 {
		t.Errorf("%v allocations per lowerMemoryLimit, want 0", n)
	}

	// And a Tuner's whole watchdog step, status included (its loop is
	// kept asleep: this goroutine plays it).
	tu, err := Start(context.Background(), Quiet(), withEnv(nil), WithInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer tu.Stop()
	if tu.watch == nil {
		t.Fatal("no watchdog on a cgroup that Open found")
	}
	tu.watchdogStep(now)
	n = testing.AllocsPerRun(100, func() {
		now = now.Add(time.Hour)
		tu.watch.sample(now)
		tu.watchdogStep(now)
	})
	if n != 0 {
		t.Errorf("%v allocations per Tuner watchdog step, want 0", n)
	}
}

func TestWatchdogEnvironment(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		env   map[string]string
		check func(c watchdogConfig) bool
		warn  string
	}{
		{map[string]string{"SNUG_WATCHDOG": "off"}, func(c watchdogConfig) bool { return !c.enabled() }, ""},
		{map[string]string{"SNUG_WATCHDOG_FREE": "0.8"}, func(c watchdogConfig) bool { return c.freeAt == 0.8 }, ""},
		{map[string]string{"SNUG_WATCHDOG_FREE": "off"}, func(c watchdogConfig) bool { return c.freeAt == 0 }, ""},
		{map[string]string{"SNUG_WATCHDOG_FREE": "1.5"}, func(c watchdogConfig) bool { return c.freeAt == DefaultFreeOSMemoryAt }, "SNUG_WATCHDOG_FREE"},
		{map[string]string{"SNUG_WATCHDOG_PAUSE": "25ms"}, func(c watchdogConfig) bool { return c.longPause == 25*time.Millisecond }, ""},
		{map[string]string{"SNUG_WATCHDOG_PAUSE": "-1s"}, func(c watchdogConfig) bool { return c.longPause == DefaultLongPause }, "SNUG_WATCHDOG_PAUSE"},
		{map[string]string{"SNUG_WATCHDOG_SPIRAL": "0.6", "SNUG_WATCHDOG_SPIRAL_WINDOW": "2m"},
			func(c watchdogConfig) bool { return c.spiralShare == 0.6 && c.spiralWindow == 2*time.Minute }, ""},
		{map[string]string{"SNUG_WATCHDOG_SPIRAL_WINDOW": "10ms"}, func(c watchdogConfig) bool { return c.spiralWindow == DefaultSpiralWindow }, "SNUG_WATCHDOG_SPIRAL_WINDOW"},
		{map[string]string{"SNUG_WATCHDOG_OUTSIDE": "off"}, func(c watchdogConfig) bool { return !c.outside }, ""},
		{map[string]string{"SNUG_WATCHDOG_SNAPSHOTS": "heap", "SNUG_WATCHDOG_SNAPSHOT_DIR": "/tmp"},
			func(c watchdogConfig) bool { return c.snapshotHeap && !c.snapshotTrace && c.snapshotDir == "/tmp" }, ""},
		{map[string]string{"SNUG_WATCHDOG_SNAPSHOTS": "trace"}, func(c watchdogConfig) bool { return !c.snapshotTrace }, "SNUG_WATCHDOG_SNAPSHOT_DIR"},
		{map[string]string{"SNUG_WATCHDOG_SNAPSHOTS": "core", "SNUG_WATCHDOG_SNAPSHOT_DIR": "/tmp"},
			func(c watchdogConfig) bool { return !c.snapshotTrace && !c.snapshotHeap }, "SNUG_WATCHDOG_SNAPSHOTS"},
	}
	for _, c := range cases {
		cfg := defaultConfig()
		cfg.getenv = func(k string) string { return c.env[k] }
		e := cfg.applyEnv()
		if !c.check(cfg.watch) {
			t.Errorf("%v: config %+v", c.env, cfg.watch)
		}
		warned := strings.Join(e.warnings, "\n")
		if (c.warn == "") != (warned == "") || !strings.Contains(warned, c.warn) {
			t.Errorf("%v: warnings %q, want one naming %q", c.env, warned, c.warn)
		}
	}
	// SNUG=off turns the watchdog off with the rest.
	tu := f.start(map[string]string{"SNUG": "off"})
	if tu.Status().Watchdog.Running || tu.watch != nil {
		t.Error("SNUG=off started the watchdog")
	}
	tu.Stop()
	tu = f.start(map[string]string{"SNUG_WATCHDOG": "off"})
	if tu.Status().Watchdog.Running || tu.watch != nil || tu.mem.lower != nil {
		t.Error("SNUG_WATCHDOG=off started the watchdog")
	}
}

func TestWatchdogInvalidOptions(t *testing.T) {
	for _, o := range []Option{WithFreeOSMemoryAt(0), WithFreeOSMemoryAt(1.2), WithLongPause(0),
		WithDeathSpiral(0, time.Minute), WithDeathSpiral(0.5, time.Millisecond), WithDeathSpiral(1, time.Minute),
		WithSnapshots(""), WithSnapshots("/tmp", "core")} {
		if _, err := Start(context.Background(), o, Quiet(), withEnv(nil)); err == nil || !strings.HasPrefix(err.Error(), "tune: With") {
			t.Errorf("invalid option accepted or badly named: %v", err)
		}
	}
}

// Stop ends everything the watchdog started, the flight recorder's
// goroutines included; a Stop from OnEvent works, and a panicking OnEvent
// does not stop the watchdog.
func TestWatchdogStopsEverything(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	f.memoryStat(0, 0, 0, 0, 0, 0) // the files must exist when the cgroup is opened
	base := stableGoroutines()
	dir := t.TempDir()
	for i := 0; i < 5; i++ {
		tu := f.start(nil, WithSnapshots(dir))
		if !tu.Status().Watchdog.Running || tu.watch.snaps == nil || !tu.watch.snaps.recorder.Enabled() {
			t.Fatal("watchdog or flight recorder not running")
		}
		time.Sleep(50 * time.Millisecond)
		tu.Stop()
		if tu.Status().Watchdog.Running {
			t.Fatal("watchdog running after Stop")
		}
	}
	if n := stableGoroutines(); n > base {
		t.Errorf("%d goroutines after 5 Start/Stop with a flight recorder, %d before", n, base)
	}

	var self atomic.Pointer[Tuner]
	var calls atomic.Int32
	stopped := make(chan struct{})
	tu := f.start(nil, OnEvent(func(Event) { panic("boom") }), OnEvent(func(e Event) {
		if calls.Add(1) == 1 {
			self.Load().Stop()
			close(stopped)
		}
	}))
	self.Store(tu)
	held := goHeld()
	f.memoryStat(held+120*mib, held+102*mib, 0, 0, 0, 0) // an event, from the loop
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("no event, or Stop inside OnEvent blocked")
	}
	eventually(t, "the loop to end", func() bool { return !tu.Status().Watchdog.Running })
	if n := stableGoroutines(); n > base {
		t.Errorf("%d goroutines after a Stop from OnEvent, %d before", n, base)
	}
}

func TestSnapshots(t *testing.T) {
	dir := t.TempDir()
	c := defaultWatchdogConfig()
	c.snapshotDir, c.snapshotTrace, c.snapshotHeap = dir, true, true
	c.snapshotMax = 3
	s := newSnapshotter(c, time.Second)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	now := time.Now()
	var paths []string
	for _, k := range []Snapshot{SnapshotTrace, SnapshotHeap} {
		p, err := s.take(k, now)
		if err != nil || p == "" {
			t.Fatalf("%s: %q %v", k, p, err)
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}
	data, _ := os.ReadFile(paths[0])
	if !strings.HasPrefix(string(data), "go 1.") {
		t.Errorf("trace file starts with %q, want a Go trace header", data[:min(len(data), 16)])
	}
	data, _ = os.ReadFile(paths[1])
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Error("heap profile is not gzip-compressed protobuf")
	}
	// The cooldown, then the count.
	if p, err := s.take(SnapshotHeap, now.Add(time.Minute)); p != "" || err == nil || !strings.Contains(err.Error(), "ago") {
		t.Errorf("within the cooldown: %q %v", p, err)
	}
	if p, err := s.take(SnapshotHeap, now.Add(time.Hour)); p == "" || err != nil {
		t.Errorf("after the cooldown: %q %v", p, err)
	}
	if p, err := s.take(SnapshotTrace, now.Add(2*time.Hour)); p != "" || err == nil || !strings.Contains(err.Error(), "most per process") {
		t.Errorf("past the most files: %q %v", p, err)
	}
	// The byte budget: a file that would pass it is not left behind.
	c.snapshotBudget, c.snapshotTrace = 100, false
	s2 := newSnapshotter(c, time.Second)
	if p, err := s2.take(SnapshotHeap, now); p != "" || !errors.Is(err, errSnapshotTooBig) {
		t.Errorf("over the budget: %q %v", p, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d files in the directory, want the 3 written", len(entries))
	}
	// A directory that is not there is an error, not a panic.
	c.snapshotDir = filepath.Join(dir, "missing")
	if _, err := newSnapshotter(c, time.Second).take(SnapshotHeap, now); err == nil {
		t.Error("no error for a missing directory")
	}
}

// The death-spiral ring is sized from the window over the interval: at the
// shortest interval and the longest window the environment accepts
// (SNUG_INTERVAL=10ms, SNUG_WATCHDOG_SPIRAL_WINDOW=24h) a point per sample
// would take some 700 MB at Start, and a longer window given in code
// more. It must stay small, and still find a spiral over the whole window.
func TestDeathSpiralRingIsBounded(t *testing.T) {
	c := defaultWatchdogConfig()
	for _, w := range []struct {
		window, interval time.Duration
	}{{24 * time.Hour, MinInterval}, {24 * time.Hour, time.Second}, {1 << 62, MinInterval}} {
		c.spiralWindow = w.window
		wd := newWatchdog(c, nil, w.interval)
		if n := len(wd.ring); n > 4096 {
			t.Errorf("window %v, interval %v: %d ring points", w.window, w.interval, n)
		}
	}

	// A window that needs more points than the ring holds: samples share
	// points, and the spiral is found once the window is covered, not
	// before.
	near := uint64(210 * mib)
	s := newSpiralWatchdog(3 * time.Hour)
	if len(s.ring) >= int((3*time.Hour)/time.Second) {
		t.Fatalf("%d ring points for a 3 h window: the bound is not exercised", len(s.ring))
	}
	for i := 0; i < int((3*time.Hour)/time.Second)-1; i++ {
		s.step(0.6, 1, near)
		if s.spiraling {
			t.Fatalf("spiral after %d s of a 3 h window", i+1)
		}
	}
	for i := 0; i < 30 && !s.spiraling; i++ {
		s.step(0.6, 1, near)
	}
	if !s.spiraling || !strings.Contains(s.spiralReason, "the GC took 60% of the CPU for the last 3h") {
		t.Errorf("after 3 h at 60%%: spiraling %v %q", s.spiraling, s.spiralReason)
	}
}

// The throttling a long pause is blamed on is the difference of two reads
// of the same cgroup's CFS counters: a read that had none (cpu.stat missing
// or unreadable), or counters that moved to another cgroup when the
// tightest quota did, give a difference that is no throttling at all.
func TestLongPauseThrottlingNeedsComparableCounters(t *testing.T) {
	pause := pauseWindow{count: 1, long: 1, max: 20 * time.Millisecond, maxHi: 25 * time.Millisecond}
	quota := cgroup.Limits{CPU: 0.5}
	cfs := func(has bool, from string, periods, throttled uint64) cgroup.Stats {
		return cgroup.Stats{HasCFS: has, CFSCgroup: from, Periods: periods, ThrottledPeriods: throttled}
	}
	cases := []struct {
		name      string
		prev, cur cgroup.Stats
		throttled bool
	}{
		{"throttled", cfs(true, "/pod", 1000, 100), cfs(true, "/pod", 1010, 107), true},
		{"not throttled", cfs(true, "/pod", 1000, 100), cfs(true, "/pod", 1010, 100), false},
		{"no counters before", cfs(false, "", 0, 0), cfs(true, "/pod", 90000, 4000), false},
		{"counters moved to the pod", cfs(true, "/pod/ctr", 100, 0), cfs(true, "/pod", 90000, 4000), false},
	}
	for _, c := range cases {
		w := newWatchdog(defaultWatchdogConfig(), nil, time.Second)
		now := time.Unix(1000, 0)
		w.prev = sample{at: now.Add(-time.Second), stats: c.prev, statsOK: true}
		w.cur = sample{at: now, stats: c.cur, statsOK: true, pauses: pause,
			rt: runtimeStats{gomaxprocs: 2}}
		w.sampled = true
		w.decidePause(now, quota)
		if len(w.pending) != 1 {
			t.Fatalf("%s: events %v", c.name, w.pending)
		}
		msg := w.pending[0].Message
		if got := strings.Contains(msg, "overlapped CPU throttling"); got != c.throttled {
			t.Errorf("%s: %q, want throttling named: %v", c.name, msg, c.throttled)
		}
	}
}

// Status.Watchdog.OutsideGo is the last sample's measure whoever owns
// GOMEMLIMIT, and OutsideDeducted what GOMEMLIMIT is lowered by in fact:
// nothing when the Tuner does not set it, no more than the floor allows.
func TestWatchdogStatusOutsideGo(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	f.outsideGo(102 * mib)

	// GOMEMLIMIT is the operator's, or the lowering is off: measured, not
	// deducted.
	for _, env := range []map[string]string{{"GOMEMLIMIT": "300MiB"}, {"SNUG_WATCHDOG_OUTSIDE": "off"}} {
		if env["GOMEMLIMIT"] != "" {
			debug.SetMemoryLimit(300 * mib)
		}
		tu := f.start(env)
		// Until a sample has measured it: one that reads the files while
		// outside rewrites them (truncated, then written) is skipped, and
		// so can be the first few.
		var st WatchdogStatus
		eventually(t, fmt.Sprint(env, ": outside Go measured"), func() bool {
			f.outsideGo(102 * mib)
			st = tu.Status().Watchdog
			return st.Samples >= 3 && st.OutsideGo >= 90*mib && st.OutsideGo <= 110*mib
		})
		if st.OutsideDeducted != 0 {
			t.Errorf("%v: outside Go %s, deducted %s; want about 102 MiB, none", env,
				formatBytes(st.OutsideGo), formatBytes(st.OutsideDeducted))
		}
		tu.Stop()
	}

	// Past the floor: GOMEMLIMIT goes from 224 MiB to 56 MiB, lowered by
	// 168 MiB, not by the 1 GiB measured.
	tu := f.start(nil)
	eventually(t, "GOMEMLIMIT at the floor", func() bool { f.outsideGo(1024 * mib); return memLimit() == 56*mib })
	eventually(t, "the status", func() bool {
		f.outsideGo(1024 * mib)
		return tu.Status().Watchdog.OutsideGo >= 1000*mib
	})
	if st := tu.Status().Watchdog; st.OutsideDeducted != 168*mib {
		t.Errorf("GOMEMLIMIT 56 MiB for a 224 MiB target: OutsideDeducted %s, want 168 MiB", formatBytes(st.OutsideDeducted))
	}
}

// After Stop, GOMEMLIMIT is no longer the Tuner's (Status gives it owner
// off, at the value restored): Watchdog.OutsideDeducted, what GOMEMLIMIT is
// lowered by, is 0 then, as its documentation says for a GOMEMLIMIT that is
// not the Tuner's, not the deduction from before the restore.
func TestWatchdogStatusOutsideDeductedAfterStop(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	f.outsideGo(102 * mib) // there at Open, which plans the files Stats reads
	before := memLimit()
	tu := f.start(nil)
	eventually(t, "a deduction", func() bool { f.outsideGo(102 * mib); return tu.Status().Watchdog.OutsideDeducted > 0 })
	tu.Stop()
	st := tu.Status()
	if st.MemoryLimit.Owner != OwnerOff || memLimit() != before {
		t.Fatalf("GOMEMLIMIT %d after Stop, owner %s: want %d restored", memLimit(), st.MemoryLimit.Owner, before)
	}
	if st.Watchdog.OutsideDeducted != 0 {
		t.Errorf("after Stop: OutsideDeducted %s, want 0: GOMEMLIMIT %s is the one found at Start",
			formatBytes(st.Watchdog.OutsideDeducted), formatBytes(memLimit()))
	}
}
