// Package otel is part of fault. It is being built; see the module README.
package otel
