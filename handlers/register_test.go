package handlers_test

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/handlers"
)

func TestRegister_HandlesMagicLinksWhenTheirDependenciesAreGiven(t *testing.T) {
	mux := consumer.NewMux()
	handlers.Register(mux, handlers.Deps{})
	if got := mux.Types(); len(got) != 0 {
		t.Fatalf("without a store and a mailer, registered types = %v, want none", got)
	}
	mux = consumer.NewMux()
	handlers.Register(mux, handlers.Deps{Store: &ddb.Store{}, Mail: &sesv2.Client{}})
	if got := mux.Types(); !slices.Equal(got, []string{demo.TypeMagicLink}) {
		t.Fatalf("registered types = %v, want magic_link", got)
	}
}
