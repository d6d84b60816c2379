// Package vmtest runs shell scripts and Go test binaries inside a real Linux
// kernel with cgroup v2, booted under qemu, so that cgroup v2 behaviour can
// be tested on hosts that only have cgroup v1 (or where a test must not touch
// the host's cgroups).
//
// # Design
//
// Each [Run] boots a fresh VM: Debian's cloud kernel, and an initramfs built
// in Go for that run, holding a static busybox, the files the test asks for
// and a small /init. The init mounts proc, sysfs, devtmpfs and cgroup2 at
// /sys/fs/cgroup, enables the cpu, memory, cpuset, pids and io controllers
// for children of the root cgroup, runs the test's script with sh, prints
// its exit status as a marker line and powers off. There is no disk, network
// or systemd: the guest is up in a few seconds even under software
// emulation, and nothing survives from one run to the next.
//
// qemu runs with TCG (software emulation) because nested KVM hangs or fails
// on our CI machines. Emulated code runs much slower than on the host and
// the guest's clocks are not real time, so use the VM to check behaviour
// (what a file says, whether a write is accepted, who is OOM-killed) and the
// host for timing. Measured on a 2-core host: a boot that runs a small script
// and powers off takes about 2.5 s (up to 7 s when the host is busy), and the
// script's output arrives at about 150 KB/s, so keep it modest.
//
// The script's output comes back on a second serial port, apart from the
// kernel's console, so kernel messages never interleave with it. The kernel
// console is logged when the script fails or the VM does not finish.
//
// Everything the kernel needs is built in (=y) in Debian's cloud kernel:
// cgroup2, CFS bandwidth, memcg, cpusets, pids, the io controller and PSI;
// .ci/vm-setup checks this, so the harness loads no modules. psi=1 is passed
// anyway for kernels built with CONFIG_PSI_DEFAULT_DISABLED.
//
// Busybox's unshare (1.35, Debian 12) has no -C: to test a cgroup namespace,
// call unix.Unshare(unix.CLONE_NEWCGROUP) (or syscall.Unshare) from Go in
// the guest.
//
// # Setup
//
// Run .ci/vm-setup once (as root on Debian 12): it installs qemu-system-x86,
// busybox-static and cpio, and unpacks the kernel into
// $SNUG_VM_CACHE (default $HOME/.cache/snug-vm). Tests that need the VM skip
// when those are missing, unless SNUG_REQUIRE_VM=1 is set (CI sets it), in
// which case they fail.
//
// # Writing a VM test
//
// A package tests itself in the guest by building its own test binary and
// running one of its tests there; that test checks [InGuest] so that it only
// does its work inside the VM:
//
//	func TestV2InVM(t *testing.T) {
//		bin := vmtest.BuildTestBinary(t, ".")
//		out, code := vmtest.Run(t, vmtest.Guest{
//			Files:  map[string]string{"/t/cgroup.test": bin},
//			Script: vmtest.GoTest("/t/cgroup.test", "^TestGuestV2$"),
//		})
//		if code != 0 {
//			t.Fatalf("guest test failed (exit %d):\n%s", code, out)
//		}
//	}
//
//	func TestGuestV2(t *testing.T) {
//		if !vmtest.InGuest() {
//			t.Skip("runs inside the VM only")
//		}
//		// Runs as root, in the root cgroup of a cgroup v2 hierarchy.
//	}
//
// The guest has no testdata directory: pass such files in [Guest.Files].
//
// # By hand
//
// This package's own tests boot the VM three times (about 20 s):
//
//	.ci/vm-setup
//	go test -count=1 -v ./internal/vmtest/
//
// Add SNUG_REQUIRE_VM=1 to make sure nothing was skipped. A failing run logs
// the kernel console; to look around in the guest, make the Script print what
// you want to see (ls, cat, dmesg).
package vmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Guest describes one VM run.
type Guest struct {
	// Files are copied into the initramfs, guest path to host path, for
	// example "/t/cgroup.test": BuildTestBinary(t, "."). Modes are kept.
	Files map[string]string
	// Script is run by busybox sh after init's setup, as root, in the root
	// cgroup, in /, with busybox's applets on PATH and SNUG_VM_GUEST=1 in
	// the environment; the file system is RAM and writable. Its exit status
	// becomes Run's exitCode. It does not stop at the first failing command
	// unless it says set -e.
	Script string
	// Memory is the guest's RAM in MiB (default 512). The initramfs, and so
	// every file in Files, lives in that RAM.
	Memory int
	// CPUs is the number of virtual CPUs (default 2).
	CPUs int
	// Timeout bounds the whole run, boot included (default 120s). Under
	// TCG a boot takes about 3 s, and code runs slower than on the host.
	Timeout time.Duration

	// beforeStart is shell put in init just before the start marker (tests
	// of this package only).
	beforeStart string
}

