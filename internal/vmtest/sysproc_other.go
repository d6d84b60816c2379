//go:build !linux

package vmtest

import "syscall"

// killWithParent has no equivalent off Linux, where Require skips anyway.
func killWithParent() *syscall.SysProcAttr { return nil }
