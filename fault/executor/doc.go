// Package executor is part of fault. It is being built; see the module README.
package executor
