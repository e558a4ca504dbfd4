package dns_test

import (
	"fmt"

	"github.com/ayaflow/ayaflow/dissect/dns"
)

func ExampleParse() {
	// A response for cdn.ayaflow.test AAAA: a CNAME to www.ayaflow.test,
	// whose name is compressed, and its address.
	msg := []byte{
		0x7c, 0x5f, 0x85, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
		3, 'c', 'd', 'n', 7, 'a', 'y', 'a', 'f', 'l', 'o', 'w', 4, 't', 'e', 's', 't', 0, 0, 28, 0, 1,
		0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, 'w', 'w', 'w', 0xc0, 16,
		0xc0, 46, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0xfd, 0, 0x0a, 0x7f, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	}
	m, err := dns.Parse(msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(dns.OpcodeString(m.Opcode), dns.RcodeString(m.Rcode), m.Flags.Strings())
	for _, q := range m.Questions {
		fmt.Println(q.Name, dns.TypeString(q.Type), dns.ClassString(q.Class))
	}
	for _, rr := range m.Answers {
		fmt.Println(rr.Name, rr.TTL, dns.ClassString(rr.Class), dns.TypeString(rr.Type), rr.Data)
	}
	fmt.Println(m.ResolvedIPs())
	// Output:
	// QUERY NOERROR [AA RD RA]
	// cdn.ayaflow.test AAAA IN
	// cdn.ayaflow.test 60 IN CNAME www.ayaflow.test
	// www.ayaflow.test 60 IN AAAA fd00:a7f:7::2
	// [fd00:a7f:7::2]
}

func ExampleStream() {
	query := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1}
	wire := append([]byte{0, byte(len(query))}, query...) // the 2-byte length prefix
	var s dns.Stream
	s.SYN(1000)
	emit := func(msg []byte) {
		m, err := dns.Parse(msg) // msg is only valid during the call
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("message %#04x for %s\n", m.ID, m.Questions[0].Name)
	}
	s.Feed(1001, wire[:1], emit) // half of the length prefix
	s.Feed(1002, wire[1:10], emit)
	s.Feed(1002, wire[1:10], emit) // a retransmission
	s.Feed(1011, wire[10:], emit)
	fmt.Printf("%+v\n", s.Stats())
	// Output:
	// message 0x1234 for a
	// {Messages:1 Resets:0 Overflows:0 Duplicates:1 Skipped:0}
}
