package bpf

// The generated files are committed, so `go build` needs no clang. `make
// generate` rebuilds them and `make check-generate` fails on drift.
//
// -mcpu=v3 is required with clang 14: without it the verifier rejects the
// variable-length bpf_skb_load_bytes of a snippet ("R4 min value is negative").
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror -mcpu=v3 -I/usr/include/x86_64-linux-gnu" -target bpfel -go-package bpf -output-stem ayaflow -type pkt_record -type flow_key -type stat_counters -type rec_kind -type rec_flag -type stat_index -type direction -type flow_state -type cidr_key Ayaflow ayaflow.c
