package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ganger/ganger/conf"
)

// The daemon's listeners: a bind address (host:port or unix:/path, see
// conf.ParseBind) becomes a net.Listener, a unix socket one that only the
// daemon's user can reach. ganger start listens through here too.

// loopbackOnly reports whether every bind address is a unix socket or a
// loopback host:port (see conf.LoopbackBind).
func loopbackOnly(binds []string) bool {
	for _, b := range binds {
		if !conf.LoopbackBind(b) {
			return false
		}
	}
	return true
}

// listenerName names l the way a bind address is written: host:port, or
// unix:/path.
func listenerName(l net.Listener) string {
	if l.Addr().Network() == "unix" {
		return "unix:" + l.Addr().String()
	}
	return l.Addr().String()
}

// listen listens on a bind address (see conf.ParseBind).
func listen(bind string) (net.Listener, error) {
	network, addr, err := conf.ParseBind(bind)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		return listenUnix(addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Err != nil {
			err = opErr.Err // "bind: address already in use", without the address again
		}
		return nil, fmt.Errorf("listening on %s: %w", bind, err)
	}
	return l, nil
}

// listenUnix listens on a unix socket at path, readable and writable by
// the daemon's user only (mode 0600). A stale socket file (nobody accepts
// on it) is replaced; a live one, or a file that is not a socket, is an
// error. The socket is created in a fresh private directory, set to 0600
// and renamed into place, so it is never reachable with a wider mode. The
// file is removed when the listener is closed.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("listening on unix:%s: the file exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listening on unix:%s: another process is listening on it", path)
		}
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".ganger-sock-")
	if err != nil {
		return nil, fmt.Errorf("listening on unix:%s: %w", path, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	const maxSocketPath = 107 // sizeof(sun_path) - 1 on Linux
	if len(tmp) > maxSocketPath {
		// No room for the private directory: bind in place and narrow the
		// mode right after; the directory's permissions cover the gap.
		tmp = path
		os.Remove(path)
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening on unix:%s: %w", path, err)
	}
	ul.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ul.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("listening on unix:%s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if tmp != path {
		if err := os.Rename(tmp, path); err != nil {
			return fail(err)
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &unixListener{UnixListener: ul, path: path, fi: fi}, nil
}

// unixListener removes its socket file on Close, unless another daemon
// has replaced it since.
type unixListener struct {
	*net.UnixListener
	path string
	fi   os.FileInfo
	once sync.Once
}

// Addr returns the socket's path as it was asked for, not the temporary
// name it was bound under.
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

// Close closes the listener and removes its socket file if it is still
// the one this listener created.
func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return err
}
