package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Key is one setting of the configuration file and the command-line flag
// (with its AYAFLOW_* variable) that sets the same thing.
type Key struct {
	// Path is where the setting is in the file: capture.snap_len.
	Path string
	// Flag is the flag's name without dashes: snap-len. It is "" for a
	// secret, which has no flag.
	Flag string
	// Negated marks a boolean whose flag says the opposite: capture.dns
	// is --no-dns, kafka.no_create_topics is --kafka-create-topics.
	Negated bool
	// Off is what the flag takes for an empty value ("off" for
	// output.metrics_addr, where the flag's own "" means the command's
	// default). The file takes both "" and Off.
	Off string
	// Env is the environment variable a secret comes from (secrets only).
	Env string
}

// Keys lists every setting of the file, in the order of the reference
// configuration. The flags of ship and replay are exactly these Flags
// (and --config); tests hold both sides to it.
var Keys = []Key{
	{Path: "capture.interfaces", Flag: "interface"},
	{Path: "capture.attach", Flag: "attach"},
	{Path: "capture.snap_len", Flag: "snap-len"},
	{Path: "capture.ring_bytes", Flag: "ring-bytes"},
	{Path: "capture.poll_interval", Flag: "poll-interval"},
	{Path: "capture.dns_ports", Flag: "dns-port"},
	{Path: "capture.dns", Flag: "no-dns", Negated: true},
	{Path: "capture.tls", Flag: "no-tls", Negated: true},
	{Path: "capture.emit", Flag: "emit"},
	{Path: "capture.flow_idle", Flag: "flow-idle-timeout"},
	{Path: "capture.flow_active", Flag: "flow-active-timeout"},
	{Path: "capture.flow_entries", Flag: "flow-entries"},
	{Path: "capture.dedup", Flag: "dedup"},
	{Path: "capture.filter_cidrs", Flag: "filter-cidr"},
	{Path: "capture.filter_ports", Flag: "filter-port"},
	{Path: "capture.filter_protocols", Flag: "filter-proto"},
	{Path: "capture.sample_rate", Flag: "sample-rate"},

	{Path: "names.min_ttl", Flag: "dns-min-ttl"},
	{Path: "names.cache_size", Flag: "name-cache-size"},
	{Path: "names.redact_key_file", Flag: "redact-names"},

	{Path: "output.sinks", Flag: "sink"},
	{Path: "output.batch_bytes", Flag: "batch-bytes"},
	{Path: "output.batch_wait", Flag: "batch-wait"},
	{Path: "output.shutdown_timeout", Flag: "shutdown-timeout"},
	{Path: "output.data_dir", Flag: "data-dir"},
	{Path: "output.buffer_types", Flag: "buffer"},
	{Path: "output.buffer_max_size", Flag: "buffer-max-size"},
	{Path: "output.buffer_when_full", Flag: "buffer-when-full"},
	{Path: "output.buffer_sync", Flag: "buffer-sync"},
	{Path: "output.metrics_addr", Flag: "metrics-addr", Off: "off"},

	{Path: "log.level", Flag: "log-level"},
	{Path: "log.format", Flag: "log-format"},

	{Path: "kafka.brokers", Flag: "kafka-brokers"},
	{Path: "kafka.topic", Flag: "kafka-topic"},
	{Path: "kafka.no_create_topics", Flag: "kafka-create-topics", Negated: true},
	{Path: "kafka.partitions", Flag: "kafka-partitions"},
	{Path: "kafka.replication_factor", Flag: "kafka-replication-factor"},
	{Path: "kafka.compression", Flag: "kafka-compression"},
	{Path: "kafka.required_acks", Flag: "kafka-acks"},
	{Path: "kafka.batch_size", Flag: "kafka-batch-size"},
	{Path: "kafka.batch_bytes", Flag: "kafka-batch-bytes"},
	{Path: "kafka.batch_timeout", Flag: "kafka-batch-timeout"},
	{Path: "kafka.write_timeout", Flag: "kafka-write-timeout"},
	{Path: "kafka.request_timeout", Flag: "kafka-request-timeout"},
	{Path: "kafka.dial_timeout", Flag: "kafka-dial-timeout"},
	{Path: "kafka.max_attempts", Flag: "kafka-max-attempts"},
	{Path: "kafka.backoff_min", Flag: "kafka-backoff-min"},
	{Path: "kafka.backoff_max", Flag: "kafka-backoff-max"},
	{Path: "kafka.client_id", Flag: "kafka-client-id"},
	{Path: "kafka.tls.enable", Flag: "kafka-tls"},
	{Path: "kafka.tls.ca_file", Flag: "kafka-tls-ca"},
	{Path: "kafka.tls.cert_file", Flag: "kafka-tls-cert"},
	{Path: "kafka.tls.key_file", Flag: "kafka-tls-key"},
	{Path: "kafka.tls.insecure_skip_verify", Flag: "kafka-tls-insecure"},
	{Path: "kafka.tls.server_name", Flag: "kafka-tls-server-name"},
	{Path: "kafka.sasl.mechanism", Flag: "kafka-sasl-mechanism"},
	{Path: "kafka.sasl.username", Flag: "kafka-sasl-username"},
	{Path: "kafka.sasl.password_file", Flag: "kafka-sasl-password-file"},
	{Path: "kafka.sasl.password", Env: "AYAFLOW_KAFKA_SASL_PASSWORD"},

	{Path: "forward.url", Flag: "forward-url"},
	{Path: "forward.insecure", Flag: "forward-insecure"},
	{Path: "forward.tls_ca", Flag: "forward-tls-ca"},
	{Path: "forward.tls_cert", Flag: "forward-tls-cert"},
	{Path: "forward.tls_key", Flag: "forward-tls-key"},
	{Path: "forward.tls_server_name", Flag: "forward-tls-server-name"},
	{Path: "forward.timeout", Flag: "forward-timeout"},
	{Path: "forward.nats_url", Flag: "forward-nats-url"},
	{Path: "forward.nats_subject", Flag: "forward-nats-subject"},
	{Path: "forward.nats_creds", Flag: "forward-nats-creds"},
	{Path: "forward.nats_nkey", Flag: "forward-nats-nkey"},
	{Path: "forward.nats_token_file", Flag: "forward-nats-token-file"},
	{Path: "forward.nats_user", Flag: "forward-nats-user"},
	{Path: "forward.nats_password_file", Flag: "forward-nats-password-file"},

	{Path: "nats.url", Flag: "nats-url"},
	{Path: "nats.subject", Flag: "nats-subject"},
	{Path: "nats.jetstream", Flag: "nats-jetstream"},
	{Path: "nats.per_event", Flag: "nats-per-event"},
	{Path: "nats.name", Flag: "nats-name"},
	{Path: "nats.creds_file", Flag: "nats-creds"},
	{Path: "nats.nkey_file", Flag: "nats-nkey"},
	{Path: "nats.token_file", Flag: "nats-token-file"},
	{Path: "nats.token", Env: "AYAFLOW_NATS_TOKEN"},
	{Path: "nats.user", Flag: "nats-user"},
	{Path: "nats.password_file", Flag: "nats-password-file"},
	{Path: "nats.password", Env: "AYAFLOW_NATS_PASSWORD"},
	{Path: "nats.tls.ca_file", Flag: "nats-tls-ca"},
	{Path: "nats.tls.cert_file", Flag: "nats-tls-cert"},
	{Path: "nats.tls.key_file", Flag: "nats-tls-key"},
	{Path: "nats.tls.insecure_skip_verify", Flag: "nats-tls-insecure"},
	{Path: "nats.reconnect_wait", Flag: "nats-reconnect-wait"},
	{Path: "nats.max_reconnects", Flag: "nats-max-reconnects"},
	{Path: "nats.connect_timeout", Flag: "nats-connect-timeout"},
	{Path: "nats.ack_timeout", Flag: "nats-ack-timeout"},
	{Path: "nats.max_pending", Flag: "nats-max-pending"},

	{Path: "file.path", Flag: "file-path"},
	{Path: "file.rotate_bytes", Flag: "file-rotate-bytes"},
	{Path: "file.rotate_age", Flag: "file-rotate-age"},
	{Path: "file.max_files", Flag: "file-max-files"},
	{Path: "file.compression", Flag: "file-compression"},
	{Path: "file.fsync", Flag: "file-fsync"},
}

