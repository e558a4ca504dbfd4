// Package config is ayaflow's single configuration model. A YAML file,
// AYAFLOW_* environment variables and command-line flags all fill the same
// Config. Every field's comment states its default, and Default returns a
// Config with all of them set.
//
// # Precedence
//
// Each setting takes the first of: its flag, when given on the command
// line; its AYAFLOW_* variable, when set; the file (--config FILE, or
// AYAFLOW_CONFIG); the default. A flag that is not given never overrides
// the file, even though it has a default of its own.
//
// # The file
//
// The file is one YAML mapping of sections: capture, names, output and log
// for ayaflow itself, and kafka, nats and file for the sinks of those
// names. Each key is its field's name in snake case (capture.snap_len,
// output.buffer_when_full; the kafka section's keys are those of
// kafka.Options), and Keys maps each to its flag: capture.snap_len is
// --snap-len and AYAFLOW_SNAP_LEN, kafka.required_acks is --kafka-acks.
// `ayaflow config example` prints every key with its default and what it
// does, and `ayaflow validate FILE` checks a file.
//
//   - Decoding is strict. An unknown key, a key given twice, or a value of
//     the wrong type is an error that names the key's path (kafka.brokers,
//     capture.dns_ports[1]) and its line.
//   - Durations take Go's units: 100ms, 15s, 5m, 1h30m. Sizes take bytes
//     or a binary unit: 4096, 64KiB, 256MiB, 1GiB (K, KB and KiB all mean
//     1024). Booleans are true or false. Lists are YAML lists, even of one
//     item: sinks: [kafka].
//   - null, ~, an empty value, [] and {} leave the default in place.
//   - ${VAR} in any value is replaced by the environment variable VAR; a
//     variable that is not set is an error that names it. $$ is a literal $.
//     Keys and comments are not expanded. In a flow list or mapping, quote
//     it: brokers: ["${BROKER}"], since { and } are YAML there.
//
// # Secrets
//
// The Kafka SASL password and the NATS token and password are never
// written in the file. Give them as files (kafka.sasl.password_file,
// nats.token_file, nats.password_file) or through the environment:
// AYAFLOW_KAFKA_SASL_PASSWORD, AYAFLOW_NATS_TOKEN, AYAFLOW_NATS_PASSWORD.
// The file may also refer to any variable, as exactly one reference and
// nothing else:
//
//	kafka:
//	  sasl:
//	    password: ${KAFKA_PASSWORD}
//
// A literal there is an error. A secret's variable, when set, wins over the
// file, like any other variable. Secrets have the type Secret, which prints
// and logs as [redacted], and no error quotes one.
package config
