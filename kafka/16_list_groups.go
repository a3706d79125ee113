package kafka

// ListGroups, key 16: versions 0–5.
//
//   - Lists the groups this broker coordinates (the coordinator shards it
//     leads), as Kafka lists a broker's own groups: clients ask every broker
//     and merge. Groups that only hold offsets (simple consumers) are
//     listed Empty with an empty protocol type.
//   - v4+ StatesFilter and v5+ TypesFilter match case-insensitively; v5
//     GroupType is "classic" or "consumer" (KIP-848, whose states are
//     Empty, Assigning, Reconciling and Stable).
//   - COORDINATOR_LOAD_IN_PROGRESS, with the groups of the loaded shards,
//     while a shard this broker leads is still loading.
//   - With ACLs (authz.go), DESCRIBE on the cluster lists every group;
//     otherwise only the groups the principal may DESCRIBE are listed.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

func handleListGroups(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	list, err := s.cfg.Groups.ListGroups(ctx, group.ListFilter{States: req.StatesFilter, Types: req.TypesFilter})
	resp.ErrorCode = s.groupErrCode("ListGroups", err)
	all := s.authorizedCluster(r, kmsg.ACLOperationDescribe)
	resp.Groups = make([]kmsg.ListGroupsResponseGroup, 0, len(list))
	for _, l := range list {
		if !all && !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, l.Group) {
			continue
		}
		g := kmsg.NewListGroupsResponseGroup()
		g.Group, g.ProtocolType, g.GroupState, g.GroupType = l.Group, l.ProtocolType, l.State, l.Type
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}
