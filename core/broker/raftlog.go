package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/lni/dragonboat/v4/logger"
	"github.com/lni/dragonboat/v4/raftio"
	"github.com/lni/vfs"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
)

// Dragonboat's logger factory is process-global and may be set only once,
// so every broker in the process (tests run several) logs Dragonboat
// messages through whichever slog.Logger started last.
var (
	raftLogOnce sync.Once
	raftLog     atomic.Pointer[slog.Logger]
)

func installRaftLogger(l *slog.Logger) {
	raftLog.Store(l)
	raftLogOnce.Do(func() {
		logger.SetLoggerFactory(func(pkg string) logger.ILogger {
			return &raftLogger{pkg: pkg}
		})
	})
}

// raftLogger adapts Dragonboat's logger to slog. Dragonboat's info lines
// go to debug, and the raft package's warnings (every election) to info.
type raftLogger struct {
	pkg string
}

func (l *raftLogger) SetLevel(logger.LogLevel) {}

func (l *raftLogger) log(level slog.Level, format string, args ...any) {
	if lg := raftLog.Load(); lg != nil && lg.Enabled(context.Background(), level) {
		lg.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "dragonboat/"+l.pkg)
	}
}

func (l *raftLogger) Debugf(format string, args ...any) { l.log(slog.LevelDebug, format, args...) }
func (l *raftLogger) Infof(format string, args ...any)  { l.log(slog.LevelDebug, format, args...) }
func (l *raftLogger) Warningf(format string, args ...any) {
	if l.pkg == "raft" {
		l.log(slog.LevelInfo, format, args...)
		return
	}
	l.log(slog.LevelWarn, format, args...)
}
func (l *raftLogger) Errorf(format string, args ...any) { l.log(slog.LevelError, format, args...) }
func (l *raftLogger) Panicf(format string, args ...any) {
	l.log(slog.LevelError, format, args...)
	panic(fmt.Sprintf(format, args...))
}

// raftEvents passes Dragonboat's leader changes to the leader reporter and
// to the partition service, which is created after the NodeHost.
type raftEvents struct {
	reporter *cluster.LeaderReporter
	parts    atomic.Pointer[partition.Service]
}

func (e *raftEvents) LeaderUpdated(info raftio.LeaderInfo) {
	e.reporter.LeaderUpdated(info)
	if p := e.parts.Load(); p != nil {
		p.LeaderUpdated(info)
	}
}

// tanWriteBuffer sizes tan's per-exec-shard staging buffers (16 of them
// whatever raft.exec-shards is): 16 × 16 MiB with Pebble's setting.
const tanWriteBuffer = 8 << 20

// tanFS is the file system Dragonboat gets with the tan log store. Tan
// fallocates 64 MiB for every replica's log file when it creates it
// (internal/tan createNewLog → prealloc, for *os.File only, with no option
// to change the size): 64 GiB of disk reserved by 1,000 idle partition
// replicas. Files created here are not *os.File, so tan skips that and its
// logs take the space they hold; appends allocate blocks as they go, and
// the fsync after each write covers them as before.
type tanFS struct{ vfs.FS }

func (fs tanFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return unallocatedFile{f}, nil
}

// unallocatedFile hides the *os.File under it from tan's prealloc.
type unallocatedFile struct{ vfs.File }
