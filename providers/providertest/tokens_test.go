package providertest

import (
	"strings"
	"testing"
)

func TestPromptTokens(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    int
		wantErr bool
	}{
		{name: "no messages", body: `{"messages":[]}`, want: 3},
		{name: "one string", body: `{"messages":[{"role":"user","content":"Say hi please"}]}`, want: 3 + 4 + 3},
		{name: "spaces and newlines", body: `{"messages":[{"role":"user","content":"  Say\n hi\tplease  "}]}`, want: 3 + 4 + 3},
		{name: "two messages", body: `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}`, want: 3 + (4 + 2) + (4 + 1)},
		{name: "null content", body: `{"messages":[{"role":"assistant","content":null,"tool_calls":[]}]}`, want: 3 + 4},
		{name: "no content", body: `{"messages":[{"role":"assistant"}]}`, want: 3 + 4},
		{name: "parts", body: `{"messages":[{"role":"user","content":[{"type":"text","text":"What is"},{"type":"image_url","image_url":{"url":"https://x/y.png"}},{"type":"text","text":"this picture"}]}]}`, want: 3 + 4 + 4},
		{name: "empty string", body: `{"messages":[{"role":"user","content":""}]}`, want: 3 + 4},
		{name: "not json", body: `{"messages":`, wantErr: true},
		{name: "content a number", body: `{"messages":[{"role":"user","content":5}]}`, wantErr: true},
		{name: "messages not an array", body: `{"messages":"hi"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PromptTokens([]byte(tt.body))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("PromptTokens = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestReplyTokensAndChunks(t *testing.T) {
	tests := []struct {
		name       string
		reply      string
		want       int
		wantChunks []string
	}{
		{name: "default", reply: DefaultReply, want: 7,
			wantChunks: []string{"This", " is", " a", " mock", " response", " from", " tollgate."}},
		{name: "one word", reply: "Hi", want: 1, wantChunks: []string{"Hi"}},
		{name: "odd spacing", reply: "  a \n b  ", want: 2, wantChunks: []string{"  a", " \n b  "}},
		{name: "empty", reply: "", want: 0, wantChunks: nil},
		{name: "only spaces", reply: "   ", want: 0, wantChunks: []string{"   "}},
		{name: "unicode", reply: "héllo wörld", want: 2, wantChunks: []string{"héllo", " wörld"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReplyTokens(tt.reply); got != tt.want {
				t.Errorf("ReplyTokens(%q) = %d, want %d", tt.reply, got, tt.want)
			}
			chunks := splitWords(tt.reply)
			if strings.Join(chunks, "|") != strings.Join(tt.wantChunks, "|") || len(chunks) != len(tt.wantChunks) {
				t.Errorf("splitWords(%q) = %q, want %q", tt.reply, chunks, tt.wantChunks)
			}
			if strings.Join(chunks, "") != tt.reply {
				t.Errorf("chunks %q do not join back into %q", chunks, tt.reply)
			}
		})
	}
}

func TestEchoReply(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{name: "last user message", body: `{"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"x"},{"role":"user","content":"second one"}]}`, want: "second one"},
		{name: "parts joined", body: `{"messages":[{"role":"user","content":[{"type":"text","text":"a b"},{"type":"text","text":"c"}]}]}`, want: "a b c"},
		{name: "no user text", body: `{"messages":[{"role":"system","content":"rules"}]}`, want: "fallback reply"},
		{name: "blank user text", body: `{"messages":[{"role":"user","content":"  "}]}`, want: "fallback reply"},
	}
	p := NewHandler(WithReply("fallback reply"), WithEcho())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := parseChat([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.reply(req); got != tt.want {
				t.Errorf("reply %q, want %q", got, tt.want)
			}
		})
	}
}
