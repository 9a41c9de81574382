//go:build !linux

package main

import (
	"context"
	"errors"
)

func runCNI(context.Context, []string) error {
	return errors.New("network namespaces need Linux")
}
