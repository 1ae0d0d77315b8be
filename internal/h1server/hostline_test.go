package h1server

import (
	"bufio"
	"strings"
	"testing"
)

func TestSentHost(t *testing.T) {
	for _, tt := range []struct {
		name, head string
		want       bool
		bufSize    int // 0: 4096
	}{
		{"empty Host", "POST / HTTP/1.1\r\nHost:\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true, 0},
		{"Host in capitals, LF lines", "GET / HTTP/1.1\nHOST: x\n\n", true, 0},
		{"no Host", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", false, 0},
		{"Host in the body only", "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nHost: x\r\n", false, 0},
		{"a header named Hostname", "GET / HTTP/1.1\r\nHostname: x\r\n\r\n", false, 0},
		{"an unfinished head", "GET / HTTP/1.1\r\nHost: x\r\n", false, 0},
		{"a head longer than the buffer", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 64) + "\r\nHost: x\r\n\r\n", false, 32},
	} {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.bufSize
			if size == 0 {
				size = 4096
			}
			br := bufio.NewReaderSize(strings.NewReader(tt.head), size)
			if got := sentHost(br); got != tt.want {
				t.Fatalf("sentHost = %v, want %v", got, tt.want)
			}
			if br.Buffered() > len(tt.head) {
				t.Fatal("read past the input")
			}
		})
	}
}
