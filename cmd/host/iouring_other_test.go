//go:build !linux

package main

import "errors"

const refuseIOURing = "E2E_REFUSE_IO_URING=1"

func execRefusingIOURing([]string) error { return errors.New("io_uring is Linux only") }
