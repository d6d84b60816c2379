package bench

import (
	"github.com/snug-go/snug/tune"
)

// snugPolicies are snug's policies and the GOMAXPROCS each must choose, as
// package tune documents them.
var snugPolicies = []struct {
	policy tune.Policy
	procs  func(float64, int) int
}{
	{tune.PolicyFloor, floorMin1},
	{tune.PolicyCeil, ceilMin1},
	{tune.PolicyRuntime, ceilMin2},
}

// snugPeers are snug's default ("snug", whatever tune.DefaultPolicy is) and
// each other policy as "snug-<policy>". A default policy the suite does not
// know the rounding of gets an expectation no run can meet and fails its
// cases, so that a new policy cannot become the default unmeasured.
func snugPeers() []peer {
	peers := snugDefaultPeer()
	for _, sp := range snugPolicies {
		p := sp.policy
		if p == tune.DefaultPolicy {
			continue
		}
		peers = append(peers, peer{"snug-" + string(p), procsFor(p)})
	}
	return peers
}

func snugDefaultPeer() []peer {
	return []peer{{"snug", procsFor(tune.DefaultPolicy)}}
}

func procsFor(p tune.Policy) func(float64, int) int {
	for _, sp := range snugPolicies {
		if sp.policy == p {
			return sp.procs
		}
	}
	return func(float64, int) int { return -1 } // no run can match
}

// snugMemoryLimit is the GOMEMLIMIT tune documents for a cgroup memory
// limit of limit bytes with its default ratio and headroom.
func snugMemoryLimit(limit int64) int64 {
	return min(int64(tune.DefaultMemoryRatio*float64(limit)), limit-min(int64(tune.DefaultMemoryHeadroom), limit/2))
}
