package kafka

import (
	"context"
	"errors"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

// Groups is the consumer-group coordinator the group APIs call (FindCoordinator,
// JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
// ListGroups, DescribeGroups, DeleteGroups, OffsetDelete, TxnOffsetCommit).
// core/group implements it; errors are group.Err* values, possibly wrapped. A nil
// Config.Groups answers all of them with COORDINATOR_NOT_AVAILABLE.
type Groups interface {
	// Coordinator returns the broker that coordinates the group.
	Coordinator(groupID string) (node int32, err error)
	// JoinGroup blocks until the group's join phase ends or ctx ends.
	JoinGroup(ctx context.Context, req group.JoinRequest) (group.JoinResult, error)
	// SyncGroup blocks until the leader's assignment is stored or ctx ends.
	SyncGroup(ctx context.Context, req group.SyncRequest) (group.SyncResult, error)
	Heartbeat(ctx context.Context, req group.HeartbeatRequest) error
	// LeaveGroup returns one error per member, or a group-level error.
	LeaveGroup(ctx context.Context, groupID string, members []group.LeaveMember) ([]error, error)
	// CommitOffsets returns one error per offset (nil when committed).
	CommitOffsets(ctx context.Context, req group.CommitRequest) []error
	// TxnCommitOffsets stores a transaction's offsets pending until its
	// markers (TxnOffsetCommit); one error per offset.
	TxnCommitOffsets(ctx context.Context, req group.TxnCommitRequest) []error
	// FetchOffsets returns the committed offsets of tps (-1 when none), or
	// all of the group's when tps is nil.
	FetchOffsets(ctx context.Context, groupID string, tps []group.TopicPartition) ([]group.FetchedOffset, error)
	// ListGroups lists the groups this broker coordinates; with
	// group.ErrLoadInProgress it still returns what it could list.
	ListGroups(ctx context.Context, f group.ListFilter) ([]group.Listing, error)
	// DescribeGroup fails with group.ErrGroupNotFound for unknown groups.
	DescribeGroup(ctx context.Context, groupID string) (group.Description, error)
	DeleteGroup(ctx context.Context, groupID string) error
	// DeleteOffsets returns one error per partition, or a group-level error.
	DeleteOffsets(ctx context.Context, groupID string, tps []group.TopicPartition) ([]error, error)

	// ConsumerProtocol reports whether KIP-848 consumer groups are served
	// (ConsumerGroupHeartbeat, ConsumerGroupDescribe): the config allows
	// them and every broker can store them.
	ConsumerProtocol() bool
	// ConsumerHeartbeat is a ConsumerGroupHeartbeat; it returns once any
	// change it made to the group is stored.
	ConsumerHeartbeat(ctx context.Context, req group.ConsumerHeartbeat) (group.ConsumerHeartbeatResult, error)
	// DescribeConsumerGroup fails with group.ErrGroupNotFound for unknown
	// and classic groups.
	DescribeConsumerGroup(ctx context.Context, groupID string) (group.ConsumerGroupDescription, error)
	// CheckFetchMember validates the member an OffsetFetch v9+ names.
	CheckFetchMember(ctx context.Context, groupID, memberID string, epoch int32) error
}

// noGroups stands in for a nil Config.Groups.
type noGroups struct{}

var errNoGroups = group.ErrCoordinatorNotAvailable

func (noGroups) Coordinator(string) (int32, error) { return -1, errNoGroups }
func (noGroups) JoinGroup(context.Context, group.JoinRequest) (group.JoinResult, error) {
	return group.JoinResult{}, errNoGroups
}

func (noGroups) SyncGroup(context.Context, group.SyncRequest) (group.SyncResult, error) {
	return group.SyncResult{}, errNoGroups
}
func (noGroups) Heartbeat(context.Context, group.HeartbeatRequest) error { return errNoGroups }
func (noGroups) LeaveGroup(context.Context, string, []group.LeaveMember) ([]error, error) {
	return nil, errNoGroups
}

func (noGroups) CommitOffsets(_ context.Context, req group.CommitRequest) []error {
	errs := make([]error, len(req.Offsets))
	for i := range errs {
		errs[i] = errNoGroups
	}
	return errs
}

func (noGroups) TxnCommitOffsets(_ context.Context, req group.TxnCommitRequest) []error {
	errs := make([]error, len(req.Offsets))
	for i := range errs {
		errs[i] = errNoGroups
	}
	return errs
}

func (noGroups) FetchOffsets(context.Context, string, []group.TopicPartition) ([]group.FetchedOffset, error) {
	return nil, errNoGroups
}

func (noGroups) ListGroups(context.Context, group.ListFilter) ([]group.Listing, error) {
	return nil, errNoGroups
}

func (noGroups) DescribeGroup(context.Context, string) (group.Description, error) {
	return group.Description{}, errNoGroups
}
func (noGroups) DeleteGroup(context.Context, string) error { return errNoGroups }
func (noGroups) DeleteOffsets(context.Context, string, []group.TopicPartition) ([]error, error) {
	return nil, errNoGroups
}

// groupContext derives the context of a group handler: it also ends when
// the server begins to close, so a JoinGroup or SyncGroup waiting for
// other members never holds up shutdown.
func (s *Server) groupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// groupErrCode maps a coordinator error. A call cut short because the
// server is closing answers NOT_COORDINATOR, so the client looks the
// coordinator up again instead of waiting for this broker.
func (s *Server) groupErrCode(api string, err error) int16 {
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) {
		select {
		case <-s.stopping:
			return kerr.NotCoordinator.Code
		default:
		}
	}
	return s.errCode(api, err)
}

