// Command sweeper is the SweeperFunction: on its schedule it expires keys, ends
// rotation grace periods and sends expiry and stale reminders (see pkg/sweeper).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/sweeper"
)

func main() {
	ctx := context.Background()
	deps, err := service.Load(ctx)
	if err != nil {
		fail(err)
	}
	cfg, err := sweeper.FromEnv(deps.Config.Local)
	if err != nil {
		fail(fmt.Errorf("config: %w", err))
	}
	pub, err := sweeper.NewAWSPublisher(ctx, deps.AWS, cfg)
	if err != nil {
		fail(err)
	}
	lambda.StartHandlerFunc(sweeper.New(deps.Store, pub, cfg, deps.Log).Handle)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sweeper:", err)
	os.Exit(1)
}