// Kernel returns the path of the kernel to boot: $SNUG_VM_KERNEL if set,
// else the vmlinuz that .ci/vm-setup leaves in the cache directory.
func Kernel() (string, error) {
	k := os.Getenv("SNUG_VM_KERNEL")
	if k == "" {
		dir, err := cacheDir()
		if err != nil {
			return "", err
		}
		k = filepath.Join(dir, "vmlinuz")
	}
	k, err := filepath.Abs(k) // qemu runs in another directory
	if err != nil {
		return "", err
	}
	_, err = os.Stat(k) // follows the symlink
	return k, err
}

// cacheDir is $SNUG_VM_CACHE, default $HOME/.cache/snug-vm, as in
// .ci/vm-setup.
func cacheDir() (string, error) {
	if dir := os.Getenv("SNUG_VM_CACHE"); dir != "" {
		return dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "snug-vm"), nil
}

// tools finds the kernel, qemu and a static busybox; missing says, in words,
// what is not there.
func tools() (kernel, qemu, busybox string, missing []string) {
	kernel, err := Kernel()
	if err != nil {
		missing = append(missing, "kernel: "+err.Error())
	}
	qemu, err = exec.LookPath("qemu-system-x86_64")
	if err != nil {
		missing = append(missing, "qemu-system-x86_64 not in PATH")
	}
	// A dynamically linked busybox would find no libc in the initramfs
	// and the kernel would panic with no working init: insist on static.
	candidates := []string{"/bin/busybox"}
	if p, err := exec.LookPath("busybox"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	for _, p := range candidates {
		if isStatic(p) {
			busybox = p
			break
		}
	}
	if busybox == "" {
		missing = append(missing, "no statically linked busybox in PATH or /bin")
	}
	return kernel, qemu, busybox, missing
}

// isStatic reports whether path is an ELF executable without a program
// interpreter (the dynamic loader).
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// InGuest reports whether the calling process runs inside a vmtest VM (its
// init sets SNUG_VM_GUEST=1). Tests meant for the guest skip without it.
func InGuest() bool { return os.Getenv("SNUG_VM_GUEST") == "1" }

// Require skips the test unless a VM can be booted: on linux/amd64, outside
// -short, outside a guest, with the kernel, qemu and busybox present. With
// SNUG_REQUIRE_VM=1 (set by CI) missing tools fail the test instead, so CI
// cannot silently stop running VM tests. Run and BuildTestBinary call it.
func Require(t testing.TB) {
	t.Helper()
	switch {
	case runtime.GOOS != "linux" || runtime.GOARCH != "amd64":
		t.Skipf("vmtest: needs linux/amd64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	case testing.Short():
		t.Skip("vmtest: skipped in -short mode (a VM boot takes seconds)")
	case InGuest():
		t.Skip("vmtest: already in a guest")
	}
	if _, _, _, missing := tools(); len(missing) > 0 {
		msg := "vmtest: " + strings.Join(missing, "; ") + "; run .ci/vm-setup"
		if os.Getenv("SNUG_REQUIRE_VM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// BuildTestBinary builds the test binary of the package in pkgDir (a
// directory, relative to the working directory, which under go test is the
// calling package's directory: "." is the package itself) and returns its
// host path. The binary is static (CGO_ENABLED=0) and built for linux/amd64.
//
// It is built once per process and package, so the VM tests of a package
// share one build (about a second: go's build cache makes it mostly a link).
// Because later tests reuse it, it cannot live in a t.TempDir; it goes to
// the cache directory instead (bin/ in $SNUG_VM_CACHE), at a path fixed per
// package that the next run overwrites, so nothing piles up.
func BuildTestBinary(t testing.TB, pkgDir string) string {
	t.Helper()
	Require(t)
	dir, err := filepath.Abs(pkgDir)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := builds.LoadOrStore(dir, new(build))
	b := v.(*build)
	b.once.Do(func() { b.path, b.err = goTestC(dir) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

var builds sync.Map // absolute package dir -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

func goTestC(dir string) (string, error) {
	cache, err := cacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cache, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	// Two checkouts may hold packages of the same name: key by full path.
	sum := sha256.Sum256([]byte(dir))
	out := filepath.Join(bin, fmt.Sprintf("%s-%x.test", filepath.Base(dir), sum[:6]))
	// Build beside it and rename: another test process may be reading it.
	tmp := fmt.Sprintf("%s.%d", out, os.Getpid())
	cmd := exec.Command("go", "test", "-c", "-o", tmp, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("vmtest: building test binary of %s: %v\n%s", dir, err, msg)
	}
	if err := os.Rename(tmp, out); err != nil {
		// go test -c writes nothing for a package without tests.
		return "", fmt.Errorf("vmtest: no test binary for %s: %v", dir, err)
	}
	return out, nil
}

// GoTest returns a script line that runs the Go test binary at guest path
// bin with -test.v, limited by -test.run to the tests matching run (passed as
// is: anchor it, "^TestName$", to run just one), in an environment extended
// by env ("KEY=value"). The line's exit status is the test binary's.
func GoTest(bin, run string, env ...string) string {
	var b strings.Builder
	if len(env) > 0 {
		b.WriteString("env")
		for _, kv := range env {
			b.WriteString(" " + shellQuote(kv))
		}
		b.WriteString(" ")
	}
	fmt.Fprintf(&b, "%s -test.v -test.run %s\n", shellQuote(bin), shellQuote(run))
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Run boots a VM described by g, runs g.Script in it, and returns the
// script's output (stdout and stderr, without kernel messages) and exit
// status. The test fails if the VM cannot be booted, crashes before the
// script finishes, or exceeds g.Timeout; qemu is then killed, and the output
// so far and the kernel console are logged. Run skips the test as Require
// does.
func Run(t testing.TB, g Guest) (output string, exitCode int) {
	t.Helper()
	Require(t)
	r, err := run(t.TempDir(), g)
	if errors.Is(err, errNoStart) {
		// Nothing of the test ran: an emulator or boot hang, seen about
		// once in a dozen boots on a loaded machine. Once more.
		t.Logf("vmtest: %v; kernel console:\n%s\nbooting again", err, r.console)
		r, err = run(t.TempDir(), g)
	}
	if err != nil || r.exitCode != 0 {
		t.Logf("vmtest: kernel console:\n%s", r.console)
	}
	if err != nil {
		t.Fatalf("vmtest: %v\nguest output:\n%s", err, r.output)
	}
	return r.output, r.exitCode
}

// errNoStart: the guest never got as far as starting the script.
var errNoStart = errors.New("guest did not start the script in time (boot or emulator hang)")

// bootTimeout is how long a guest may take to boot and start the script: a
// boot takes about 3 s under TCG, 10 to 20 s on a loaded machine.
func bootTimeout(total time.Duration) time.Duration {
	return min(90*time.Second, total*3/4)
}

// watchStart cancels ctx with errNoStart unless the start marker appears in
// the output file within d.
func watchStart(ctx context.Context, abort context.CancelCauseFunc, output string, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			abort(fmt.Errorf("%w: no start after %v", errNoStart, d))
			return
		case <-tick.C:
			if b, err := os.ReadFile(output); err == nil && bytes.Contains(b, []byte(startMarker)) {
				return
			}
		}
	}
}

type result struct {
	output, console string
	exitCode        int
	qemuPID         int // for this package's tests: gone when run returns
}

// run does Run's work in dir, returning errors instead of failing a test so
// that this package's tests can check the failures.
func run(dir string, g Guest) (result, error) {
	var r result
	kernel, qemu, busybox, missing := tools()
	if len(missing) > 0 {
		return r, errors.New(strings.Join(missing, "; "))
	}
	if g.Memory == 0 {
		g.Memory = 512
	}
	if g.CPUs == 0 {
		g.CPUs = 2
	}
	if g.Timeout == 0 {
		g.Timeout = 120 * time.Second
	}

	initrd := filepath.Join(dir, "initrd.gz")
	f, err := os.Create(initrd)
	if err != nil {
		return r, err
	}
	err = writeInitramfs(f, busybox, g)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return r, fmt.Errorf("writing initramfs: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), g.Timeout)
	defer cancel()
	ctx, abort := context.WithCancelCause(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchStart(ctx, abort, filepath.Join(dir, "output.log"), bootTimeout(g.Timeout))
	}()
	defer func() { abort(nil); <-watched }() // the watcher ends with run
	cmd := exec.CommandContext(ctx, qemu,
		// Nested KVM hangs or fails on our CI machines: emulate, with one
		// host thread per virtual CPU.
		"-accel", "tcg,thread=multi",
		"-smp", strconv.Itoa(g.CPUs),
		"-m", strconv.Itoa(g.Memory),
		"-kernel", kernel,
		"-initrd", "initrd.gz",
		// panic=-1 reboots at once on a panic, and -no-reboot turns any
		// reboot into qemu's exit: a crashed guest ends the run.
		"-append", "console=ttyS0 quiet panic=-1 psi=1",
		"-no-reboot",
		// No default devices (VGA, network, monitor): just the two serial
		// ports, ttyS0 for the kernel, ttyS1 for the script.
		"-nodefaults", "-display", "none",
		"-serial", "file:console.log",
		"-serial", "file:output.log",
	)
	// Relative paths: qemu would split a path on commas, and t.TempDir
	// names may hold some.
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.WaitDelay = 5 * time.Second
	// The kernel must kill qemu if this process dies (a go test -timeout
	// panic, say), and it does so when the thread that started qemu exits:
	// keep that thread for the duration.
	cmd.SysProcAttr = killWithParent()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	runErr := cmd.Start()
	if runErr == nil {
		r.qemuPID = cmd.Process.Pid
		runErr = cmd.Wait() // on timeout, kills qemu with SIGKILL and reaps it
	}

	con, _ := os.ReadFile(filepath.Join(dir, "console.log"))
	out, _ := os.ReadFile(filepath.Join(dir, "output.log"))
	r.console = strings.ReplaceAll(string(con), "\r\n", "\n")
	r.output = strings.ReplaceAll(string(out), "\r\n", "\n")
	if i := strings.Index(r.output, startMarker+"\n"); i >= 0 {
		r.output = r.output[:i] + r.output[i+len(startMarker)+1:]
	}
	switch {
	case errors.Is(context.Cause(ctx), errNoStart):
		return r, context.Cause(ctx)
	case ctx.Err() != nil:
		return r, fmt.Errorf("guest killed after its %v timeout", g.Timeout)
	case runErr != nil:
		return r, fmt.Errorf("qemu: %v\n%s", runErr, stderr.Bytes())
	}

	// The marker is init's last line; the script cannot print after it.
	i := strings.LastIndex("\n"+r.output, "\n"+exitMarker)
	if i < 0 {
		return r, errors.New("guest ended without reporting the script's exit status (crash? see the kernel console)")
	}
	line, _, _ := strings.Cut(r.output[i+len(exitMarker):], "\n")
	r.output = r.output[:i]
	if r.exitCode, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		return r, fmt.Errorf("bad exit marker %q", line)
	}
	return r, nil
}
