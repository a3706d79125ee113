//go:build !linux && !darwin

package cluster

import "errors"

// DiskSpace is not implemented on this platform.
func DiskSpace(string) (total, usable int64, err error) {
	return -1, -1, errors.New("cluster: disk space unknown on this platform")
}
