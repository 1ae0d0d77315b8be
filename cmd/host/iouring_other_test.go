//go:build !linux

package main

import "errors"

func execRefusing(string, []string) error { return errors.New("seccomp is Linux only") }
