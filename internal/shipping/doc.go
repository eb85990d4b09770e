// Package shipping holds no code, only tests: they check what ships
// busywork — the Dockerfile, docker-compose.yml and the Terraform in infra/
// — against the code, without Docker or AWS, so that none of them can drift
// from it:
//
//   - the Dockerfile builds ./cmd/busywork from a context that holds what
//     the build needs (the test builds it natively, with the Dockerfile's own
//     command), runs as non-root, has a health check and bakes in no secret;
//   - docker-compose.yml, loaded with compose-go, pins LocalStack and the SES
//     emulator as localstack/ pins them, waits on the right health checks
//     and sets only variables the code reads; and its bootstrap, worker and
//     web services are rehearsed: run natively with their compose
//     environment against the local emulators, until a login mails a link;
//   - infra/, parsed with hashicorp/hcl, is formatted (terraform fmt), refers
//     only to what it declares, grants the task roles exactly the actions
//     that the narrow client interfaces of `busywork worker` and `busywork
//     web` call (found by type-checking cmd/busywork), and agrees with the
//     worker's defaults: maxReceiveCount, visibility timeout and lease, stop
//     timeout and drain.
//
// The tests live here rather than in cmd/busywork because they read the
// whole repository (infra/, localstack/, the Dockerfile), and rather than
// in infra/ because that folder is Terraform's, not a Go package's. `make
// test` runs them; terraform validate cannot (see docs/deploy.md).
package shipping
