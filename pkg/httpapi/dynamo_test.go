package httpapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/pkg/testenv"
)

// TestNumbersDynamoDBAccepts holds the decoder's number rule to DynamoDB itself:
// around every limit, a number the decoder lets through is one DynamoDB Local
// stores (never a 500 for bad input), and a number it refuses is one DynamoDB
// refuses, but for zeros with ten-digit exponents, which it refuses to be safe.
func TestNumbersDynamoDBAccepts(t *testing.T) {
	env := testenv.New(t)
	nines := "9." + strings.Repeat("9", 37)
	var lits []string
	for _, m := range []string{"1", "9.9", "0.1", "10", "0.00010", nines, nines + "9", "1" + strings.Repeat("0", 45), "1." + strings.Repeat("0", 45)} {
		for _, e := range []int{-133, -131, -130, -129, -127, 0, 87, 124, 125, 126, 128} {
			lits = append(lits, fmt.Sprintf("%se%d", m, e), fmt.Sprintf("-%sE%+d", m, e))
		}
	}
	lits = append(lits, "0", "-0", "0.0e-999999999", "0e999999999", "0e1000000000", "0e-2147483648",
		"0."+strings.Repeat("0", 200)+"1e70", "12345678901234567890123456789012345678",
		"123456789012345678901234567890123456789", "1"+strings.Repeat("0", 37)+"1",
		"1"+strings.Repeat("0", 38)+"1", "0.000001234567890123456789012345678901234567")
	ctx := context.Background()
	for _, lit := range lits {
		_, err := env.DDB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(env.Table),
			Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "NUMBER"},
				"sk": &types.AttributeValueMemberS{Value: "TEST"},
				"n":  &types.AttributeValueMemberN{Value: lit},
			},
		})
		var api interface{ ErrorCode() string }
		if err != nil && (!errors.As(err, &api) || api.ErrorCode() != "ValidationException") {
			t.Fatalf("put %s: %v", lit, err)
		}
		stored := err == nil
		reason := dynamoNumber(lit)
		switch {
		case reason == "" && !stored:
			t.Errorf("%s: the decoder accepts it, DynamoDB refuses it: %v", lit, err)
		case reason != "" && stored && reason != reasonExponent:
			// Only the exponent bound is knowingly stricter than DynamoDB (see maxExpDigits).
			t.Errorf("%s: the decoder refuses it (%s), DynamoDB stores it", lit, reason)
		}
	}
}