// LookupKey returns the Key of a setting's path.
func LookupKey(path string) (Key, bool) {
	for _, k := range Keys {
		if k.Path == path {
			return k, true
		}
	}
	return Key{}, false
}

// KeyOf returns the Key of the setting that a problem's path is in:
// capture.dns_ports[1] and output.buffer_types.kafka are in
// capture.dns_ports and output.buffer_types.
func KeyOf(path string) (Key, bool) {
	for _, k := range Keys {
		if path == k.Path || strings.HasPrefix(path, k.Path+"[") || strings.HasPrefix(path, k.Path+".") {
			return k, true
		}
	}
	return Key{}, false
}

// Values returns the setting's value in c as its flag takes it, one string
// per flag use: a list gives one per element, buffer_types one SINK=TYPE
// per sink, a size its bytes, a negated boolean its opposite. For a secret
// it returns the secret itself, for its variable Env.
func (k Key) Values(c *Config) []string {
	v, _, ok := field(reflect.ValueOf(c).Elem(), k.Path)
	if !ok {
		panic("config: key " + k.Path + " is not a field of Config")
	}
	switch v.Kind() {
	case reflect.Slice:
		out := make([]string, v.Len())
		for i := range out {
			out[i] = format(v.Index(i))
		}
		return out
	case reflect.Map:
		var out []string
		for _, key := range v.MapKeys() {
			out = append(out, key.String()+"="+format(v.MapIndex(key)))
		}
		slices.Sort(out)
		return out
	case reflect.Bool:
		return []string{strconv.FormatBool(v.Bool() != k.Negated)}
	}
	s := format(v)
	if s == "" && k.Off != "" {
		s = k.Off
	}
	return []string{s}
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
	secretType   = reflect.TypeFor[Secret]()
)

// format writes one value the way its flag parses it.
func format(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Type() == prefixType:
		return v.Interface().(netip.Prefix).String()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	}
	panic(fmt.Sprintf("config: no flag format for %s", v.Type()))
}

// field finds the setting at a dotted path in v (a Config or a section of
// it) by the fields' yaml names.
func field(v reflect.Value, path string) (reflect.Value, reflect.StructField, bool) {
	var sf reflect.StructField
	for name := range strings.SplitSeq(path, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, sf, false
		}
		f, ok := fieldByKey(v.Type(), name)
		if !ok {
			return reflect.Value{}, sf, false
		}
		sf, v = f, v.FieldByIndex(f.Index)
	}
	return v, sf, true
}

// fieldByKey returns the field of struct type t whose yaml name is key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if yamlName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// yamlName is the field's key in the file, or "" when it has none.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// isSection reports whether t is a struct of settings rather than one
// setting's value.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != prefixType
}
