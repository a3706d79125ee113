//go:build e2e && !cgo

package compat

import (
	"context"
	"errors"
)

// Without cgo confluent-kafka-go does not build: its row fails in CI and
// skips elsewhere (see need), instead of breaking the whole package.
type confluentDriver struct{}

func newConfluent(clientConf) driver { return confluentDriver{} }

func (confluentDriver) available() error {
	return errors.New("confluent-kafka-go needs cgo (CGO_ENABLED=1 and a C compiler)")
}

func (confluentDriver) version(context.Context) (string, error) { return "", errUnsupported }

func (confluentDriver) createTopic(context.Context, string, int32) error { return errUnsupported }

func (confluentDriver) produce(context.Context, string, int, int, string) error {
	return errUnsupported
}

func (confluentDriver) produceKeyed(context.Context, string, []keyed, string) error {
	return errUnsupported
}

func (confluentDriver) readAll(context.Context, string, map[int32]int64) ([]rec, error) {
	return nil, errUnsupported
}

func (confluentDriver) consume(context.Context, string, string, int) ([]rec, error) {
	return nil, errUnsupported
}

func (confluentDriver) transact(context.Context, string, string, string, []txnRound) (bool, error) {
	return false, errUnsupported
}

func (confluentDriver) readCommitted(context.Context, string, map[int32]int64, int) ([]rec, error) {
	return nil, errUnsupported
}
