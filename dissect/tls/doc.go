// Package tls parses TLS ClientHello messages seen passively on the wire and
// computes their JA3 and JA4 fingerprints. It does no cryptography and
// imports crypto/tls only for cipher suite names; callers that need both
// import this package under another name, e.g. tlshello.
//
// # Input
//
// [ParseClientHello] takes the bytes of a TCP stream starting at the first
// byte of the TLS record that carries the ClientHello (0x16 0x03 ...), not
// the bare handshake message. That is what [Reassembler] returns. The
// message usually sits in one record:
//
//	record:    type 0x16 | version 0x03xx | length (2)            -- 5 bytes
//	handshake: type 0x01 | length (3) | ClientHello body          -- length <= record length - 4
//
// A handshake message may also be fragmented across several consecutive
// handshake records (RFC 8446 section 5.1). Both ParseClientHello and the
// Reassembler support that: they walk the records, join the fragments, and
// stop at the record in which the message ends. Every record must be a
// handshake record (0x16) of at most 2^14 bytes and not empty. Bytes after
// that record (the next TLS record, early data) are ignored. SSLv2-format
// hellos (first byte 0x80) are rejected as not a ClientHello.
//
// # Errors and bounds
//
// Errors are one line and wrap one of [ErrTruncated] (the input ends before
// the record or an outer length says it should: more bytes may help),
// [ErrMalformed] (an inner length disagrees with its container, or a list
// has an odd length) or [ErrNotClientHello]; they give positions as "byte
// N" of the input or "message byte N" of the (joined) handshake message.
// Parsing never panics, reads
// only within the input, does linear work in the input's length and
// allocates in proportion to the number of list entries it decodes.
//
// Lists are kept as sent, GREASE values (RFC 8701) included, and extensions
// in wire order; only the fingerprints drop GREASE. Of a repeated extension
// (forbidden by RFC 8446 4.2, so a handshake with one fails) the first is
// decoded and both are listed in Extensions.
//
// # Fingerprints
//
// JA3 follows https://github.com/salesforce/ja3: the decimal legacy
// version, ciphers, extension types, supported groups and EC point formats,
// GREASE removed, joined with "," and "-", and the MD5 of that string.
//
// JA4 follows the FoxIO specification
// (https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md) for
// TLS over TCP ("t"): version (highest non-GREASE supported_versions entry,
// else the ClientHello legacy version; the record version is ignored), "d"
// when the server_name extension is present else "i", two-digit counts of
// non-GREASE ciphers and extensions (capped at 99), and the first and last
// characters of the first ALPN protocol ("00" without one; one character
// counts as both; if either is not ASCII alphanumeric, the first and last
// characters of the value's hex encoding instead). Then the first 12 hex
// digits of SHA-256 over the sorted cipher list, and over the sorted
// extension list without server_name (0) and ALPN (16), followed by "_" and
// the signature algorithms in wire order (no "_" when there are none);
// "000000000000" stands for an empty list. GREASE is ignored everywhere,
// signature algorithms included. JA4R is the same with the lists in clear
// (JA4_r).
package tls
