package gateway

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// What reaches a worker is exactly the fields that shape the answer:
// names, user, metadata, tools, unknown fields and the app's own stream
// settings stay behind, and content parts are flattened to a string.
func TestParseChatForwards(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			name: "plain",
			in:   `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`,
			want: `{"model":"m1","messages":[{"role":"user","content":"hi"}],"max_tokens":16,"stream":true}`,
		},
		{
			name: "everything an app may send",
			in: `{"model":"m1","user":"alice","metadata":{"who":"alice"},"tools":[],"logit_bias":{"1":2},"n":1,` +
				`"stream":false,"stream_options":{"include_usage":true},"max_tokens":5,"max_completion_tokens":7,` +
				`"temperature":0.5,"top_p":0.9,"seed":42,"stop":"END",` +
				`"messages":[{"role":"system","name":"alice","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"user","content":"hi"}]}`,
			want: `{"model":"m1","messages":[{"role":"system","content":"ab"},{"role":"user","content":"hi"}],` +
				`"max_tokens":7,"temperature":0.5,"top_p":0.9,"seed":42,"stop":["END"],"stream":true}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, apiErr := parseChat([]byte(tc.in), 16, 100)
			if apiErr != nil {
				t.Fatal(apiErr)
			}
			if d := cmp.Diff(tc.want, string(req.body)); d != "" {
				t.Errorf("forwarded (-want +got):\n%s", d)
			}
		})
	}
}
