//go:build !no_s3

package all

import _ "github.com/chronik-go/chronik/plugins/s3store" // registers the s3 and minio providers
