package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// apiAttrs holds the metric attribute sets of one API key, created once so
// that recording a request allocates nothing.
type apiAttrs struct {
	add    []metric.AddOption    // api=<name>
	record []metric.RecordOption // api=<name>

	mu     sync.RWMutex
	byCode map[int16][]metric.AddOption // api=<name>, error=<kerr name or none>
}

// attrsByKey is indexed by API key; built by initMetricAttrs from the api table.
var attrsByKey []*apiAttrs

func initMetricAttrs() {
	attrsByKey = make([]*apiAttrs, len(apiByKey))
	for key, a := range apiByKey {
		if a == nil {
			continue
		}
		opt := metric.WithAttributeSet(attribute.NewSet(attribute.String("api", kmsg.NameForKey(int16(key)))))
		attrsByKey[key] = &apiAttrs{
			add:    []metric.AddOption{opt},
			record: []metric.RecordOption{opt},
			byCode: make(map[int16][]metric.AddOption),
		}
	}
}

func (a *apiAttrs) withCode(key, code int16) []metric.AddOption {
	a.mu.RLock()
	opts, ok := a.byCode[code]
	a.mu.RUnlock()
	if ok {
		return opts
	}
	name := "none"
	if code != 0 {
		name = kerr.TypedErrorForCode(code).Message
	}
	opts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
		attribute.String("api", kmsg.NameForKey(key)),
		attribute.String("error", name),
	))}
	a.mu.Lock()
	defer a.mu.Unlock()
	if prev, ok := a.byCode[code]; ok {
		return prev
	}
	a.byCode[code] = opts
	return opts
}

// observe records one request: its count by api and first error code, its
// latency from frame read to response queued, and its bytes.
func (s *Server) observe(r *request, code int16, bytesOut int) {
	a := attrsByKey[r.key]
	ctx := context.Background()
	s.metrics.Requests.Add(ctx, 1, a.withCode(r.key, code)...)
	s.metrics.RequestDuration.Record(ctx, time.Since(r.start).Seconds(), a.record...)
	s.metrics.BytesIn.Add(ctx, int64(r.size), a.add...)
	if bytesOut > 0 {
		s.metrics.BytesOut.Add(ctx, int64(bytesOut), a.add...)
	}
	if s.cfg.Tracer != nil {
		s.traceRequest(r, code, bytesOut)
	}
}

// firstErrorCode is the error reported in metrics for a response: its
// top-level error code if it has one, else the first non-zero code of its
// topics and partitions, else 0.
func firstErrorCode(resp kmsg.Response) int16 {
	switch resp := resp.(type) {
	case *kmsg.ProduceResponse:
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if c := resp.Topics[i].Partitions[j].ErrorCode; c != 0 {
					return c
				}
			}
		}
	case *kmsg.FetchResponse:
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if c := resp.Topics[i].Partitions[j].ErrorCode; c != 0 {
					return c
				}
			}
		}
	case *kmsg.ListOffsetsResponse:
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if c := resp.Topics[i].Partitions[j].ErrorCode; c != 0 {
					return c
				}
			}
		}
	case *kmsg.MetadataResponse:
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		for i := range resp.Topics {
			if c := resp.Topics[i].ErrorCode; c != 0 {
				return c
			}
			for j := range resp.Topics[i].Partitions {
				if c := resp.Topics[i].Partitions[j].ErrorCode; c != 0 {
					return c
				}
			}
		}
	case *kmsg.ApiVersionsResponse:
		return resp.ErrorCode
	case *kmsg.UpdateFeaturesResponse:
		return resp.ErrorCode
	case *kmsg.DescribeTopicPartitionsResponse:
		for i := range resp.Topics {
			if c := resp.Topics[i].ErrorCode; c != 0 {
				return c
			}
			for j := range resp.Topics[i].Partitions {
				if c := resp.Topics[i].Partitions[j].ErrorCode; c != 0 {
					return c
				}
			}
		}
	case *kmsg.CreateTopicsResponse:
		for i := range resp.Topics {
			if c := resp.Topics[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.DeleteTopicsResponse:
		for i := range resp.Topics {
			if c := resp.Topics[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.InitProducerIDResponse:
		return resp.ErrorCode
	case *kmsg.OffsetForLeaderEpochResponse:
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if c := resp.Topics[i].Partitions[j].ErrorCode; c != 0 {
					return c
				}
			}
		}
	case *kmsg.DescribeConfigsResponse:
		for i := range resp.Resources {
			if c := resp.Resources[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.DeleteRecordsResponse:
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if c := resp.Topics[i].Partitions[j].ErrorCode; c != 0 {
					return c
				}
			}
		}
	case *kmsg.AlterConfigsResponse:
		for i := range resp.Resources {
			if c := resp.Resources[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for i := range resp.Resources {
			if c := resp.Resources[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.CreatePartitionsResponse:
		for i := range resp.Topics {
			if c := resp.Topics[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.DescribeClusterResponse:
		return resp.ErrorCode
	case *kmsg.DescribeLogDirsResponse:
		return resp.ErrorCode
	case *kmsg.ElectLeadersResponse:
		return resp.ErrorCode
	case *kmsg.AlterPartitionAssignmentsResponse:
		return resp.ErrorCode
	case *kmsg.ListPartitionReassignmentsResponse:
		return resp.ErrorCode
	case *kmsg.DescribeProducersResponse:
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if c := resp.Topics[i].Partitions[j].ErrorCode; c != 0 {
					return c
				}
			}
		}
	case *kmsg.DescribeACLsResponse:
		return resp.ErrorCode
	case *kmsg.CreateACLsResponse:
		for i := range resp.Results {
			if c := resp.Results[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.DeleteACLsResponse:
		for i := range resp.Results {
			if c := resp.Results[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.DescribeClientQuotasResponse:
		return resp.ErrorCode
	case *kmsg.AlterClientQuotasResponse:
		for i := range resp.Entries {
			if c := resp.Entries[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.DescribeUserSCRAMCredentialsResponse:
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		for i := range resp.Results {
			if c := resp.Results[i].ErrorCode; c != 0 {
				return c
			}
		}
	case *kmsg.AlterUserSCRAMCredentialsResponse:
		for i := range resp.Results {
			if c := resp.Results[i].ErrorCode; c != 0 {
				return c
			}
		}
	default:
		if c, ok := txnsErrorCode(resp); ok {
			return c
		}
		return groupsErrorCode(resp)
	}
	return 0
}
