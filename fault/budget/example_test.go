package budget_test

import (
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault/budget"
)

// A budget with no traffic yet grants the floor: MinPerSecond × Window.
func Example() {
	b, err := budget.New(budget.Config{Ratio: 0.1, MinPerSecond: 0.5, Window: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	granted := 0
	for range 10 {
		b.Deposit() // a first attempt
		if b.TryWithdraw() {
			granted++
		}
	}
	fmt.Println("retries granted:", granted)
	// Output: retries granted: 5
}
