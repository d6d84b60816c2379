//go:build snug

package main

import _ "github.com/snug-go/snug"
