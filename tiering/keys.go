package tiering

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyLen is the longest key (with the Store's prefix) that every backend
// accepts: S3, GCS and Azure Blob all stop at 1,024 bytes.
const MaxKeyLen = 1024

// CheckKey reports whether key is portable across every backend: non-empty
// UTF-8 of at most MaxKeyLen bytes, no control characters or backslashes
// (Azure turns "\" into "/"), and "/"-separated segments that are neither
// empty nor "." or "..". Store checks every key with it; drivers may rely on
// it.
func CheckKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("key is %d bytes long, more than %d", len(key), MaxKeyLen)
	}
	if err := checkChars(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("key %q has an empty path segment (a leading, trailing or double slash)", key)
		case ".", "..":
			return fmt.Errorf("key %q has a %q path segment", key, seg)
		}
	}
	return nil
}

func checkChars(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("%q contains %q, which is not portable across object stores", s, r)
		}
	}
	return nil
}

// cleanPrefix turns a configured prefix ("a/b", "/a/b/", "") into the form
// the Store prepends to keys ("a/b/", "").
func cleanPrefix(prefix string) (string, error) {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return "", nil
	}
	if err := CheckKey(prefix); err != nil {
		return "", fmt.Errorf("prefix: %w", err)
	}
	return prefix + "/", nil
}
