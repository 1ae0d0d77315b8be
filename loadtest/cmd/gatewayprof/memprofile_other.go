//go:build !unix

package main

import "fmt"

// heapProfileOnSignal needs SIGUSR1, which this platform does not have.
func heapProfileOnSignal(string) {
	fmt.Println("gatewayprof: LOADTEST_MEMPROFILE needs a Unix system; ignored")
}
