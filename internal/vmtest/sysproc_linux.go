package vmtest

import "syscall"

// killWithParent makes the kernel SIGKILL the child when the thread that
// started it exits, so no qemu outlives a test process that dies abruptly.
func killWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
