package batch

import "errors"

// Validation errors. kafka maps them: ErrCorrupt → CORRUPT_MESSAGE,
// ErrUnsupportedMagic → UNSUPPORTED_FOR_MESSAGE_FORMAT, ErrInvalid → INVALID_RECORD,
// ErrTooLarge → MESSAGE_TOO_LARGE.
var (
	ErrCorrupt          = errors.New("batch: CRC-32C mismatch")
	ErrUnsupportedMagic = errors.New("batch: unsupported magic (only v2 record batches are accepted)")
	ErrInvalid          = errors.New("batch: malformed record batch")
	ErrTooLarge         = errors.New("batch: record batch larger than the limit")
)
