// Package functional provides Result, a value that holds either a result of
// type T or an error, and the small set of helpers Go code reaches for when it
// passes such values around.
//
// A Result is built with [Ok], [Err] or [From] and read with [Result.Get]
// (the idiomatic (T, error) pair), [Result.IsOk]/[Result.IsErr] plus
// [Result.Unwrap]/[Result.UnwrapErr], or the defaulting forms
// [Result.UnwrapOr] and [Result.UnwrapOrElse]. [Map], [FlatMap] (alias
// [AndThen]) and [Match] transform results without unpacking them.
//
// The zero Result[T] is Ok with T's zero value: a Result is a plain value,
// safe to copy and to share between goroutines once built.
//
// Unwrap panics on an error result, naming the error; it is meant for code
// that has already checked IsOk. Use Get or UnwrapOr everywhere else.
//
// # API
//
// [Result] holds a value of type T or an error. [Ok], [Err], [From] and
// [Try] make one; [Map], [MapErr], [FlatMap], [AndThen] and [Match] transform
// it; its methods read it. [ErrNilError] is what Err(nil) holds.
package functional
