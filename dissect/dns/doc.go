// Package dns parses DNS messages captured from the wire, for a passive
// observer: UDP payloads, and TCP streams through [Stream].
//
// # Messages
//
// [Parse] (or [Message.Unpack], which reuses a Message's slices) decodes
// one message (RFC 1035) into plain Go values: names in presentation form
// and every record's RDATA as one presentation string, ready for the ECS
// dns.* fields.
//
// Framing is strict: the header counts, every name, every fixed field and
// every RDLENGTH must fit inside the message, or Parse fails and returns no
// message. The error is one line, wraps [ErrTruncated] or [ErrBadName], and
// names the section, the record index and the offset. Bytes after the last
// record are ignored. A message whose names and RDATA would render to more
// than [MaxRendered] bytes fails with [ErrTooLarge], which bounds the work
// and memory of one Parse whatever compression pointers a sender crafts.
//
// RDATA is interpreted leniently: a record whose RDATA does not have its
// type's format (an A record of 5 bytes, a CNAME whose name runs past
// RDLENGTH or loops, SVCB parameters out of order, trailing bytes) keeps
// its place in the message, with Data in the RFC 3597 generic form
// `\# 5 0102030405` and no IP. So one bad record never hides the question
// and the other records.
//
// # Names
//
// Names are decompressed (RFC 1035 section 4.1.4) with bounds: a pointer
// must point inside the message (forward pointers are accepted, as glibc
// does), at most 126 pointers are followed per name (this catches loops),
// and the name must fit in 255 octets on the wire, so at most 127 labels.
// Labels of type 0x40 and 0x80 are rejected.
//
// The presentation form keeps the case as sent and has no trailing dot;
// the root is ".". Bytes outside printable ASCII (0x21-0x7e) are written
// as \DDD (decimal), and a dot or a backslash inside a label as "\." and
// "\\", so every name is ASCII, unambiguous, and safe in JSON.
//
// # RDATA presentation
//
//	A, AAAA         198.18.7.2, fd00:a7f:7::2 (also in RR.IP)
//	CNAME NS PTR    the target name (also DNAME)
//	MX              10 mail.example.com
//	SOA             mname rname serial refresh retry expire minimum
//	TXT, SPF        "first string" "second \"quoted\" string" (like dig)
//	SRV             priority weight port target
//	SVCB, HTTPS     1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1 ...
//	anything else   \# 4 0A000001 (RFC 3597)
//
// SVCB and HTTPS parameters render as RFC 9460 key=value pairs: mandatory,
// alpn, no-default-alpn, port, ipv4hint, ech (base64), ipv6hint, dohpath,
// ohttp; other keys as keyNNNNN=value. Values need no quotes: bytes
// outside 0x21-0x7e are written \DDD, '"' and '\' get a backslash, and so
// does a comma inside one alpn protocol id.
//
// # EDNS
//
// The first OPT record of the additional section whose options parse
// becomes [Message.EDNS] and is not listed in Message.Additional. Its
// extended RCODE bits are merged into Message.Rcode and its DO bit into
// Message.Flags. Any other OPT record (a second one, one outside the
// additional section, one whose options overrun its RDATA) stays an
// ordinary record in its section, in the generic form.
//
// # TCP
//
// DNS over TCP (RFC 7766) prefixes each message with its length in two
// bytes. [Stream] reassembles one direction of a connection into messages;
// see its documentation for how it handles loss, retransmission and
// resynchronisation.
package dns
