package opsctl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// IsTerminal reports whether r is an interactive terminal, where a
// destructive command may ask for confirmation. (A character device is not
// enough: /dev/null is one.)
func IsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Confirm writes prompt to w and reads one line from r; the answer must be
// want exactly (surrounding spaces aside). Anything else, including end of
// input, is ErrNotConfirmed.
func Confirm(r io.Reader, w io.Writer, prompt, want string) error {
	if _, err := fmt.Fprint(w, prompt); err != nil {
		return err
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the confirmation: %w", err)
	}
	if got := strings.TrimSpace(line); got != want {
		return failf(ErrNotConfirmed, nil, "not confirmed (got %q, want %q): nothing was changed", got, want)
	}
	return nil
}

// RequireConfirmation fails unless the command may go ahead: --yes was
// given, or stdin is a terminal where Confirm can ask. what names the
// action ("delete topic \"orders\"").
func RequireConfirmation(yes, interactive bool, what string) error {
	if yes || interactive {
		return nil
	}
	return failf(ErrNotConfirmed, nil, "refusing to %s without confirmation: stdin is not a terminal — pass --yes to confirm", what)
}
