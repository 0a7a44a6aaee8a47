package conf

import (
	"net"
	"strings"
)

// LoopbackHost reports whether host names this machine's loopback
// interface: "localhost" (in any case), an IPv4 address in 127.0.0.0/8,
// or the IPv6 loopback ::1 (an IPv4-mapped ::ffff:127.x.y.z counts as
// IPv4). The IPv6 forms may be written with the brackets of a URL or a
// Host header ("[::1]"), both or neither. host has no port: split a
// host:port with net.SplitHostPort first. No name is resolved, so any
// other name, and "", is not loopback; nor is an address with a zone
// ("::1%lo").
func LoopbackHost(host string) bool {
	if h, ok := strings.CutPrefix(host, "["); ok {
		if host, ok = strings.CutSuffix(h, "]"); !ok {
			return false
		}
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackBind reports whether a bind address (see ParseBind) can only be
// reached from this machine: a unix socket, or a host:port whose host is
// loopback (see LoopbackHost). An invalid bind address, and a host:port
// with an empty host (every interface), is not.
func LoopbackBind(bind string) bool {
	network, addr, err := ParseBind(bind)
	if err != nil {
		return false
	}
	if network == "unix" {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	return err == nil && LoopbackHost(host)
}
