package metrics

// Defaults, all in one place (the LogRecorder's levels are in DefaultLevels).
const (
	// DefaultMaxPolicies is how many distinct policy names a Recorder keeps
	// apart before it folds new names into OverflowPolicy.
	DefaultMaxPolicies = 256
	// DefaultStripes is how many counter stripes a policy has (WithStripes).
	DefaultStripes = 1
	// DefaultQueueSize is the capacity of an Async's queue (WithQueueSize).
	DefaultQueueSize = 1024
)
