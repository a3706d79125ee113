//go:build !linux && !darwin

package cluster

import "errors"

// diskSpace is not implemented on this platform.
func diskSpace(string) (total, usable int64, err error) {
	return -1, -1, errors.New("cluster: disk space unknown on this platform")
}
