// Package timeout is placeholder.
package timeout
