//go:build !linux

package main

import "errors"

func execRefusingIOURing([]string) error { return errors.New("io_uring is Linux only") }
