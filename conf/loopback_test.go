package conf

import "testing"

func TestLoopbackHost(t *testing.T) {
	for _, tt := range []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"[::1]", true},
		{"::ffff:127.0.0.1", true},
		{"[::ffff:127.0.0.1]", true},
		{"", false},
		{"[]", false},
		{"[::1", false},
		{"::1]", false},
		{"::1%lo", false},
		{"0.0.0.0", false},
		{"::", false},
		{"128.0.0.1", false},
		{"192.168.1.2", false},
		{"localhost.example.com", false},
		{"127.0.0.1.nip.io", false},
		{"localhost:5000", false}, // a host:port is not a host
		{"127.0.0.1:5000", false},
	} {
		if got := LoopbackHost(tt.host); got != tt.want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestLoopbackBind(t *testing.T) {
	for _, tt := range []struct {
		bind string
		want bool
	}{
		{"unix:/run/ganger/ganger.sock", true},
		{"127.0.0.1:5000", true},
		{"127.0.0.1:0", true},
		{"[::1]:5000", true},
		{"localhost:1", true},
		{":5000", false},
		{"0.0.0.0:5000", false},
		{"[::]:5000", false},
		{"192.168.1.2:5000", false},
		{"example.com:80", false},
		{"unix:relative.sock", false}, // invalid
		{"127.0.0.1", false},          // no port: invalid
		{"127.0.0.1:http", false},     // invalid port
		{"", false},
	} {
		if got := LoopbackBind(tt.bind); got != tt.want {
			t.Errorf("LoopbackBind(%q) = %v, want %v", tt.bind, got, tt.want)
		}
	}
}