// remoteAddrKey carries a connection's remote address in its context.
type remoteAddrKey struct{}

// clientHost is the ClientHost that DescribeGroups reports, formatted as
// Kafka does ("/127.0.0.1").
func clientHost(ctx context.Context) string {
	addr, _ := ctx.Value(remoteAddrKey{}).(net.Addr)
	if addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "/" + addr.String()
	}
	return "/" + host
}

// clientID is the request header's client ID ("" when null).
func clientID(r *request) string {
	if r.clientID == nil {
		return ""
	}
	return *r.clientID
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// groupsErrorCode is firstErrorCode for the group APIs' responses.
func groupsErrorCode(resp kmsg.Response) int16 {
	switch resp := resp.(type) {
	case *kmsg.FindCoordinatorResponse:
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		for _, c := range resp.Coordinators {
			if c.ErrorCode != 0 {
				return c.ErrorCode
			}
		}
	case *kmsg.JoinGroupResponse:
		return resp.ErrorCode
	case *kmsg.SyncGroupResponse:
		return resp.ErrorCode
	case *kmsg.HeartbeatResponse:
		return resp.ErrorCode
	case *kmsg.LeaveGroupResponse:
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		for _, m := range resp.Members {
			if m.ErrorCode != 0 {
				return m.ErrorCode
			}
		}
	case *kmsg.OffsetCommitResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return p.ErrorCode
				}
			}
		}
	case *kmsg.OffsetFetchResponse:
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		for _, g := range resp.Groups {
			if g.ErrorCode != 0 {
				return g.ErrorCode
			}
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return p.ErrorCode
				}
			}
		}
	case *kmsg.DescribeGroupsResponse:
		for _, g := range resp.Groups {
			if g.ErrorCode != 0 {
				return g.ErrorCode
			}
		}
	case *kmsg.ListGroupsResponse:
		return resp.ErrorCode
	case *kmsg.ConsumerGroupHeartbeatResponse:
		return resp.ErrorCode
	case *kmsg.ConsumerGroupDescribeResponse:
		for _, g := range resp.Groups {
			if g.ErrorCode != 0 {
				return g.ErrorCode
			}
		}
	case *kmsg.DeleteGroupsResponse:
		for _, g := range resp.Groups {
			if g.ErrorCode != 0 {
				return g.ErrorCode
			}
		}
	case *kmsg.OffsetDeleteResponse:
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return p.ErrorCode
				}
			}
		}
	}
	return 0
}

func (noGroups) ConsumerProtocol() bool { return false }
func (noGroups) ConsumerHeartbeat(context.Context, group.ConsumerHeartbeat) (group.ConsumerHeartbeatResult, error) {
	return group.ConsumerHeartbeatResult{}, errNoGroups
}

func (noGroups) DescribeConsumerGroup(context.Context, string) (group.ConsumerGroupDescription, error) {
	return group.ConsumerGroupDescription{}, errNoGroups
}

func (noGroups) CheckFetchMember(context.Context, string, string, int32) error { return errNoGroups }

var _ Groups = noGroups{}
