package forward

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The forwarder's metrics, read from Stats at scrape time:
//
//	ayaflow_forward_batches_total{transport,result}  counter  batches received: accepted, duplicate,
//	                                                           unavailable (503), rejected (4xx), failed (5xx)
//	ayaflow_forward_events_total{transport}          counter  events acknowledged (duplicates not counted)
//	ayaflow_forward_received_bytes_total{transport}  counter  request bytes as sent (compressed)
//	ayaflow_forward_requests_in_flight               gauge    requests being handled
//	ayaflow_forward_dedup_batches                    gauge    batches in the idempotency window
//
// transport is http or nats. The sinks' own metrics (ayaflow_sink_*,
// ayaflow_buffer_*) come from package metrics, as for ship.
var (
	descBatches  = prometheus.NewDesc("ayaflow_forward_batches_total", "Batches received from agents, by transport and result.", []string{"transport", "result"}, nil)
	descEvents   = prometheus.NewDesc("ayaflow_forward_events_total", "Events acknowledged to agents (duplicates not counted).", []string{"transport"}, nil)
	descBytes    = prometheus.NewDesc("ayaflow_forward_received_bytes_total", "Request bytes received from agents, as sent (compressed).", []string{"transport"}, nil)
	descInFlight = prometheus.NewDesc("ayaflow_forward_requests_in_flight", "Requests from agents being handled.", nil, nil)
	descDedup    = prometheus.NewDesc("ayaflow_forward_dedup_batches", "Batches remembered in the idempotency window.", nil, nil)
)

// Register adds the server's metrics to reg.
func (s *Server) Register(reg prometheus.Registerer) error {
	return reg.Register(collector{s})
}

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBatches, descEvents, descBytes, descInFlight, descDedup} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for t, byResult := range st.Batches {
		for r, n := range byResult {
			ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(n), t, r)
		}
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(st.Events[t]), t)
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(st.Bytes[t]), t)
	}
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(st.InFlight))
	ch <- prometheus.MustNewConstMetric(descDedup, prometheus.GaugeValue, float64(st.Remembered))
}
