package main

import "testing"

func TestLoopbackOnly(t *testing.T) {
	for _, c := range []struct {
		binds []string
		want  bool
	}{
		{[]string{"127.0.0.1:5000"}, true},
		{[]string{"[::1]:5000", "localhost:1", "unix:/run/g.sock"}, true},
		{[]string{"127.0.0.1:5000", ":5000"}, false},
		{[]string{"0.0.0.0:5000"}, false},
		{[]string{"192.168.1.2:5000"}, false},
		{[]string{"example.com:80"}, false},
	} {
		if got := loopbackOnly(c.binds); got != c.want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", c.binds, got, c.want)
		}
	}
}
