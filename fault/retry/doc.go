// Package retry is placeholder.
package retry
