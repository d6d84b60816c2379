package tune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// ErrAlreadyStarted is returned by Start while another Tuner, started and
// not yet stopped, holds the process's knobs (even one that found nothing
// to follow). Two Tuners would fight over the same runtime settings; Stop
// the other one first (the one a blank import of the root package started
// is snug.Tuner()). A Tuner that SNUG=off or the environment left without
// a knob to manage, and without a GC watchdog (SNUG_WATCHDOG=off), holds
// nothing.
var ErrAlreadyStarted = errors.New("tune: a Tuner is already running in this process")

// running is the Tuner that holds the process's knobs, if any.
var running atomic.Pointer[Tuner]

// A Tuner keeps GOMAXPROCS and GOMEMLIMIT fitted to the process's cgroup
// limits. Start makes one; its methods are safe for concurrent use.
type Tuner struct {
	cfg   config
	group *cgroup.Group

	// procs and mem are used by one goroutine at a time: Start, then the
	// loop goroutine, then Stop after the loop has exited.
	procs maxProcs
	mem   memoryLimit
	watch *watchdog // nil when off

	mu     sync.Mutex // guards status
	status Status

	stopCh   chan struct{}
	done     chan struct{} // closed when the loop has exited (or never ran)
	stopOnce sync.Once
	endOnce  sync.Once
	// notifying is the id of the goroutine running OnChange functions (0:
	// none), so that a Stop called from one does not wait for itself.
	notifying atomic.Int64

	lastErr string // the last read error logged, to log each once
}

