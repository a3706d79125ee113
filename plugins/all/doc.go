// Package all links every object-store plugin into a binary through blank
// imports, one file per plugin. A build tag leaves one out, with its SDK:
//
//	go build -tags no_gcs,no_azure ./cmd/chronik
//
// Tags: no_s3 (s3 and minio), no_gcs, no_azure, no_local, no_mem. A
// third-party plugin joins by adding a file like these (or by a blank
// import in its own main package).
package all
