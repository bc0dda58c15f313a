// Command console is the Lambda function that serves Keyward's web console (pkg/console)
// at GET /console and the files under it. It reads no table and no secret; its one
// setting is the idle timeout, CONSOLE_IDLE_MINUTES (template parameter
// ConsoleIdleMinutes).
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keyward/keyward/pkg/console"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := console.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Error("console: cold start", "err", err)
		os.Exit(1)
	}
	h, err := console.New(log, cfg)
	if err != nil {
		log.Error("console: cold start", "err", err)
		os.Exit(1)
	}
	lambda.StartHandlerFunc(h.Serve)
}
