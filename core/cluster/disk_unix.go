//go:build linux || darwin

package cluster

import "syscall"

// DiskSpace returns the size of the file system holding path and the bytes
// an unprivileged user may still write there.
func DiskSpace(path string) (total, usable int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return -1, -1, err
	}
	bs := int64(st.Bsize)
	return int64(st.Blocks) * bs, int64(st.Bavail) * bs, nil
}