// Start reads the process's cgroup limits, applies GOMAXPROCS and
// GOMEMLIMIT decisions at once, and, if there is anything to follow,
// starts one goroutine that re-reads the limits every interval until Stop
// is called or ctx is done.
//
// The environment has the last word: SNUG=off makes Start return a Tuner
// that touches nothing, the GOMAXPROCS and GOMEMLIMIT variables keep their
// knob as the runtime set it, and the SNUG_* variables override the
// options (see the package documentation). A malformed SNUG_* variable is
// ignored with one warning in the log.
//
// A process without cgroups, or with no limits, keeps the runtime's
// defaults: no runtime call is made.
//
// Start returns an error only for an invalid Option, or ErrAlreadyStarted.
// It does not block: it reads a few small files.
func Start(ctx context.Context, opts ...Option) (*Tuner, error) {
	c := defaultConfig()
	c.getenv, c.open = os.Getenv, cgroup.Open
	for _, o := range opts {
		o(&c)
	}
	if c.procs.min > 0 && c.procs.max > 0 && c.procs.min > c.procs.max {
		c.fail("WithMinProcs(%d) with WithMaxProcs(%d): want a minimum at most the maximum", c.procs.min, c.procs.max)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	env := c.applyEnv()
	watchOn := !env.off && c.watch.enabled()

	t := &Tuner{cfg: c, stopCh: make(chan struct{}), done: make(chan struct{})}
	now := time.Now()
	t.status.Started = now
	log := t.logger()
	for _, w := range env.warnings {
		if log != nil {
			log.Warn("snug: " + w)
		}
	}

	// Who owns each knob before any limit is read.
	procsFixed, procsWhy := Owner(""), ""
	memFixed, memWhy := Owner(""), ""
	switch {
	case env.off:
		procsFixed, procsWhy = OwnerOff, env.offBy
		memFixed, memWhy = OwnerOff, env.offBy
	default:
		switch {
		case env.procsMode == modeOff:
			procsFixed, procsWhy = OwnerOff, "SNUG_GOMAXPROCS=off"
		case c.noMaxProcs:
			procsFixed, procsWhy = OwnerOff, "WithoutMaxProcs"
		case env.maxProcsEnv > 0 && env.procsMode != modeForce:
			procsFixed, procsWhy = OwnerEnv, fmt.Sprintf("GOMAXPROCS environment variable %d", env.maxProcsEnv)
		}
		switch {
		case env.memMode == modeOff:
			memFixed, memWhy = OwnerOff, "SNUG_GOMEMLIMIT=off"
		case c.noMemoryLimit:
			memFixed, memWhy = OwnerOff, "WithoutMemoryLimit"
		case env.memLimitEnv != "" && env.memMode != modeForce:
			memFixed, memWhy = OwnerEnv, fmt.Sprintf("GOMEMLIMIT environment variable %q", env.memLimitEnv)
		}
	}
	active := procsFixed == "" || memFixed == "" || watchOn

	if active && !running.CompareAndSwap(nil, t) {
		return nil, ErrAlreadyStarted
	}
	defer func() {
		// A panic below (a bug) must not leave the slot taken for good.
		if r := recover(); r != nil {
			running.CompareAndSwap(t, nil)
			panic(r)
		}
	}()

	// Read the limits. Without a cgroup (bare metal, a sandbox, not Linux)
	// GOMAXPROCS is still shaped by the options over the CPU count, and
	// GOMEMLIMIT has nothing to go by.
	var limits cgroup.Limits
	var readErr error
	follow := false
	if active {
		t.group = c.group
		if t.group == nil {
			t.group, readErr = c.open()
		}
		if readErr == nil {
			limits, readErr = t.group.Limits()
			follow = true
		} else {
			t.group = nil
			limits = cgroup.Limits{CPUs: runtime.NumCPU(), CPUsSource: cgroup.Source{File: "runtime.NumCPU"}}
			if memFixed == "" {
				memFixed, memWhy = OwnerNone, "no cgroup ("+readErr.Error()+")"
			}
		}
	}

	t.procs = maxProcs{cfg: c.procs, model: newRuntimeModel(t.group), envPinned: env.maxProcsEnv > 0}
	t.mem = memoryLimit{cfg: c.memory}
	var watchErr error
	if watchOn && follow {
		// The watchdog needs the cgroup. Its first sample, at the first
		// tick, is the baseline of its windows: taking it here would open
		// the cgroup's counter files during the program's init.
		t.watch = newWatchdog(c.watch, t.group, c.interval)
		watchErr = t.watch.snaps.start()
		if c.watch.outside {
			t.mem.lower = t.watch
		}
	}
	pev := t.procs.start(now, limits, procsFixed, procsWhy)
	t.mem.start(now, limits, memFixed, memWhy)

	knobs := t.procs.owner == OwnerSnug || t.procs.owner == OwnerRuntime ||
		t.mem.owner == OwnerSnug || t.mem.owner == OwnerNone
	follow = follow && (knobs || t.watch != nil)
	t.mu.Lock()
	t.status.MaxProcs, t.status.MemoryLimit = t.procs.d, t.mem.d
	t.status.Limits, t.status.Err = limits, readErr
	t.status.StopTheWorlds = pev.stw
	t.status.Running = follow && knobs
	t.status.Watchdog.Running = t.watch != nil
	for _, d := range []Decision{t.procs.d, t.mem.d} {
		if d.Value != d.Previous && (d.Owner == OwnerSnug || d.Owner == OwnerRuntime) {
			t.status.Changes++
		}
	}
	t.mu.Unlock()

	if log != nil {
		attrs := []any{"GOMAXPROCS", t.procs.d.Source, "GOMEMLIMIT", t.mem.d.Source}
		if readErr != nil && !errors.Is(readErr, cgroup.ErrNoCgroup) && !errors.Is(readErr, cgroup.ErrUnsupported) {
			attrs = append(attrs, "error", readErr.Error())
		}
		msg := "snug: tuned"
		if env.off {
			msg = "snug: off"
		}
		log.Info(msg, attrs...)
		if watchErr != nil {
			log.Warn("snug: watchdog: " + watchErr.Error())
		}
	}
	t.notify(t.procs.d, t.mem.d)

	if !follow {
		// Nothing to follow, but GOMAXPROCS may have been shaped by the
		// options over the CPU count: Stop restores it and frees the slot.
		close(t.done)
		select {
		case <-t.stopCh: // Stop was called from an OnChange function
			t.end()
		default:
		}
		return t, nil
	}
	if c.noLoop {
		close(t.done)
		return t, nil
	}
	go t.loop(ctx, pev.next)
	return t, nil
}

// Stop stops the Tuner's goroutine and, unless WithoutRestore was given,
// restores GOMAXPROCS and GOMEMLIMIT to what they were before Start where
// the Tuner changed them (a knob the application took over is left as the
// application set it). When Stop returns, the goroutine has exited, except
// when Stop is called from an OnChange function: then it exits, and
// restores, as soon as that function returns. Stop may be called more than
// once, and on a nil Tuner.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.stopOnce.Do(func() { close(t.stopCh) })
	if id := t.notifying.Load(); id != 0 && id == goroutineID() {
		return // the loop ends when the OnChange function returns
	}
	<-t.done
	t.end()
}

