package testcluster

import "testing"

func TestSenderOf(t *testing.T) {
	addrs := [][]byte{[]byte("127.0.0.1:4123"), []byte("127.0.0.1:41234"), []byte("127.0.0.1:5000")}
	ids := []string{"n1", "n2", "n3"}
	tests := []struct {
		name, prefix, want string
	}{
		{"none yet", "\x00\x83\xa9RPCHeader\x83", ""},
		{"header address", "\x00\x83\xa9RPCHeader\x83\xa4Addr\xc4\x0e127.0.0.1:5000\xa2ID", "n3"},
		{"longer address sharing a prefix", "\xc4\x0f127.0.0.1:41234\xa2ID", "n2"},
		{"shorter address", "\xc4\x0e127.0.0.1:4123\xa2ID", "n1"},
		{"truncated address is not named", "\xc4\x0f127.0.0.1:4123", ""},
		{"first address wins", "\xc4\x0e127.0.0.1:4123\xa6Leader\xc4\x0e127.0.0.1:5000\xa0", "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := senderOf([]byte(tt.prefix), addrs, ids); got != tt.want {
				t.Fatalf("senderOf(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
		})
	}
}
