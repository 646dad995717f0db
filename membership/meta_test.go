package membership

import (
	"errors"
	"testing"
)

// TestMetaEncodingIsStable pins the metadata format: a change here is a
// format change that needs a version bump (see doc.go).
func TestMetaEncodingIsStable(t *testing.T) {
	for _, tc := range []struct {
		name string
		meta nodeMeta
		want string
	}{
		{
			name: "minimal",
			meta: nodeMeta{Group: "g1", GRPCAddr: "10.0.0.1:9876", RaftAddr: "10.0.0.1:9877"},
			want: `{"v":1,"g":"g1","a":"10.0.0.1:9876","r":"10.0.0.1:9877"}`,
		},
		{
			name: "all fields",
			meta: nodeMeta{Group: "g1", GRPCAddr: "h:1", RaftAddr: "h:2", Version: "1.2.3", HasRaftState: true, Leaving: true},
			want: `{"v":1,"g":"g1","a":"h:1","r":"h:2","ver":"1.2.3","s":true,"l":true}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeMeta(tc.meta)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("encodeMeta = %s, want %s", b, tc.want)
			}
			got, err := decodeMeta(b)
			tc.meta.V = metaVersion
			if err != nil || got != tc.meta {
				t.Fatalf("decodeMeta = %+v, %v; want %+v", got, err, tc.meta)
			}
		})
	}
}

func TestDecodeMetaRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"empty", ``},
		{"not json", `\x00\x01binary`},
		{"no version", `{"g":"g1","a":"h:1","r":"h:2"}`},
		{"future version", `{"v":2,"g":"g1","a":"h:1","r":"h:2"}`},
		{"no group", `{"v":1,"a":"h:1","r":"h:2"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeMeta([]byte(tc.in)); !errors.Is(err, ErrBadMeta) {
				t.Fatalf("decodeMeta(%q) = %v, want ErrBadMeta", tc.in, err)
			}
		})
	}
}

func TestDecodeMetaIgnoresUnknownKeys(t *testing.T) {
	got, err := decodeMeta([]byte(`{"v":1,"g":"g1","a":"h:1","r":"h:2","zone":"eu-1"}`))
	if err != nil || got.Group != "g1" || got.RaftAddr != "h:2" {
		t.Fatalf("decodeMeta = %+v, %v", got, err)
	}
}
