//go:build !no_azure

package all

import _ "github.com/chronik-go/chronik/plugins/azurestore" // registers the azure provider
