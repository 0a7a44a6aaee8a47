package process

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// credential resolves the user and group a child runs as. It returns nil
// when both are empty (inherit), or when nothing would change and the
// daemon is unprivileged (so that naming oneself works without root).
//
// With a user, the child gets the user's primary group (unless group is
// set) and the user's supplementary groups. With only a group, the uid and
// the supplementary groups are inherited. A name made only of digits is a
// numeric id, as chown(1) treats it; a numeric uid without a passwd entry
// needs an explicit group.
func credential(userName, groupName string) (*syscall.Credential, error) {
	if userName == "" && groupName == "" {
		return nil, nil
	}
	cred := &syscall.Credential{
		Uid:         uint32(os.Getuid()),
		Gid:         uint32(os.Getgid()),
		NoSetGroups: true,
	}
	if userName != "" {
		uid, u, err := lookupUser(userName)
		if err != nil {
			return nil, err
		}
		cred.Uid = uid
		cred.NoSetGroups = false
		cred.Groups = []uint32{}
		if u != nil {
			if groupName == "" {
				gid, err := strconv.ParseUint(u.Gid, 10, 32)
				if err != nil {
					return nil, fmt.Errorf("%w: user %q has primary group %q", ErrBadUser, userName, u.Gid)
				}
				cred.Gid = uint32(gid)
			}
			cred.Groups = supplementaryGroups(u)
		} else if groupName == "" {
			return nil, fmt.Errorf("%w: uid %s has no passwd entry, so it has no primary group: set a group", ErrBadUser, userName)
		}
	}
	if groupName != "" {
		gid, err := lookupGroup(groupName)
		if err != nil {
			return nil, err
		}
		cred.Gid = gid
	}
	if os.Geteuid() != 0 && int(cred.Uid) == os.Geteuid() && int(cred.Gid) == os.Getegid() {
		// Nothing to switch, and setgroups would fail without privilege.
		return nil, nil
	}
	return cred, nil
}

// lookupUser returns the uid for name (a user name or a numeric uid) and
// its passwd entry, which is nil for a numeric uid that has none.
func lookupUser(name string) (uint32, *user.User, error) {
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		u, err := user.LookupId(name)
		if err != nil {
			if errors.As(err, new(user.UnknownUserIdError)) {
				return uint32(id), nil, nil
			}
			return 0, nil, fmt.Errorf("looking up uid %s: %w", name, err)
		}
		return uint32(id), u, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if errors.As(err, new(user.UnknownUserError)) {
			return 0, nil, fmt.Errorf("%w: no user %q", ErrBadUser, name)
		}
		return 0, nil, fmt.Errorf("looking up user %q: %w", name, err)
	}
	id, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: user %q has uid %q", ErrBadUser, name, u.Uid)
	}
	return uint32(id), u, nil
}

// lookupGroup returns the gid for name (a group name or a numeric gid; a
// numeric gid need not have a group entry).
func lookupGroup(name string) (uint32, error) {
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(id), nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		if errors.As(err, new(user.UnknownGroupError)) {
			return 0, fmt.Errorf("%w: no group %q", ErrBadUser, name)
		}
		return 0, fmt.Errorf("looking up group %q: %w", name, err)
	}
	id, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: group %q has gid %q", ErrBadUser, name, g.Gid)
	}
	return uint32(id), nil
}

// supplementaryGroups returns u's group ids; none when they cannot be read
// (never the daemon's own groups).
func supplementaryGroups(u *user.User) []uint32 {
	ids, err := u.GroupIds()
	if err != nil {
		return []uint32{}
	}
	groups := make([]uint32, 0, len(ids))
	for _, s := range ids {
		if id, err := strconv.ParseUint(s, 10, 32); err == nil {
			groups = append(groups, uint32(id))
		}
	}
	return groups
}