// Status returns the Tuner's current decisions and counters. It is cheap
// (a copy under a lock) and safe to call at any rate. A nil Tuner has a
// zero Status.
func (t *Tuner) Status() Status {
	if t == nil {
		return Status{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.status
	st.Watchdog.Events = cloneCounts(st.Watchdog.Events)
	st.Watchdog.Suppressed = cloneCounts(st.Watchdog.Suppressed)
	return st
}

func (t *Tuner) loop(ctx context.Context, first time.Duration) {
	defer close(t.done)
	defer t.end()
	next := t.cfg.interval
	if first > 0 && first < next {
		next = first
	}
	timer := time.NewTimer(next)
	defer timer.Stop()
	var due time.Time // of the next evaluation; zero: at the first wake
	for {
		select {
		case <-t.stopCh:
			return
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		if now.Before(due) {
			t.nearCheck(now) // woken between evaluations near the memory limit
		} else {
			sampled := t.watch.sample(now) // before evaluate, which asks it about memory outside Go
			next, more := t.evaluate(now)
			if !more {
				return
			}
			if sampled {
				t.watchdogStep(now)
			}
			due = now.Add(next)
		}
		wait := time.Until(due)
		if t.watch.checkingNear() {
			wait = min(wait, nearCheckEvery)
		}
		timer.Reset(wait)
	}
}

// end restores the knobs and releases the process-wide slot, once.
func (t *Tuner) end() {
	t.endOnce.Do(func() {
		// What the Tuner managed is no longer anyone's it knows of: Status
		// says so (OwnerOff), with the value now in effect.
		stw, procsReleased, procsWhy := t.procs.stop(t.cfg.restore)
		memReleased, memWhy := t.mem.stop(t.cfg.restore)
		t.procs.model.close()
		t.watch.stop()
		t.group = nil // let its open files go with it
		now := time.Now()
		t.mu.Lock()
		if procsReleased {
			n := runtime.GOMAXPROCS(0)
			t.status.MaxProcs = stoppedDecision(t.status.MaxProcs, int64(n), strconv.Itoa(n), procsWhy, now)
		}
		if memReleased {
			n := debug.SetMemoryLimit(-1)
			t.status.MemoryLimit = stoppedDecision(t.status.MemoryLimit, n, formatBytes(n), memWhy, now)
			if n != t.mem.lastSet {
				// Restored, or the application's: no longer lowered for
				// the memory outside Go (WithoutRestore keeps it lowered).
				t.status.Watchdog.OutsideDeducted = 0
			}
		}
		t.status.Running = false
		t.status.Watchdog.Running, t.status.Watchdog.Spiraling, t.status.Watchdog.SpiralReason = false, false, ""
		t.status.StopTheWorlds += stw
		t.mu.Unlock()
		running.CompareAndSwap(t, nil)
	})
}

// stoppedWhy says what Stop did with a knob the Tuner managed: restored it,
// or left it because of WithoutRestore or because the application set it
// since the last evaluation.
func stoppedWhy(restore, appSet bool) string {
	switch {
	case appSet:
		return "left the value the application set"
	case !restore:
		return "left the value it set (WithoutRestore)"
	}
	return "restored the value found at Start"
}

// stoppedDecision is the Decision for a knob the Tuner managed until it
// stopped, with value now in effect (shown as the Source prints it).
func stoppedDecision(d Decision, value int64, shown, why string, now time.Time) Decision {
	return Decision{Knob: d.Knob, Value: value, Previous: d.Value, Owner: OwnerOff, Reason: "Tuner stopped",
		Source: fmt.Sprintf("%s %s: the Tuner stopped and %s", d.Knob, shown, why), Time: now}
}

// evaluate re-reads the limits and re-decides both knobs. It returns when
// to evaluate next, and false when neither knob is left to follow.
func (t *Tuner) evaluate(now time.Time) (next time.Duration, more bool) {
	defer func() {
		// A bug here must not take the program down: log it, keep going.
		if r := recover(); r != nil {
			if log := t.logger(); log != nil {
				log.Error("snug: tuner evaluation panicked; decisions kept", "panic", fmt.Sprint(r))
			}
			next, more = t.cfg.interval, true
		}
	}()
	next = t.cfg.interval
	l, err := t.group.Limits()
	if err != nil {
		// Keep the previous decisions: a file that cannot be read now is
		// not a limit that went away.
		t.mu.Lock()
		t.status.Evaluations++
		t.status.Err = err
		t.mu.Unlock()
		if msg := err.Error(); msg != t.lastErr {
			t.lastErr = msg
			if log := t.logger(); log != nil {
				log.Warn("snug: cannot read cgroup limits; keeping the current settings", "error", msg)
			}
		}
		return next, true
	}
	t.lastErr = ""
	t.procs.followLoad(l, func() (cpuReading, bool) { return t.cpuReading(now) })
	oldProcs := t.procs.d
	pev := t.procs.evaluate(now, l, false)
	memChanged := t.mem.evaluate(now, l, false)
	if pev.next > 0 && pev.next < next {
		next = pev.next
	}

	knobs := t.procs.owner == OwnerSnug || t.procs.owner == OwnerRuntime ||
		t.mem.owner == OwnerSnug || t.mem.owner == OwnerNone

	t.mu.Lock()
	t.status.Evaluations++
	t.status.Running = knobs
	t.status.Limits, t.status.Err = l, nil
	t.status.MaxProcs, t.status.MemoryLimit = t.procs.d, t.mem.d
	t.status.StopTheWorlds += pev.stw
	if pev.stw > 0 && t.procs.d.Value != oldProcs.Value {
		t.status.Changes++
	}
	if memChanged && t.mem.d.Value != t.mem.d.Previous && t.mem.d.Owner != OwnerApplication {
		t.status.Changes++
	}
	t.mu.Unlock()

	var changed []Decision
	if pev.changed {
		changed = append(changed, t.procs.d)
	}
	if memChanged {
		changed = append(changed, t.mem.d)
	}
	if len(changed) > 0 {
		if log := t.logger(); log != nil {
			for _, d := range changed {
				log.Info("snug: "+string(d.Knob)+" changed", "from", d.Previous, "to", d.Value, "owner", string(d.Owner), "source", d.Source)
			}
		}
		t.notify(changed...)
	}

	more = knobs || t.watch != nil // the watchdog keeps sampling when no knob is left
	select {
	case <-t.stopCh:
		more = false // Stop was called from a callback
	default:
	}
	return next, more
}

// cpuReading returns the cgroup's CPU counters for the adaptive policy: the
// watchdog's sample when the watchdog took one at now (no extra read),
// nothing at the evaluations between its samples, and without a watchdog a
// read of its own at most every adaptMinSpan.
func (t *Tuner) cpuReading(now time.Time) (cpuReading, bool) {
	if w := t.watch; w != nil {
		if !w.sampled || !w.cur.at.Equal(now) || !w.cur.statsOK {
			return cpuReading{}, false
		}
		return readingFrom(now, w.cur.stats, w.sampler.statsErr)
	}
	if t.group == nil || (t.procs.load.primed && now.Sub(t.procs.load.prev.at) < adaptMinSpan) {
		return cpuReading{}, false
	}
	st, err := t.group.Stats()
	return readingFrom(now, st, err)
}

// notify calls the OnChange functions, recovering a panic in each.
func (t *Tuner) notify(ds ...Decision) {
	if len(t.cfg.onChange) == 0 {
		return
	}
	t.notifying.Store(goroutineID())
	defer t.notifying.Store(0)
	for _, d := range ds {
		for _, f := range t.cfg.onChange {
			func() {
				defer func() {
					if r := recover(); r != nil {
						if log := t.logger(); log != nil {
							log.Error("snug: OnChange function panicked", "panic", fmt.Sprint(r))
						}
					}
				}()
				f(d)
			}()
		}
	}
}

// logger returns where log lines go, or nil when quiet.
func (t *Tuner) logger() *slog.Logger {
	if t.cfg.quiet {
		return nil
	}
	if t.cfg.logger != nil {
		return t.cfg.logger
	}
	return slog.Default()
}

// goroutineID returns the calling goroutine's id, parsed from the first
// line of its stack trace ("goroutine 42 [running]:"). Go hides the id on
// purpose; it is used here only to tell whether Stop runs inside an
// OnChange function, where waiting for the loop would wait for itself.
func goroutineID() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseInt(string(b), 10, 64)
	return id
}
