package functional

import (
	"errors"
	"fmt"
)

// ErrNilError is the error held by a result built with Err(nil): an error
// result always carries a non-nil error, so IsErr and UnwrapErr agree.
var ErrNilError = errors.New("functional: Err called with a nil error")

// Result holds either a value of type T (an ok result) or an error (an error
// result). The zero value is an ok result holding T's zero value.
type Result[T any] struct {
	value T
	err   error
}

// Ok returns an ok result holding v.
func Ok[T any](v T) Result[T] { return Result[T]{value: v} }

// Err returns an error result holding err. Err(nil) holds [ErrNilError].
func Err[T any](err error) Result[T] {
	if err == nil {
		err = ErrNilError
	}
	return Result[T]{err: err}
}

// From builds a result from Go's usual (value, error) pair: an error result
// when err is non-nil (v is dropped), an ok result holding v otherwise.
func From[T any](v T, err error) Result[T] {
	if err != nil {
		return Result[T]{err: err}
	}
	return Result[T]{value: v}
}

// Try calls fn and returns its outcome as a result.
func Try[T any](fn func() (T, error)) Result[T] { return From(fn()) }

// IsOk reports whether r holds a value.
func (r Result[T]) IsOk() bool { return r.err == nil }

// IsErr reports whether r holds an error.
func (r Result[T]) IsErr() bool { return r.err != nil }

// Get returns the value and the error, exactly one of which is meaningful:
// on an error result the value is T's zero value.
func (r Result[T]) Get() (T, error) { return r.value, r.err }

// Unwrap returns the value of an ok result. On an error result it panics with
// a message that names the error; check IsOk first or use UnwrapOr.
func (r Result[T]) Unwrap() T {
	if r.err != nil {
		panic(fmt.Sprintf("functional: Unwrap called on an error result: %v", r.err))
	}
	return r.value
}

// UnwrapErr returns the error of an error result and nil for an ok result.
func (r Result[T]) UnwrapErr() error { return r.err }

// UnwrapOr returns the value of an ok result, or def for an error result.
func (r Result[T]) UnwrapOr(def T) T {
	if r.err != nil {
		return def
	}
	return r.value
}

// UnwrapOrElse returns the value of an ok result, or f(err) for an error
// result. f is not called for an ok result.
func (r Result[T]) UnwrapOrElse(f func(error) T) T {
	if r.err != nil {
		return f(r.err)
	}
	return r.value
}

// String formats r as "Ok(value)" or "Err(error)".
func (r Result[T]) String() string {
	if r.err != nil {
		return fmt.Sprintf("Err(%v)", r.err)
	}
	return fmt.Sprintf("Ok(%v)", r.value)
}

// Map applies f to the value of an ok result; an error result passes through
// with its error unchanged.
func Map[T, U any](r Result[T], f func(T) U) Result[U] {
	if r.err != nil {
		return Result[U]{err: r.err}
	}
	return Result[U]{value: f(r.value)}
}

// FlatMap applies f, which may itself fail, to the value of an ok result; an
// error result passes through with its error unchanged.
func FlatMap[T, U any](r Result[T], f func(T) Result[U]) Result[U] {
	if r.err != nil {
		return Result[U]{err: r.err}
	}
	return f(r.value)
}

// AndThen is FlatMap under the name Rust and many Go libraries use.
func AndThen[T, U any](r Result[T], f func(T) Result[U]) Result[U] { return FlatMap(r, f) }

// MapErr applies f to the error of an error result, for example to wrap it
// with context; an ok result passes through. A nil error from f becomes
// [ErrNilError].
func MapErr[T any](r Result[T], f func(error) error) Result[T] {
	if r.err == nil {
		return r
	}
	return Err[T](f(r.err))
}

// Match calls onOk with the value of an ok result or onErr with the error of
// an error result, and returns what it returns.
func Match[T, U any](r Result[T], onOk func(T) U, onErr func(error) U) U {
	if r.err != nil {
		return onErr(r.err)
	}
	return onOk(r.value)
}
