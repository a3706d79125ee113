package kafka

// DeleteGroups, key 42: versions 0–2.
//
//   - Deletes each empty group with its committed offsets, through its
//     coordinator shard. A group with members gets NON_EMPTY_GROUP, an
//     unknown group GROUP_ID_NOT_FOUND, a group this broker does not
//     coordinate NOT_COORDINATOR.
//   - With ACLs (authz.go), a group needs DELETE:
//     GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleDeleteGroups(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	ctx, cancel := context.WithTimeout(ctx, defaultGroupTimeout)
	defer cancel()
	resp.Groups = make([]kmsg.DeleteGroupsResponseGroup, len(req.Groups))
	for i, id := range req.Groups {
		g := kmsg.NewDeleteGroupsResponseGroup()
		g.Group = id
		if s.authorized(r, kmsg.ACLOperationDelete, kmsg.ACLResourceTypeGroup, id) {
			g.ErrorCode = s.groupErrCode("DeleteGroups", s.cfg.Groups.DeleteGroup(ctx, id))
		} else {
			g.ErrorCode = kerr.GroupAuthorizationFailed.Code
		}
		resp.Groups[i] = g
	}
	return resp
}
