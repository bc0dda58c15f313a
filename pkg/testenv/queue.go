package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// DrainQueue returns the bodies of the messages on the SQS queue at url: it waits
// for want of them, then for one empty receive, so that extras are seen too. Each is
// deleted once received; a message whose delete answer was lost comes back after a
// short visibility timeout and is counted once, by its id. It fails t after 60 s.
func DrainQueue(t testing.TB, client *sqs.Client, url string, want int) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for empty := 0; len(out) < want || empty < 1; {
		if time.Now().After(deadline) {
			t.Fatalf("drain %s: %d of %d messages after 60s", url, len(out), want)
		}
		r, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url,
			MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range r.Messages {
			if _, err := client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
			if !seen[aws.ToString(m.MessageId)] {
				seen[aws.ToString(m.MessageId)] = true
				out = append(out, aws.ToString(m.Body))
			}
		}
	}
	return out
}
