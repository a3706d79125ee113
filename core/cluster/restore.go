package cluster

import (
	"context"
	"fmt"

	"github.com/chronik-go/chronik/raftsm"
)

// RestoreTopic re-creates a topic from a backup (core/backup): its
// original UUID and configs, with partitions placed on this cluster's
// brokers (the old placement, shard and replica IDs belong to the lost
// cluster). The replication factor is clamped to the number of brokers. A
// topic that already exists with the same UUID is returned as it is, so a
// restore can be re-run; one with another UUID is an error.
func (s *Service) RestoreTopic(ctx context.Context, name string, id [16]byte, configs map[string]string, partitions int32, rf int16) (Topic, error) {
	if t, ok := s.Topic(name); ok {
		if t.ID != id {
			return Topic{}, fmt.Errorf("%w: %q exists with another topic ID; this cluster is not the one being restored", ErrTopicExists, name)
		}
		return t, nil
	}
	if err := ValidateTopicName(name); err != nil {
		return Topic{}, err
	}
	if _, ok := s.TopicByID(id); ok {
		return Topic{}, fmt.Errorf("%w: topic ID of %q is used by another topic", ErrTopicExists, name)
	}
	if partitions <= 0 {
		return Topic{}, fmt.Errorf("%w: %d", ErrInvalidPartitions, partitions)
	}
	brokers := s.Brokers()
	rf = max(1, min(rf, int16(len(brokers))))
	if configs == nil {
		configs = map[string]string{}
	}
	cmd := &raftsm.CreateTopicCommand{Name: name, ID: id, Configs: configs, Nodes: place(brokers, partitions, rf)}
	res, err := s.propose(ctx, raftsm.EncodeCreateTopic(cmd))
	if err != nil {
		return Topic{}, err
	}
	switch st := raftsm.ResultStatus(res.Data); st {
	case raftsm.StatusOK, raftsm.StatusTopicExists: // a concurrent restore
	default:
		return Topic{}, fmt.Errorf("cluster: restore topic %q: %s", name, st)
	}
	t, ok := s.Topic(name)
	switch {
	case !ok:
		return Topic{}, fmt.Errorf("%w: %q was deleted while being restored", ErrUnknownTopic, name)
	case t.ID != id:
		return Topic{}, fmt.Errorf("%w: %q was created concurrently with another topic ID", ErrTopicExists, name)
	}
	return t, nil
}
