package emulatortest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// AzuriteDevAccount is Azurite's well-known development account.
const AzuriteDevAccount = "devstoreaccount1"

// StartAzurite runs Azurite's blob service in memory on a free port and
// returns host:port. The binary is looked up as Find does, plus in
// plugins/testdata/azurite/node_modules/.bin (where install-emulators.sh
// puts it).
func StartAzurite(t testing.TB) string {
	t.Helper()
	bin := Find("azurite-blob", filepath.Join(pluginsDir(), "testdata", "azurite", "node_modules", ".bin"))
	if bin == "" {
		Missing(t, "azurite-blob is not installed: run plugins/testdata/install-emulators.sh "+
			"(npm ci in plugins/testdata/azurite)")
	}
	r := Start(t, Process{
		Name: "azurite-blob",
		Path: bin,
		Args: func(port int) []string {
			return []string{
				"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
				"--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent",
			}
		},
		Ready: func(ctx context.Context, port int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				fmt.Sprintf("http://127.0.0.1:%d/%s?comp=list", port, AzuriteDevAccount), nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			return resp.Body.Close() // any answer (403 unsigned) means it serves
		},
	})
	return r.Addr
}

// StartFakeGCS runs fake-gcs-server in this process on a loopback port and
// points STORAGE_EMULATOR_HOST at it (for this process and the processes it
// starts; the test cannot be parallel). It returns the server, to create
// buckets with.
func StartFakeGCS(t testing.TB) *fakestorage.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	// PublicHost must equal STORAGE_EMULATOR_HOST, or the XML-API reads of
	// the client library miss the emulator's routes.
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener:  true,
		Scheme:      "http",
		PublicHost:  addr,
		ExternalURL: "http://" + addr,
		Writer:      io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.HTTPHandler())
	_ = ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		srv.Stop()
	})
	t.Setenv("STORAGE_EMULATOR_HOST", addr)
	return srv
}

// pluginsDir is the plugins/ directory of this source tree.
func pluginsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}
