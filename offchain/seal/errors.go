package seal

import "errors"

// Errors that Open, the parsers and LoadKey wrap. Callers test them with
// errors.Is; the wrapped message adds what was being read.
var (
	// ErrUnknownVersion: the envelope's first byte is not a format this
	// build reads.
	ErrUnknownVersion = errors.New("seal: unknown envelope version")
	// ErrUnknownSuite: a key or envelope names a suite this build lacks.
	ErrUnknownSuite = errors.New("seal: unknown suite")
	// ErrSuiteMismatch: the envelope was sealed under a different suite than
	// the key it is being opened with.
	ErrSuiteMismatch = errors.New("seal: suite mismatch")
	// ErrTruncated: the input ends before its fixed fields do.
	ErrTruncated = errors.New("seal: truncated")
	// ErrMalformed: the input has the right length for nothing it claims
	// to be (bad length field, trailing bytes, wrong key size).
	ErrMalformed = errors.New("seal: malformed")
	// ErrWrongJob: the envelope names another job than the one it is
	// being opened for.
	ErrWrongJob = errors.New("seal: envelope is for another job")
	// ErrAuthFailed: decryption failed. The cause is a wrong key, a wrong
	// purpose, or an envelope that was altered; HPKE does not say which.
	ErrAuthFailed = errors.New("seal: authentication failed")
	// ErrUnknownPurpose: a purpose other than PurposeRequest or PurposeResult.
	ErrUnknownPurpose = errors.New("seal: unknown purpose")
	// ErrKeyFilePermissions: a key file that group or others may access.
	ErrKeyFilePermissions = errors.New("seal: key file is accessible by group or others")
)
