package vmtest

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// Guest paths the harness itself uses. Output goes to the second serial
// port, which the kernel never writes to, so the script's output arrives
// free of kernel messages even when the kernel logs (an OOM kill, say).
const (
	guestScript = "/vmtest/script"
	guestOutput = "/dev/ttyS1"
	startMarker = "SNUG-VM-START"
	exitMarker  = "SNUG-VM-EXIT="
)

// initScript is /init, run by the kernel as PID 1. If it ever exits the
// kernel panics, and panic=-1 plus qemu's -no-reboot turn that into the end
// of the VM, so a broken init cannot hang a test until its timeout.
//
// The controllers are enabled one at a time: one write of "+cpu +memory ..."
// fails as a whole when a single controller is unavailable.
//
// The start marker tells the host that the guest booted and is starting the
// script (see run). beforeStart is empty but in this package's tests, which
// put a hang there to stand for a boot that never gets that far.
//
// Before powering off, every other process is killed and init closes the
// port: the last close of a serial port waits until its buffer has been sent,
// so the exit marker is not lost to an early power-off.
func initScript(beforeStart string) string {
	return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root SNUG_VM_GUEST=1
exec >` + guestOutput + ` 2>&1 </dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for c in cpu memory cpuset pids io; do
	echo +$c 2>/dev/null >/sys/fs/cgroup/cgroup.subtree_control || echo "vmtest: controller $c unavailable"
done
` + beforeStart + `echo ` + startMarker + `
sh ` + guestScript + `
echo ` + exitMarker + `$?
kill -9 -1 2>/dev/null
exec >/dev/null 2>&1
poweroff -f
`
}

// A cpio "newc" archive, the format the kernel unpacks into its initial
// root file system. Writing it ourselves, rather than with cpio(1), lets the
// archive hold device nodes (/dev/console must exist before /init runs) and
// root-owned files without running as root on the host.
type cpioWriter struct {
	w   *bufio.Writer
	ino int
	err error
}

// entry writes one archive member; name has no leading slash.
func (c *cpioWriter) entry(name string, mode uint32, rdevMajor, rdevMinor int, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := 1
	if mode&0o170000 == 0o040000 {
		nlink = 2
	}
	// 13 fields: ino mode uid gid nlink mtime filesize devmajor devminor
	// rdevmajor rdevminor namesize check. namesize counts the NUL.
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr + name + "\x00"))
	c.pad(len(hdr) + len(name) + 1)
	c.write(data)
	c.pad(len(data))
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

// pad aligns to 4 bytes: both the header+name and the data are padded.
func (c *cpioWriter) pad(n int) {
	c.write(make([]byte, (4-n%4)%4))
}

// writeInitramfs writes a gzip-compressed initramfs holding busybox, /init,
// g.Script and g.Files (guest path -> host path) to w.
func writeInitramfs(w io.Writer, busybox string, g Guest) error {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // the level is valid
	c := &cpioWriter{w: bufio.NewWriter(zw)}

	type file struct {
		mode uint32
		data []byte
	}
	contents := map[string]file{
		"init":                               {0o755, []byte(initScript(g.beforeStart))},
		strings.TrimPrefix(guestScript, "/"): {0o644, []byte(g.Script)},
	}
	add := func(guest, host string) error {
		data, err := os.ReadFile(host)
		if err != nil {
			return err
		}
		st, err := os.Stat(host)
		if err != nil {
			return err
		}
		contents[strings.TrimPrefix(path.Clean(guest), "/")] = file{uint32(st.Mode().Perm()), data}
		return nil
	}
	if err := add("/bin/busybox", busybox); err != nil {
		return err
	}
	for guest, host := range g.Files {
		if !path.IsAbs(guest) || path.Clean(guest) == "/" {
			return fmt.Errorf("vmtest: guest path %q must be an absolute file path", guest)
		}
		if err := add(guest, host); err != nil {
			return err
		}
	}

	// Parents come before children; the kernel does not create them.
	dirs := map[string]bool{"dev": true, "proc": true, "sys": true, "tmp": true, "root": true}
	for name := range contents {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var names []string
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names) // "a" sorts before "a/b"
	for _, d := range names {
		mode := uint32(0o040755)
		if d == "tmp" {
			mode = 0o041777
		}
		c.entry(d, mode, 0, 0, nil)
	}
	// The kernel opens /dev/console for init's stdin, stdout and stderr
	// before anything is mounted, and init redirects to /dev/ttyS1 and
	// /dev/null before mounting devtmpfs, so that even a failing mount is
	// reported in the output. (Character devices 5:1, 4:65 and 1:3.)
	c.entry("dev/console", 0o020600, 5, 1, nil)
	c.entry("dev/ttyS1", 0o020600, 4, 65, nil)
	c.entry("dev/null", 0o020666, 1, 3, nil)

	names = names[:0]
	for name := range contents {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c.entry(name, 0o100000|contents[name].mode, 0, 0, contents[name].data)
	}
	c.entry("TRAILER!!!", 0, 0, 0, nil)

	if c.err != nil {
		return c.err
	}
	if err := c.w.Flush(); err != nil {
		return err
	}
	return zw.Close()
}
