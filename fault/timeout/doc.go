// Package timeout is part of fault. It is being built; see the module README.
package timeout
