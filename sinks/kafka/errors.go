package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ayaflow/ayaflow/sinks"
)

// Error is what Write returns when Kafka did not take the whole batch. It
// wraps sinks.ErrPermanent when retrying cannot help, and the cause, so
// errors.Is(err, kafkago.MessageSizeTooLarge) and the like work.
type Error struct {
	Topic     string
	Failed    int   // messages of this attempt Kafka did not acknowledge
	Sent      int   // messages this attempt tried to write
	Permanent bool  // retrying the batch cannot succeed
	Err       error // the first failure's cause
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kafka: write to topic %s", e.Topic)
	if e.Failed > 0 {
		fmt.Fprintf(&b, ": %d of %d messages failed", e.Failed, e.Sent)
	}
	if e.Permanent {
		b.WriteString(" (permanent)")
	}
	if hint := hintFor(e.Err); hint != "" {
		fmt.Fprintf(&b, ": %v; %s", e.Err, hint)
	} else {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() []error {
	if e.Permanent {
		return []error{sinks.ErrPermanent, e.Err}
	}
	return []error{e.Err}
}

// permanentCodes are the Kafka errors that the same batch, sent again to
// the same cluster with the same settings, would get again.
var permanentCodes = map[kafkago.Error]bool{
	kafkago.InvalidMessageSize:                 true,
	kafkago.MessageSizeTooLarge:                true,
	kafkago.InvalidTopic:                       true,
	kafkago.RecordListTooLarge:                 true,
	kafkago.InvalidRequiredAcks:                true,
	kafkago.TopicAuthorizationFailed:           true,
	kafkago.ClusterAuthorizationFailed:         true,
	kafkago.UnsupportedSASLMechanism:           true,
	kafkago.IllegalSASLState:                   true,
	kafkago.UnsupportedVersion:                 true,
	kafkago.InvalidPartitionNumber:             true,
	kafkago.InvalidReplicationFactor:           true,
	kafkago.InvalidReplicaAssignment:           true,
	kafkago.InvalidConfiguration:               true,
	kafkago.PolicyViolation:                    true,
	kafkago.SecurityDisabled:                   true,
	kafkago.BrokerAuthorizationFailed:          true,
	kafkago.SASLAuthenticationFailed:           true,
	kafkago.UnsupportedCompressionType:         true,
	kafkago.InvalidRecord:                      true,
	kafkago.InvalidTimestamp:                   true,
	kafkago.UnsupportedForMessageFormat:        true,
	kafkago.TransactionalIDAuthorizationFailed: true,
	kafkago.DelegationTokenAuthorizationFailed: true,
	kafkago.PrincipalDeserializationFailure:    true,
}

// isPermanent reports whether err can never succeed on retry. Everything
// not known to be permanent is retryable: a batch that stays in the buffer
// can still be delivered once an operator fixes the cluster, while a batch
// given up on is lost.
func isPermanent(err error) bool {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		return permanentCodes[kerr]
	}
	var tooLarge kafkago.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return true
	}
	// A broker whose certificate we do not trust, or that rejects ours, is a
	// failed authentication like a wrong password.
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		alert            tls.AlertError
	)
	switch {
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return true
	case errors.As(err, &alert):
		return certAlerts[alert]
	}
	// crypto/tls reports alerts from the peer as a *net.OpError "remote
	// error" around an unexported type: match its text.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		for a := range certAlerts {
			if op.Err.Error() == a.Error() {
				return true
			}
		}
	}
	return false
}

// certAlerts are the TLS alerts by which a broker refuses our certificate:
// bad, unsupported, revoked, expired or unknown certificate, unknown CA,
// access denied, certificate required.
var certAlerts = map[tls.AlertError]bool{42: true, 43: true, 44: true, 45: true, 46: true, 48: true, 49: true, 116: true}

// hintFor suggests a fix for the errors an operator can fix.
func hintFor(err error) string {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		switch kerr {
		case kafkago.MessageSizeTooLarge, kafkago.RecordListTooLarge:
			return "lower --kafka-batch-bytes to at most the broker's message.max.bytes (or the topic's max.message.bytes)"
		case kafkago.SASLAuthenticationFailed:
			return "check --kafka-sasl-mechanism, --kafka-sasl-username and the password"
		case kafkago.UnsupportedSASLMechanism:
			return "the broker does not offer this --kafka-sasl-mechanism"
		case kafkago.TopicAuthorizationFailed, kafkago.ClusterAuthorizationFailed:
			return "grant the principal WRITE (and CREATE, for --kafka-create-topics) on the topic"
		case kafkago.UnknownTopicOrPartition:
			return "create the topic, or leave --kafka-create-topics on"
		case kafkago.UnsupportedCompressionType:
			return "the broker is older than this --kafka-compression (zstd needs Kafka 2.1)"
		case kafkago.InvalidTopic:
			return "fix --kafka-topic"
		}
	}
	var tooLarge kafkago.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return "raise --kafka-batch-bytes (and the broker's message.max.bytes)"
	}
	if isPermanent(err) {
		return "check the TLS settings (--kafka-tls-ca, --kafka-tls-cert, --kafka-tls-key, --kafka-tls-server-name)"
	}
	return ""
}

// errorKey names an error for rate-limited logging: identical causes share
// a key, whatever the partition or attempt they came from.
func errorKey(err error) string {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		return kerr.Title()
	}
	s := err.Error()
	// Drop addresses and ports, which differ between connections.
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
