package bench

import (
	"github.com/snug-go/snug/tune"
)

// snugPolicies are snug's policies and the GOMAXPROCS each must choose, as
// package tune documents them.
var snugPolicies = []struct {
	policy     tune.Policy
	procs, alt func(float64, int) int
}{
	{tune.PolicyAdaptive, floorMin1, ceilMin2}, // floor or runtime, from the counters
	{tune.PolicyFloor, floorMin1, nil},
	{tune.PolicyCeil, ceilMin1, nil},
	{tune.PolicyRuntime, ceilMin2, nil},
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
		peers = append(peers, snugPeer("snug-"+string(p), p))
	}
	return peers
}

func snugDefaultPeer() []peer {
	return []peer{snugPeer("snug", tune.DefaultPolicy)}
}

func snugPeer(name string, p tune.Policy) peer {
	for _, sp := range snugPolicies {
		if sp.policy == p {
			return peer{name, sp.procs, sp.alt}
		}
	}
	return peer{name, func(float64, int) int { return -1 }, nil} // no run can match
}

// snugMemoryLimit is the GOMEMLIMIT tune documents for a cgroup memory
// limit of limit bytes with its default ratio and headroom.
func snugMemoryLimit(limit int64) int64 {
	return min(int64(tune.DefaultMemoryRatio*float64(limit)), limit-min(int64(tune.DefaultMemoryHeadroom), limit/2))
}
