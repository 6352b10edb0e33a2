// Package apperrors defines AppError, the error type a service returns across
// its layers, with a small closed set of generic codes and their HTTP status.
//
// An AppError carries a [Code] (what kind of failure, and so which HTTP status
// a handler answers with), a human message, an optional cause and optional
// details. errors.Is matches an AppError by code through any wrapping:
//
//	if errors.Is(err, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}) {
//		// the dependency is down: answer 503, try later
//	}
//
// Richer error types embed *AppError (package fault's ResilienceError does),
// so code that only knows apperrors still classifies them correctly.
// [CodeOf] and [HTTPStatusOf] read the code and status of any error, falling
// back to ErrCodeInternal/500 for errors that carry none.
//
// # API
//
// [AppError] is the error (Code, Message, Details, Cause); [New], [Newf] and
// [Wrap] make one; [Code] is the closed set of codes, each with its HTTP
// status; [CodeOf] and [HTTPStatusOf] read them from any error chain.
package apperrors
