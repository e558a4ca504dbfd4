package dns

import (
	"net/netip"
	"strings"
)

// MaxCNAMEHops bounds the CNAME chain ResolvedIPs follows.
const MaxCNAMEHops = 16

// ResolvedIPs returns the addresses of the class IN A and AAAA records in
// the answer section that belong to the name the client asked for (the
// first question's name, Questions[0].Name): records owned by that name,
// or by a name it reaches through a chain of at most MaxCNAMEHops CNAME
// records of the answer section. Names compare case-insensitively; a
// chain that loops stops where it loops. The addresses are in answer
// order, duplicates kept; nil when there are none. It fills ECS
// dns.resolved_ip and a passive name cache (address -> Questions[0].Name).
func (m *Message) ResolvedIPs() []netip.Addr {
	if len(m.Questions) == 0 {
		return nil
	}
	var chainArr [MaxCNAMEHops + 1]string
	chain := append(chainArr[:0], m.Questions[0].Name)
	for len(chain) < cap(chain) {
		next := cnameTarget(m.Answers, chain[len(chain)-1])
		if next == "" || inChain(chain, next) {
			break
		}
		chain = append(chain, next)
	}
	var ips []netip.Addr
	for i := range m.Answers {
		rr := &m.Answers[i]
		if rr.IP.IsValid() && rr.Class == ClassIN && (rr.Type == TypeA || rr.Type == TypeAAAA) && inChain(chain, rr.Name) {
			ips = append(ips, rr.IP)
		}
	}
	return ips
}

// cnameTarget returns the target of the first CNAME record owned by name,
// or "" when there is none or its RDATA did not parse.
func cnameTarget(answers []RR, name string) string {
	for i := range answers {
		rr := &answers[i]
		if rr.Type == TypeCNAME && strings.EqualFold(rr.Name, name) && !strings.HasPrefix(rr.Data, `\# `) {
			return rr.Data
		}
	}
	return ""
}

func inChain(chain []string, name string) bool {
	for _, c := range chain {
		if strings.EqualFold(c, name) {
			return true
		}
	}
	return false
}
