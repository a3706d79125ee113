package broker

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/chronik-go/chronik/core/backup"
)

// Backup admin API (docs/disaster-recovery.md):
//
//	POST /v1/backups       → backup.Manifest of a backup taken now
//	GET  /v1/backups       → []backup.Summary, oldest first
//	GET  /v1/backups/{id}  → backup.Manifest
//	GET  /v1/tier/manifests → the partition manifests of the broker's
//	                          replicas, each with "leader" (read by a broker
//	                          backing up partitions it holds no replica of)
func (b *Broker) registerBackupAPI(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/backups", b.handleBackupNow)
	mux.HandleFunc("GET /v1/backups", b.handleBackupList)
	mux.HandleFunc("GET /v1/backups/{id}", b.handleBackupShow)
	mux.HandleFunc("GET /v1/tier/manifests", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.localManifests())
	})
}

// backupTimeout bounds a backup requested through the API; it goes on if
// the client disconnects.
const backupTimeout = 10 * time.Minute

func (b *Broker) handleBackupNow(w http.ResponseWriter, _ *http.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), backupTimeout)
	defer cancel()
	m, err := b.Backup(ctx)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (b *Broker) handleBackupList(w http.ResponseWriter, r *http.Request) {
	if b.dr.store == nil {
		writeError(w, http.StatusServiceUnavailable, "the broker is starting")
		return
	}
	all, err := backup.List(r.Context(), b.dr.store)
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, all)
}

func (b *Broker) handleBackupShow(w http.ResponseWriter, r *http.Request) {
	if b.dr.store == nil {
		writeError(w, http.StatusServiceUnavailable, "the broker is starting")
		return
	}
	id := r.PathValue("id")
	if err := backup.CheckID(id); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	m, err := backup.Show(r.Context(), b.dr.store, id)
	switch {
	case errors.Is(err, backup.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusBadGateway, err.Error())
	default:
		writeJSON(w, http.StatusOK, m)
	}
}
