package apperrors_test

import (
	"errors"
	"fmt"

	"github.com/authcorp/libs/go/src/apperrors"
)

func Example() {
	err := fmt.Errorf("loading profile: %w",
		apperrors.Wrap(errors.New("connection refused"), apperrors.ErrCodeUnavailable, "profile store unreachable"))

	if errors.Is(err, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}) {
		fmt.Println("status:", apperrors.HTTPStatusOf(err))
	}
	fmt.Println(err)
	// Output:
	// status: 503
	// loading profile: UNAVAILABLE: profile store unreachable: connection refused
}
